using System.Diagnostics;
using System.Text;
using NetRsync.Protocol.TwoWay;
using Xunit;
using Xunit.Abstractions;
using NativePosix = NetRsync.Protocol.Native.Posix;

namespace NetRsync.Interop.Tests;

/// <summary>
/// A watcher as netsersync is one, made of the library's <see cref="NodeLinkClient"/>: it registers
/// one root with a netrsyncd, keeps every WRITTEN record it drains, and answers the daemon's
/// queries from a set of "dirty" paths the test controls.
/// </summary>
internal sealed class FakeWatcher : INodeLinkHandler, IDisposable
{
    private readonly NodeLinkClient _client;
    private readonly List<WrittenRecord> _records = [];
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly List<string> _queries = [];

    public FakeWatcher(string runDirectory, string root)
    {
        Root = root;
        _client = new NodeLinkClient(runDirectory, [Encoding.UTF8.GetBytes(root)], this) { ReconnectInterval = TimeSpan.FromMilliseconds(100) };
        _client.Start();
    }

    public string Root { get; }

    /// <summary>When set, every query is answered "dirty".</summary>
    public bool EverythingDirty { get; set; }

    public void MarkDirty(string path)
    {
        lock (_dirty)
            _dirty.Add(path);
    }

    public IReadOnlyList<string> Queries
    {
        get
        {
            lock (_queries)
                return [.. _queries];
        }
    }

    public int Drain() => _client.Drain();

    /// <summary>Every record drained so far, after draining what has arrived.</summary>
    public IReadOnlyList<WrittenRecord> Records
    {
        get
        {
            Drain();
            lock (_records)
                return [.. _records];
        }
    }

    public bool HasRecordFor(string path)
    {
        byte[] p = Encoding.UTF8.GetBytes(path);
        lock (_records)
            return _records.Any(r => r.Path.AsSpan().SequenceEqual(p));
    }

    public List<WrittenRecord> RecordsFor(string path)
    {
        byte[] p = Encoding.UTF8.GetBytes(path);
        return Records.Where(r => r.Path.AsSpan().SequenceEqual(p)).ToList();
    }

    public void Written(WrittenRecord record)
    {
        lock (_records)
            _records.Add(record);
    }

    private Func<string, bool>? _beforeAnswer;

    /// <summary>
    /// Runs before one query is answered, once: with the query's path, until it returns true. What a
    /// local edit racing with the daemon's decision looks like.
    /// </summary>
    public Func<string, bool>? BeforeAnswer
    {
        set => Volatile.Write(ref _beforeAnswer, value);
    }

    public bool IsLocalChange(byte[] path, long size, long mtimeSeconds, int mtimeNanoseconds, ulong inode)
    {
        string p = Encoding.UTF8.GetString(path);
        if (Volatile.Read(ref _beforeAnswer) is { } hook && hook(p))
            Volatile.Write(ref _beforeAnswer, null);
        lock (_queries)
            _queries.Add(p);
        lock (_dirty)
            return EverythingDirty || _dirty.Contains(p);
    }

    private readonly List<string> _pushBacks = [];

    /// <summary>Paths the daemon asked to push back, after draining what has arrived.</summary>
    public IReadOnlyList<string> PushBacks
    {
        get
        {
            Drain();
            lock (_pushBacks)
                return [.. _pushBacks];
        }
    }

    public void PushBack(byte[] path)
    {
        lock (_pushBacks)
            _pushBacks.Add(Encoding.UTF8.GetString(path));
    }

    public void Dispose() => _client.Dispose();
}

