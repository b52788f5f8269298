using System.Net;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.TwoWay;

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

    /// <summary>Where the node link's socket goes: null for <see cref="TwoWay.NodeLink.DefaultRunDirectory"/>, empty for no node link.</summary>
    public string? NodeLinkDirectory { get; init; }
}

/// <summary>
/// A drop-in rsync daemon: reads rsyncd.conf, listens, and serves each admitted client on its own
/// thread, isolated from the others (clientserver.c, daemon_main).
/// </summary>
public sealed partial class RsyncDaemon : IDisposable
{
    private readonly Socket _listener;
    private readonly Dictionary<string, int> _active = new(StringComparer.Ordinal);
    private readonly List<Socket> _clients = [];
    private readonly Timer _idleCollection;

    private readonly DaemonHostOptions _host;
    private readonly ConnectionLimits _limits;
    private SafeFileHandle? _spareDescriptor;
    private int _refusalsWaiting;

    /// <summary>Refused clients given a moment to read their error; each holds a descriptor meanwhile.</summary>
    private const int MaxRefusalsWaiting = 16;

    /// <summary>How long accepting pauses after running out of descriptors.</summary>
    private static readonly TimeSpan AcceptBackoff = TimeSpan.FromMilliseconds(100);

    public RsyncDaemon(DaemonConfig config, DaemonHostOptions? host = null)
    {
        _idleCollection = new Timer(_ => CollectWhenIdle());
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
        int maxClients = ConnectionLimits.WithinDescriptorLimit(config.Global.MaxClients, ConnectionLimits.DescriptorLimit());
        if (maxClients != config.Global.MaxClients)
            Log.Write($"max clients lowered to {maxClients} by the limit on open files");
        _limits = new ConnectionLimits(maxClients, config.Global.MaxClientsPerAddress);
        _spareDescriptor = OpenSpareDescriptor();
        Log.Write($"netrsyncd starting, listening on port {Port}");
        NodeLink = StartNodeLink(host.NodeLinkDirectory);
    }

    /// <summary>
    /// The node link for two-way sync: a watcher of this node registers the trees it watches, and a
    /// push into a module it covers tells it of every change first. Without it (another daemon holds
    /// the socket, say) every module is served as plain rsync, and the log says why.
    /// </summary>
    public NodeLinkServer? NodeLink { get; }

    private NodeLinkServer? StartNodeLink(string? directory)
    {
        if (directory is { Length: 0 })
            return null;
        directory ??= TwoWay.NodeLink.DefaultRunDirectory();
        try
        {
            var link = NodeLinkServer.Start(directory, line => Log.Write(line));
            Log.Write($"node link listening on {link.SocketPath}");
            return link;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            Log.Write($"node link not started, two-way sync is off: {ex.Message}");
            return null;
        }
    }

    public DaemonConfig Config { get; }
    internal DaemonLog Log { get; }

    /// <summary>The port actually bound (useful when 0 was asked for).</summary>
    public int Port { get; }

