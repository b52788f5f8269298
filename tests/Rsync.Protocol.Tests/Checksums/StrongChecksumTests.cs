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
    public void Md5MatchesTheSystemDigestAtEveryPaddingBoundaryAndSplit()
    {
        // The padding takes one extra block from 56 bytes past a boundary; pieces straddle the buffer.
        byte[] data = new byte[300];
        new Random(5).NextBytes(data);
        var digest = new byte[Md5.HashLength];
        for (int length = 0; length <= 200; length++)
        {
            byte[] expected = MD5.HashData(data.AsSpan(0, length));
            for (int split = 0; split <= length; split += length < 130 ? 1 : 7)
            {
                var md5 = Md5.Create();
                md5.Append(data.AsSpan(0, split));
                md5.Append(data.AsSpan(split, length - split));
                md5.Finish(digest);
                Assert.True(expected.AsSpan().SequenceEqual(digest), $"length {length}, split at {split}");
            }
        }
        Md5.HashData("12345678901234567890123456789012345678901234567890123456789012345678901234567890"u8, digest);
        Assert.Equal("57edf4a22be3c955ac49da2e2107b67a", Convert.ToHexStringLower(digest));
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

    [Fact]
    public void XxhashDigestsAreLittleEndianWithTheLowHalfFirst()
    {
        // checksum.c (3.4.1), get_checksum2 / sum_end: SIVAL64 of the value; xxh128 low64 then high64.
        // The values are xxHash's published results for empty input with seed 0.
        var digest = new byte[16];
        using (var x64 = new StrongChecksum(ChecksumKind.Xxh64, 0, seedFirst: false))
        {
            x64.BlockSum([], digest);
            Assert.Equal(8, x64.Length);
            Assert.Equal("99e9d85137db46ef", Convert.ToHexStringLower(digest.AsSpan(0, 8)));
        }
        using (var x3 = new StrongChecksum(ChecksumKind.Xxh3, 0, seedFirst: false))
        {
            x3.FileFinish(digest);
            Assert.Equal("c294d3380580062d", Convert.ToHexStringLower(digest.AsSpan(0, 8)));
        }
        using (var x128 = new StrongChecksum(ChecksumKind.Xxh128, 0, seedFirst: false))
        {
            x128.BlockSum([], digest);
            Assert.Equal("7f498d4624c30160d8984701d306aa99", Convert.ToHexStringLower(digest));
        }
    }

    [Fact]
    public void XxhashBlockSumsUseTheSeedSignExtended()
    {
        // A negative int seed becomes a 64-bit seed by sign extension in C.
        var digest = new byte[8];
        using var sum = new StrongChecksum(ChecksumKind.Xxh64, -2, seedFirst: false);
        sum.BlockSum("abc"u8, digest);
        Assert.Equal(System.IO.Hashing.XxHash64.HashToUInt64("abc"u8, -2L), System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(digest));
        Assert.NotEqual(System.IO.Hashing.XxHash64.HashToUInt64("abc"u8, 0xFFFFFFFEL), System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(digest));
    }

    [Fact]
    public void TheSeedFixPutsTheSeedBeforeTheBlock()
    {
        var digest = new byte[16];
        using var sum = new StrongChecksum(ChecksumKind.Md5, 0x01020304, seedFirst: true);
        sum.BlockSum("abc"u8, digest);
        Assert.Equal(MD5.HashData([4, 3, 2, 1, .. "abc"u8]), digest);
    }
}
