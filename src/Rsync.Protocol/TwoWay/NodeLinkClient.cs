using System.Collections.Concurrent;
using System.Net.Sockets;

namespace NetRsync.Protocol.TwoWay;

/// <summary>
/// The watcher's end of the node link: connects to the daemon's socket (again every
/// <see cref="ReconnectInterval"/> while it cannot), announces the watched roots, queues the
/// daemon's WRITTEN records for <see cref="Drain"/>, and answers its queries through the handler.
/// </summary>
public sealed class NodeLinkClient : IDisposable
{
    /// <summary>WRITTEN records kept while nobody drains; past this the oldest go (they only save an echo).</summary>
    public const int MaxQueuedRecords = 65536;

    /// <summary>PUSH requests kept while nobody drains; past this the oldest go (each is logged).</summary>
    public const int MaxQueuedPushes = 4096;

    /// <summary>Queries waiting for the handler; the daemon gives up on each after 2 s anyway.</summary>
    private const int MaxPendingQueries = 1024;

    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(2);

    private readonly string _socketPath;
    private readonly string _runDirectory;
    private readonly byte[] _hello;
    private readonly INodeLinkHandler _handler;

    // _receiveLock guards the socket's receiving side, the frame buffer and socket replacement;
    // _sendLock serialises writes; _queue has its own lock.
    private readonly Lock _receiveLock = new();
    private readonly Lock _sendLock = new();
    // WRITTEN records and PUSH requests in the order they came (a null record is a push).
    private readonly Queue<(WrittenRecord? Record, byte[]? PushPath)> _queue = new();
    private int _queuedPushes;
    private readonly BlockingCollection<(QueryFrame Query, long Generation)> _queries = new(MaxPendingQueries);
    private readonly ManualResetEventSlim _stopping = new();
    private readonly NodeLinkFrameBuffer _frames = new();

    private Socket? _socket;
    private long _generation;
    private Thread? _reader;
    private Thread? _answerer;
    private long _droppedRecords;
    private string? _lastFailure;
    private int _disposed;

    public NodeLinkClient(string runDirectory, IReadOnlyList<byte[]> watchRoots, INodeLinkHandler handler)
    {
        ArgumentNullException.ThrowIfNull(runDirectory);
        ArgumentNullException.ThrowIfNull(watchRoots);
        _handler = handler ?? throw new ArgumentNullException(nameof(handler));
        _runDirectory = runDirectory;
        _socketPath = NodeLink.SocketPath(runDirectory);
        foreach (var root in watchRoots)
        {
            if (!NodeLinkCodec.IsValidPath(root))
                throw new ArgumentException("a watch root must be an absolute path without NUL, shorter than PATH_MAX", nameof(watchRoots));
        }
        // Encoding checks that the roots fit one frame.
        _hello = NodeLinkCodec.Encode(new HelloFrame(NodeLinkCodec.ProtocolVersion, [.. watchRoots]));
    }

    /// <summary>How long to wait between attempts to reach the daemon.</summary>
    public TimeSpan ReconnectInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Where connection changes and link errors are reported (never the records themselves).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Whether the daemon is connected and has our roots.</summary>
    public bool Connected => Volatile.Read(ref _socket) is not null;

    /// <summary>How many times a connection to the daemon was made.</summary>
    public long Connections => Interlocked.Read(ref _generation);

    /// <summary>WRITTEN records dropped because nobody drained the queue.</summary>
    public long DroppedRecords => Interlocked.Read(ref _droppedRecords);

