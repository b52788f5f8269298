using System.Net;
using System.Net.Sockets;
using System.Text;
using NetRsync.Protocol.Daemon.Config;

namespace NetRsync.Protocol.Hosting;

/// <summary>The answer of a health probe: whether the daemon greeted, and a one-line reason.</summary>
public sealed record DaemonHealthResult(bool Healthy, string Reason);

/// <summary>
/// A probe for container healthchecks: connects to the daemon this config describes, on this host,
/// and waits for rsync's greeting ("@RSYNCD: " and a version, clientserver.c, exchange_protocols).
/// It answers with its own greeting and hangs up, which a daemon takes as a client that left before
/// choosing a module: nothing but the connection is logged.
/// </summary>
public static class DaemonHealth
{
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(3);

    private const string Greeting = "@RSYNCD: ";
    private const int MaxGreetingBytes = 256;

    /// <summary>The port the daemon listens on: --port, else "port =", else rsync's 873 (clientserver.c, daemon_main).</summary>
    public static int PortOf(DaemonConfig config, int? port) =>
        port is > 0 ? port.Value : config.Global.Port > 0 ? config.Global.Port : 873;

    /// <summary>
    /// The address to probe: the one the daemon binds (--address, else "address ="), or the loopback
    /// address when it binds every address.
    /// </summary>
    public static IPAddress AddressOf(DaemonConfig config, string? address)
    {
        string? bound = !string.IsNullOrEmpty(address) ? address : config.Global.Address;
        if (string.IsNullOrEmpty(bound) || !IPAddress.TryParse(bound, out var ip))
            return IPAddress.Loopback;
        if (ip.Equals(IPAddress.Any))
            return IPAddress.Loopback;
        if (ip.Equals(IPAddress.IPv6Any))
            return IPAddress.IPv6Loopback;
        return ip;
    }

    public static Task<DaemonHealthResult> CheckAsync(DaemonConfig config, DaemonCommandLine commandLine, CancellationToken cancellationToken) =>
        CheckAsync(new IPEndPoint(AddressOf(config, commandLine.Address), PortOf(config, commandLine.Port)), DefaultDeadline, cancellationToken);

    public static async Task<DaemonHealthResult> CheckAsync(IPEndPoint endpoint, TimeSpan deadline, CancellationToken cancellationToken)
    {
        string where = endpoint.ToString();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(deadline);
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint, timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return new(false, $"unhealthy: no connection to {where} within {deadline.TotalSeconds:0.#} s");
        }
        catch (SocketException ex)
        {
            return new(false, $"unhealthy: cannot connect to {where}: {ex.Message}");
        }

        var received = new byte[MaxGreetingBytes];
        int length = 0;
        try
        {
            while (length < received.Length && Array.IndexOf(received, (byte)'\n', 0, length) < 0)
            {
                int n = await socket.ReceiveAsync(received.AsMemory(length), SocketFlags.None, timeout.Token);
                if (n == 0)
                    break;
                length += n;
            }
        }
        catch (OperationCanceledException)
        {
            return new(false, $"unhealthy: {where} sent no greeting within {deadline.TotalSeconds:0.#} s");
        }
        catch (SocketException ex)
        {
            return new(false, $"unhealthy: reading the greeting from {where} failed: {ex.Message}");
        }

        int end = Array.IndexOf(received, (byte)'\n', 0, length);
        string line = Printable(received.AsSpan(0, end < 0 ? length : end));
        if (end < 0)
            return new(false, length == 0 ? $"unhealthy: {where} closed the connection without a greeting" : $"unhealthy: {where} sent no complete greeting: \"{line}\"");
        if (!line.StartsWith(Greeting, StringComparison.Ordinal))
            return new(false, $"unhealthy: {where} does not greet as an rsync daemon: \"{line}\"");

        try
        {
            // Our own greeting, then the end: the daemon sees a client that chose nothing.
            using var brief = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await socket.SendAsync(Encoding.ASCII.GetBytes(Greeting + "30.0\n"), SocketFlags.None, brief.Token);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
        }
        return new(true, $"healthy: {where} greets with \"{line}\"");
    }

    /// <summary>The greeting as printable ASCII, for a one-line message.</summary>
    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r')
            bytes = bytes[..^1];
        var text = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
        return text.ToString();
    }
}
