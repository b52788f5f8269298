using System.IO.Compression;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Compression;

/// <summary>Broken token streams end in <see cref="RsyncProtocolException"/>, never in a hang or other bytes.</summary>
public sealed class MalformedTokenStreamTests
{
    public static TheoryData<TokenFormat> Formats() => new(Enum.GetValues<TokenFormat>());

    private static void AssertRejected(TokenFormat format, byte[] stream, bool truncated = false)
    {
        var receiver = TokenStreamHarness.Receiver(format, new RsyncReader(new MemoryStream(stream)), 31);
        byte[] block = new byte[10];
        var e = Assert.ThrowsAny<RsyncException>(() =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                int token = receiver.Next(out _);
                if (token < 0)
                    receiver.SeeMatched(block);
            }
        });
        Assert.IsType<RsyncProtocolException>(e);
        // Only a truncated stream may fail by running out of input.
        Assert.Equal(truncated, e.Message.Contains("connection unexpectedly closed", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void UnknownFlagIsRejected(TokenFormat format)
    {
        AssertRejected(format, [0x05]);
        AssertRejected(format, [0x3f]);
        AssertRejected(format, [0x22, 0, 0, 0, 0]);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void TokenOutOfRangeIsRejected(TokenFormat format)
    {
        AssertRejected(format, [0x20, 0xff, 0xff, 0xff, 0xff]); // TOKEN_LONG -1
        AssertRejected(format, [0x20, 0xff, 0xff, 0xff, 0x7f]); // TOKEN_LONG int.MaxValue
        AssertRejected(format, [0x21, 0xfe, 0xff, 0xff, 0x7f, 0x05, 0x00]); // run past the last index
        AssertRejected(format, [0xc1, 0x00, 0x00]); // run of 0
        AssertRejected(format, [0x20, 0xfe, 0xff, 0xff, 0x7f, 0xbf]); // relative step past the last index
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void TruncatedStreamIsRejected(TokenFormat format)
    {
        AssertRejected(format, [0x41], truncated: true);
        AssertRejected(format, [0x40, 0x10, 0x01, 0x02], truncated: true);
        AssertRejected(format, [0x80], truncated: true);
        AssertRejected(format, [0x21, 0x00, 0x00], truncated: true);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void CorruptDataIsRejected(TokenFormat format)
    {
        // Not a valid start for any of the formats: deflate's reserved block type, a bad zstd
        // magic, an lz4 match reaching before the output.
        AssertRejected(format, [0x40, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
    }

    [Theory]
    [InlineData(TokenFormat.Zlib)]
    [InlineData(TokenFormat.Zlibx)]
    public void EmptyDeflateChunkIsRejected(TokenFormat format) => AssertRejected(format, [0x40, 0x00, 0x00]);

    /// <summary>Deflated data that ends its stream (a final block) cannot be followed by rsync's sync-flush trailer.</summary>
    [Theory]
    [InlineData(TokenFormat.Zlib)]
    [InlineData(TokenFormat.Zlibx)]
    public void DeflateStreamEndingEarlyIsRejected(TokenFormat format)
    {
        var compressed = new MemoryStream();
        using (var deflate = new DeflateStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            deflate.Write("hello hello hello"u8);
        byte[] chunk = compressed.ToArray();
        byte[] stream = [0x40, (byte)chunk.Length, .. chunk, 0x80, 0x40, (byte)chunk.Length, .. chunk, 0x00];
        AssertRejected(format, stream);
    }
}

/// <summary>Odd but harmless chunks that stock senders can produce are accepted.</summary>
public sealed class TolerantTokenStreamTests
{
    /// <summary>rsync 3.4's zstd sender can send an empty chunk when a flush has nothing left.</summary>
    [Fact]
    public void EmptyZstdChunkIsSkipped()
    {
        var receiver = TokenStreamHarness.Receiver(TokenFormat.Zstd, new RsyncReader(new MemoryStream([0x40, 0x00, 0x81, 0x00])), 31);
        Assert.Equal(-2, receiver.Next(out _));
        Assert.Equal(0, receiver.Next(out _));
    }

    /// <summary>An lz4 chunk that decodes to nothing must not read as the end of the file.</summary>
    [Fact]
    public void EmptyLz4ChunkIsSkipped()
    {
        var receiver = TokenStreamHarness.Receiver(TokenFormat.Lz4, new RsyncReader(new MemoryStream([0x40, 0x00, 0x81, 0x00])), 31);
        Assert.Equal(-2, receiver.Next(out _));
        Assert.Equal(0, receiver.Next(out _));
    }
}