    /// <summary>Starts the background connect/reconnect loop and the reader.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_reader is not null)
            throw new InvalidOperationException("the node link client is already started");
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "node-link-reader" };
        _answerer = new Thread(AnswerLoop) { IsBackground = true, Name = "node-link-answers" };
        _reader.Start();
        _answerer.Start();
    }

    /// <summary>
    /// Hands every WRITTEN record already received to <see cref="INodeLinkHandler.Written"/> and every
    /// PUSH request to <see cref="INodeLinkHandler.PushBack"/>, in the order they came, on this
    /// thread, including those still in the socket's buffer, and returns how many.
    /// </summary>
    public int Drain()
    {
        lock (_receiveLock)
        {
            if (_socket is { } socket)
                ReceiveAvailable(socket);
        }
        (WrittenRecord? Record, byte[]? PushPath)[] taken;
        lock (_queue)
        {
            if (_queue.Count == 0)
                return 0;
            taken = [.. _queue];
            _queue.Clear();
            _queuedPushes = 0;
        }
        foreach (var (record, pushPath) in taken)
        {
            if (record is { } written)
                _handler.Written(written);
            else
                _handler.PushBack(pushPath!);
        }
        return taken.Length;
    }

    private void ReadLoop()
    {
        while (!_stopping.IsSet)
        {
            Socket? socket = Volatile.Read(ref _socket);
            if (socket is null)
            {
                if (!TryConnect())
                    _stopping.Wait(ReconnectInterval);
                continue;
            }
            try
            {
                // Wait for bytes without holding the lock, so Drain can take them meanwhile.
                if (!socket.Poll(TimeSpan.FromMilliseconds(200), SelectMode.SelectRead))
                    continue;
                lock (_receiveLock)
                {
                    if (ReferenceEquals(_socket, socket))
                        ReceiveAvailable(socket);
                }
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private bool TryConnect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            NodeLink.CheckRunDirectory(_runDirectory);
            socket.Connect(NodeLink.EndPoint(_socketPath));
            int peer = NodeLink.PeerUserId(socket);
            if (!NodeLink.IsTrustedPeer(peer))
                throw new IOException($"the process listening on {_socketPath} runs as uid {peer}");
            socket.SendTimeout = (int)SendTimeout.TotalMilliseconds;
            lock (_sendLock)
                socket.Send(_hello);
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            socket.Dispose();
            // Said once, not every second, until something changes.
            string why = $"node link: cannot connect to {_socketPath}: {ex.Message}";
            if (why != _lastFailure)
                Report(why);
            _lastFailure = why;
            return false;
        }
        _lastFailure = null;
        lock (_receiveLock)
        {
            _frames.Clear();
            Interlocked.Increment(ref _generation);
            Volatile.Write(ref _socket, socket);
        }
        Report($"node link: connected to {_socketPath}");
        return true;
    }

    /// <summary>Reads what the socket holds now, without waiting; called under the receive lock.</summary>
    private void ReceiveAvailable(Socket socket)
    {
        try
        {
            while (true)
            {
                int available = socket.Available;
                if (available == 0)
                {
                    // Readable with nothing to read is the daemon hanging up.
                    if (!socket.Poll(0, SelectMode.SelectRead))
                        return;
                }
                var space = _frames.FreeSpace(Math.Clamp(available, 4096, 64 * 1024));
                int read = socket.Receive(space.Span);
                if (read == 0)
                {
                    Disconnect(socket, "the daemon closed the node link");
                    return;
                }
                _frames.Advance(read);
                while (_frames.TryTake() is { } frame)
                    Handle(frame);
            }
        }
        catch (Exception ex) when (ex is SocketException or NodeLinkProtocolException)
        {
            Disconnect(socket, $"node link: {ex.Message}");
        }
    }

    private void Handle(NodeLinkFrame frame)
    {
        switch (frame)
        {
            case WrittenFrame written:
                lock (_queue)
                {
                    if (_queue.Count >= MaxQueuedRecords)
                        DropOldest();
                    _queue.Enqueue((written.Record, null));
                }
                break;
            case PushFrame push:
                // Handed on by Drain, not here: the handler takes the watcher's locks, and Drain holds ours.
                lock (_queue)
                {
                    if (_queuedPushes >= MaxQueuedPushes || _queue.Count >= MaxQueuedRecords)
                    {
                        Report($"node link: too many push requests waiting; not pushing {Text.NameText.FromBytes(push.Path)} back (the next full sync will)");
                        break;
                    }
                    _queue.Enqueue((null, push.Path));
                    _queuedPushes++;
                }
                break;
            case QueryFrame query:
                // The handler may take a while; the reader must keep taking WRITTEN records meanwhile.
                if (!_queries.TryAdd((query, Interlocked.Read(ref _generation))))
                    Report("node link: too many queries waiting; the daemon will treat one as a local change");
                break;
            default:
                throw new NodeLinkProtocolException($"the daemon sent a {frame.GetType().Name}");
        }
    }

    /// <summary>Makes room in the queue: the oldest WRITTEN record goes (a push request is never dropped quietly). Under the queue lock.</summary>
    private void DropOldest()
    {
        var (record, pushPath) = _queue.Dequeue();
        if (record is not null)
        {
            Interlocked.Increment(ref _droppedRecords);
            return;
        }
        _queuedPushes--;
        Report($"node link: too many records waiting; not pushing {Text.NameText.FromBytes(pushPath!)} back (the next full sync will)");
    }

    private void AnswerLoop()
    {
        try
        {
            foreach (var (query, generation) in _queries.GetConsumingEnumerable())
            {
                bool dirty;
                try
                {
                    dirty = _handler.IsLocalChange(query.Path, query.Size, query.MtimeSeconds, query.MtimeNanoseconds, query.Inode);
                }
                catch (Exception ex)
                {
                    // Not knowing is answered the safe way: the daemon keeps a copy.
                    Report($"node link: answering a query failed: {ex.Message}");
                    dirty = true;
                }
                var socket = Volatile.Read(ref _socket);
                if (socket is null || Interlocked.Read(ref _generation) != generation)
                    continue;
                try
                {
                    lock (_sendLock)
                        socket.Send(NodeLinkCodec.Encode(new AnswerFrame(query.Id, dirty)));
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    lock (_receiveLock)
                        Disconnect(socket, $"node link: {ex.Message}");
                }
            }
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Drops the connection; the reader tries again after the interval. Called under the receive lock.</summary>
    private void Disconnect(Socket socket, string why)
    {
        if (!ReferenceEquals(_socket, socket))
            return;
        Volatile.Write(ref _socket, null);
        socket.Dispose();
        _frames.Clear();
        if (!_stopping.IsSet)
            Report(why);
    }

    private void Report(string message)
    {
        try
        {
            Log?.Invoke(message);
        }
        catch (Exception)
        {
            // A failing log must not take the link down.
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stopping.Set();
        _queries.CompleteAdding();
        lock (_receiveLock)
        {
            if (_socket is { } socket)
                Disconnect(socket, "");
        }
        _reader?.Join(TimeSpan.FromSeconds(5));
        _answerer?.Join(TimeSpan.FromSeconds(5));
    }
}
