using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.TwoWay;
using Xunit;

namespace NetRsync.Protocol.Tests.TwoWay;

/// <summary>A watcher's handler that records what it is given and answers queries as told.</summary>
internal sealed class RecordingHandler : INodeLinkHandler
{
    public readonly List<WrittenRecord> Records = [];
    public readonly ConcurrentQueue<byte[]> Queries = new();
    public Func<byte[], bool> Dirty { get; set; } = _ => false;
    public TimeSpan AnswerDelay { get; set; }

    public readonly List<byte[]> PushBacks = [];

    public void Written(WrittenRecord record) => Records.Add(record);

    public void PushBack(byte[] path) => PushBacks.Add(path);

    public bool IsLocalChange(byte[] path, long size, long mtimeSeconds, int mtimeNanoseconds, ulong inode)
    {
        Queries.Enqueue(path);
        if (AnswerDelay > TimeSpan.Zero)
            Thread.Sleep(AnswerDelay);
        return Dirty(path);
    }
}

public sealed class NodeLinkTests : IDisposable
{
    private readonly string _runDirectory = Path.Join(Directory.CreateTempSubdirectory("nodelink-").FullName, "run");
    private readonly List<IDisposable> _owned = [];

    private static byte[] P(string s) => Encoding.UTF8.GetBytes(s);

    public void Dispose()
    {
        foreach (var d in Enumerable.Reverse(_owned))
            d.Dispose();
        Directory.Delete(Path.GetDirectoryName(_runDirectory)!, recursive: true);
    }

    private NodeLinkServer StartServer()
    {
        var server = NodeLinkServer.Start(_runDirectory);
        _owned.Add(server);
        return server;
    }

