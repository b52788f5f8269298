using System.Buffers.Binary;
using System.Net.Sockets;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.TwoWay;

/// <summary>
/// Where the daemon and the watcher of one node meet: a Unix stream socket in a private run
/// directory, and the checks both sides make on it.
/// </summary>
public static class NodeLink
{
    /// <summary>The environment variable that names the run directory (one per node when several share a machine).</summary>
    public const string RunDirectoryVariable = "NETRSYNC_RUN_DIR";

    public const string SocketFileName = "netrsyncd.sock";

    /// <summary>
    /// $NETRSYNC_RUN_DIR; else /run/netrsync for root; else $XDG_RUNTIME_DIR/netrsync; else
    /// /tmp/netrsync-UID.
    /// </summary>
    public static string DefaultRunDirectory() => Hosting.RunDirectory.PathFor("netrsync", RunDirectoryVariable);

    public static string SocketPath(string runDirectory) => Path.Join(runDirectory, SocketFileName);

    /// <summary>The socket's address; a path too long for sun_path (108 bytes) is an <see cref="IOException"/>.</summary>
    public static UnixDomainSocketEndPoint EndPoint(string socketPath)
    {
        try
        {
            return new UnixDomainSocketEndPoint(socketPath);
        }
        catch (ArgumentException ex)
        {
            throw new IOException($"{socketPath}: too long for a Unix socket address", ex);
        }
    }

    /// <summary>
    /// Creates the run directory (0700) if needed and checks that nobody else can replace what is
    /// in it: a real directory (not a link), owned by this user or root, writable by no one else.
    /// </summary>
    public static void PrepareRunDirectory(string runDirectory)
    {
        if (Posix.TryLStat(runDirectory, out _) == Posix.ENOENT)
        {
            if (Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(runDirectory)) is { Length: > 0 } parent)
                Directory.CreateDirectory(parent);
            int rc = Posix.MakeDirectory(runDirectory, 0x1C0);
            // EEXIST: made by the other side at the same moment, and checked below like any existing one.
            if (rc != 0 && rc != Posix.EEXIST)
                throw new IOException($"cannot create node link directory {runDirectory}: {Posix.StrError(rc)}");
        }
        CheckRunDirectory(runDirectory);
    }

    /// <summary>Throws when the run directory could be tampered with by another user.</summary>
    public static void CheckRunDirectory(string runDirectory)
    {
        int rc = Posix.TryLStat(runDirectory, out var st);
        if (rc != 0)
            throw new IOException($"node link directory {runDirectory}: {Posix.StrError(rc)}");
        if (!st.IsDirectory)
            throw new IOException($"node link directory {runDirectory} is not a directory");
        int uid = Posix.EffectiveUserId();
        if (st.Uid != uid && st.Uid != 0)
            throw new IOException($"node link directory {runDirectory} belongs to uid {st.Uid}, not {uid}");
        if ((st.Mode & 0x12) != 0)
            throw new IOException($"node link directory {runDirectory} is writable by others (mode {Convert.ToString(st.Mode & 0xFFF, 8)})");
    }

    /// <summary>The uid of the process at the other end of a connected Unix socket (SO_PEERCRED).</summary>
    public static int PeerUserId(Socket socket)
    {
        const int SolSocket = 1, SoPeerCred = 17;
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        Span<byte> credentials = stackalloc byte[12];
        int length = socket.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        if (length < 8)
            throw new IOException("SO_PEERCRED gave no credentials");
        return BinaryPrimitives.ReadInt32LittleEndian(credentials[4..8]);
    }

    /// <summary>Whether a peer with this uid may use the link: the same user as this process, or root.</summary>
    public static bool IsTrustedPeer(int peerUid) => peerUid == 0 || peerUid == Posix.EffectiveUserId();

    /// <summary>Is <paramref name="path"/> <paramref name="root"/> itself or below it (both absolute real paths)?</summary>
    public static bool IsWithin(ReadOnlySpan<byte> path, ReadOnlySpan<byte> root)
    {
        if (root.Length > 1 && root[^1] == (byte)'/')
            root = root[..^1];
        if (root.Length == 1 && root[0] == (byte)'/')
            return path.Length > 0 && path[0] == (byte)'/';
        return path.StartsWith(root) && (path.Length == root.Length || path[root.Length] == (byte)'/');
    }

    /// <summary>Whether two trees overlap: one root equals, contains or lies inside the other.</summary>
    public static bool Overlaps(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => IsWithin(a, b) || IsWithin(b, a);
}
