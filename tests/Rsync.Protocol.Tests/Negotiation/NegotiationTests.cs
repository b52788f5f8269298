using System.IO.Pipes;
using System.Text;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Negotiation;

public sealed class NegotiationTests
{
    private static NetRsync.Protocol.Client.Negotiation.Wanted Wants(params string[] args) =>
        NetRsync.Protocol.Client.Negotiation.FromOptions(OptionParser.Parse([.. args, "a", "b"]));

    /// <summary>Runs one side against a scripted peer: the peer's lists are fed in, what we wrote comes back.</summary>
    private static (TransferAlgorithms Result, string[] Sent) AgainstPeer(
        NetRsync.Protocol.Client.Negotiation.Wanted wanted, bool amServer, params string[] peerLists)
    {
        var input = new MemoryStream();
        var peer = new RsyncWriter(input);
        foreach (string list in peerLists)
            peer.WriteVString(Encoding.ASCII.GetBytes(list));
        peer.Flush();
        input.Position = 0;
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        using var reader = new RsyncReader(input);
        var result = NetRsync.Protocol.Client.Negotiation.Exchange(reader, writer, wanted, negotiating: true, amServer, seedFirst: true);
        writer.Flush();
        output.Position = 0;
        using var sentReader = new RsyncReader(output);
        var sent = new List<string>();
        while (output.Position < output.Length || sent.Count < 2)
        {
            try
            {
                sent.Add(Encoding.ASCII.GetString(sentReader.ReadVString(256)));
            }
            catch (Exception)
            {
                break;
            }
        }
        return (result, sent.ToArray());
    }

    [Fact]
    public void AClientPicksTheFirstOfItsOwnNamesTheServerHas()
    {
        // The lists a stock rsync 3.5.0 daemon sends (compat.c, send_negotiate_str on the server side).
        var (result, sent) = AgainstPeer(Wants("-z"), amServer: false,
            "xxh128 xxh3 xxh64 md5 md4 sha1 none", "zstd lz4 zlibx zlib none");
        Assert.Equal(ChecksumKind.Xxh128, result.Checksum);
        Assert.Equal(CompressionKind.Zstd, result.Compression);
        Assert.Equal(3, result.CompressionLevel);
        // A client never offers "none" unless asked (compat.c, get_default_nno_list).
        Assert.Equal(["xxh128 xxh3 xxh64 md5 sha1", "zstd lz4 zlibx zlib"], sent);
    }

    [Fact]
    public void AClientFollowsItsOwnOrderNotTheServers()
    {
        var (result, _) = AgainstPeer(Wants("-z"), amServer: false, "md5 xxh64", "zlib zlibx");
        Assert.Equal(ChecksumKind.Xxh64, result.Checksum);
        Assert.Equal(CompressionKind.ZlibX, result.Compression);
        Assert.Equal(6, result.CompressionLevel);
    }

    [Fact]
    public void AServerTakesTheFirstAcceptableNameInTheClientsList()
    {
        // A client built without xxhash and zstd, as some distributions ship it.
        var (result, sent) = AgainstPeer(Wants("-z"), amServer: true, "md4 md5 sha1", "lz4 zlibx zlib");
        Assert.Equal(ChecksumKind.Md5, result.Checksum);
        Assert.Equal(CompressionKind.Lz4, result.Compression);
        Assert.Equal(["xxh128 xxh3 xxh64 md5 sha1 none", "zstd lz4 zlibx zlib none"], sent);
    }

    [Fact]
    public void NoCommonNameFailsWithRsyncsMessage()
    {
        var ex = Assert.Throws<RsyncException>(() => AgainstPeer(Wants(), amServer: false, "md4 whirlpool"));
        Assert.Equal(ExitCodes.Unsupported, ex.ExitCode);
        Assert.StartsWith("Failed to negotiate a checksum choice.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutCompressionOnlyTheChecksumListTravels()
    {
        var (result, sent) = AgainstPeer(Wants(), amServer: false, "xxh3 md5");
        Assert.Equal(ChecksumKind.Xxh3, result.Checksum);
        Assert.Equal(CompressionKind.None, result.Compression);
        Assert.Single(sent);
    }

    [Fact]
    public void ExplicitChoicesAreNotNegotiated()
    {
        var (result, sent) = AgainstPeer(Wants("--cc=xxh64", "--zc=zlibx", "--compress-level=9"), amServer: false);
        Assert.Empty(sent);
        Assert.Equal(ChecksumKind.Xxh64, result.Checksum);
        Assert.Equal(CompressionKind.ZlibX, result.Compression);
        Assert.Equal(9, result.CompressionLevel);

        var split = Wants("--checksum-choice=xxh128,md5");
        Assert.Equal(ChecksumKind.Xxh128, split.Checksum);
        Assert.Equal(ChecksumKind.Md5, split.FileChecksum);
    }

    [Fact]
    public void AnOldPeerMeansMd5AndZlib()
    {
        // compat.c, negotiate_the_strings: without 'v' nothing is exchanged.
        using var reader = new RsyncReader(new MemoryStream());
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        var result = NetRsync.Protocol.Client.Negotiation.Exchange(reader, writer, Wants("-z"), negotiating: false, amServer: false, seedFirst: false);
        writer.Flush();
        Assert.Equal(0, output.Length);
        Assert.Equal(ChecksumKind.Md5, result.Checksum);
        Assert.Equal(CompressionKind.Zlib, result.Compression);
        Assert.False(result.SeedFirst);

        var zz = NetRsync.Protocol.Client.Negotiation.Exchange(reader, writer, Wants("-zz"), negotiating: false, amServer: false, seedFirst: false);
        Assert.Equal(CompressionKind.ZlibX, zz.Compression);
    }

    [Theory]
    [InlineData("--zc=brotli", "unknown compress name: brotli")]
    [InlineData("--cc=crc32", "unknown checksum name: crc32")]
    public void UnknownNamesAreRefusedBeforeConnecting(string option, string message)
    {
        var ex = Assert.Throws<RsyncException>(() => Wants(option));
        Assert.Equal(message, ex.Message);
        Assert.Equal(ExitCodes.Unsupported, ex.ExitCode);
    }

    [Theory]
    [InlineData(CompressionKind.Zlib, null, CompressionKind.Zlib, 6)]
    [InlineData(CompressionKind.Zlib, 0, CompressionKind.None, 0)]
    [InlineData(CompressionKind.ZlibX, 12, CompressionKind.ZlibX, 9)]
    [InlineData(CompressionKind.Zstd, 0, CompressionKind.Zstd, 3)]
    [InlineData(CompressionKind.Zstd, 19, CompressionKind.Zstd, 19)]
    [InlineData(CompressionKind.Lz4, 5, CompressionKind.Lz4, 0)]
    public void LevelsFollowRsyncsDefaultsAndRanges(CompressionKind kind, int? asked, CompressionKind expectedKind, int expectedLevel)
    {
        // token.c (3.4.1), init_compression_level.
        Assert.Equal((expectedKind, expectedLevel), NetRsync.Protocol.Client.Negotiation.Level(kind, asked));
    }
}
