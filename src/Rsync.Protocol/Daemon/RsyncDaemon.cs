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

    public RsyncDaemon(DaemonConfig config, DaemonHostOptions? host = null)
    {
        Config = config;
        host ??= new DaemonHostOptions();
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
