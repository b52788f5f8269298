using System.Collections.Concurrent;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.TwoWay;

/// <summary>
/// A push into a two-way module: what the receiving side needs to announce its changes to the
/// node's watchers, ask them about local changes, and name and log conflict copies.
/// </summary>
/// <param name="isTwoWayYet">For a module no watcher covers yet: says when one has registered. It must never go back to false.</param>
internal sealed class TwoWayModule(INodeLinkPublisher link, bool conflictCopies, string localHost, string peer, Action<string> log,
    Func<bool>? isTwoWayYet = null)
{
    private volatile Func<bool>? _isTwoWayYet = isTwoWayYet;

    /// <summary>
    /// Whether the transfer treats the module as two-way now: always, unless no watcher covered it
    /// when the transfer began; then from the first change after one registered. A module never
    /// stops being two-way, so a change that found it two-way finds it so to its end.
    /// </summary>
    public bool IsActive
    {
        get
        {
            if (_isTwoWayYet is not { } isTwoWay)
                return true;
            if (!isTwoWay())
                return false;
            _isTwoWayYet = null;
            return true;
        }
    }

    /// <summary>Whether a conflict's loser is kept as a copy ("conflict copies", yes by default).</summary>
    public bool ConflictCopies { get; } = conflictCopies;

    /// <summary>This node's address as the peer sees it, in copies of the local version (<see cref="ConflictRules.NamesToward"/>).</summary>
    public string LocalHost { get; } = localHost;

    /// <summary>The pushing node's address, in copies of the incoming version.</summary>
    public string Peer { get; } = peer;

    /// <summary>What the generator learnt of a local file, for the receiver to reuse while the file is unchanged.</summary>
    public ConcurrentDictionary<int, (FileStatus Local, LocalChange Answer)> Answers { get; } = new();

    private readonly Dictionary<ConfinedRoot, byte[]?> _realPaths = new(ReferenceEqualityComparer.Instance);
    private int _unnamed;

    public void Log(string line) => log(line);

    public void Publish(WrittenKind kind, byte[] path, long size, long mtimeSeconds, int mtimeNanoseconds, ulong inode) =>
        link.Publish(new WrittenRecord(kind, path, size, mtimeSeconds, mtimeNanoseconds, inode));

    /// <summary>
    /// The absolute real path of a name beneath a root, as the watchers name it (their roots are
    /// real paths too), or null when it cannot travel on the link (longer than PATH_MAX).
    /// </summary>
    public byte[]? AbsolutePath(ConfinedRoot root, ReadOnlySpan<byte> name)
    {
        byte[]? directory;
        lock (_realPaths)
        {
            if (!_realPaths.TryGetValue(root, out directory))
            {
                // The directory the handle holds, wherever a name on the way led.
                string? real = Posix.RealPath($"/proc/self/fd/{root.Fd}") ?? Posix.RealPath(root.Path);
                directory = real is null ? null : Text.NameText.ToBytes(real);
                _realPaths[root] = directory;
            }
        }
        byte[]? path = directory is null ? null
            : name.IsEmpty || name.SequenceEqual("."u8) ? directory
            : directory is [(byte)'/'] ? [(byte)'/', .. name]
            : [.. directory, (byte)'/', .. name];
        if (path is not null && NodeLinkCodec.IsValidPath(path))
            return path;
        if (Interlocked.Exchange(ref _unnamed, 1) == 0)
            log($"two-way: cannot name {Text.NameText.FromBytes(name)} to the watchers (path too long or directory unknown); such changes are not announced");
        return null;
    }

    /// <summary>
    /// The local version of a name was kept because a peer pushed an older one (-u): the node's
    /// watcher is asked to push it, so the newer version reaches the peer too.
    /// </summary>
    public void PushBack(ConfinedRoot root, ReadOnlySpan<byte> name)
    {
        if (AbsolutePath(root, name) is not { } path)
            return;
        link.PushBack(path);
        log($"two-way: {Text.NameText.FromBytes(name)} is newer here than the pushed version; kept, and the watcher asked to push it back");
    }

    /// <summary>Whether this node lately held this version of a file under the name: a peer pushing it again is behind, not changed.</summary>
    public bool HadVersion(ConfinedRoot root, ReadOnlySpan<byte> name, long size, long mtimeSeconds, int? mtimeNanoseconds) =>
        AbsolutePath(root, name) is { } path && link.HadVersion(path, size, mtimeSeconds, mtimeNanoseconds);

    public LocalChange Query(byte[] path, in FileStatus local) =>
        link.Query(path, local.Size, local.MtimeSeconds, local.MtimeNanoseconds, (ulong)local.Inode);

    /// <summary>Whether two lstat results describe the same unchanged file.</summary>
    public static bool SameState(in FileStatus a, in FileStatus b) =>
        a.Inode == b.Inode && a.Device == b.Device && a.Size == b.Size && a.MtimeSeconds == b.MtimeSeconds
        && a.MtimeNanoseconds == b.MtimeNanoseconds && a.Mode == b.Mode;
}
