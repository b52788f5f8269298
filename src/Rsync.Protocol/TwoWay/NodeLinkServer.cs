using System.Net.Sockets;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.TwoWay;

/// <summary>What the watchers say of a local file the daemon is about to replace or delete.</summary>
public enum LocalChange
{
    /// <summary>No watcher covers the path: plain rsync behaviour.</summary>
    NotWatched,

    /// <summary>Every watcher covering the path says it is not a pending local change.</summary>
    Delivered,

    /// <summary>A watcher says it is a local change not yet delivered, or could not say in time.</summary>
    Pending,
}

/// <summary>What a daemon's transfer needs of the node link: announce its changes, ask about local ones.</summary>
public interface INodeLinkPublisher
{
    /// <summary>Returns once every watcher covering the path has the record.</summary>
    void Publish(WrittenRecord record);

    /// <summary>Whether this local version of the path is a change the watchers have not delivered yet.</summary>
    LocalChange Query(byte[] path, long size, long mtimeSeconds, int mtimeNanoseconds, ulong inode);

    /// <summary>Asks the watchers covering the path to push it to their remotes (a local version newer than a peer's was kept); does not wait.</summary>
    void PushBack(byte[] path);

    /// <summary>Whether the daemon lately put this version of a file at the path (see <see cref="VersionHistory"/>); nanoseconds are compared when given.</summary>
    bool HadVersion(byte[] path, long size, long mtimeSeconds, int? mtimeNanoseconds);
}

/// <summary>
/// The daemon's end of the node link: listens on &lt;run dir&gt;/netrsyncd.sock (0600, peers of
/// this uid or root only), learns each watcher's roots, sends WRITTEN records to the watchers
/// whose roots cover a path, and asks them QUERY with a bounded wait.
/// </summary>
public sealed class NodeLinkServer : INodeLinkPublisher, IAsyncDisposable, IDisposable
{
    /// <summary>Watchers connected at once; more are turned away.</summary>
    public const int MaxWatchers = 64;

    /// <summary>Distinct roots remembered from watchers, connected or gone.</summary>
    public const int MaxRegisteredRoots = 4096;

    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(2);

    private readonly Socket _listener;
    private readonly Action<string>? _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Watcher> _watchers = [];
    private readonly List<byte[]> _registered = [];
    private readonly Task _acceptLoop;
    private readonly VersionHistory _versions = new();
    private int _nextQueryId;
    private int _disposed;

    private NodeLinkServer(string runDirectory, Socket listener, Action<string>? log)
    {
        RunDirectory = runDirectory;
        SocketPath = NodeLink.SocketPath(runDirectory);
        _listener = listener;
        _log = log;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public string RunDirectory { get; }

    public string SocketPath { get; }

    /// <summary>How long a query waits for the watchers' answers before counting them as "pending".</summary>
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Watchers connected now (with their HELLO received).</summary>
    public int WatcherCount
    {
        get
        {
            lock (_watchers)
                return _watchers.Count(w => w.Roots is not null);
        }
    }

    /// <summary>
    /// Prepares the run directory and listens on its socket. A socket file left by a daemon that is
    /// gone is replaced; one a live daemon answers on is not (<see cref="IOException"/>).
    /// </summary>
    public static NodeLinkServer Start(string runDirectory, Action<string>? log = null)
    {
        NodeLink.PrepareRunDirectory(runDirectory);
        string path = NodeLink.SocketPath(runDirectory);
        RemoveStaleSocket(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(NodeLink.EndPoint(path));
            int rc = Posix.Chmod(path, 0x180);
            if (rc != 0)
                throw new IOException($"chmod 0600 {path}: {Posix.StrError(rc)}");
            listener.Listen(16);
        }
        catch (SocketException ex)
        {
            listener.Dispose();
            throw new IOException($"cannot listen on {path}: {ex.Message}", ex);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        return new NodeLinkServer(runDirectory, listener, log);
    }

    private static void RemoveStaleSocket(string path)
    {
        int rc = Posix.TryLStat(path, out var st);
        if (rc == Posix.ENOENT)
            return;
        if (rc != 0)
            throw new IOException($"{path}: {Posix.StrError(rc)}");
        if ((st.Mode & Posix.S_IFMT) != Posix.S_IFSOCK)
            throw new IOException($"{path} exists and is not a socket");
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(NodeLink.EndPoint(path));
                throw new IOException($"another daemon already listens on {path}");
            }
            catch (SocketException)
            {
                // Nobody listens: the file is left from a daemon that stopped.
            }
        }
        File.Delete(path);
    }

    /// <summary>
    /// Whether a module rooted at <paramref name="realPath"/> is two-way: a watcher registered a root
    /// equal to it, inside it or containing it. Roots stay registered when their watcher disconnects
    /// (it may be restarting), until the daemon stops.
    /// </summary>
    public bool IsTwoWay(ReadOnlySpan<byte> realPath)
    {
        lock (_registered)
        {
            foreach (var root in _registered)
            {
                if (NodeLink.Overlaps(realPath, root))
                    return true;
            }
        }
        return false;
    }

