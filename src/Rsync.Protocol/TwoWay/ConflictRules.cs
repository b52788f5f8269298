using System.Globalization;

namespace NetRsync.Protocol.TwoWay;

/// <summary>Which of two versions of a file changed on both nodes survives under its name.</summary>
public enum ConflictWinner
{
    /// <summary>Same modification time and size: the quick check calls them the same file.</summary>
    Same,

    /// <summary>The version arriving from the peer.</summary>
    Incoming,

    /// <summary>The version already here.</summary>
    Local,
}

/// <summary>
/// The two-way conflict rules: the newer modification time wins (as the watchers' -u does), a tie
/// goes to the larger file, and the loser is kept beside the winner under a name that says whose
/// it was and when it was written.
/// </summary>
public static class ConflictRules
{
    /// <summary>The longest file name Linux file systems take (NAME_MAX).</summary>
    public const int MaxNameLength = 255;

    /// <summary>
    /// The winner by (seconds, nanoseconds), then by size. Without <paramref name="nanoseconds"/>
    /// (protocol 30 carries none) only whole seconds are compared.
    /// </summary>
    public static ConflictWinner Decide(long localSeconds, int localNanoseconds, long localSize,
        long incomingSeconds, int incomingNanoseconds, long incomingSize, bool nanoseconds)
    {
        int byTime = localSeconds.CompareTo(incomingSeconds);
        if (byTime == 0 && nanoseconds)
            byTime = localNanoseconds.CompareTo(incomingNanoseconds);
        if (byTime == 0)
            byTime = localSize.CompareTo(incomingSize);
        return byTime switch
        {
            < 0 => ConflictWinner.Incoming,
            > 0 => ConflictWinner.Local,
            _ => ConflictWinner.Same,
        };
    }

    /// <summary>
    /// "LEAF.conflict-WHO-yyyyMMdd-HHmmss" (the losing version's mtime, UTC), with "-N" added for
    /// the N-th attempt when that name is taken. LEAF is shortened (never inside a UTF-8 character)
    /// so the whole stays within NAME_MAX; '/' and NUL in WHO become '_'.
    /// </summary>
    public static byte[] CopyName(ReadOnlySpan<byte> leaf, string who, long mtimeSeconds, int attempt = 0)
    {
        string time = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(mtimeSeconds, -62135596800L, 253402300799L))
            .UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string safeWho = who.Length == 0 ? "unknown" : who.Replace('/', '_').Replace('\0', '_');
        string suffix = $".conflict-{safeWho}-{time}" + (attempt > 0 ? "-" + attempt.ToString(CultureInfo.InvariantCulture) : "");
        byte[] tail = Text.NameText.ToBytes(suffix);
        if (tail.Length > MaxNameLength - 1)
            tail = tail[..(MaxNameLength - 1)];
        int keep = Math.Min(leaf.Length, MaxNameLength - tail.Length);
        // Back off to the start of a UTF-8 character rather than split one.
        while (keep > 0 && keep < leaf.Length && (leaf[keep] & 0xC0) == 0x80)
            keep--;
        return [.. leaf[..keep], .. tail];
    }

    /// <summary>The same name in the directory of <paramref name="name"/> (a path relative to some root).</summary>
    public static byte[] CopyPath(ReadOnlySpan<byte> name, string who, long mtimeSeconds, int attempt = 0)
    {
        int slash = name.LastIndexOf((byte)'/');
        byte[] leaf = CopyName(name[(slash + 1)..], who, mtimeSeconds, attempt);
        return slash < 0 ? leaf : [.. name[..(slash + 1)], .. leaf];
    }

    /// <summary>
    /// The names in copies, the same on both nodes: a version is named after the address of the node
    /// it was made on as the other node sees it. The pushing peer is its connection's address; this
    /// node is the address the kernel routes from toward that peer (a connected UDP socket sends
    /// nothing), which is where this node's own pushes to the peer come from. Both nodes that keep
    /// one losing version so give it one name. The host name stands in when no route is known.
    /// </summary>
    public static (string Local, string Peer) NamesToward(string peerAddress)
    {
        if (!System.Net.IPAddress.TryParse(peerAddress, out var peer))
            return (LocalHostName(), peerAddress.Length > 0 ? peerAddress : "unknown");
        peer = Plain(peer);
        try
        {
            using var probe = new System.Net.Sockets.Socket(peer.AddressFamily, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            probe.Connect(new System.Net.IPEndPoint(peer, 873));
            var local = ((System.Net.IPEndPoint)probe.LocalEndPoint!).Address;
            return (Plain(local).ToString(), peer.ToString());
        }
        catch (System.Net.Sockets.SocketException)
        {
            return (LocalHostName(), peer.ToString());
        }
    }

    private static System.Net.IPAddress Plain(System.Net.IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>This node's host name, where no address toward the peer is known.</summary>
    public static string LocalHostName()
    {
        try
        {
            string name = System.Net.Dns.GetHostName();
            return name.Length > 0 ? name : Environment.MachineName;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return Environment.MachineName;
        }
    }

    /// <summary>Shown in log lines.</summary>
    internal static string Show(ReadOnlySpan<byte> name) => Text.NameText.FromBytes(name);
}
