using System.Collections.Concurrent;
using NetRsync.Protocol.TwoWay;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Inotify;
using NetRsync.SerSync.Sync;
using NetRsync.SerSync.TwoWay;
using Xunit;
using static NetRsync.SerSync.FileSystemBytes;

namespace NetRsync.SerSync.Tests;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>Remembers what reaches it, in order.</summary>
internal sealed class RecordingSink : IChangeSink
{
    public readonly ConcurrentQueue<(int Root, string Path, ChangeFlags Flags)> Seen = new();

    public void Report(int rootIndex, byte[] relativePath, ChangeFlags flags) => Seen.Enqueue((rootIndex, N.S(relativePath), flags));

    public bool Got(string path) => Seen.Any(s => s.Path == path);
}

/// <summary>Echo matching: which events are the daemon's own changes.</summary>
public sealed class WrittenTableTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("netsersync-echo-").FullName;
    private readonly ManualTime _time = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private byte[] PathOf(string name) => N.B(Path.Combine(_dir, name));

    /// <summary>The record the daemon would send for what the path holds now.</summary>
    private static WrittenRecord RecordOf(byte[] path, WrittenKind kind = WrittenKind.File)
    {
        var s = State(path);
        return new WrittenRecord(kind, path, s.Size, s.MtimeSeconds, s.MtimeNanoseconds, s.Inode);
    }

    [Fact]
    public void TheDaemonsOwnWriteMatches()
    {
        byte[] path = PathOf("a.txt");
        File.WriteAllText(N.S(path), "from the peer");
        var table = new WrittenTable(_time);
        table.Add(RecordOf(path));
        Assert.True(table.Matches(path, State(path)));
    }

    [Fact]
    public void AUserEditAfterTheDaemonsWriteIsNotAnEcho()
    {
        byte[] path = PathOf("a.txt");
        File.WriteAllText(N.S(path), "from the peer");
        File.SetLastWriteTimeUtc(N.S(path), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var table = new WrittenTable(_time);
        table.Add(RecordOf(path));
        // Same size, new time: an edit here.
        File.WriteAllText(N.S(path), "from the user");
        Assert.False(table.Matches(path, State(path)));
        // Same time, new size.
        File.WriteAllText(N.S(path), "from the user, longer");
        File.SetLastWriteTimeUtc(N.S(path), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        Assert.False(table.Matches(path, State(path)));
        // Same size and time, another inode (replaced by a rename).
        byte[] other = PathOf("other");
        File.WriteAllText(N.S(other), "from the peer");
        File.SetLastWriteTimeUtc(N.S(other), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var record = RecordOf(other) with { Path = path };
        table.Add(record);
        Assert.False(table.Matches(path, State(path)));
    }

    [Fact]
    public void AMatchedRecordIsConsumed()
    {
        byte[] path = PathOf("a.txt");
        File.WriteAllText(N.S(path), "from the peer");
        var table = new WrittenTable(_time);
        table.Add(RecordOf(path));
        var state = State(path);
        Assert.True(table.Matches(path, state));
        // A second event of the same change (nothing done to the file since) is covered...
        Assert.True(table.Matches(path, state));
        // ...but not a chmod after it, though size, time and inode are still the daemon's.
        File.SetUnixFileMode(N.S(path), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var afterChmod = State(path);
        Assert.False(afterChmod.CtimeSeconds == state.CtimeSeconds && afterChmod.CtimeNanoseconds == state.CtimeNanoseconds,
            "the chmod did not move the ctime; the test cannot tell");
        Assert.False(table.Matches(path, afterChmod));
        // And past the grace the record is gone altogether.
        _time.Advance(WrittenTable.MatchedGrace + TimeSpan.FromMilliseconds(1));
        Assert.False(table.Matches(path, state));
        Assert.False(table.WroteLately(path));
    }

    [Fact]
    public void DeletionsMatchOnlyWhileThePathIsGone()
    {
        byte[] path = PathOf("gone");
        var table = new WrittenTable(_time);
        table.Add(new WrittenRecord(WrittenKind.Deleted, path, 0, 0, 0, 0));
        Assert.True(table.Matches(path, State(path)));
        File.WriteAllText(N.S(path), "made again here");
        Assert.False(table.Matches(path, State(path)));
    }

    [Fact]
    public void ADirectoryMatchesByItsInode()
    {
        byte[] path = PathOf("d");
        Directory.CreateDirectory(N.S(path));
        var table = new WrittenTable(_time);
        table.Add(RecordOf(path, WrittenKind.Directory));
        // Entries made in it move its size and times; they have events of their own.
        File.WriteAllText(Path.Combine(N.S(path), "inside"), "x");
        Assert.True(table.Matches(path, State(path)));
        table = new WrittenTable(_time);
        table.Add(RecordOf(PathOf("d")) with { Kind = WrittenKind.Directory, Inode = 1 });
        Assert.False(table.Matches(path, State(path)), "another directory's inode");
        // Announced before the mkdir, when its inode was not known yet.
        table = new WrittenTable(_time);
        table.Add(RecordOf(PathOf("d")) with { Kind = WrittenKind.Directory, Inode = 0 });
        Assert.True(table.Matches(path, State(path)));
        Directory.Delete(N.S(path), recursive: true);
        File.WriteAllText(N.S(path), "a file now");
        table = new WrittenTable(_time);
        table.Add(new WrittenRecord(WrittenKind.Directory, path, 0, 0, 0, 0));
        Assert.False(table.Matches(path, State(path)), "not a directory");
    }

    [Fact]
    public void ARecordMadeBeforeTheEntryExistedMatchesItsTypeForAShortWhile()
    {
        byte[] link = PathOf("link");
        File.CreateSymbolicLink(N.S(link), "somewhere");
        var table = new WrittenTable(_time);
        table.Add(new WrittenRecord(WrittenKind.Symlink, link, 0, 0, 0, 0));
        Assert.True(table.Matches(link, State(link)));

        byte[] file = PathOf("file");
        File.WriteAllText(N.S(file), "x");
        table.Add(new WrittenRecord(WrittenKind.Symlink, file, 0, 0, 0, 0));
        Assert.False(table.Matches(file, State(file)), "a file is not the symlink announced");

        // Never matched (the daemon's mkdir failed, say): a directory made there later is someone else's.
        byte[] dir = PathOf("dir");
        table.Add(new WrittenRecord(WrittenKind.Directory, dir, 0, 0, 0, 0));
        _time.Advance(WrittenTable.StatelessMaxAge + TimeSpan.FromSeconds(1));
        Directory.CreateDirectory(N.S(dir));
        Assert.False(table.Matches(dir, State(dir)));
    }

    [Fact]
    public void ADirectoryMadeAndThenGivenItsAttributesMatchesBoth()
    {
        byte[] dir = PathOf("made");
        var table = new WrittenTable(_time);
        table.Add(new WrittenRecord(WrittenKind.Directory, dir, 0, 0, 0, 0));
        Directory.CreateDirectory(N.S(dir));
        // Its mode and time are set (and announced) before the watcher gets to the mkdir's event.
        Directory.SetLastWriteTimeUtc(N.S(dir), new DateTime(2021, 2, 3, 4, 5, 6, DateTimeKind.Utc));
        table.Add(RecordOf(dir, WrittenKind.Attributes));
        Assert.True(table.Matches(dir, State(dir)), "the mkdir's event");
        Assert.True(table.Matches(dir, State(dir)), "the attributes' event");
    }

    [Fact]
    public void AMatchConsumesTheOlderRecordsOfThePath()
    {
        byte[] path = PathOf("twice.txt");
        File.WriteAllText(N.S(path), "first");
        var table = new WrittenTable(_time);
        var first = RecordOf(path);
        table.Add(first);
        File.WriteAllText(N.S(path), "second, longer");
        table.Add(RecordOf(path));
        Assert.True(table.Matches(path, State(path)));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void TheTableIsBounded()
    {
        var table = new WrittenTable(_time);
        for (int i = 0; i < WrittenTable.MaxRecords + 100; i++)
            table.Add(new WrittenRecord(WrittenKind.Deleted, N.B($"/nowhere/{i}"), 0, 0, 0, 0));
        Assert.Equal(WrittenTable.MaxRecords, table.Count);
        // And per path.
        for (int i = 0; i < WrittenTable.MaxRecordsPerPath * 3; i++)
            table.Add(new WrittenRecord(WrittenKind.File, N.B("/nowhere/busy"), i, 1, 0, 1));
        Assert.False(table.Matches(N.B("/nowhere/busy"), new FileState(EntryType.Regular, 0, 1, 0, 1, 0, 0)), "the oldest record of the path should have made room");
        Assert.Equal(WrittenTable.MaxRecords, table.Count);
        Assert.True(table.Matches(N.B("/nowhere/busy"), new FileState(EntryType.Regular, WrittenTable.MaxRecordsPerPath * 3 - 1, 1, 0, 1, 0, 0)));
        Assert.False(table.WroteLately(N.B("/nowhere/0")), "the oldest record should have made room");
        Assert.True(table.WroteLately(N.B($"/nowhere/{WrittenTable.MaxRecords + 99}")));

        // And by age.
        _time.Advance(WrittenTable.MaxAge + TimeSpan.FromSeconds(1));
        table.Add(new WrittenRecord(WrittenKind.Deleted, N.B("/nowhere/new"), 0, 0, 0, 0));
        Assert.Equal(1, table.Count);
        Assert.False(table.Matches(N.B($"/nowhere/{WrittenTable.MaxRecords + 99}"), FileState.Missing));
    }
}

/// <summary>The bookkeeping of local changes not yet delivered everywhere.</summary>
public sealed class DirtySetTests
{
    private static readonly byte[] Root = N.B("/srv/tree");

    private static DirtySet TwoRemotes() => new([Root], [2]);

    private static Dictionary<byte[], ChangeFlags> Work(params string[] paths) =>
        N.Paths(paths.Select(p => (p, ChangeFlags.Update)).ToArray());

    [Fact]
    public void DirtyUntilEveryRemoteHasIt()
    {
        var dirty = TwoRemotes();
        dirty.Changed(0, N.B("a.txt"));
        Assert.True(dirty.IsDirty(N.B("/srv/tree/a.txt")));
        Assert.False(dirty.IsDirty(N.B("/srv/tree/b.txt")));
        Assert.False(dirty.IsDirty(N.B("/srv/tree-other/a.txt")));

        long started = dirty.Sequence;
        dirty.Delivered(0, 0, Work("a.txt"), started);
        Assert.True(dirty.IsDirty(N.B("/srv/tree/a.txt")), "one of two remotes has it");
        dirty.Delivered(0, 1, Work("a.txt"), started);
        Assert.False(dirty.IsDirty(N.B("/srv/tree/a.txt")));
        Assert.Equal(0, dirty.Count);
    }

    [Fact]
    public void AnEventDuringThePushKeepsItDirty()
    {
        var dirty = new DirtySet([Root], [1]);
        dirty.Changed(0, N.B("a.txt"));
        long started = dirty.Sequence;
        dirty.Changed(0, N.B("a.txt"));
        dirty.Delivered(0, 0, Work("a.txt"), started);
        Assert.True(dirty.IsDirty(N.B("/srv/tree/a.txt")));
        dirty.Delivered(0, 0, Work("a.txt"), dirty.Sequence);
        Assert.False(dirty.IsDirty(N.B("/srv/tree/a.txt")));
    }

    [Fact]
    public void APushWithoutThePathLeavesItDirty()
    {
        var dirty = new DirtySet([Root], [1]);
        dirty.Changed(0, N.B("a.txt"));
        dirty.Delivered(0, 0, Work("b.txt"), dirty.Sequence);
        Assert.True(dirty.IsDirty(N.B("/srv/tree/a.txt")));
    }

    [Fact]
    public void TheDaemonReplacingItClearsIt()
    {
        var dirty = TwoRemotes();
        dirty.Changed(0, N.B("d/a.txt"));
        dirty.Replaced(0, N.B("d/a.txt"));
        Assert.False(dirty.IsDirty(N.B("/srv/tree/d/a.txt")));
    }

    [Fact]
    public void ARescanDeliversEverythingBelowIt()
    {
        var dirty = new DirtySet([Root], [1]);
        dirty.Changed(0, N.B("d/a.txt"));
        dirty.Changed(0, N.B("d/e/b.txt"));
        dirty.Changed(0, N.B("d-sibling"));
        dirty.Delivered(0, 0, N.Paths(("d", ChangeFlags.Rescan)), dirty.Sequence);
        Assert.False(dirty.IsDirty(N.B("/srv/tree/d/a.txt")));
        Assert.False(dirty.IsDirty(N.B("/srv/tree/d/e/b.txt")));
        Assert.True(dirty.IsDirty(N.B("/srv/tree/d-sibling")));
    }

    [Fact]
    public void LostEventsMakeTheWholeRootDirtyUntilAFullPush()
    {
        var dirty = new DirtySet([Root], [1]);
        dirty.ChangedAnywhere(0);
        Assert.True(dirty.IsDirty(N.B("/srv/tree/anything/at/all")));
        dirty.Delivered(0, 0, N.Paths(("sub", ChangeFlags.Rescan)), dirty.Sequence);
        Assert.True(dirty.IsDirty(N.B("/srv/tree/anything")), "only a rescan of the root covers the root");
        dirty.Delivered(0, 0, N.Paths(("", ChangeFlags.Rescan | ChangeFlags.Mirror)), dirty.Sequence);
        Assert.False(dirty.IsDirty(N.B("/srv/tree/anything")));
    }

    [Fact]
    public void RecoveredPathsAreDirtyUntilTheirRemoteHasThem()
    {
        var dirty = TwoRemotes();
        dirty.Owed(0, 1, N.Paths(("queued.txt", ChangeFlags.Update)));
        Assert.True(dirty.IsDirty(N.B("/srv/tree/queued.txt")));
        dirty.Delivered(0, 0, Work("queued.txt"), dirty.Sequence);
        Assert.True(dirty.IsDirty(N.B("/srv/tree/queued.txt")), "remote 0 owed nothing; remote 1 has not got it");
        dirty.Delivered(0, 1, Work("queued.txt"), dirty.Sequence);
        Assert.False(dirty.IsDirty(N.B("/srv/tree/queued.txt")));
    }

    [Fact]
    public void MemoryIsBoundedByCollapsingToTheRoot()
    {
        var dirty = new DirtySet([Root], [1]);
        for (int i = 0; i <= DirtySet.MaxPathsPerRoot; i++)
            dirty.Changed(0, N.B($"f{i}"));
        Assert.Equal(0, dirty.Count);
        Assert.True(dirty.IsDirty(N.B("/srv/tree/never-touched")));
    }

    [Fact]
    public void NothingIsTrackedForARootWithoutRemotes()
    {
        var dirty = new DirtySet([Root], [0]);
        dirty.Changed(0, N.B("a.txt"));
        Assert.False(dirty.IsDirty(N.B("/srv/tree/a.txt")));
    }

    [Theory]
    [InlineData("/srv/tree/a", "/srv/tree", "a")]
    [InlineData("/srv/tree", "/srv/tree", "")]
    [InlineData("/srv/tree2/a", "/srv/tree", null)]
    [InlineData("/srv/a", "/", "srv/a")]
    [InlineData("/srv/tree/a/b", "/srv/tree/", "a/b")]
    public void PathsRelativeToARoot(string path, string root, string? expected)
    {
        byte[]? rel = DirtySet.RelativeTo(N.B(path), N.B(root));
        Assert.Equal(expected, rel is null ? null : N.S(rel));
    }
}

/// <summary>The gate between the watcher and the pushes: echoes, temporary files, local changes.</summary>
public sealed class EchoGateTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("netsersync-gate-").FullName;
    private readonly ManualTime _time = new();
    private readonly RecordingSink _sink = new();
    private readonly DirtySet _dirty;
    private readonly EchoGate _gate;
    private readonly List<WrittenRecord> _linkQueue = [];

    public EchoGateTests()
    {
        _root = RealPaths.Of(_root);
        _dirty = new DirtySet([N.B(_root)], [1]);
        _gate = new EchoGate([N.B(_root)], _sink, _dirty, _time);
        // A link whose records are handed over on Drain, as the node link's are.
        _gate.DrainLink = () =>
        {
            var taken = _linkQueue.ToList();
            _linkQueue.Clear();
            foreach (var record in taken)
                _gate.Written(record);
            return taken.Count;
        };
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Full(string rel) => Path.Combine(_root, rel);

    /// <summary>What the daemon does: write the file, announce it, let the watcher see it.</summary>
    private void DaemonWrites(string rel, string content)
    {
        File.WriteAllText(Full(rel), content);
        var s = State(N.B(Full(rel)));
        _linkQueue.Add(new WrittenRecord(WrittenKind.File, N.B(Full(rel)), s.Size, s.MtimeSeconds, s.MtimeNanoseconds, s.Inode));
    }

    private void Event(string rel, ChangeFlags flags = ChangeFlags.Update)
    {
        _gate.BeginRound();
        _gate.Report(0, N.B(rel), flags);
    }

    [Fact]
    public void TheDaemonsWritesAreNotPushedBackAndLocalOnesAre()
    {
        long echoes = Interlocked.Read(ref Counters.EchoesDropped);
        DaemonWrites("peer.txt", "from the peer");
        Event("peer.txt");
        Assert.False(_sink.Got("peer.txt"), "an echo was passed on for pushing");
        Assert.False(_dirty.IsDirty(N.B(Full("peer.txt"))));
        Assert.True(Interlocked.Read(ref Counters.EchoesDropped) > echoes, "the echo was not counted");

        File.WriteAllText(Full("local.txt"), "made here");
        Event("local.txt");
        Assert.True(_sink.Got("local.txt"));
        Assert.True(_dirty.IsDirty(N.B(Full("local.txt"))));
    }

    [Fact]
    public void AnEditAfterTheDaemonsWriteIsPushed()
    {
        DaemonWrites("shared.txt", "from the peer");
        File.SetLastWriteTimeUtc(Full("shared.txt"), DateTime.UtcNow.AddMinutes(-5));
        File.AppendAllText(Full("shared.txt"), " and an edit here");
        Event("shared.txt");
        Assert.True(_sink.Got("shared.txt"));
        Assert.True(_dirty.IsDirty(N.B(Full("shared.txt"))));
    }

    [Fact]
    public void ADeletionByTheDaemonIsNotPushedBack()
    {
        File.WriteAllText(Full("old.txt"), "x");
        File.Delete(Full("old.txt"));
        _linkQueue.Add(new WrittenRecord(WrittenKind.Deleted, N.B(Full("old.txt")), 0, 0, 0, 0));
        Event("old.txt", ChangeFlags.MayRemove);
        Assert.False(_sink.Got("old.txt"));
    }

    [Fact]
    public void TheDaemonReplacingALocalChangeClearsIt()
    {
        File.WriteAllText(Full("both.txt"), "edited here");
        Event("both.txt");
        Assert.True(_dirty.IsDirty(N.B(Full("both.txt"))));
        DaemonWrites("both.txt", "the newer version from the peer");
        Event("both.txt");
        Assert.False(_dirty.IsDirty(N.B(Full("both.txt"))));
    }

    [Fact]
    public void RsyncTemporaryFilesAreNeverPushed()
    {
        // The daemon's temp file, seen while being written; then renamed into place.
        File.WriteAllText(Full(".new.txt.A1B2C3"), "partial");
        Event(".new.txt.A1B2C3");
        Assert.Empty(_sink.Seen);
        File.Move(Full(".new.txt.A1B2C3"), Full("new.txt"));
        var s = State(N.B(Full("new.txt")));
        _linkQueue.Add(new WrittenRecord(WrittenKind.File, N.B(Full("new.txt")), s.Size, s.MtimeSeconds, s.MtimeNanoseconds, s.Inode));
        Event("new.txt");
        Event(".new.txt.A1B2C3", ChangeFlags.MayRemove);
        _time.Advance(EchoGate.TempHold * 2);
        _gate.BeginRound();
        Assert.Empty(_sink.Seen);
    }

    [Fact]
    public void AUsersFileWithATemporaryLookingNameIsPushedOnceItSettles()
    {
        File.WriteAllText(Full(".env.sample"), "KEY=value");
        Event(".env.sample");
        _gate.BeginRound();
        Assert.Empty(_sink.Seen);
        _time.Advance(EchoGate.TempHold + TimeSpan.FromSeconds(1));
        _gate.BeginRound();
        Assert.True(_sink.Got(".env.sample"), "a user's file of that form must not be lost");

        // Its removal is pushed too.
        File.Delete(Full(".env.sample"));
        Event(".env.sample", ChangeFlags.MayRemove);
        Assert.Contains(_sink.Seen, s => s.Path == ".env.sample" && s.Flags == ChangeFlags.MayRemove);
    }

    [Fact]
    public void AFileBeingWrittenIsHeldWhileItGrows()
    {
        File.WriteAllText(Full(".big.iso.Zz09Aa"), "part");
        Event(".big.iso.Zz09Aa");
        for (int i = 0; i < 3; i++)
        {
            _time.Advance(EchoGate.TempHold - TimeSpan.FromSeconds(1));
            File.AppendAllText(Full(".big.iso.Zz09Aa"), " more");
            _gate.BeginRound();
        }
        Assert.Empty(_sink.Seen);
    }

    [Theory]
    [InlineData(".a.txt.XyZ123", true)]
    [InlineData(".env.sample", true)]
    [InlineData(".a.ABCDEF", true)]
    [InlineData(".a.ABCDE", false)]
    [InlineData("a.txt.ABCDEF", false)]
    [InlineData("..ABCDEF", false)]
    [InlineData(".a.ABC-EF", false)]
    public void TemporaryNames(string name, bool temp) => Assert.Equal(temp, EchoGate.IsRsyncTempName(N.B(name)));

    [Fact]
    public void IsLocalChangeHandlesQueuedEventsFirst()
    {
        File.WriteAllText(Full("late.txt"), "edited just before the daemon asked");
        _gate.CatchUpEvents = () => Event("late.txt");
        Assert.True(_gate.IsLocalChange(N.B(Full("late.txt")), 0, 0, 0, 0));
        _gate.CatchUpEvents = null;
        Assert.False(_gate.IsLocalChange(N.B(Full("untouched.txt")), 0, 0, 0, 0));
    }

    [Fact]
    public void RescansMakeEverythingLocal()
    {
        _gate.Report(0, Names.Empty, ChangeFlags.Rescan);
        Assert.True(_sink.Got(""));
        Assert.True(_dirty.IsDirty(N.B(Full("whatever"))));
    }
}

/// <summary>IsLocalChange with real inotify: an edit done before the question is seen before the answer.</summary>
public sealed class CatchUpTests : IDisposable
{
    private readonly string _base = RealPaths.Of(Directory.CreateTempSubdirectory("netsersync-catchup-").FullName);
    private readonly string _root;

    public CatchUpTests()
    {
        _root = Directory.CreateDirectory(Path.Combine(_base, "tree")).FullName;
    }

    public void Dispose() => Directory.Delete(_base, recursive: true);

    /// <summary>
    /// A file written beside the tree and renamed into it: the rename's event is queued when rename()
    /// returns. (A close-write is not, when a process forked meanwhile still holds the file: its
    /// event comes with the child's exec.)
    /// </summary>
    private void Arrive(string path, string content) => ArriveAt(_base, path, content);

    internal static void ArriveAt(string outside, string path, string content)
    {
        string staging = Path.Combine(outside, "staging-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(staging, content);
        File.Move(staging, path, overwrite: true);
    }

    [Fact]
    public void QueuedEventsAreReadBeforeTheAnswerWithoutTheWatcherThread()
    {
        var sink = new RecordingSink();
        var dirty = new DirtySet([N.B(_root)], [1]);
        var gate = new EchoGate([N.B(_root)], sink, dirty);
        using var watcher = new TreeWatcher([_root], PathFilter.None, new EventSwitches { Delete = true }, gate);
        gate.CatchUpEvents = watcher.CatchUp;
        watcher.WatchAll();
        // No watcher thread: only the question itself can get the event read.
        Arrive(Path.Combine(_root, "edited.txt"), "x");
        Assert.True(gate.IsLocalChange(N.B(Path.Combine(_root, "edited.txt")), 0, 0, 0, 0));
        Assert.False(gate.IsLocalChange(N.B(Path.Combine(_root, "other.txt")), 0, 0, 0, 0));
    }

    [Fact]
    public async Task CatchUpIsSafeAlongsideTheWatcherThread()
    {
        var sink = new RecordingSink();
        var dirty = new DirtySet([N.B(_root)], [1]);
        var gate = new EchoGate([N.B(_root)], sink, dirty);
        using var watcher = new TreeWatcher([_root], PathFilter.None, new EventSwitches { Delete = true }, gate);
        gate.CatchUpEvents = watcher.CatchUp;
        watcher.WatchAll();
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => watcher.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        try
        {
            for (int i = 0; i < 300; i++)
            {
                string dir = Path.Combine(_root, $"d{i % 7}");
                Directory.CreateDirectory(dir);
                string file = Path.Combine(dir, $"f{i}.txt");
                Arrive(file, "x");
                Assert.True(gate.IsLocalChange(N.B(file), 0, 0, 0, 0), $"{file} was moved in before the question");
            }
        }
        finally
        {
            await stop.CancelAsync();
            thread.Join();
        }
        Assert.Equal(300, sink.Seen.Select(s => s.Path).Where(p => p.EndsWith(".txt", StringComparison.Ordinal)).Distinct().Count());
    }
}

/// <summary>How a push is logged: the remote with its port, the names it carried.</summary>
public sealed class PushLogTests
{
    [Theory]
    [InlineData("127.0.0.1", 8731, "rsync", "rsync@127.0.0.1:8731::rsync")]
    [InlineData("127.0.0.1:9000", 8731, "rsync", "rsync@127.0.0.1:9000::rsync")]
    [InlineData("host", null, "rsync", "rsync@host:873::rsync")]
    [InlineData("::1", 874, null, "[::1]:874::rsync")]
    public void TheRemoteIsNamedWithItsPort(string host, int? port, string? user, string expected)
    {
        var rsync = new RsyncSettings { Port = port, AuthEnabled = user is not null, AuthUser = user };
        Assert.Equal(expected, RemotePusher.RemoteDisplay(new RemoteTarget(host, "rsync"), rsync));
    }

    [Fact]
    public void TheNamesAreListedEscapedAndCapped()
    {
        Assert.Equal("[a.txt, dir/b.txt, caf\\#351]", RemotePusher.ShowPaths([N.B("a.txt"), N.B("dir/b.txt"), [(byte)'c', (byte)'a', (byte)'f', 0xE9]]));
        Assert.Equal("[.]", RemotePusher.ShowPaths([Names.Empty]));
        var many = Enumerable.Range(0, RemotePusher.LoggedNames + 5).Select(i => N.B($"f{i}")).ToList();
        Assert.EndsWith($"f{RemotePusher.LoggedNames - 1}, ... and 5 more]", RemotePusher.ShowPaths(many));
    }
}

internal static class RealPaths
{
    /// <summary>The directory as the daemon names it: every symlink resolved (a temp dir may lie under one).</summary>
    public static string Of(string path) => NetRsync.Protocol.Native.Posix.RealPath(path)!;
}

/// <summary>
/// The watcher on a real node link: a daemon that announces each change before making it visible
/// (the temp file written, WRITTEN sent, then renamed into place) has none of its changes pushed
/// back, while a local change in between is; its questions are answered from the dirty set.
/// </summary>
public sealed class LinkedWatcherTests : IDisposable
{
    private readonly string _base = Directory.CreateTempSubdirectory("netsersync-linked-").FullName;
    private readonly string _root;
    private readonly string _runDirectory;

    public LinkedWatcherTests()
    {
        _root = RealPaths.Of(Directory.CreateDirectory(Path.Combine(_base, "tree")).FullName);
        _runDirectory = Path.Combine(_base, "run");
    }

    public void Dispose() => Directory.Delete(_base, recursive: true);

    private string Full(string rel) => Path.Combine(_root, rel);

    /// <summary>As the receiver finishes a file: temp beside it, times set, announced, renamed.</summary>
    private static void DaemonWrites(NodeLinkServer server, string path, string content)
    {
        string temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Random.Shared.Next(0x100000, 0xFFFFFF):X6}");
        File.WriteAllText(temp, content);
        File.SetLastWriteTimeUtc(temp, new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).AddTicks(Random.Shared.Next(1, 10_000_000)));
        var s = State(N.B(temp));
        server.Publish(new WrittenRecord(WrittenKind.File, N.B(path), s.Size, s.MtimeSeconds, s.MtimeNanoseconds, s.Inode));
        File.Move(temp, path, overwrite: true);
    }

    [Fact]
    public async Task TheDaemonsChangesAreNotPushedBack()
    {
        using var server = NodeLinkServer.Start(_runDirectory);
        // A loaded machine must not turn a late answer into "changed here" (what the daemon does after 2 s).
        server.QueryTimeout = TimeSpan.FromSeconds(30);
        var sink = new RecordingSink();
        var dirty = new DirtySet([N.B(_root)], [1]);
        var gate = new EchoGate([N.B(_root)], sink, dirty);
        using var watcher = new TreeWatcher([_root], PathFilter.None, new EventSwitches { Delete = true, CreateFile = true }, gate);
        gate.CatchUpEvents = watcher.CatchUp;
        watcher.WatchAll();
        using var link = new NodeLinkClient(_runDirectory, [N.B(_root)], gate) { ReconnectInterval = TimeSpan.FromMilliseconds(20) };
        gate.DrainLink = link.Drain;
        link.Start();
        await Until(() => server.WatcherCount == 1, "the watcher's HELLO");
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => watcher.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        long echoes = Interlocked.Read(ref Counters.EchoesDropped);
        try
        {
            Directory.CreateDirectory(Full("sub"));
            await Until(() => sink.Got("sub"), "the local folder");
            for (int i = 0; i < 100; i++)
                DaemonWrites(server, Full(i % 2 == 0 ? $"peer-{i}.txt" : $"sub/peer-{i}.txt"), $"from the peer {i}\n");
            // Written again: the newer record replaces the older one.
            DaemonWrites(server, Full("peer-0.txt"), "from the peer, again\n");
            File.WriteAllText(Full("old.txt"), "to be removed by the daemon");
            await Until(() => sink.Got("old.txt"), "the local file");
            server.Publish(new WrittenRecord(WrittenKind.Deleted, N.B(Full("old.txt")), 0, 0, 0, 0));
            File.Delete(Full("old.txt"));
            File.WriteAllText(Full("local.txt"), "made here after all of it");
            await Until(() => sink.Got("local.txt"), "the local change");

            var pushed = sink.Seen.Select(s => s.Path).Where(p => p.Contains("peer-", StringComparison.Ordinal) || p.StartsWith(".", StringComparison.Ordinal)).Distinct().ToList();
            Assert.True(pushed.Count == 0, $"pushed back: {string.Join(", ", pushed.Take(20))}");
            Assert.DoesNotContain(sink.Seen, s => s.Path == "old.txt" && s.Flags == ChangeFlags.MayRemove);
            Assert.True(Interlocked.Read(ref Counters.EchoesDropped) - echoes >= 102, "echoes were not counted");

            // The daemon's questions: a local change not yet pushed is one; what it wrote itself is not.
            var local = State(N.B(Full("local.txt")));
            Assert.Equal(LocalChange.Pending, server.Query(N.B(Full("local.txt")), local.Size, local.MtimeSeconds, local.MtimeNanoseconds, local.Inode));
            Assert.Equal(LocalChange.Delivered, server.Query(N.B(Full("peer-2.txt")), 0, 0, 0, 0));
            // A new version of the daemon's file put there just before the question counts, though no round read it yet.
            CatchUpTests.ArriveAt(_base, Full("peer-4.txt"), "edited here\n");
            Assert.Equal(LocalChange.Pending, server.Query(N.B(Full("peer-4.txt")), 0, 0, 0, 0));
        }
        finally
        {
            await stop.CancelAsync();
            thread.Join();
        }
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"no {what} within 10 s");
            await Task.Delay(10); // poll interval
        }
    }
}
