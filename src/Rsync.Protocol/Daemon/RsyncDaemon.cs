using System.Net;
using System.Net.Sockets;
using NetRsync.Protocol.Daemon.Config;

namespace NetRsync.Protocol.Daemon;

/// <summary>Where and how the daemon listens, from its command line (rsync --daemon's options).</summary>
public sealed record DaemonHostOptions
{
    public int? Port { get; init; }
    public string? Address { get; init; }
    public string? LogFile { get; init; }

    /// <summary>
    /// How to start a process that serves one handed-off connection: the program and the arguments
    /// before "--handoff=" (config, log file, parameters). Without it such modules are refused.
    /// </summary>
    public (string Program, IReadOnlyList<string> Arguments)? ConnectionProcess { get; init; }
}

/// <summary>
/// A drop-in rsync daemon: reads rsyncd.conf, listens, and serves each client on its own thread,
/// isolated from the others (clientserver.c, daemon_main).
/// </summary>
public sealed class RsyncDaemon : IDisposable
{
    private readonly Socket _listener;
    private readonly Dictionary<string, int> _active = new(StringComparer.Ordinal);
    private readonly List<Socket> _clients = [];

    private readonly DaemonHostOptions _host;

    public RsyncDaemon(DaemonConfig config, DaemonHostOptions? host = null)
    {
        Config = config;
        host ??= new DaemonHostOptions();
        _host = host;
        Log = new DaemonLog(host.LogFile ?? config.Global.LogFile);
        string? address = host.Address ?? config.Global.Address;
        var ip = string.IsNullOrEmpty(address) ? IPAddress.IPv6Any : IPAddress.Parse(address);
        int port = host.Port ?? (config.Global.Port > 0 ? config.Global.Port : 873);
        _listener = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (ip.Equals(IPAddress.IPv6Any))
            _listener.DualMode = true;
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(new IPEndPoint(ip, port));
        _listener.Listen(Math.Max(5, config.Global.ListenBacklog));
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        Log.Write($"netrsyncd starting, listening on port {Port}");
    }

    public DaemonConfig Config { get; }
    internal DaemonLog Log { get; }

    /// <summary>The port actually bound (useful when 0 was asked for).</summary>
    public int Port { get; }

    /// <summary>Accepts clients until cancelled; each connection runs on its own thread.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var stop = cancellationToken.Register(() => _listener.Dispose());
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(cancellationToken);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException ex)
            {
                Log.Write($"accept failed: {ex.Message}");
                continue;
            }
            // Our writes are already whole frames; Nagle's rule would only hold the small ones back
            // until a peer's delayed ACK (the handshake's name lists, then the checksum seed).
            client.NoDelay = true;
            lock (_clients)
                _clients.Add(client);
            var thread = new Thread(() =>
            {
                try
                {
                    new DaemonSession(this, client).Run(cancellationToken);
                }
                catch (Exception ex)
                {
                    Log.Write($"connection failed: {ex.Message}");
                }
                finally
                {
                    lock (_clients)
                        _clients.Remove(client);
                    client.Dispose();
                }
            })
            { IsBackground = true, Name = "rsyncd-client" };
            thread.Start();
        }
        // Stopping: cut every connection, so each session removes its temporary file and ends.
        Socket[] open;
        lock (_clients)
            open = [.. _clients];
        foreach (var s in open)
        {
            try
            {
                s.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            lock (_clients)
            {
                if (_clients.Count == 0)
                    break;
            }
            await Task.Delay(20, CancellationToken.None);
        }
    }

    /// <summary>
    /// Serves one connection that arrived on <paramref name="socket"/> (rsync run from inetd), or, with
    /// <paramref name="handoff"/>, one a listening daemon admitted and passed on. The process may
    /// chroot and change user for it, so it serves nothing else (clientserver.c, start_daemon).
    /// </summary>
    public static void ServeOneConnection(DaemonConfig config, DaemonLog log, Socket socket, DaemonHandoff? handoff, CancellationToken cancellationToken)
    {
        new DaemonSession(null, config, log, socket, handoff).Run(cancellationToken);
    }

    /// <summary>
    /// Passes an admitted client to a new process of its own, which can chroot and change user
    /// as the module asks, and waits for it; the connection counts against the module until then.
    /// </summary>
    internal void HandOff(Socket client, DaemonHandoff state)
    {
        if (_host.ConnectionProcess is not { } process)
            throw new RsyncException($"module {state.Module} needs a process of its own (chroot, uid or gid), which this daemon cannot start", Wire.ExitCodes.Unsupported);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            environment[(string)e.Key] = (string?)e.Value ?? "";
        int pid = Native.Posix.SpawnWithSocket(process.Program, [.. process.Arguments, "--handoff=" + state.Encode()], environment, (int)client.Handle);
        int status = Native.Posix.WaitForChild(pid);
        if (status != 0)
            Log.Write($"connection process {pid} ended with status {status}");
    }

    /// <summary>A place among the module's "max connections", or null when it is full.</summary>
    internal IDisposable? TryEnterModule(DaemonModule module)
    {
        lock (_active)
        {
            int count = _active.GetValueOrDefault(module.Name);
            if (module.MaxConnections > 0 && count >= module.MaxConnections)
                return null;
            _active[module.Name] = count + 1;
        }
        return new Slot(this, module.Name);
    }

    private sealed class Slot(RsyncDaemon daemon, string name) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
                return;
            lock (daemon._active)
                daemon._active[name]--;
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        Log.Dispose();
    }
}
