using System.Security.Cryptography;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Tests.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Checksums;

public sealed class StrongChecksumTests
{
    [Fact]
    public void Md5KnownVectors()
    {
        // RFC 1321 test suite.
        using var sum = new StrongChecksum(0);
        var digest = new byte[16];
        sum.BlockSum(""u8, digest);
        Assert.Equal("d41d8cd98f00b204e9800998ecf8427e", Convert.ToHexStringLower(digest));
        sum.BlockSum("abc"u8, digest);
        Assert.Equal("900150983cd24fb0d6963f7d28e17f72", Convert.ToHexStringLower(digest));

        sum.FileUpdate("message "u8);
        sum.FileUpdate("digest"u8);
        sum.FileFinish(digest);
        Assert.Equal("f96b697d7cb7938d525a2f31aaf161d0", Convert.ToHexStringLower(digest));
    }

    [Fact]
    public void BlockSumAppendsTheSeedLittleEndianWhenNonZero()
    {
        var gen =
            from block in Props.Bytes(3000)
            from seed in Gen.OneOf(Gen.Constant(0), Props.AnyInt)
            select (block, seed);
        Props.Check(gen, t =>
        {
            // checksum.c, get_checksum2 at protocol 30+: MD5 over the block, then the seed's four
            // little-endian bytes, but only when the seed is non-zero.
            byte[] input = t.seed == 0
                ? t.block
                : [.. t.block, (byte)t.seed, (byte)(t.seed >> 8), (byte)(t.seed >> 16), (byte)(t.seed >> 24)];
            using var sum = new StrongChecksum(t.seed);
            var digest = new byte[16];
            sum.BlockSum(t.block, digest);
            Assert.Equal(MD5.HashData(input), digest);
            // A second block is independent of the first.
            sum.BlockSum(t.block, digest);
            Assert.Equal(MD5.HashData(input), digest);
        }, maxTest: 200);
    }

    [Fact]
    public void FileSumIsPlainMd5WhateverTheSeed()
    {
        var gen =
            from pieces in Gen.ListOf(Props.Bytes(5000))
            from seed in Props.AnyInt
            select (pieces, seed);
        Props.Check(gen, t =>
        {
            // checksum.c, sum_init at protocol 30+: the whole-file sum does not mix in the seed.
            using var sum = new StrongChecksum(t.seed);
            var scratch = new byte[16];
            foreach (var piece in t.pieces)
            {
                sum.FileUpdate(piece);
                sum.BlockSum(piece, scratch); // block sums in between must not disturb the file sum
            }
            var digest = new byte[16];
            sum.FileFinish(digest);
            Assert.Equal(MD5.HashData(t.pieces.SelectMany(p => p).ToArray()), digest);
        }, maxTest: 100);
    }

    [Fact]
    public void FileSumOfAPathMatchesMd5()
    {
        string path = Path.GetTempFileName();
        try
        {
            byte[] data = new byte[600_000];
            new Random(7).NextBytes(data);
            File.WriteAllBytes(path, data);
            var digest = new byte[16];
            StrongChecksum.FileSum(path, digest);
            Assert.Equal(MD5.HashData(data), digest);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
