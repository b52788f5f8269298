using NetRsync.Protocol.TwoWay;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Inotify;
using NetRsync.SerSync.Sync;
using NetRsync.SerSync.TwoWay;
using Xunit;
using static NetRsync.SerSync.FileSystemBytes;

namespace NetRsync.SerSync.Tests;

/// <summary>
/// Directories the daemon makes for a peer's <c>mkdir -p</c>, and a newer local file the daemon kept:
/// what reaches the pushers.
/// </summary>
public sealed class TwoWayRaceTests : IDisposable
{
    private readonly string _root = RealPaths.Of(Directory.CreateTempSubdirectory("netsersync-race-").FullName);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Full(string rel) => Path.Combine(_root, rel);

    private static WrittenRecord MadeBefore(string path) => new(WrittenKind.Directory, N.B(path), 0, 0, 0, 0);

    [Fact]
    public void DirectoriesTheDaemonMakesWhileTheWatcherListsANewOneAreNotPushedBack()
    {
        var sink = new RecordingSink();
        var dirty = new DirtySet([N.B(_root)], [1]);
        var gate = new EchoGate([N.B(_root)], sink, dirty);
        using var watcher = new TreeWatcher([_root], PathFilter.None, new EventSwitches { Delete = true, Attrib = true }, gate);
        gate.CatchUpEvents = watcher.CatchUp;
        watcher.WatchAll();

        // The daemon's mkdir -p: each directory announced, then made.
        var link = new List<WrittenRecord> { MadeBefore(Full("deep")) };
        Directory.CreateDirectory(Full("deep"));
        bool first = true;
        gate.DrainLink = () =>
        {
            var taken = link.ToList();
            link.Clear();
            foreach (var record in taken)
                gate.Written(record);
            if (first)
            {
                // The daemon goes on right after the watcher's drain, before it lists "deep".
                first = false;
                link.Add(MadeBefore(Full("deep/from-b")));
                Directory.CreateDirectory(Full("deep/from-b"));
                link.Add(MadeBefore(Full("deep/from-b/x")));
                Directory.CreateDirectory(Full("deep/from-b/x"));
            }
            return taken.Count;
        };

        watcher.CatchUp();
        watcher.CatchUp();

        Assert.Empty(sink.Seen);
        Assert.Equal(0, dirty.Count);
        // A directory made here afterwards is pushed as usual.
        Directory.CreateDirectory(Full("deep/from-b/x/mine"));
        watcher.CatchUp();
        Assert.True(sink.Got("deep/from-b/x/mine"));
    }

    [Fact]
    public void ADirectorysAttributesMatchByInodeThoughEntriesAreMadeInItAfterwards()
    {
        string dir = Full("d");
        Directory.CreateDirectory(dir);
        Directory.SetLastWriteTimeUtc(dir, new DateTime(2021, 2, 3, 4, 5, 6, DateTimeKind.Utc));
        var s = State(N.B(dir));
        var table = new WrittenTable();
        table.Add(new WrittenRecord(WrittenKind.Attributes, N.B(dir), s.Size, s.MtimeSeconds, s.MtimeNanoseconds, s.Inode));
        // Another push writes into it before the watcher gets to the utimes' event.
        File.WriteAllText(Path.Combine(dir, "written"), "x");
        Assert.True(table.Matches(N.B(dir), State(N.B(dir))), "the attributes' event");
        Assert.True(table.Matches(N.B(dir), State(N.B(dir))), "a second event of the same change");

        table = new WrittenTable();
        table.Add(new WrittenRecord(WrittenKind.Attributes, N.B(dir), s.Size, s.MtimeSeconds, s.MtimeNanoseconds, s.Inode + 1));
        Assert.False(table.Matches(N.B(dir), State(N.B(dir))), "another directory's inode");
    }

    [Fact]
    public void ALocalFileMadeWhereTheDaemonDeletedOneIsPushedWhenRemovedAgain()
    {
        var sink = new RecordingSink();
        var dirty = new DirtySet([N.B(_root)], [1]);
        var gate = new EchoGate([N.B(_root)], sink, dirty);
        var link = new List<WrittenRecord>();
        gate.DrainLink = () =>
        {
            var taken = link.ToList();
            link.Clear();
            foreach (var record in taken)
                gate.Written(record);
            return taken.Count;
        };
        void Event(string rel, ChangeFlags flags)
        {
            gate.BeginRound();
            gate.Report(0, N.B(rel), flags);
        }

        // The daemon removes f for the peer: an echo.
        link.Add(new WrittenRecord(WrittenKind.Deleted, N.B(Full("f")), 0, 0, 0, 0));
        Event("f", ChangeFlags.MayRemove);
        Assert.Empty(sink.Seen);
        // A user makes f again here, then removes it at once: both are local changes.
        File.WriteAllText(Full("f"), "made here");
        Event("f", ChangeFlags.Update);
        File.Delete(Full("f"));
        Event("f", ChangeFlags.MayRemove);
        Assert.Equal([("f", ChangeFlags.Update), ("f", ChangeFlags.MayRemove)], sink.Seen.Select(s => (s.Path, s.Flags)).ToList());
    }

    [Fact]
    public void APathTheDaemonKeptAsNewerIsPushedToEveryRemoteButNotMadeDirty()
    {
        var sink = new RecordingSink();
        var dirty = new DirtySet([N.B(_root)], [2]);
        var gate = new EchoGate([N.B(_root)], sink, dirty);
        long before = Interlocked.Read(ref Counters.PushedBack);
        File.WriteAllText(Full("g"), "newer here");

        gate.PushBack(N.B(Full("g")));
        gate.PushBack(N.B(_root + "ish/g"));
        gate.PushBack(N.B(_root));

        var (root, path, flags) = Assert.Single(sink.Seen);
        Assert.Equal((0, "g", ChangeFlags.Update), (root, path, flags));
        // A version the peer had: its later removal or newer version there must replace it, not keep it.
        Assert.False(dirty.IsDirty(N.B(Full("g"))));
        Assert.Equal(before + 1, Interlocked.Read(ref Counters.PushedBack));
    }
}
