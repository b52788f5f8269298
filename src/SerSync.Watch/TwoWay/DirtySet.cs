using NetRsync.SerSync.Sync;

namespace NetRsync.SerSync.TwoWay;

/// <summary>
/// The local changes not yet delivered everywhere: what the daemon's "is this a local change?" is
/// answered from. A path is dirty from its first local (non-echo) event until a push that included it
/// succeeded to every remote of its watch with no newer event for it since that push started; a
/// match of the daemon's own WRITTEN record for it (the daemon replaced it) clears it too. A rescan
/// (lost events, a full push) makes the whole root dirty until a rescan of the root reached every remote.
/// Memory follows the pending changes, not the tree: past <see cref="MaxPathsPerRoot"/> paths a root
/// counts as dirty as a whole. Thread-safe.
/// </summary>
public sealed class DirtySet
{
    public const int MaxPathsPerRoot = ChangeBatcher.MaxPendingPaths;

    /// <summary>A remote is one bit of a mask.</summary>
    public const int MaxRemotesPerRoot = 64;

    private readonly Lock _gate = new();
    private readonly byte[][] _roots;
    private readonly ulong[] _everyRemote;
    private readonly Dictionary<byte[], Entry>[] _paths;
    private readonly Entry?[] _wholeRoot;
    private long _sequence;

    private sealed class Entry
    {
        public long LastEvent;
        public ulong Owing;
    }

    /// <param name="roots">Each watch root as a real path's bytes (what the daemon's paths start with).</param>
    /// <param name="remoteCounts">How many remotes each root is pushed to (none: nothing is tracked for it).</param>
    public DirtySet(IReadOnlyList<byte[]> roots, IReadOnlyList<int> remoteCounts)
    {
        _roots = [.. roots];
        _everyRemote = remoteCounts.Select(n =>
        {
            if (n > MaxRemotesPerRoot)
                throw new ArgumentException($"at most {MaxRemotesPerRoot} remotes per watched directory", nameof(remoteCounts));
            return n == MaxRemotesPerRoot ? ulong.MaxValue : (1UL << n) - 1;
        }).ToArray();
        _paths = roots.Select(_ => new Dictionary<byte[], Entry>(Names.Comparer)).ToArray();
        _wholeRoot = new Entry?[roots.Count];
    }

    /// <summary>The event count so far; a push notes it when it starts (see <see cref="Delivered"/>).</summary>
    public long Sequence => Interlocked.Read(ref _sequence);

