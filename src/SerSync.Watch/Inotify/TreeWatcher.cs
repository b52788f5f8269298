using System.Runtime.InteropServices;
using NetRsync.Protocol.Text;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Sync;
using static NetRsync.SerSync.Inotify.InotifyNative;

namespace NetRsync.SerSync.Inotify;

/// <summary>
/// Watches every directory under the watch roots with one inotify descriptor and one read buffer,
/// and turns the events into <see cref="ChangeFlags"/> for the sink. A new directory is watched
/// before it is listed, so nothing created in it is missed: whatever appears before the watch is
/// found by the listing, whatever appears after produces events (duplicates are merged later).
/// Names stay the bytes inotify and readdir gave, whatever their encoding.
/// </summary>
public sealed class TreeWatcher : IDisposable
{
    private const int BufferSize = 256 * 1024;
    private const int PairWaitMs = 2;

    private readonly IReadOnlyList<string> _roots;
    private readonly byte[][] _rootBytes;
    private readonly PathFilter _filter;
    private readonly EventSwitches _switches;
    private readonly IChangeSink _sink;
    private readonly IEventRounds? _rounds;
    private readonly int _fd;
    private readonly uint _mask;
    private readonly Dictionary<int, WatchedDir> _byWd = [];
    private readonly Dictionary<byte[], int>[] _byPath;
    private readonly Dictionary<uint, PendingMove> _movesFrom = [];
    private readonly byte[] _buffer = GC.AllocateArray<byte>(BufferSize, pinned: true);
    private readonly Lock _gate = new();
    private readonly int _watchBudget;

    private sealed record WatchedDir(int Root, byte[] Rel);

    private readonly record struct PendingMove(int Root, byte[] Rel, bool IsDir);

    public TreeWatcher(IReadOnlyList<string> roots, PathFilter filter, EventSwitches switches, IChangeSink sink)
        : this(roots, filter, switches, sink, int.MaxValue)
    {
    }

    /// <summary>With <paramref name="watchBudget"/>, watches beyond that count fail as they do at
    /// fs.inotify.max_user_watches (ENOSPC).</summary>
    internal TreeWatcher(IReadOnlyList<string> roots, PathFilter filter, EventSwitches switches, IChangeSink sink, int watchBudget)
    {
        _watchBudget = watchBudget;
        _roots = roots;
        _rootBytes = roots.Select(NameText.ToBytes).ToArray();
        _byPath = roots.Select(_ => new Dictionary<byte[], int>(Names.Comparer)).ToArray();
        _filter = filter;
        _switches = switches;
        _sink = sink;
        _rounds = sink as IEventRounds;
        _fd = Init(CloseOnExec | NonBlock);
        if (_fd < 0)
            throw new IOException($"inotify_init1: {Describe(Marshal.GetLastPInvokeError())}");
        _mask = Create | Delete | MovedFrom | MovedTo | CloseWrite | DeleteSelf | MoveSelf | OnlyDir | DontFollow | ExcludeUnlinked
            | (switches.Attrib ? Attrib : 0) | (switches.Modify ? Modify : 0);
    }

    /// <summary>Set once inotify_add_watch failed with ENOSPC: some directories go unwatched and only a rescan covers them.</summary>
    public bool WatchLimitHit { get; private set; }

    public int WatchCount
    {
        get
        {
            lock (_gate)
                return _byWd.Count;
        }
    }

    /// <summary>Watches every directory under every root (not reporting what is already there).</summary>
    public void WatchAll()
    {
        lock (_gate)
            for (int i = 0; i < _roots.Count; i++)
                WatchTree(i, Names.Empty, report: false);
    }