    /// <summary>Whether a registered root (of a watcher connected or gone) contains the path.</summary>
    public bool IsWatched(ReadOnlySpan<byte> path)
    {
        lock (_registered)
        {
            foreach (var root in _registered)
            {
                if (NodeLink.IsWithin(path, root))
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Sends the record to every connected watcher whose roots contain its path, and returns once it
    /// is in their sockets, so the caller can then make the change visible. A watcher that cannot
    /// take it within 2 s is disconnected.
    /// </summary>
    public void Publish(WrittenRecord record)
    {
        if (record.Kind is WrittenKind.File or WrittenKind.Attributes && !(record.Size == 0 && record.MtimeSeconds == 0 && record.MtimeNanoseconds == 0 && record.Inode == 0))
            _versions.Add(record.Path, record.Size, record.MtimeSeconds, record.MtimeNanoseconds);
        byte[]? frame = null;
        foreach (var watcher in Covering(record.Path))
        {
            frame ??= NodeLinkCodec.Encode(new WrittenFrame(record));
            watcher.Send(frame);
        }
    }

    public bool HadVersion(byte[] path, long size, long mtimeSeconds, int? mtimeNanoseconds) =>
        _versions.Had(path, size, mtimeSeconds, mtimeNanoseconds);

    /// <summary>
    /// Sends a PUSH request for the path to every connected watcher whose roots contain it, without
    /// waiting for anything. With none connected the newer local version reaches the peer with its
    /// next change or full sync.
    /// </summary>
    public void PushBack(byte[] path)
    {
        byte[]? frame = null;
        foreach (var watcher in Covering(path))
        {
            frame ??= NodeLinkCodec.Encode(new PushFrame(path));
            watcher.Send(frame);
        }
    }

    /// <summary>
    /// Asks the watchers covering the path whether this local version is a change not yet delivered.
    /// Waits at most <see cref="QueryTimeout"/>; a watcher that does not answer, or a registered root
    /// whose watcher is not connected, counts as <see cref="LocalChange.Pending"/>.
    /// </summary>
    public LocalChange Query(byte[] path, long size, long mtimeSeconds, int mtimeNanoseconds, ulong inode)
    {
        if (!IsWatched(path))
            return LocalChange.NotWatched;
        var watchers = Covering(path);
        if (watchers.Count == 0)
            return LocalChange.Pending;
        var waits = new List<(Watcher Watcher, uint Id, TaskCompletionSource<bool> Answer)>(watchers.Count);
        try
        {
            foreach (var watcher in watchers)
            {
                uint id = (uint)Interlocked.Increment(ref _nextQueryId);
                var answer = watcher.Expect(id);
                waits.Add((watcher, id, answer));
                if (!watcher.Send(NodeLinkCodec.Encode(new QueryFrame(id, path, size, mtimeSeconds, mtimeNanoseconds, inode))))
                    return LocalChange.Pending;
            }
            var deadline = DateTime.UtcNow + QueryTimeout;
            foreach (var (watcher, _, answer) in waits)
            {
                var left = deadline - DateTime.UtcNow;
                if (left < TimeSpan.Zero)
                    left = TimeSpan.Zero;
                if (!answer.Task.Wait(left))
                {
                    Report($"node link: no answer within {QueryTimeout.TotalSeconds:0.#} s about {Text.NameText.FromBytes(path)}; treated as a local change");
                    return LocalChange.Pending;
                }
                if (answer.Task.Result)
                    return LocalChange.Pending;
            }
            return LocalChange.Delivered;
        }
        finally
        {
            foreach (var (watcher, id, _) in waits)
                watcher.Forget(id);
        }
    }

    private List<Watcher> Covering(ReadOnlySpan<byte> path)
    {
        var covering = new List<Watcher>();
        lock (_watchers)
        {
            foreach (var watcher in _watchers)
            {
                if (watcher.Roots is not { } roots)
                    continue;
                foreach (var root in roots)
                {
                    if (NodeLink.IsWithin(path, root))
                    {
                        covering.Add(watcher);
                        break;
                    }
                }
            }
        }
        return covering;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex)
            {
                Report($"node link: accept failed: {ex.Message}");
                await PauseAsync().ConfigureAwait(false);
                continue;
            }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task PauseAsync()
    {
        try
        {
            await Task.Delay(100, _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(Socket client)
    {
        var watcher = new Watcher(this, client);
        try
        {
            int peer = NodeLink.PeerUserId(client);
            if (!NodeLink.IsTrustedPeer(peer))
            {
                Report($"node link: refused a connection from uid {peer}");
                return;
            }
            lock (_watchers)
            {
                if (_watchers.Count >= MaxWatchers)
                {
                    Report($"node link: refused a watcher: {MaxWatchers} are connected");
                    return;
                }
                _watchers.Add(watcher);
            }
            client.SendTimeout = (int)SendTimeout.TotalMilliseconds;
            var frames = new NodeLinkFrameBuffer();
            using (var helloDeadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                helloDeadline.CancelAfter(HelloTimeout);
                var hello = await ReadFrameAsync(client, frames, helloDeadline.Token).ConfigureAwait(false);
                if (hello is not HelloFrame { Version: NodeLinkCodec.ProtocolVersion } h)
                {
                    Report(hello is HelloFrame other ? $"node link: a watcher speaks version {other.Version}, not {NodeLinkCodec.ProtocolVersion}" : "node link: a watcher did not start with HELLO");
                    return;
                }
                Register(h.Roots);
                watcher.Roots = h.Roots;
                Report($"node link: watcher connected for {string.Join(", ", h.Roots.Select(r => Text.NameText.FromBytes(r)))}");
            }
            while (true)
            {
                var frame = await ReadFrameAsync(client, frames, _stop.Token).ConfigureAwait(false);
                if (frame is null)
                    break;
                if (frame is not AnswerFrame answer)
                    throw new NodeLinkProtocolException($"a watcher sent a {frame.GetType().Name} after HELLO");
                watcher.Answered(answer.Id, answer.Dirty);
            }
            Report("node link: watcher disconnected");
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            Report("node link: a watcher sent no HELLO in time");
        }
        catch (Exception ex) when (ex is SocketException or NodeLinkProtocolException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            if (!_stop.IsCancellationRequested)
                Report($"node link: watcher dropped: {ex.Message}");
        }
        finally
        {
            lock (_watchers)
                _watchers.Remove(watcher);
            watcher.Close();
        }
    }

    /// <summary>The next frame, or null when the peer closed between frames.</summary>
    private static async Task<NodeLinkFrame?> ReadFrameAsync(Socket socket, NodeLinkFrameBuffer frames, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (frames.TryTake() is { } frame)
                return frame;
            int read = await socket.ReceiveAsync(frames.FreeSpace(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (frames.Pending > 0)
                    throw new NodeLinkProtocolException("the connection ended inside a frame");
                return null;
            }
            frames.Advance(read);
        }
    }

    private void Register(IReadOnlyList<byte[]> roots)
    {
        lock (_registered)
        {
            foreach (var root in roots)
            {
                if (_registered.Any(r => r.AsSpan().SequenceEqual(root)))
                    continue;
                if (_registered.Count >= MaxRegisteredRoots)
                {
                    Report($"node link: more than {MaxRegisteredRoots} watched roots; {Text.NameText.FromBytes(root)} is not registered");
                    continue;
                }
                _registered.Add(root);
            }
        }
    }

    private void Report(string message)
    {
        try
        {
            _log?.Invoke(message);
        }
        catch (Exception)
        {
            // A failing log must not take the link down.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stop.Cancel();
        _listener.Dispose();
        Watcher[] open;
        lock (_watchers)
            open = [.. _watchers];
        foreach (var watcher in open)
            watcher.Close();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loop ends by the listener's closing.
        }
        try
        {
            File.Delete(SocketPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>One connected watcher: its roots once known, its writes, its unanswered queries.</summary>
    private sealed class Watcher(NodeLinkServer server, Socket socket)
    {
        private readonly Lock _sendLock = new();
        private readonly Dictionary<uint, TaskCompletionSource<bool>> _pending = [];
        private int _closed;

        public IReadOnlyList<byte[]>? Roots { get; set; }

        /// <summary>Writes a whole frame; false (and the watcher dropped) when it cannot within the send timeout.</summary>
        public bool Send(byte[] frame)
        {
            try
            {
                lock (_sendLock)
                {
                    if (_closed != 0)
                        return false;
                    socket.Send(frame);
                }
                return true;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                server.Report($"node link: watcher dropped: {ex.Message}");
                Close();
                return false;
            }
        }

        public TaskCompletionSource<bool> Expect(uint id)
        {
            var answer = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_pending)
                _pending[id] = answer;
            return answer;
        }

        public void Answered(uint id, bool dirty)
        {
            TaskCompletionSource<bool>? answer;
            lock (_pending)
                _pending.Remove(id, out answer);
            // An answer that comes after its query gave up is simply late.
            answer?.TrySetResult(dirty);
        }

        public void Forget(uint id)
        {
            lock (_pending)
                _pending.Remove(id);
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
                return;
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
            socket.Dispose();
            // Queries still waiting cannot be answered now: "pending", the safe answer.
            lock (_pending)
            {
                foreach (var answer in _pending.Values)
                    answer.TrySetResult(true);
                _pending.Clear();
            }
        }
    }
}