/// <summary>
/// Two-way modules: netrsyncd with a watcher of its node registered (a <see cref="FakeWatcher"/>),
/// pushed to by stock rsync and by netrsync. Changes are announced before they show, local changes
/// not yet delivered survive a push (newer wins, the loser is kept as a conflict copy), and a
/// module no watcher covers is plain rsync.
/// </summary>
public sealed class TwoWayTests(ITestOutputHelper output)
{
    private static readonly DateTime Older = new(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime Newer = new(2021, 6, 1, 12, 34, 56, DateTimeKind.Utc);
    /// <summary>This node's address toward the pushing client (loopback): the name in copies of a local version.</summary>
    private const string Host = "127.0.0.1";

    public static TheoryData<string> Clients => new() { "stock", "netrsync" };

    /// <summary>A daemon serving "two" (and "plain"), with a fake watcher registered for <paramref name="watched"/> (default: two's path).</summary>
    private sealed class Node : IAsyncDisposable
    {
        public required TempDir Temp { get; init; }
        public required NetRsyncDaemon Daemon { get; init; }
        public required FakeWatcher Watcher { get; init; }
        public required string Source { get; init; }
        public required string Module { get; init; }
        public required string Plain { get; init; }

        public string Url(string module = "two") => Daemon.Url(module);

        public async ValueTask DisposeAsync()
        {
            Watcher.Dispose();
            await Daemon.DisposeAsync();
            Temp.Dispose();
        }
    }

    private static async Task<Node> StartAsync(IEnumerable<string>? moduleLines = null, Func<string, string, string>? watchedRoot = null)
    {
        var temp = new TempDir();
        string source = temp.Sub("src");
        string module = NativePosix.RealPath(temp.Sub("two"))!;
        string plain = NativePosix.RealPath(temp.Sub("plain"))!;
        var daemon = await NetRsyncDaemon.StartAsync([
            new DaemonModule("two", module) { ExtraLines = moduleLines?.ToList() },
            new DaemonModule("plain", plain),
        ]);
        string root = watchedRoot?.Invoke(module, plain) ?? module;
        var watcher = new FakeWatcher(daemon.RunDirectory, root);
        await daemon.WaitForLogAsync(log => log.Contains($"node link: watcher connected for {root}", StringComparison.Ordinal), "the watcher's registration");
        return new Node { Temp = temp, Daemon = daemon, Watcher = watcher, Source = source, Module = module, Plain = plain };
    }

    private async Task<ProcessResult> PushAsync(string client, Node node, string module, params string[] options)
    {
        string[] args = [.. options, node.Source + "/", node.Url(module)];
        ProcessResult r = client == "stock"
            ? await new StockClient(RsyncPeers.DebianRsync).RunAsync(["--protocol=31", .. args])
            : await NetRsync.Instance.RunAsync(args);
        output.WriteLine(r.ToString());
        if (r.ExitCode != 0)
            Assert.Fail($"push failed\n{r}\n{await node.Daemon.DiagnosticsWhenIdleAsync()}");
        // The session's last log lines are written once the client has gone.
        await node.Daemon.DiagnosticsWhenIdleAsync();
        return r;
    }

    private static void Write(string path, string content, DateTime mtime)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        File.SetLastWriteTimeUtc(path, mtime);
    }

    private static string Copy(string module, string name, string who, DateTime losersTime) =>
        Path.Join(module, $"{name}.conflict-{who}-{losersTime:yyyyMMdd-HHmmss}");

