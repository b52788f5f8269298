using System.Text;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

/// <summary>What both sides use for the connection's data once setup is done.</summary>
internal readonly record struct TransferAlgorithms(
    ChecksumKind Checksum,
    ChecksumKind FileChecksum,
    bool SeedFirst,
    CompressionKind Compression,
    int CompressionLevel);

/// <summary>
/// Checksum and compression choice (compat.c, negotiate_the_strings; checksum.c,
/// parse_checksum_choice; compat.c, parse_compress_choice; token.c, init_compression_level).
/// With the 'v' capability both sides send their name lists before reading the other's, and
/// each picks the first name in the client's list that the server also has. Without it, or for
/// a choice given on the command line, the choice is fixed: md5 and zlib unless told otherwise.
/// </summary>
internal static class Negotiation
{
    private const int MaxListLength = 256;

    /// <summary>What the options ask for, before any negotiation.</summary>
    internal readonly record struct Wanted(
        ChecksumKind? Checksum,
        ChecksumKind? FileChecksum,
        bool NegotiateChecksum,
        CompressionKind Compression,
        bool NegotiateCompression,
        int? Level);

    /// <summary>Reads the options' compression and checksum wishes (options.c, parse_arguments), failing on unknown names.</summary>
    public static Wanted FromOptions(RsyncOptions o)
    {
        ChecksumKind? xfer = null, file = null;
        string? cc = o.ChecksumChoice;
        if (cc is not null && !cc.Equals("auto", StringComparison.OrdinalIgnoreCase) && !cc.Equals("auto,auto", StringComparison.OrdinalIgnoreCase))
        {
            int comma = cc.IndexOf(',');
            xfer = ParseChecksum(comma < 0 ? cc : cc[..comma]);
            file = comma < 0 ? xfer : ParseChecksum(cc[(comma + 1)..]);
        }

        var compression = CompressionKind.None;
        bool negotiateCompression = false;
        string? choice = o.CompressChoice;
        if (choice is null && o.Compress > 1)
            choice = "zlibx";
        if (choice is not null && !choice.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            compression = CompressionKinds.Parse(choice)
                ?? throw new RsyncException($"unknown compress name: {choice}", ExitCodes.Unsupported);
        }
        else if (o.Compress > 0 || o.CompressLevel is not null)
        {
            compression = CompressionKind.Zlib;
            negotiateCompression = true;
        }
        return new Wanted(xfer, file, xfer is null, compression, negotiateCompression, o.CompressLevel);
    }

    private static ChecksumKind ParseChecksum(string name)
    {
        if (name.Equals("auto", StringComparison.OrdinalIgnoreCase))
            return ChecksumKind.Md5;
        var kind = ChecksumKinds.Parse(name) ?? throw new RsyncException($"unknown checksum name: {name}", ExitCodes.Unsupported);
        if (kind == ChecksumKind.Md4)
            throw new RsyncException("checksum md4 is not supported; choose md5 or xxh128", ExitCodes.Unsupported);
        return kind;
    }

    /// <summary>
    /// Runs the exchange on the raw stream, right after the compat flags and before the
    /// checksum seed. <paramref name="negotiating"/> is whether the 'v' capability is in force.
    /// </summary>
    public static TransferAlgorithms Exchange(RsyncReader reader, RsyncWriter writer, Wanted wanted, bool negotiating, bool amServer, bool seedFirst)
    {
        bool sendChecksums = wanted.NegotiateChecksum;
        bool sendCompressions = wanted.NegotiateCompression && wanted.Compression != CompressionKind.None;
        if (negotiating)
        {
            if (sendChecksums)
                writer.WriteVString(Encoding.ASCII.GetBytes(ChecksumList(amServer)));
            if (sendCompressions)
                writer.WriteVString(Encoding.ASCII.GetBytes(CompressionList(amServer)));
            writer.Flush();
        }

        // Without a list from the peer, protocol 30+ means md5 (checksum.c, parse_csum_name) and -z means zlib.
        var result = Fixed(wanted, seedFirst);
        if (sendChecksums && negotiating)
        {
            string peer = ReadList(reader);
            var kind = Pick(peer, amServer, ChecksumKinds.Parse, ChecksumKinds.Preferred)
                ?? throw Failed("checksum", peer, amServer, ChecksumList(amServer));
            result = result with { Checksum = kind, FileChecksum = kind };
        }
        if (sendCompressions && negotiating)
        {
            string peer = ReadList(reader);
            var kind = Pick(peer, amServer, CompressionKinds.Parse, CompressionKinds.Preferred)
                ?? throw Failed("compress", peer, amServer, CompressionList(amServer));
            var (compression, level) = kind == CompressionKind.None ? (kind, 0) : Level(kind, wanted.Level);
            result = result with { Compression = compression, CompressionLevel = level };
        }
        return result;
    }