    /// <summary>
    /// Accepts clients until cancelled. A client's greeting, module choice and access check wait
    /// without a thread; an admitted client then gets a thread of its own.
    /// </summary>
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
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                // Out of descriptors (EMFILE, ENFILE) or memory: turn the waiting client away with the
                // spare descriptor kept for this, then pause so the loop does not spin.
                Log.Write($"accept failed: {ex.Message}; refusing connections for a moment");
                TurnAwayWaiting();
                await PauseAsync(AcceptBackoff, cancellationToken);
                continue;
            }
            catch (SocketException ex)
            {
                Log.Write($"accept failed: {ex.Message}");
                continue;
            }
            catch (OutOfMemoryException)
            {
                Log.Write("accept failed: out of memory");
                await PauseAsync(AcceptBackoff, cancellationToken);
                continue;
            }
            // Off the accept loop at once, so a burst of connections does not overflow the backlog.
            _ = Task.Run(() => ServeAsync(client, cancellationToken), CancellationToken.None);
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
    public static void ServeOneConnection(DaemonConfig config, DaemonLog log, Socket socket, DaemonHandoff? handoff, CancellationToken cancellationToken,
        IPAddress? clientAddress = null)
    {
        using var session = new DaemonSession(null, config, log, socket, handoff) { ClientAddress = clientAddress };
        session.Run(cancellationToken);
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
        // The handshake's asynchronous reads left the socket non-blocking, and the new process shares
        // that mode with us; it expects a plain blocking socket on its stdin.
        MakeBlocking((int)client.Handle);
        int pid = Native.Posix.SpawnWithSocket(process.Program, [.. process.Arguments, "--handoff=" + state.Encode()], environment, (int)client.Handle);
        int status = Native.Posix.WaitForChild(pid);
        if (status != 0)
            Log.Write($"connection process {pid} ended with status {status}");
    }

    /// <summary>
    /// One connection from accept to close: counted against the daemon's and the address's limits,
    /// its handshake awaited without a thread, then served on a thread of its own.
    /// </summary>
    private async Task ServeAsync(Socket client, CancellationToken cancellationToken)
    {
        string address;
        try
        {
            var remote = ((IPEndPoint)client.RemoteEndPoint!).Address;
            address = (remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote).ToString();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            client.Dispose();
            return;
        }
        var refusal = _limits.TryEnter(address);
        if (refusal != ConnectionRefusal.None)
        {
            string why = _limits.RefusalMessage(refusal);
            Log.Write($"{why} (refused {address})");
            await RefuseAndCloseAsync(client, $"@RSYNCD: {Wire.ProtocolLimits.MaxProtocol}.0\n@ERROR: {why}\n");
            return;
        }
        lock (_clients)
            _clients.Add(client);
        DaemonSession? session = null;
        bool threadOwnsConnection = false;
        try
        {
            // Our writes are already whole frames; Nagle's rule would only hold the small ones back
            // until a peer's delayed ACK (the handshake's name lists, then the checksum seed).
            client.NoDelay = true;
            session = new DaemonSession(this, client);
            if (!await session.HandshakeAsync(cancellationToken))
                return;
            var admitted = session;
            var thread = new Thread(() =>
            {
                try
                {
                    admitted.Continue(cancellationToken);
                }
                catch (Exception ex)
                {
                    Log.Write($"connection failed: {ex.Message}");
                }
                finally
                {
                    Close(client, address, admitted);
                }
            })
            { IsBackground = true, Name = "rsyncd-client" };
            try
            {
                thread.Start();
                threadOwnsConnection = true;
            }
            catch (Exception ex) when (ex is OutOfMemoryException or ThreadStartException)
            {
                Log.Write($"cannot start a session for {address}: {ex.Message}");
                await RefuseAndCloseAsync(client, "@ERROR: out of resources -- try again later\n");
            }
        }
        catch (Exception ex)
        {
            // Out of memory or descriptors while setting up: this client is lost, the daemon goes on.
            Log.Write($"connection from {address} failed: {ex.Message}");
        }
        finally
        {
            if (!threadOwnsConnection)
                Close(client, address, session);
        }
    }

    private void Close(Socket client, string address, DaemonSession? session)
    {
        session?.Dispose();
        bool idle;
        lock (_clients)
        {
            _clients.Remove(client);
            idle = _clients.Count == 0;
        }
        client.Dispose();
        _limits.Leave(address);
        // A forked rsync's memory goes with its process; ours would stay with the heap. Once no
        // client has come for a second, the heap is compacted and what it no longer needs given
        // back; clients that follow each other closely do not pay for it.
        if (idle)
        {
            _idleCollection.Change(TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        }
    }

    private void CollectWhenIdle()
    {
        lock (_clients)
        {
            if (_clients.Count > 0)
                return;
        }
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>
    /// Sends a refusal, then waits briefly for the client to hang up so the line is not lost to a
    /// reset; under a flood of refusals, when too many already wait, closes at once.
    /// </summary>
    private async Task RefuseAndCloseAsync(Socket client, string text)
    {
        try
        {
            using var brief = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await client.SendAsync(System.Text.Encoding.UTF8.GetBytes(text), SocketFlags.None, brief.Token);
            client.Shutdown(SocketShutdown.Send);
            try
            {
                if (Interlocked.Increment(ref _refusalsWaiting) > MaxRefusalsWaiting)
                    return;
                var drain = new byte[256];
                while (await client.ReceiveAsync(drain, SocketFlags.None, brief.Token) > 0)
                {
                }
            }
            finally
            {
                Interlocked.Decrement(ref _refusalsWaiting);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    /// <summary>With no descriptor left, gives up the spare one to accept the waiting clients, refuse them, and close them.</summary>
    private void TurnAwayWaiting()
    {
        if (_spareDescriptor is null)
            return;
        _spareDescriptor.Dispose();
        _spareDescriptor = null;
        try
        {
            // Every client waiting now: told at once and closed, so the descriptor comes straight back.
            byte[] refusal = System.Text.Encoding.ASCII.GetBytes("@ERROR: daemon out of file descriptors -- try again later\n");
            for (int i = 0; i < 64 && _listener.Poll(0, SelectMode.SelectRead); i++)
            {
                using var client = _listener.Accept();
                client.Blocking = false;
                client.Send(refusal, SocketFlags.None, out _);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OutOfMemoryException)
        {
        }
        finally
        {
            _spareDescriptor = OpenSpareDescriptor();
        }
    }

    private static SafeFileHandle? OpenSpareDescriptor()
    {
        try
        {
            return File.OpenHandle("/dev/null");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static async Task PauseAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void MakeBlocking(int fd)
    {
        const int GetFlags = 3, SetFlags = 4, NonBlocking = 0x800;
        int flags = Fcntl(fd, GetFlags, 0);
        if (flags >= 0 && (flags & NonBlocking) != 0)
            Fcntl(fd, SetFlags, flags & ~NonBlocking);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

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
        _idleCollection.Dispose();
        _listener.Dispose();
        NodeLink?.Dispose();
        _spareDescriptor?.Dispose();
        Log.Dispose();
    }
}
