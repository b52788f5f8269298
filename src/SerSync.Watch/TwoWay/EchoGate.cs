using NetRsync.Protocol.TwoWay;
using NetRsync.SerSync.Sync;
using static NetRsync.SerSync.FileSystemBytes;

namespace NetRsync.SerSync.TwoWay;

/// <summary>
/// Stands between the watcher and the batcher when the local daemon may write into the watched trees
/// (two-way sync): drops the events of the daemon's own changes (echoes) and of its temporary files,
/// keeps the set of local changes not yet delivered (<see cref="DirtySet"/>), and answers the
/// daemon's "is this a local change?" from it.
/// </summary>
/// <remarks>
/// The watcher calls <see cref="BeginRound"/> before it handles each read of inotify events: the
/// daemon sends a WRITTEN record before its change becomes visible, so once the link is drained every
/// record for the events about to be handled is in the table. Calls are serialised by an own lock;
/// <see cref="IsLocalChange"/> runs on the link's thread and first has the watcher handle every event
/// already queued, so an edit that finished before the daemon asked is counted.
/// </remarks>
public sealed class EchoGate : IChangeSink, IEventRounds, INodeLinkHandler
{
    /// <summary>How long a file with an rsync temporary name must stay unchanged before it counts as a file of its own.</summary>
    public static readonly TimeSpan TempHold = TimeSpan.FromSeconds(10);

    /// <summary>Temporary-looking names held at once; beyond that they are passed on (and pushed if they still exist then).</summary>
    public const int MaxHeldTemps = 4096;

    private readonly Lock _gate = new();
    private readonly byte[][] _roots;
    private readonly IChangeSink _next;
    private readonly DirtySet _dirty;
    private readonly WrittenTable _written;
    private readonly TimeProvider _time;
    private readonly Dictionary<byte[], HeldTemp> _held = new(Names.Comparer);

    private sealed class HeldTemp(int root, byte[] rel, byte[] sibling, ChangeFlags flags, FileState state, long since)
    {
        public int Root { get; } = root;
        public byte[] Rel { get; } = rel;
        public byte[] Sibling { get; } = sibling;
        public ChangeFlags Flags { get; set; } = flags;
        public FileState State { get; set; } = state;
        public long Since { get; set; } = since;
    }

    /// <param name="roots">The watch roots as real paths' bytes, in the watcher's order (what the daemon's paths start with).</param>
    public EchoGate(IReadOnlyList<byte[]> roots, IChangeSink next, DirtySet dirty, TimeProvider? time = null)
    {
        _roots = [.. roots];
        _next = next;
        _dirty = dirty;
        _time = time ?? TimeProvider.System;
        _written = new WrittenTable(_time);
    }

    /// <summary>Hands the daemon's queued WRITTEN records to <see cref="Written"/> (the node link's Drain).</summary>
    public Func<int>? DrainLink { get; set; }

    /// <summary>Has the watcher handle every inotify event already queued.</summary>
    public Action? CatchUpEvents { get; set; }

    /// <summary>Records held for echo matching.</summary>
    public int RecordCount
    {
        get
        {
            lock (_gate)
                return _written.Count;
        }
    }

    public void BeginRound()
    {
        lock (_gate)
        {
            DrainLink?.Invoke();
            ReviewHeldTemps();
        }
    }

    public void Written(WrittenRecord record)
    {
        lock (_gate)
            _written.Add(record);
    }

    public bool IsLocalChange(byte[] path, long size, long mtimeSeconds, int mtimeNanoseconds, ulong inode)
    {
        CatchUpEvents?.Invoke();
        bool dirty = _dirty.IsDirty(path);
        if (Log.DebugEnabled)
            Log.Debug($"node link: {Names.Display(path)} is {(dirty ? "changed here and not yet pushed everywhere" : "not changed here")}");
        return dirty;
    }

    public void Report(int rootIndex, byte[] relativePath, ChangeFlags flags)
    {
        lock (_gate)
        {
            if (relativePath.Length == 0 || (flags & (ChangeFlags.Rescan | ChangeFlags.Mirror)) != 0)
            {
                // Whatever changed unseen is local as far as anyone can tell.
                _dirty.ChangedAnywhere(rootIndex);
                _next.Report(rootIndex, relativePath, flags);
                return;
            }
            byte[] path = Full(_roots[rootIndex], relativePath);
            var name = Names.FileName(relativePath);
            if (IsRsyncTempName(name))
            {
                TempEvent(rootIndex, relativePath, path, flags);
                return;
            }
            if (IsEcho(path))
            {
                Interlocked.Increment(ref Counters.EchoesDropped);
                _dirty.Replaced(rootIndex, relativePath);
                if (Log.DebugEnabled)
                    Log.Debug($"echo: {Names.Display(path)} is as netrsyncd wrote it; not pushed back");
                return;
            }
            Pass(rootIndex, relativePath, flags);
        }
    }

    /// <summary>
    /// Whether the path is now as the daemon wrote it. An entry found by the watcher's own listing of
    /// a new directory may be newer than the last drain of the link (the daemon made it meanwhile):
    /// its record was sent before it showed, so it is in the socket by now, and one more drain finds it.
    /// </summary>
    private bool IsEcho(byte[] path)
    {
        if (_written.Matches(path, State(path)))
            return true;
        if ((DrainLink?.Invoke() ?? 0) == 0)
            return false;
        return _written.Matches(path, State(path));
    }