    /// <summary>What a pair that does not negotiate uses: the options' choices, else md5 and zlib.</summary>
    public static TransferAlgorithms Fixed(Wanted wanted, bool seedFirst)
    {
        ChecksumKind xfer = wanted.Checksum ?? ChecksumKind.Md5;
        var (compression, level) = wanted.Compression == CompressionKind.None ? (CompressionKind.None, 0) : Level(wanted.Compression, wanted.Level);
        return new TransferAlgorithms(xfer, wanted.FileChecksum ?? xfer, seedFirst, compression, level);
    }

    /// <summary>The effective level, or no compression for a level that means off (token.c, init_compression_level).</summary>
    public static (CompressionKind, int) Level(CompressionKind kind, int? asked)
    {
        switch (kind)
        {
            case CompressionKind.Zlib:
            case CompressionKind.ZlibX:
                if (asked is null || asked == -1)
                    return (kind, 6);
                if (asked == 0)
                    return (CompressionKind.None, 0);
                return (kind, Math.Clamp(asked.Value, 1, 9));
            case CompressionKind.Zstd:
                if (asked is null || asked == 0)
                    return (kind, 3);
                return (kind, Math.Clamp(asked.Value, -131072, 22));
            default:
                return (kind, 0);
        }
    }

    private static string ReadList(RsyncReader reader) =>
        Encoding.ASCII.GetString(reader.ReadVString(MaxListLength));

    private static string ChecksumList(bool amServer) =>
        string.Join(' ', ChecksumKinds.Preferred.Where(k => amServer || k != ChecksumKind.None).Select(ChecksumKinds.Name));

    private static string CompressionList(bool amServer) =>
        string.Join(' ', CompressionKinds.Preferred.Where(k => amServer || k != CompressionKind.None).Select(CompressionKinds.Name));

    /// <summary>
    /// The first name in the client's list that the server has (compat.c, parse_negotiate_str):
    /// a server walks the client's list in order; a client takes the server name it ranks best.
    /// </summary>
    private static T? Pick<T>(string peerList, bool amServer, Func<string, T?> parse, IReadOnlyList<T> ours) where T : struct, Enum
    {
        T? best = null;
        int bestRank = int.MaxValue;
        foreach (string name in peerList.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (parse(name) is not T kind)
                continue;
            int rank = IndexOf(ours, kind);
            if (rank < 0 || (!amServer && rank >= bestRank))
                continue;
            best = kind;
            bestRank = rank;
            if (amServer)
                break;
        }
        return best;
    }

    private static int IndexOf<T>(IReadOnlyList<T> list, T item) where T : struct, Enum
    {
        for (int i = 0; i < list.Count; i++)
            if (EqualityComparer<T>.Default.Equals(list[i], item))
                return i;
        return -1;
    }

    private static RsyncException Failed(string type, string peer, bool amServer, string ours) =>
        new($"Failed to negotiate a {type} choice.\n{(amServer ? "Client" : "Server")} list: {peer}\n{(amServer ? "Server" : "Client")} list: {ours}", ExitCodes.Unsupported);
}