    /// <summary>Dirty paths held one by one (a whole dirty root not counted).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _paths.Sum(p => p.Count);
        }
    }

    /// <summary>A local change of <paramref name="relativePath"/> under root <paramref name="root"/>.</summary>
    public void Changed(int root, byte[] relativePath)
    {
        if (_everyRemote[root] == 0)
            return;
        lock (_gate)
        {
            var paths = _paths[root];
            if (!paths.TryGetValue(relativePath, out var entry))
            {
                if (paths.Count >= MaxPathsPerRoot)
                {
                    Log.Error($"more than {MaxPathsPerRoot} paths changed and not yet pushed under one root: all of it counts as changed here until a full push");
                    paths.Clear();
                    MarkWholeRoot(root, _everyRemote[root]);
                    return;
                }
                paths[relativePath] = entry = new Entry();
            }
            entry.LastEvent = Interlocked.Increment(ref _sequence);
            entry.Owing = _everyRemote[root];
        }
    }

    /// <summary>Changes anywhere under the root may have gone unseen (lost events, directories beyond the watch limit).</summary>
    public void ChangedAnywhere(int root)
    {
        if (_everyRemote[root] == 0)
            return;
        lock (_gate)
            MarkWholeRoot(root, _everyRemote[root]);
    }

    /// <summary>A push found outstanding at startup: its paths still owe delivery to that one remote.</summary>
    public void Owed(int root, int remote, IReadOnlyDictionary<byte[], ChangeFlags> paths)
    {
        if (_everyRemote[root] == 0)
            return;
        ulong bit = 1UL << remote;
        lock (_gate)
        {
            foreach (var (rel, flags) in paths)
            {
                if (rel.Length == 0 || (flags & (ChangeFlags.Rescan | ChangeFlags.Mirror)) != 0)
                {
                    MarkWholeRoot(root, bit);
                    continue;
                }
                var map = _paths[root];
                if (!map.TryGetValue(rel, out var entry))
                {
                    if (map.Count >= MaxPathsPerRoot)
                    {
                        map.Clear();
                        MarkWholeRoot(root, _everyRemote[root]);
                        return;
                    }
                    map[rel] = entry = new Entry();
                }
                entry.LastEvent = Interlocked.Increment(ref _sequence);
                entry.Owing |= bit;
            }
        }
    }

    /// <summary>The daemon replaced the path (its WRITTEN record matched): nothing local is left to keep.</summary>
    public void Replaced(int root, byte[] relativePath)
    {
        lock (_gate)
            _paths[root].Remove(relativePath);
    }

    /// <summary>
    /// A push that started at <paramref name="startSequence"/> succeeded to remote <paramref name="remote"/>
    /// with these paths: each (a rescan: everything under it) is delivered there unless a newer event came since.
    /// </summary>
    public void Delivered(int root, int remote, IReadOnlyDictionary<byte[], ChangeFlags> work, long startSequence)
    {
        ulong bit = 1UL << remote;
        lock (_gate)
        {
            var paths = _paths[root];
            foreach (var (rel, flags) in work)
            {
                if ((flags & (ChangeFlags.Rescan | ChangeFlags.Mirror)) != 0)
                {
                    if (rel.Length == 0 && _wholeRoot[root] is { } whole && Deliver(whole, bit, startSequence))
                        _wholeRoot[root] = null;
                    if (paths.Count > 0)
                    {
                        foreach (var (path, entry) in paths.Where(kv => Names.IsSelfOrUnder(kv.Key, rel)).ToList())
                            if (Deliver(entry, bit, startSequence))
                                paths.Remove(path);
                    }
                    continue;
                }
                if (paths.TryGetValue(rel, out var one) && Deliver(one, bit, startSequence))
                    paths.Remove(rel);
            }
        }
    }

    /// <summary>True when the path (absolute, real) has a local change not yet delivered everywhere.</summary>
    public bool IsDirty(byte[] absolutePath)
    {
        lock (_gate)
        {
            for (int i = 0; i < _roots.Length; i++)
            {
                if (RelativeTo(absolutePath, _roots[i]) is not { } rel)
                    continue;
                if (_wholeRoot[i] is not null || _paths[i].ContainsKey(rel))
                    return true;
            }
            return false;
        }
    }

    /// <summary>The path below <paramref name="root"/> ("" for the root itself), or null when it is outside.</summary>
    public static byte[]? RelativeTo(byte[] absolutePath, byte[] root)
    {
        var trimmed = root.AsSpan();
        if (trimmed.Length > 1 && trimmed[^1] == (byte)'/')
            trimmed = trimmed[..^1];
        if (trimmed.Length == 1 && trimmed[0] == (byte)'/')
            return absolutePath.Length > 0 && absolutePath[0] == (byte)'/' ? absolutePath[1..] : null;
        if (!absolutePath.AsSpan().StartsWith(trimmed))
            return null;
        if (absolutePath.Length == trimmed.Length)
            return Names.Empty;
        return absolutePath[trimmed.Length] == (byte)'/' ? absolutePath[(trimmed.Length + 1)..] : null;
    }

    /// <summary>Takes <paramref name="bit"/> off an entry when nothing happened to it since the push started; true when nobody is owed any more.</summary>
    private static bool Deliver(Entry entry, ulong bit, long startSequence)
    {
        if (entry.LastEvent > startSequence)
            return false;
        entry.Owing &= ~bit;
        return entry.Owing == 0;
    }

    private void MarkWholeRoot(int root, ulong owing)
    {
        var entry = _wholeRoot[root] ??= new Entry();
        entry.LastEvent = Interlocked.Increment(ref _sequence);
        entry.Owing |= owing;
    }
}
