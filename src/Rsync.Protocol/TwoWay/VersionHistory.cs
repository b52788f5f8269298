using NetRsync.Protocol.Text;

namespace NetRsync.Protocol.TwoWay;

/// <summary>
/// The file versions the daemon lately put at each path (size and modification time), so that a
/// peer pushing one of them again can be told apart from a peer pushing a version never seen here.
/// An older version seen here before is stale: -u drops it. One never seen here is the peer's own
/// change that lost to a newer local one, and is kept as a conflict copy rather than dropped.
/// Bounded: <see cref="MaxPaths"/> paths, <see cref="PerPath"/> versions each, none older than <see cref="MaxAge"/>.
/// </summary>
internal sealed class VersionHistory(TimeProvider? time = null)
{
    public const int MaxPaths = 65536;
    public const int PerPath = 4;
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(10);

    private readonly record struct Version(long Size, long MtimeSeconds, int MtimeNanoseconds, long Added);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<byte[], List<Version>> _byPath = new(ByteNameComparer.Instance);
    private readonly Queue<(byte[] Path, long Added)> _oldestFirst = new();

    public int PathCount
    {
        get
        {
            lock (_byPath)
                return _byPath.Count;
        }
    }

    public void Add(byte[] path, long size, long mtimeSeconds, int mtimeNanoseconds)
    {
        long now = _time.GetTimestamp();
        lock (_byPath)
        {
            Expire(now);
            while (_byPath.Count >= MaxPaths && !_byPath.ContainsKey(path) && _oldestFirst.Count > 0)
                _byPath.Remove(_oldestFirst.Dequeue().Path);
            if (!_byPath.TryGetValue(path, out var versions))
                _byPath[path] = versions = [];
            if (versions.Count >= PerPath)
                versions.RemoveAt(0);
            versions.Add(new Version(size, mtimeSeconds, mtimeNanoseconds, now));
            _oldestFirst.Enqueue((path, now));
            // One entry per version added: bounded like the versions themselves.
            while (_oldestFirst.Count > MaxPaths * PerPath)
                DropOldest();
        }
    }

    /// <summary>Whether the daemon put this version at the path within <see cref="MaxAge"/> (nanoseconds compared when given).</summary>
    public bool Had(byte[] path, long size, long mtimeSeconds, int? mtimeNanoseconds)
    {
        long now = _time.GetTimestamp();
        lock (_byPath)
        {
            Expire(now);
            return _byPath.TryGetValue(path, out var versions)
                && versions.Exists(v => v.Size == size && v.MtimeSeconds == mtimeSeconds && (mtimeNanoseconds is not { } ns || v.MtimeNanoseconds == ns));
        }
    }

    private void Expire(long now)
    {
        while (_oldestFirst.TryPeek(out var oldest) && _time.GetElapsedTime(oldest.Added, now) > MaxAge)
            DropOldest();
    }

    private void DropOldest()
    {
        var oldest = _oldestFirst.Dequeue();
        if (_byPath.TryGetValue(oldest.Path, out var versions))
        {
            versions.RemoveAll(v => v.Added <= oldest.Added);
            if (versions.Count == 0)
                _byPath.Remove(oldest.Path);
        }
    }
}