    /// <summary>Reads events until cancelled; runs on its own thread.</summary>
    public void Run(CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                if (!WaitReadable(250))
                {
                    lock (_gate)
                    {
                        _rounds?.BeginRound();
                        FinishUnpairedMoves();
                    }
                    continue;
                }
                // Read and handled under one lock, so CatchUp never overtakes events already read.
                lock (_gate)
                {
                    int length = ReadEvents();
                    if (length <= 0)
                        continue;
                    // After the read: whatever the daemon announced before these events happened is in by now.
                    _rounds?.BeginRound();
                    Dispatch(length);
                    // A rename's two halves may straddle two reads: give the second half a moment.
                    if (_movesFrom.Count > 0 && !WaitReadable(PairWaitMs))
                        FinishUnpairedMoves();
                }
            }
            catch (Exception ex)
            {
                RescanAfter(ex);
            }
        }
    }

    /// <summary>
    /// Handles every event already queued, on the calling thread, before returning: whatever was
    /// done to the tree before the call has been reported by then (a rename still waiting for its
    /// second half stays pending). Safe alongside <see cref="Run"/>: the watcher thread reads and
    /// handles under the same lock.
    /// </summary>
    public void CatchUp()
    {
        try
        {
            lock (_gate)
            {
                bool any = false;
                while (WaitReadable(0))
                {
                    int length = ReadEvents();
                    if (length <= 0)
                        break;
                    _rounds?.BeginRound();
                    any = true;
                    Dispatch(length);
                }
                if (!any)
                    _rounds?.BeginRound();
            }
        }
        catch (Exception ex)
        {
            RescanAfter(ex);
        }
    }

    private void RescanAfter(Exception ex)
    {
        // Whatever went wrong with these events, a rescan covers them; watching goes on.
        Log.Error($"handling inotify events failed ({ex.GetType().Name}: {ex.Message}); rescanning every watched tree");
        for (int i = 0; i < _roots.Count; i++)
            _sink.Report(i, Names.Empty, ChangeFlags.Rescan);
    }

    private unsafe bool WaitReadable(int timeoutMs)
    {
        var pfd = new PollFd { Fd = _fd, Events = PollIn };
        int n = Poll(&pfd, 1, timeoutMs);
        return n > 0;
    }

    private unsafe int ReadEvents()
    {
        fixed (byte* p = _buffer)
        {
            nint n = Read(_fd, p, (nuint)_buffer.Length);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is not (EAGAIN or EINTR))
                    Log.Error($"inotify read: {Describe(errno)}");
                return 0;
            }
            return (int)n;
        }
    }

    private void Dispatch(int length)
    {
        var span = _buffer.AsSpan(0, length);
        int offset = 0;
        while (offset + EventHeaderSize <= length)
        {
            int wd = MemoryMarshal.Read<int>(span[offset..]);
            uint mask = MemoryMarshal.Read<uint>(span[(offset + 4)..]);
            uint cookie = MemoryMarshal.Read<uint>(span[(offset + 8)..]);
            int nameLength = MemoryMarshal.Read<int>(span[(offset + 12)..]);
            // The name is NUL-padded to an alignment boundary; its bytes are kept as they are.
            var nameBytes = span.Slice(offset + EventHeaderSize, nameLength);
            int nul = nameBytes.IndexOf((byte)0);
            var name = nul >= 0 ? nameBytes[..nul] : nameBytes;
            offset += EventHeaderSize + nameLength;
            Interlocked.Increment(ref Counters.Events);
            Handle(wd, mask, cookie, name);
        }
    }

    private void Handle(int wd, uint mask, uint cookie, ReadOnlySpan<byte> name)
    {
        if ((mask & QueueOverflow) != 0)
        {
            Interlocked.Increment(ref Counters.Overflows);
            Log.Error("inotify queue overflowed (fs.inotify.max_queued_events): events were lost; rescanning every watched tree");
            FinishUnpairedMoves();
            for (int i = 0; i < _roots.Count; i++)
            {
                WatchTree(i, Names.Empty, report: false);
                _sink.Report(i, Names.Empty, ChangeFlags.Rescan | (_switches.Delete ? ChangeFlags.Mirror : 0));
            }
            return;
        }
        if (!_byWd.TryGetValue(wd, out var dir))
            return;
        if ((mask & Ignored) != 0)
        {
            Forget(wd);
            return;
        }
        if (name.Length == 0)
        {
            if ((mask & (DeleteSelf | MoveSelf | Unmount)) != 0 && dir.Rel.Length == 0)
                Log.Error($"the watched directory {_roots[dir.Root]} was removed or moved away; nothing under it is watched any more");
            return;
        }

        byte[] rel = Names.Join(dir.Rel, name);
        bool isDir = (mask & IsDir) != 0;
        if (Log.DebugEnabled)
            Log.Debug($"event {EventNames(mask)} {_roots[dir.Root]}/{Names.Display(rel)}");

        if ((mask & MovedFrom) != 0)
        {
            _movesFrom[cookie] = new PendingMove(dir.Root, rel, isDir);
            return;
        }
        if ((mask & MovedTo) != 0)
        {
            if (_movesFrom.Remove(cookie, out var from))
                MovedOut(from, landing: (dir.Root, rel, isDir));
            else
                Arrived(dir.Root, rel, isDir, _switches.MoveTo);
            return;
        }
        if (_filter.Excludes(rel))
            return;
        if ((mask & Create) != 0)
        {
            if (isDir)
                Arrived(dir.Root, rel, isDir: true, _switches.CreateFolder);
            else if (_switches.CreateFile || IsLinkOrSpecial(dir.Root, rel))
                _sink.Report(dir.Root, rel, ChangeFlags.Update); // symlinks and special files never see a close-write
            return;
        }
        if ((mask & CloseWrite) != 0 && _switches.CloseWrite)
            _sink.Report(dir.Root, rel, ChangeFlags.Update);
        if ((mask & Modify) != 0 && _switches.Modify)
            _sink.Report(dir.Root, rel, ChangeFlags.Update);
        if ((mask & Attrib) != 0 && _switches.Attrib)
            _sink.Report(dir.Root, rel, ChangeFlags.Update);
        if ((mask & Delete) != 0 && _switches.Delete)
            _sink.Report(dir.Root, rel, ChangeFlags.MayRemove);
    }

    private bool IsLinkOrSpecial(int root, byte[] rel) =>
        FileSystemBytes.LStat(FileSystemBytes.Full(_rootBytes[root], rel)) is FileSystemBytes.EntryType.Symlink or FileSystemBytes.EntryType.Other;

    /// <summary>A path appeared by creation or by a move into the tree.</summary>
    private void Arrived(int root, byte[] rel, bool isDir, bool push)
    {
        if (_filter.Excludes(rel))
            return;
        if (isDir)
        {
            if (!push)
                return; // createFolder/moveTo off: sersync neither watches nor pushes such folders
            WatchTree(root, rel, report: true);
        }
        if (push)
            _sink.Report(root, rel, ChangeFlags.Update);
    }

    /// <summary>The old half of a rename: the name goes remotely (moveFrom, with delete), and a directory's
    /// watches leave with it, or follow it when it lands in a watched tree (re-adding a watched
    /// directory returns its old descriptor, which then carries the new name).</summary>
    private void MovedOut(PendingMove from, (int Root, byte[] Rel, bool IsDir)? landing)
    {
        List<int>? stale = null;
        bool Under(WatchedDir d) => d.Root == from.Root && Names.IsSelfOrUnder(d.Rel, from.Rel);
        if (from.IsDir)
        {
            stale = _byWd.Where(kv => Under(kv.Value)).Select(kv => kv.Key).ToList();
            foreach (int wd in stale)
                _byPath[from.Root].Remove(_byWd[wd].Rel);
        }
        if (landing is { } to)
            Arrived(to.Root, to.Rel, to.IsDir, _switches.MoveTo);
        if (stale is not null)
        {
            foreach (int wd in stale)
            {
                if (_byWd.TryGetValue(wd, out var d) && Under(d))
                {
                    InotifyNative.RemoveWatch(_fd, wd);
                    _byWd.Remove(wd);
                }
            }
        }
        // As in sersync, nothing is ever removed remotely with <delete start="false">, renames included.
        if (_switches.MoveFrom && _switches.Delete && !_filter.Excludes(from.Rel))
            _sink.Report(from.Root, from.Rel, ChangeFlags.MayRemove);
    }

    private void FinishUnpairedMoves()
    {
        lock (_gate)
        {
            if (_movesFrom.Count == 0)
                return;
            foreach (var move in _movesFrom.Values)
                MovedOut(move, landing: null);
            _movesFrom.Clear();
        }
    }

    private void Forget(int wd)
    {
        if (_byWd.Remove(wd, out var dir) && _byPath[dir.Root].TryGetValue(dir.Rel, out int current) && current == wd)
            _byPath[dir.Root].Remove(dir.Rel);
    }

    /// <summary>Watches <paramref name="rel"/> and every directory below it, each before it is listed;
    /// with <paramref name="report"/> every entry found is reported for pushing.</summary>
    private void WatchTree(int root, byte[] rel, bool report) =>
        FileSystemBytes.WalkTree(_rootBytes[root], rel,
            // Past the watch limit the folder is still listed and pushed; the periodic rescan covers its later changes.
            enter: (dirRel, full) => AddWatch(root, dirRel, full) || WatchLimitHit,
            visit: (childRel, _) =>
            {
                if (_filter.Excludes(childRel))
                    return false;
                if (report)
                    _sink.Report(root, childRel, ChangeFlags.Update);
                return true;
            });

    private unsafe bool AddWatch(int root, byte[] rel, byte[] full)
    {
        bool overBudget = _byWd.Count >= _watchBudget && !_byPath[root].ContainsKey(rel);
        int wd = -1;
        if (!overBudget)
        {
            fixed (byte* path = FileSystemBytes.Z(full))
                wd = InotifyNative.AddWatch(_fd, path, _mask);
        }
        if (wd < 0)
        {
            int errno = overBudget ? ENOSPC : Marshal.GetLastPInvokeError();
            if (errno == ENOSPC)
            {
                Interlocked.Increment(ref Counters.WatchLimitHits);
                if (!WatchLimitHit)
                    Log.Error($"inotify watch limit reached at {Names.Display(full)} (raise fs.inotify.max_user_watches): directories beyond the limit are not watched; periodic rescans cover them");
                WatchLimitHit = true;
            }
            else if (errno is not (ENOENT or ENOTDIR))
            {
                Log.Error($"cannot watch {Names.Display(full)}: {Describe(errno)}");
            }
            return false;
        }
        if (_byWd.TryGetValue(wd, out var old))
            _byPath[old.Root].Remove(old.Rel);
        _byWd[wd] = new WatchedDir(root, rel);
        _byPath[root][rel] = wd;
        return true;
    }

    /// <summary>Re-watches a root's tree (after a rescan found directories the watches missed).</summary>
    public void Rewatch(int root)
    {
        lock (_gate)
            WatchTree(root, Names.Empty, report: false);
    }

    private static string EventNames(uint mask)
    {
        var parts = new List<string>();
        if ((mask & Create) != 0) parts.Add("CREATE");
        if ((mask & Delete) != 0) parts.Add("DELETE");
        if ((mask & CloseWrite) != 0) parts.Add("CLOSE_WRITE");
        if ((mask & MovedFrom) != 0) parts.Add("MOVED_FROM");
        if ((mask & MovedTo) != 0) parts.Add("MOVED_TO");
        if ((mask & Attrib) != 0) parts.Add("ATTRIB");
        if ((mask & Modify) != 0) parts.Add("MODIFY");
        if ((mask & IsDir) != 0) parts.Add("ISDIR");
        return string.Join('|', parts);
    }

    public void Dispose() => Close(_fd);
}