    private static string[] Conflicts(string module) =>
        Directory.GetFiles(module, "*.conflict-*", SearchOption.AllDirectories).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task Every_change_is_announced_before_it_shows(string client)
    {
        await using var node = await StartAsync();
        for (int i = 0; i < 30; i++)
            Write(Path.Join(node.Source, $"f{i:00}"), new string('x', i * 37), Older.AddSeconds(i));
        Write(Path.Join(node.Source, "sub", "inner"), "inner", Older);
        File.CreateSymbolicLink(Path.Join(node.Source, "link"), "f01");

        // inotify's view: whenever a name appears in the module, its record must already be there.
        var late = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using var inotify = new FileSystemWatcher(node.Module) { IncludeSubdirectories = true, InternalBufferSize = 256 * 1024 };
        string? overflow = null;
        void Appeared(string fullPath)
        {
            if (Path.GetFileName(fullPath).StartsWith('.'))
                return; // the receiver's temporary files, which a watcher never pushes
            node.Watcher.Drain();
            lock (seen)
            {
                seen.Add(fullPath);
                if (!node.Watcher.HasRecordFor(fullPath))
                    late.Add(fullPath);
            }
        }
        inotify.Created += (_, e) => Appeared(e.FullPath);
        inotify.Renamed += (_, e) => Appeared(e.FullPath);
        inotify.Error += (_, e) => overflow = e.GetException().Message;
        inotify.EnableRaisingEvents = true;

        await PushAsync(client, node, "two", "-a");

        // Wait until inotify has shown every top-level name (events in a new subdirectory may come before its watch).
        var clock = Stopwatch.StartNew();
        while (true)
        {
            lock (seen)
            {
                if (Enumerable.Range(0, 30).All(i => seen.Contains(Path.Join(node.Module, $"f{i:00}"))) && seen.Contains(Path.Join(node.Module, "link")))
                    break;
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "inotify did not report every file within 10 s");
            await Task.Delay(20);
        }
        Assert.Null(overflow);
        lock (seen)
            Assert.True(late.Count == 0, $"names that appeared before their WRITTEN record: {string.Join(", ", late)}");

        // Each record states what lstat now says.
        for (int i = 0; i < 30; i++)
        {
            string path = Path.Join(node.Module, $"f{i:00}");
            Assert.Equal(0, NativePosix.TryLStat(path, out var st));
            var files = node.Watcher.RecordsFor(path).Where(r => r.Kind == WrittenKind.File).ToList();
            Assert.Contains(files, r => r.Size == st.Size && r.MtimeSeconds == st.MtimeSeconds && r.MtimeNanoseconds == st.MtimeNanoseconds && r.Inode == (ulong)st.Inode);
        }
        Assert.Contains(node.Watcher.RecordsFor(Path.Join(node.Module, "sub")), r => r.Kind == WrittenKind.Directory);
        Assert.Contains(node.Watcher.RecordsFor(Path.Join(node.Module, "sub", "inner")), r => r.Kind == WrittenKind.File);
        Assert.Contains(node.Watcher.RecordsFor(Path.Join(node.Module, "link")), r => r.Kind == WrittenKind.Symlink);
        // Nothing was asked: no file existed.
        Assert.Empty(node.Watcher.Queries);

        // A second push with a deletion and a changed mode: announced too.
        File.Delete(Path.Join(node.Source, "f05"));
        File.SetUnixFileMode(Path.Join(node.Source, "f06"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await PushAsync(client, node, "two", "-a", "--delete");
        Assert.False(File.Exists(Path.Join(node.Module, "f05")));
        Assert.Contains(node.Watcher.RecordsFor(Path.Join(node.Module, "f05")), r => r.Kind == WrittenKind.Deleted);
        Assert.Contains(node.Watcher.RecordsFor(Path.Join(node.Module, "f06")), r => r.Kind == WrittenKind.Attributes);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task A_dirty_local_file_older_than_the_incoming_is_kept_as_a_copy(string client)
    {
        await using var node = await StartAsync();
        string local = Path.Join(node.Module, "doc.txt");
        Write(local, "changed here", Older);
        node.Watcher.MarkDirty(local);
        Write(Path.Join(node.Source, "doc.txt"), "changed on the peer, later", Newer);

        await PushAsync(client, node, "two", "-a");

        Assert.Equal("changed on the peer, later", File.ReadAllText(local));
        string copy = Copy(node.Module, "doc.txt", Host, Older);
        Assert.Equal([Path.GetFileName(copy)], Conflicts(node.Module));
        Assert.Equal("changed here", File.ReadAllText(copy));
        Assert.Equal(Older, File.GetLastWriteTimeUtc(copy));
        Assert.Contains(local, node.Watcher.Queries);
        // The copy is new to the watcher, so it pushes it on; the winner was announced.
        Assert.Empty(node.Watcher.RecordsFor(copy));
        Assert.Contains(node.Watcher.RecordsFor(local), r => r.Kind == WrittenKind.File);
        Assert.Contains($"conflict on doc.txt: the incoming version is newer; the local one, changed here, is kept as {Path.GetFileName(copy)}", node.Daemon.DaemonLog, StringComparison.Ordinal);
    }

    public static TheoryData<string, bool> ClientsAndUpdate => new() { { "stock", true }, { "stock", false }, { "netrsync", true }, { "netrsync", false } };

    [Theory]
    [MemberData(nameof(ClientsAndUpdate))]
    public async Task A_dirty_newer_local_file_keeps_its_name_and_the_incoming_becomes_a_copy(string client, bool update)
    {
        await using var node = await StartAsync();
        string local = Path.Join(node.Module, "doc.txt");
        Write(local, "changed here, later", Newer);
        node.Watcher.MarkDirty(local);
        Write(Path.Join(node.Source, "doc.txt"), "changed on the peer", Older);

        // sersync pushes with -artuz: -u must not stop the older version from being kept.
        await PushAsync(client, node, "two", update ? "-au" : "-a");

        Assert.Equal("changed here, later", File.ReadAllText(local));
        Assert.Equal(Newer, File.GetLastWriteTimeUtc(local));
        // Named after the pushing node's address, as the other node names its own version.
        string copy = Copy(node.Module, "doc.txt", "127.0.0.1", Older);
        Assert.Equal([Path.GetFileName(copy)], Conflicts(node.Module));
        Assert.Equal("changed on the peer", File.ReadAllText(copy));
        Assert.Equal(Older, File.GetLastWriteTimeUtc(copy));
        Assert.Empty(node.Watcher.RecordsFor(copy));
        Assert.DoesNotContain(node.Watcher.RecordsFor(local), r => r.Kind == WrittenKind.File);
        Assert.Contains($"conflict on doc.txt: the local version is newer, so it stays; the incoming one is kept as {Path.GetFileName(copy)}", node.Daemon.DaemonLog, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ClientsAndUpdate))]
    public async Task Two_versions_of_one_size_in_one_second_are_told_apart_by_nanoseconds(string client, bool update)
    {
        // The quick check in whole seconds would call them the same file and keep neither apart.
        await using var node = await StartAsync();
        string local = Path.Join(node.Module, "doc.txt");
        DateTime later = Newer.AddTicks(5_000_000), earlier = Newer.AddTicks(2_000_000);
        Write(local, "BBBB", later);
        node.Watcher.MarkDirty(local);
        Write(Path.Join(node.Source, "doc.txt"), "AAAA", earlier);

        await PushAsync(client, node, "two", update ? "-au" : "-a");

        Assert.Equal("BBBB", File.ReadAllText(local));
        string copy = Copy(node.Module, "doc.txt", "127.0.0.1", earlier);
        Assert.Equal([Path.GetFileName(copy)], Conflicts(node.Module));
        Assert.Equal("AAAA", File.ReadAllText(copy));
        Assert.Equal(earlier, File.GetLastWriteTimeUtc(copy));
    }

    [Fact]
    public async Task A_copy_never_overwrites_an_existing_name()
    {
        await using var node = await StartAsync();
        string local = Path.Join(node.Module, "doc.txt");
        Write(local, "changed here", Older);
        node.Watcher.MarkDirty(local);
        string taken = Copy(node.Module, "doc.txt", Host, Older);
        Write(taken, "an earlier conflict", Older);
        Write(Path.Join(node.Source, "doc.txt"), "changed on the peer, later", Newer);

        await PushAsync("stock", node, "two", "-a");

        Assert.Equal("an earlier conflict", File.ReadAllText(taken));
        Assert.Equal("changed here", File.ReadAllText(taken + "-1"));
        Assert.Equal("changed on the peer, later", File.ReadAllText(local));
    }

    [Fact]
    public async Task A_copy_the_other_node_already_made_of_the_same_version_is_not_made_twice()
    {
        // Both nodes keep the loser of a simultaneous edit under one name; the one that arrives
        // first is that very copy, so no "-1" twin is made beside it.
        await using var node = await StartAsync();
        string local = Path.Join(node.Module, "doc.txt");
        Write(local, "changed here", Older);
        node.Watcher.MarkDirty(local);
        string kept = Copy(node.Module, "doc.txt", Host, Older);
        Write(kept, "changed here", Older);
        Write(Path.Join(node.Source, "doc.txt"), "changed on the peer, later", Newer);

        await PushAsync("stock", node, "two", "-a");

        Assert.Equal([Path.GetFileName(kept)], Conflicts(node.Module));
        Assert.Equal("changed here", File.ReadAllText(kept));
        Assert.Equal("changed on the peer, later", File.ReadAllText(local));
    }

    [Fact]
    public async Task A_local_file_already_delivered_is_replaced_as_plain_rsync_does()
    {
        await using var node = await StartAsync();
        string older = Path.Join(node.Module, "older");
        string newer = Path.Join(node.Module, "newer");
        Write(older, "local", Older);
        Write(newer, "local, newer", Newer);
        Write(Path.Join(node.Source, "older"), "incoming", Newer);
        Write(Path.Join(node.Source, "newer"), "incoming, older", Older);

        await PushAsync("stock", node, "two", "-au");

        Assert.Equal("incoming", File.ReadAllText(older));
        // -u keeps the newer local file, as plain rsync does; the older incoming one, never held
        // here, is the peer's own change and is kept as a copy.
        Assert.Equal("local, newer", File.ReadAllText(newer));
        string copy = Copy(node.Module, "newer", "127.0.0.1", Older);
        Assert.Equal([Path.GetFileName(copy)], Conflicts(node.Module));
        Assert.Equal("incoming, older", File.ReadAllText(copy));
        Assert.Contains(older, node.Watcher.Queries);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task An_older_version_this_node_was_sent_before_is_stale_and_dropped_under_update(string client)
    {
        // The peer pushes again a version it sent here before (this node has changed it since, and
        // delivered that): nothing of it is new, so -u drops it with no copy.
        await using var node = await StartAsync();
        string local = Path.Join(node.Module, "f");
        Write(Path.Join(node.Source, "f"), "sent before", Older);
        await PushAsync(client, node, "two", "-au");
        Assert.Equal("sent before", File.ReadAllText(local));
        Write(local, "changed here since, and delivered", Newer);

        await PushAsync(client, node, "two", "-au");

        Assert.Equal("changed here since, and delivered", File.ReadAllText(local));
        Assert.Empty(Conflicts(node.Module));
        Assert.Equal([local], node.Watcher.PushBacks);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task An_older_version_replacing_one_the_peer_sent_is_taken_despite_update(string client)
    {
        // This node holds, unchanged, the version the peer sent: the peer replacing it with an
        // older file (a rename there) made the later change, which -u does not stop.
        await using var node = await StartAsync();
        string local = Path.Join(node.Module, "f");
        Write(Path.Join(node.Source, "f"), "sent by the peer", Newer);
        await PushAsync(client, node, "two", "-au");
        Write(Path.Join(node.Source, "f"), "an older file renamed over it", Older);

        await PushAsync(client, node, "two", "-au");

        Assert.Equal("an older file renamed over it", File.ReadAllText(local));
        Assert.Equal(Older, File.GetLastWriteTimeUtc(local));
        Assert.Empty(Conflicts(node.Module));
        Assert.Empty(node.Watcher.PushBacks);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task A_newer_local_file_kept_under_update_is_pushed_back_by_the_watcher(string client)
    {
        // A rename on the peer can leave an older file under a name this node holds newer: -u keeps
        // the local one, and only a push of it from here makes both nodes alike.
        await using var node = await StartAsync();
        string newer = Path.Join(node.Module, "g");
        string older = Path.Join(node.Module, "f");
        Write(newer, "local, newer", Newer);
        Write(older, "local, older", Older);
        Write(Path.Join(node.Source, "g"), "incoming, older", Older);
        Write(Path.Join(node.Source, "f"), "incoming, newer", Newer);

        await PushAsync(client, node, "two", "-au");

        Assert.Equal("local, newer", File.ReadAllText(newer));
        Assert.Equal("incoming, newer", File.ReadAllText(older));
        Assert.Equal([Path.GetFileName(Copy(node.Module, "g", "127.0.0.1", Older))], Conflicts(node.Module));
        Assert.Equal([newer], node.Watcher.PushBacks);
        Assert.Contains("g is newer here than the pushed version", node.Daemon.DaemonLog, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task Deleting_a_dirty_file_keeps_it(string client)
    {
        await using var node = await StartAsync();
        string dirty = Path.Join(node.Module, "dirty");
        string clean = Path.Join(node.Module, "clean");
        string dirtyInside = Path.Join(node.Module, "dir", "dirty");
        Write(dirty, "changed here", Newer);
        Write(clean, "delivered", Newer);
        Write(dirtyInside, "changed here too", Newer);
        node.Watcher.MarkDirty(dirty);
        node.Watcher.MarkDirty(dirtyInside);
        Write(Path.Join(node.Source, "other"), "other", Older);

        var pushed = await PushAsync(client, node, "two", "-a", "--delete");

        // Told to the client too, without failing the push (the exit code was checked to be 0).
        Assert.Contains("kept dirty: changed here since the last sync; not deleted", pushed.Stderr, StringComparison.Ordinal);
        Assert.Contains("kept dir/dirty: changed here since the last sync; not deleted", pushed.Stderr, StringComparison.Ordinal);
        Assert.Equal("changed here", File.ReadAllText(dirty));
        Assert.Equal("changed here too", File.ReadAllText(dirtyInside));
        Assert.False(File.Exists(clean));
        Assert.Contains(node.Watcher.RecordsFor(clean), r => r.Kind == WrittenKind.Deleted);
        Assert.Empty(node.Watcher.RecordsFor(dirty));
        string log = node.Daemon.DaemonLog;
        Assert.Contains("kept dirty: changed here since the last sync", log, StringComparison.Ordinal);
        Assert.Contains("kept dir/dirty: changed here since the last sync", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_conflict_copies_the_newer_wins_and_the_loser_is_discarded()
    {
        await using var node = await StartAsync(moduleLines: ["conflict copies = no"]);
        string olderHere = Path.Join(node.Module, "older-here");
        string newerHere = Path.Join(node.Module, "newer-here");
        Write(olderHere, "local", Older);
        Write(newerHere, "local, newer", Newer);
        node.Watcher.MarkDirty(olderHere);
        node.Watcher.MarkDirty(newerHere);
        Write(Path.Join(node.Source, "older-here"), "incoming, newer", Newer);
        Write(Path.Join(node.Source, "newer-here"), "incoming", Older);

        await PushAsync("stock", node, "two", "-a");

        Assert.Equal("incoming, newer", File.ReadAllText(olderHere));
        Assert.Equal("local, newer", File.ReadAllText(newerHere));
        Assert.Empty(Conflicts(node.Module));
        Assert.Contains("conflict on newer-here: the local version is newer, so it stays; the incoming one is discarded", node.Daemon.DaemonLog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_registered_watcher_that_is_gone_counts_as_a_local_change()
    {
        await using var node = await StartAsync();
        string local = Path.Join(node.Module, "doc.txt");
        Write(local, "changed here", Older);
        Write(Path.Join(node.Source, "doc.txt"), "changed on the peer, later", Newer);
        node.Watcher.Dispose();
        await node.Daemon.WaitForLogAsync(log => log.Contains("node link: watcher disconnected", StringComparison.Ordinal), "the watcher to go");

        await PushAsync("stock", node, "two", "-a");

        Assert.Equal("changed on the peer, later", File.ReadAllText(local));
        Assert.Equal("changed here", File.ReadAllText(Copy(node.Module, "doc.txt", Host, Older)));
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task A_module_no_watcher_covers_is_plain_rsync(string client)
    {
        // The watcher covers "two" only; "plain" is a sibling.
        await using var node = await StartAsync();
        node.Watcher.EverythingDirty = true;
        string older = Path.Join(node.Plain, "older");
        string newer = Path.Join(node.Plain, "newer");
        Write(older, "local", Older);
        Write(newer, "local, newer", Newer);
        Write(Path.Join(node.Plain, "extra"), "extra", Older);
        Write(Path.Join(node.Source, "older"), "incoming", Newer);
        Write(Path.Join(node.Source, "newer"), "incoming, older", Older);

        await PushAsync(client, node, "plain", "-a", "--delete");

        Assert.Equal("incoming", File.ReadAllText(older));
        Assert.Equal("incoming, older", File.ReadAllText(newer));
        Assert.False(File.Exists(Path.Join(node.Plain, "extra")));
        Assert.Empty(Conflicts(node.Plain));
        Assert.Empty(node.Watcher.Queries);
        Assert.Empty(node.Watcher.Records);
    }

    [Fact]
    public async Task A_watcher_of_a_tree_containing_the_module_makes_it_two_way()
    {
        await using var node = await StartAsync(watchedRoot: (module, _) => Path.GetDirectoryName(module)!);
        string local = Path.Join(node.Module, "doc.txt");
        Write(local, "changed here", Older);
        node.Watcher.MarkDirty(local);
        Write(Path.Join(node.Source, "doc.txt"), "changed on the peer, later", Newer);

        await PushAsync("netrsync", node, "two", "-a");

        Assert.Equal("changed here", File.ReadAllText(Copy(node.Module, "doc.txt", Host, Older)));
        Assert.Contains(node.Watcher.RecordsFor(local), r => r.Kind == WrittenKind.File);
    }
    [Fact]
    public async Task A_watcher_that_registers_during_a_push_hears_of_every_change_from_then_on()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string module = NativePosix.RealPath(temp.Sub("two"))!;
        await using var daemon = await NetRsyncDaemon.StartAsync([new DaemonModule("two", module)]);
        Write(Path.Join(source, "a-first"), "first", Older);
        Write(Path.Join(source, "z-last"), "", Older);
        File.WriteAllBytes(Path.Join(source, "z-last"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(160 * 1024));
        File.SetLastWriteTimeUtc(Path.Join(source, "z-last"), Older);

        // 160 KiB at 40 KiB/s (sent in buffers of at most 32 KiB): the push is still receiving z-last while the watcher registers.
        var push = new StockClient(RsyncPeers.DebianRsync).RunAsync(["--protocol=31", "-a", "--bwlimit=40", source + "/", daemon.Url("two")]);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(Path.Join(module, "a-first")))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the push did not start within 10 s");
            Assert.False(push.IsCompleted, "the push ended before a-first showed");
            await Task.Delay(10);
        }
        using var watcher = new FakeWatcher(daemon.RunDirectory, module);
        await daemon.WaitForLogAsync(log => log.Contains($"node link: watcher connected for {module}", StringComparison.Ordinal), "the watcher's registration");
        string last = Path.Join(module, "z-last");
        bool announcedFirst = false, appeared = false;
        using var inotify = new FileSystemWatcher(module) { InternalBufferSize = 64 * 1024 };
        void Appeared(string fullPath)
        {
            if (fullPath != last)
                return;
            watcher.Drain();
            announcedFirst = watcher.HasRecordFor(last);
            appeared = true;
        }
        inotify.Created += (_, e) => Appeared(e.FullPath);
        inotify.Renamed += (_, e) => Appeared(e.FullPath);
        inotify.EnableRaisingEvents = true;
        Assert.False(File.Exists(last), "the push wrote z-last before the watcher registered: the test proves nothing");

        var result = await push;
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, $"push failed\n{result}\n{await daemon.DiagnosticsWhenIdleAsync()}");
        clock.Restart();
        while (!Volatile.Read(ref appeared))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "inotify did not report z-last within 10 s");
            await Task.Delay(20);
        }
        Assert.True(announcedFirst, "z-last appeared before its WRITTEN record");
        Assert.Equal(0, NativePosix.TryLStat(last, out var st));
        Assert.Contains(watcher.RecordsFor(last), r => r.Kind == WrittenKind.File && r.Size == st.Size && r.Inode == (ulong)st.Inode
            && r.MtimeSeconds == st.MtimeSeconds && r.MtimeNanoseconds == st.MtimeNanoseconds);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_local_file_that_changes_while_it_is_kept_as_a_copy_is_decided_again(bool replaced)
    {
        await using var node = await StartAsync();
        string local = Path.Join(node.Module, "doc.txt");
        Write(local, "changed here", Older);
        node.Watcher.EverythingDirty = true;
        Write(Path.Join(node.Source, "doc.txt"), "changed on the peer, later", Newer);
        DateTime again = Older.AddHours(1);
        // A local edit between the daemon's look at doc.txt and its copy: a new version renamed into
        // place, or the file removed.
        node.Watcher.BeforeAnswer = path =>
        {
            if (path != local)
                return false;
            if (replaced)
            {
                string edit = Path.Join(node.Module, ".doc.txt.edit");
                Write(edit, "changed again here", again);
                File.Move(edit, local, overwrite: true);
            }
            else
                File.Delete(local);
            return true;
        };

        await PushAsync("stock", node, "two", "-a");

        Assert.Equal("changed on the peer, later", File.ReadAllText(local));
        if (replaced)
        {
            // The copy is the version it is named after.
            string copy = Copy(node.Module, "doc.txt", Host, again);
            Assert.Equal([Path.GetFileName(copy)], Conflicts(node.Module));
            Assert.Equal("changed again here", File.ReadAllText(copy));
            Assert.Equal(again, File.GetLastWriteTimeUtc(copy));
        }
        else
            Assert.Empty(Conflicts(node.Module));
    }
}