    private NodeLinkClient StartClient(RecordingHandler handler, params string[] roots)
    {
        var client = new NodeLinkClient(_runDirectory, roots.Select(P).ToList(), handler) { ReconnectInterval = TimeSpan.FromMilliseconds(50) };
        _owned.Add(client);
        client.Start();
        return client;
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
                throw new TimeoutException($"waited 10 s for {what}");
            Thread.Sleep(10);
        }
    }

    [Fact]
    public void The_run_directory_is_private_and_the_socket_0600()
    {
        StartServer();
        Assert.Equal(0, Posix.TryLStat(_runDirectory, out var dir));
        Assert.Equal(0x1C0, dir.Mode & 0xFFF);
        Assert.Equal(0, Posix.TryLStat(Path.Join(_runDirectory, NodeLink.SocketFileName), out var socket));
        Assert.Equal(Posix.S_IFSOCK, socket.Mode & Posix.S_IFMT);
        Assert.Equal(0x180, socket.Mode & 0xFFF);
    }

    [Fact]
    public void A_run_directory_others_can_write_to_is_refused()
    {
        Directory.CreateDirectory(_runDirectory);
        Assert.Equal(0, Posix.Chmod(_runDirectory, 0x1FF));
        var ex = Assert.Throws<IOException>(() => NodeLinkServer.Start(_runDirectory));
        Assert.Contains("writable by others", ex.Message);
    }

    [Fact]
    public void A_symlink_as_run_directory_is_refused()
    {
        string real = _runDirectory + "-real";
        Directory.CreateDirectory(real);
        File.CreateSymbolicLink(_runDirectory, real);
        Assert.Throws<IOException>(() => NodeLinkServer.Start(_runDirectory));
    }

    [Fact]
    public void The_default_run_directory_follows_the_environment()
    {
        string? before = Environment.GetEnvironmentVariable(NodeLink.RunDirectoryVariable);
        try
        {
            Environment.SetEnvironmentVariable(NodeLink.RunDirectoryVariable, "/some/where");
            Assert.Equal("/some/where", NodeLink.DefaultRunDirectory());
            Environment.SetEnvironmentVariable(NodeLink.RunDirectoryVariable, null);
            string expected = Posix.EffectiveUserId() == 0 ? "/run/netrsync"
                : Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } x ? Path.Join(x, "netrsync")
                : $"/tmp/netrsync-{Posix.EffectiveUserId()}";
            Assert.Equal(expected, NodeLink.DefaultRunDirectory());
        }
        finally
        {
            Environment.SetEnvironmentVariable(NodeLink.RunDirectoryVariable, before);
        }
    }

    [Fact]
    public void A_stale_socket_is_replaced_but_a_live_one_is_not()
    {
        var first = NodeLinkServer.Start(_runDirectory);
        Assert.Throws<IOException>(() => NodeLinkServer.Start(_runDirectory));
        first.Dispose();
        // A socket file nobody listens on, as a daemon that was killed leaves it (.NET would remove its own).
        using (var orphan = Process.Start("/usr/bin/python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", NodeLink.SocketPath(_runDirectory)]))
            orphan.WaitForExit();
        Assert.Equal(0, Posix.TryLStat(NodeLink.SocketPath(_runDirectory), out var stale));
        Assert.Equal(Posix.S_IFSOCK, stale.Mode & Posix.S_IFMT);
        var server = StartServer();
        var handler = new RecordingHandler();
        StartClient(handler, "/w");
        WaitFor(() => server.WatcherCount == 1, "a watcher on the new socket");
    }

    [Fact]
    public void A_record_published_is_in_the_next_drain_without_waiting()
    {
        var server = StartServer();
        var handler = new RecordingHandler();
        var client = StartClient(handler, "/data/tree");
        WaitFor(() => server.WatcherCount == 1, "the watcher's HELLO");
        Assert.True(client.Connected);
        Assert.Equal(0, client.Drain());
        for (int i = 0; i < 200; i++)
        {
            var record = new WrittenRecord(WrittenKind.File, P($"/data/tree/f{i}"), i, 1_700_000_000 + i, i * 7, (ulong)(1000 + i));
            server.Publish(record);
            // Publish returns once the record is in the watcher's socket: no waiting here.
            Assert.Equal(1, client.Drain());
            var got = Assert.Single(handler.Records);
            Assert.Equal(record.Path, got.Path);
            Assert.Equal((record.Kind, record.Size, record.MtimeSeconds, record.MtimeNanoseconds, record.Inode), (got.Kind, got.Size, got.MtimeSeconds, got.MtimeNanoseconds, got.Inode));
            handler.Records.Clear();
        }
        // Outside the watched roots: not sent.
        server.Publish(new WrittenRecord(WrittenKind.File, P("/data/treeish/f"), 0, 0, 0, 0));
        server.Publish(new WrittenRecord(WrittenKind.File, P("/data/tree/last"), 0, 0, 0, 0));
        Assert.Equal(1, client.Drain());
        Assert.Equal(P("/data/tree/last"), handler.Records[0].Path);
    }

    [Fact]
    public void Modules_overlapping_a_watched_root_are_two_way()
    {
        var server = StartServer();
        StartClient(new RecordingHandler(), "/srv/sync");
        WaitFor(() => server.WatcherCount == 1, "the watcher's HELLO");
        Assert.True(server.IsTwoWay(P("/srv/sync")));
        Assert.True(server.IsTwoWay(P("/srv/sync/sub")));
        Assert.True(server.IsTwoWay(P("/srv")));
        Assert.False(server.IsTwoWay(P("/srv/syncother")));
        Assert.False(server.IsTwoWay(P("/other")));
        Assert.True(server.IsWatched(P("/srv/sync/a")));
        Assert.False(server.IsWatched(P("/srv/a")));
    }

    [Fact]
    public void Queries_are_answered_by_the_watchers_covering_the_path()
    {
        var server = StartServer();
        var handler = new RecordingHandler { Dirty = p => Encoding.UTF8.GetString(p).EndsWith("dirty", StringComparison.Ordinal) };
        StartClient(handler, "/w");
        WaitFor(() => server.WatcherCount == 1, "the watcher's HELLO");
        Assert.Equal(LocalChange.Pending, server.Query(P("/w/a/dirty"), 1, 2, 3, 4));
        Assert.Equal(LocalChange.Delivered, server.Query(P("/w/a/clean"), 1, 2, 3, 4));
        Assert.Equal(LocalChange.NotWatched, server.Query(P("/elsewhere/dirty"), 1, 2, 3, 4));
        Assert.Equal([P("/w/a/dirty"), P("/w/a/clean")], handler.Queries.ToArray());

        // Two watchers over the same path: dirty when either says so.
        var second = new RecordingHandler { Dirty = p => Encoding.UTF8.GetString(p).EndsWith("clean", StringComparison.Ordinal) };
        StartClient(second, "/w/a");
        WaitFor(() => server.WatcherCount == 2, "the second watcher's HELLO");
        Assert.Equal(LocalChange.Pending, server.Query(P("/w/a/clean"), 1, 2, 3, 4));
        Assert.Equal(LocalChange.Delivered, server.Query(P("/w/b/clean"), 1, 2, 3, 4));
    }

    [Fact]
    public void A_query_nobody_answers_in_time_counts_as_a_local_change()
    {
        var server = StartServer();
        server.QueryTimeout = TimeSpan.FromMilliseconds(300);
        var handler = new RecordingHandler { AnswerDelay = TimeSpan.FromSeconds(3) };
        StartClient(handler, "/w");
        WaitFor(() => server.WatcherCount == 1, "the watcher's HELLO");
        var clock = Stopwatch.StartNew();
        Assert.Equal(LocalChange.Pending, server.Query(P("/w/slow"), 1, 2, 3, 4));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2));
        // WRITTEN records still flow while the handler is busy with the query.
        server.Publish(new WrittenRecord(WrittenKind.Directory, P("/w/d"), 0, 0, 0, 0));
        Assert.Equal(1, _owned.OfType<NodeLinkClient>().Single().Drain());
    }

    [Fact]
    public void The_default_query_bound_is_two_seconds()
    {
        var server = StartServer();
        Assert.Equal(TimeSpan.FromSeconds(2), server.QueryTimeout);
    }

    [Fact]
    public void A_root_whose_watcher_is_gone_answers_pending_until_it_returns()
    {
        var server = StartServer();
        var handler = new RecordingHandler();
        var client = StartClient(handler, "/w");
        WaitFor(() => server.WatcherCount == 1, "the watcher's HELLO");
        client.Dispose();
        WaitFor(() => server.WatcherCount == 0, "the watcher to go");
        Assert.True(server.IsTwoWay(P("/w")));
        Assert.Equal(LocalChange.Pending, server.Query(P("/w/f"), 1, 2, 3, 4));
        StartClient(handler, "/w");
        WaitFor(() => server.WatcherCount == 1, "the watcher to return");
        Assert.Equal(LocalChange.Delivered, server.Query(P("/w/f"), 1, 2, 3, 4));
    }

    [Fact]
    public void The_client_reconnects_when_the_daemon_starts_late_or_restarts()
    {
        var handler = new RecordingHandler();
        var client = StartClient(handler, "/w");
        NodeLink.PrepareRunDirectory(_runDirectory);
        Thread.Sleep(150);
        Assert.False(client.Connected);

        var first = NodeLinkServer.Start(_runDirectory);
        WaitFor(() => first.WatcherCount == 1 && client.Connected, "the first connection");
        first.Dispose();
        WaitFor(() => !client.Connected, "the client to notice the daemon is gone");

        var second = StartServer();
        WaitFor(() => second.WatcherCount == 1 && client.Connected, "the reconnection");
        Assert.True(client.Connections >= 2);
        second.Publish(new WrittenRecord(WrittenKind.Symlink, P("/w/l"), 3, 4, 5, 6));
        Assert.Equal(1, client.Drain());
    }

    [Fact]
    public void The_client_tries_again_every_second_by_default()
    {
        var client = new NodeLinkClient(_runDirectory, [P("/w")], new RecordingHandler());
        Assert.Equal(TimeSpan.FromSeconds(1), client.ReconnectInterval);
        client.Dispose();
    }

    [Fact]
    public void A_watcher_sending_an_oversized_frame_is_dropped_and_others_go_on()
    {
        var server = StartServer();
        var handler = new RecordingHandler();
        var client = StartClient(handler, "/w");
        WaitFor(() => server.WatcherCount == 1, "the good watcher");

        using var rogue = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        rogue.Connect(new UnixDomainSocketEndPoint(NodeLink.SocketPath(_runDirectory)));
        var header = new byte[5];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 16 * 1024 * 1024);
        header[4] = NodeLinkCodec.HelloType;
        rogue.Send(header);
        rogue.ReceiveTimeout = 5000;
        // The daemon hangs up without reading the announced 16 MiB.
        Assert.Equal(0, rogue.Receive(new byte[16]));

        server.Publish(new WrittenRecord(WrittenKind.File, P("/w/f"), 0, 0, 0, 0));
        Assert.Equal(1, client.Drain());
    }

    [Fact]
    public void A_watcher_that_stops_reading_cannot_hold_the_daemon_up_for_long()
    {
        var server = StartServer();
        using var stuck = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        stuck.Connect(new UnixDomainSocketEndPoint(NodeLink.SocketPath(_runDirectory)));
        stuck.Send(NodeLinkCodec.Encode(new HelloFrame(NodeLinkCodec.ProtocolVersion, [P("/w")])));
        WaitFor(() => server.WatcherCount == 1, "the HELLO");
        var record = new WrittenRecord(WrittenKind.File, P("/w/" + new string('n', 200)), 1, 2, 3, 4);
        var slowest = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        // The socket's buffer fills; then one publish waits out the send timeout and drops the watcher.
        for (int i = 0; i < 100_000 && server.WatcherCount > 0; i++)
        {
            var one = Stopwatch.StartNew();
            server.Publish(record);
            if (one.Elapsed > slowest)
                slowest = one.Elapsed;
        }
        // The failed send closes the socket; the watcher leaves the count when its reader sees that.
        WaitFor(() => server.WatcherCount == 0, "the stuck watcher to be dropped");
        Assert.InRange(slowest, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(4));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20));
        // And publishing goes on at once without it.
        var after = Stopwatch.StartNew();
        server.Publish(record);
        Assert.True(after.Elapsed < TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void A_watcher_sending_a_malformed_frame_after_hello_is_dropped()
    {
        var server = StartServer();
        using var rogue = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        rogue.Connect(new UnixDomainSocketEndPoint(NodeLink.SocketPath(_runDirectory)));
        rogue.Send(NodeLinkCodec.Encode(new HelloFrame(NodeLinkCodec.ProtocolVersion, [P("/w")])));
        WaitFor(() => server.WatcherCount == 1, "the HELLO");
        // A WRITTEN record is the daemon's to send, not the watcher's.
        rogue.Send(NodeLinkCodec.Encode(new WrittenFrame(new WrittenRecord(WrittenKind.File, P("/w/x"), 0, 0, 0, 0))));
        rogue.ReceiveTimeout = 5000;
        Assert.Equal(0, rogue.Receive(new byte[16]));
        WaitFor(() => server.WatcherCount == 0, "the rogue to be dropped");
    }

    [Fact]
    public void A_daemon_sending_garbage_is_left_and_reconnected_to()
    {
        NodeLink.PrepareRunDirectory(_runDirectory);
        using var fake = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        fake.Bind(new UnixDomainSocketEndPoint(NodeLink.SocketPath(_runDirectory)));
        fake.Listen(4);
        var handler = new RecordingHandler();
        var client = StartClient(handler, "/w");

        using (var first = fake.Accept())
        {
            first.ReceiveTimeout = 5000;
            var hello = ReadFrame(first);
            Assert.Equal([P("/w")], Assert.IsType<HelloFrame>(hello).Roots);
            var oversized = new byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(oversized, NodeLinkCodec.MaxFrameLength + 1);
            first.Send(oversized);
            // The client hangs up on it.
            Assert.Equal(0, first.Receive(new byte[16]));
        }
        using var second = fake.Accept();
        second.ReceiveTimeout = 5000;
        Assert.IsType<HelloFrame>(ReadFrame(second));
        // A well-behaved daemon after that: a query is answered.
        second.Send(NodeLinkCodec.Encode(new QueryFrame(42, P("/w/q"), 1, 2, 3, 4)));
        Assert.Equal(new AnswerFrame(42, false), ReadFrame(second));
        Assert.Equal(0, client.Drain());
    }

    private static NodeLinkFrame ReadFrame(Socket socket)
    {
        var buffer = new NodeLinkFrameBuffer();
        while (true)
        {
            if (buffer.TryTake() is { } frame)
                return frame;
            var space = buffer.FreeSpace();
            int read = socket.Receive(space.Span);
            Assert.NotEqual(0, read);
            buffer.Advance(read);
        }
    }

    [Fact]
    public void Peer_credentials_name_this_process_user()
    {
        var server = StartServer();
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        probe.Connect(new UnixDomainSocketEndPoint(server.SocketPath));
        Assert.Equal(Posix.EffectiveUserId(), NodeLink.PeerUserId(probe));
        Assert.True(NodeLink.IsTrustedPeer(Posix.EffectiveUserId()));
        Assert.True(NodeLink.IsTrustedPeer(0));
        Assert.False(NodeLink.IsTrustedPeer(Posix.EffectiveUserId() + 1 == 0 ? 2 : Posix.EffectiveUserId() + 1));
    }

    [Fact]
    public void A_peer_of_another_user_is_refused()
    {
        // Only root can connect as another user; otherwise the check above is what remains.
        if (Posix.EffectiveUserId() != 0)
            return;
        var log = new ConcurrentQueue<string>();
        var server = NodeLinkServer.Start(_runDirectory, log.Enqueue);
        _owned.Add(server);
        // Open the way past the file modes, so that only the credential check stands.
        Assert.Equal(0, Posix.Chmod(Path.GetDirectoryName(_runDirectory)!, 0x1ED));
        Assert.Equal(0, Posix.Chmod(_runDirectory, 0x1ED));
        Assert.Equal(0, Posix.Chmod(server.SocketPath, 0x1B6));
        string hello = Convert.ToHexString(NodeLinkCodec.Encode(new HelloFrame(NodeLinkCodec.ProtocolVersion, [P("/w")])));
        var start = new ProcessStartInfo("/usr/bin/setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(5)\ns.connect(sys.argv[1])\ntry:\n s.sendall(bytes.fromhex(sys.argv[2]))\n print(len(s.recv(16)))\nexcept (ConnectionResetError, BrokenPipeError): print(0)",
            server.SocketPath, hello])
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, process.StandardError.ReadToEnd());
        // The daemon hung up (a close or a reset) and never registered the roots.
        Assert.Equal("0", output.Trim());
        Assert.Equal(0, server.WatcherCount);
        Assert.False(server.IsTwoWay(P("/w")));
        Assert.Contains(log, l => l.Contains("refused a connection from uid 65534", StringComparison.Ordinal));
    }
}