    /// <summary>
    /// The daemon kept its own version of <paramref name="path"/> because a peer pushed an older one:
    /// it goes to every remote of its watch, where it is newer too. It is not made dirty: it is a
    /// version the peer had before (a rename there left an older file under the name), so a later
    /// removal or newer version from the peer replaces it as usual instead of leaving a copy.
    /// </summary>
    public void PushBack(byte[] path)
    {
        lock (_gate)
        {
            for (int i = 0; i < _roots.Length; i++)
            {
                if (!NodeLink.IsWithin(path, _roots[i]))
                    continue;
                int skip = _roots[i].Length == 1 || path.Length == _roots[i].Length ? _roots[i].Length : _roots[i].Length + 1;
                byte[] rel = path[skip..];
                if (rel.Length == 0)
                    return;
                Log.Info($"{Names.Display(path)} is newer here than a peer's version netrsyncd refused: pushing it back");
                Interlocked.Increment(ref Counters.PushedBack);
                _next.Report(i, rel, ChangeFlags.Update);
                return;
            }
        }
        Log.Error($"netrsyncd asked to push {Names.Display(path)}, which is not under a watched directory; ignored");
    }

    private void Pass(int root, byte[] rel, ChangeFlags flags)
    {
        _written.ChangedLocally(Full(_roots[root], rel));
        _dirty.Changed(root, rel);
        _next.Report(root, rel, flags);
    }

    /// <summary>
    /// An event on a name of the form rsync gives its temporary files, ".NAME.XXXXXX" beside NAME
    /// (receiver.c, get_tmpname): dropped when the daemon wrote NAME lately or the file is already gone
    /// (renamed into place); held while it exists, and passed on as a file of its own only once it
    /// has stayed unchanged for <see cref="TempHold"/> (a user's ".env.sample" is not lost, only late).
    /// A removal is passed on unless the daemon wrote NAME: such a name that vanished was someone's file.
    /// </summary>
    private void TempEvent(int root, byte[] rel, byte[] path, ChangeFlags flags)
    {
        byte[] sibling = TempTarget(path);
        if (_written.WroteLately(sibling))
        {
            DropTemp(path, "netrsyncd's temporary file");
            return;
        }
        var state = State(path);
        if (state.Type == EntryType.Missing)
        {
            if ((flags & ChangeFlags.MayRemove) != 0)
                Pass(root, rel, flags);
            else
                DropTemp(path, "gone already");
            return;
        }
        if (_held.TryGetValue(path, out var held))
        {
            held.Flags |= flags;
            return;
        }
        if (_held.Count >= MaxHeldTemps)
        {
            Pass(root, rel, flags);
            return;
        }
        _held[path] = new HeldTemp(root, rel, sibling, flags, state, _time.GetTimestamp());
    }

    private void ReviewHeldTemps()
    {
        if (_held.Count == 0)
            return;
        long now = _time.GetTimestamp();
        foreach (var (path, held) in _held.ToList())
        {
            if (_written.WroteLately(held.Sibling))
            {
                _held.Remove(path);
                DropTemp(path, "netrsyncd's temporary file");
                continue;
            }
            var state = State(path);
            if (state.Type == EntryType.Missing)
            {
                // Renamed into place or removed: either way the events for that follow on their own.
                _held.Remove(path);
                DropTemp(path, "gone");
                continue;
            }
            if (!SameLook(state, held.State))
            {
                held.State = state;
                held.Since = now;
                continue;
            }
            if (_time.GetElapsedTime(held.Since, now) < TempHold)
                continue;
            _held.Remove(path);
            Log.Info($"{Names.Display(path)} looks like an rsync temporary file but stayed unchanged for {TempHold.TotalSeconds:F0} s: pushed as a file of its own");
            Pass(held.Root, held.Rel, held.Flags);
        }
    }

    private static bool SameLook(FileState a, FileState b) =>
        a.Type == b.Type && a.Size == b.Size && a.MtimeSeconds == b.MtimeSeconds && a.MtimeNanoseconds == b.MtimeNanoseconds
        && a.Inode == b.Inode && a.CtimeSeconds == b.CtimeSeconds && a.CtimeNanoseconds == b.CtimeNanoseconds;

    private static void DropTemp(byte[] path, string why)
    {
        Interlocked.Increment(ref Counters.TempsSkipped);
        if (Log.DebugEnabled)
            Log.Debug($"not pushed: {Names.Display(path)} ({why})");
    }

    /// <summary>".NAME.XXXXXX": a dot, a name, a dot and six letters or digits (mkstemp's alphabet).</summary>
    public static bool IsRsyncTempName(ReadOnlySpan<byte> name)
    {
        if (name.Length < 9 || name[0] != (byte)'.' || name[^7] != (byte)'.')
            return false;
        foreach (byte b in name[^6..])
            if (!char.IsAsciiLetterOrDigit((char)b))
                return false;
        return true;
    }

    /// <summary>DIR/NAME for DIR/.NAME.XXXXXX.</summary>
    public static byte[] TempTarget(byte[] tempPath)
    {
        int slash = tempPath.AsSpan().LastIndexOf((byte)'/');
        var name = tempPath.AsSpan(slash + 1);
        return [.. tempPath.AsSpan(0, slash + 1), .. name[1..^7]];
    }
}
