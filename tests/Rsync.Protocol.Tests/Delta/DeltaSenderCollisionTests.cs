using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.Tests.Checksums;
using NetRsync.Protocol.Tests.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Delta;

/// <summary>
/// Block sums that a pulling client crafts to collide. rsync 3.5 bounded the work this invites in
/// its sender (match.c, hash_search); ours must stay linear in the file's length and still choose
/// the blocks rsync would.
/// </summary>
public sealed partial class DeltaSenderTests
{
    // What the search may spend per byte of the file: candidate blocks examined plus strong sums.
    // A colliding offset costs about three (the weak sum's entry, the strong sum, the pair's entry);
    // the rest is room for the index's random buckets now and then holding another entry.
    private const int ComparisonsPerByte = 8;

    private const int CraftedBlockLength = 32;
    private const int CraftedBlockCount = 2048;
    private const int CraftedFileLength = 128 * 1024;

    /// <summary>
    /// Zeros but for +a, -a at p, p+1 and -a, +a at q, q+1: both running sums cancel, so every
    /// variant has a zero block's weak sum and a strong sum of its own.
    /// </summary>
    private static byte[] WeakZeroBlock(int length, int variant)
    {
        int a = 1 + variant % 100;
        int pair = variant / 100;
        for (int p = 0; p + 3 < length; p++)
        {
            int choices = length - 1 - (p + 2);
            if (pair < choices)
            {
                int q = p + 2 + pair;
                var block = new byte[length];
                block[p] = (byte)a;
                block[p + 1] = (byte)-a;
                block[q] = (byte)-a;
                block[q + 1] = (byte)a;
                return block;
            }
            pair -= choices;
        }
        throw new ArgumentOutOfRangeException(nameof(variant));
    }

    private static byte[] Concat(IEnumerable<byte[]> pieces) => pieces.SelectMany(p => p).ToArray();

    private static void AssertLinear(long comparisons, long fileLength) =>
        Assert.True(comparisons <= ComparisonsPerByte * fileLength,
            $"{comparisons} comparisons for {fileLength} bytes (at most {ComparisonsPerByte} per byte)");

    /// <summary>Where each matched block sits in the new file, from the token stream.</summary>
    private static List<(long Offset, int Block)> MatchesIn(byte[] stream, BlockSums sums)
    {
        var matches = new List<(long, int)>();
        long offset = 0;
        foreach (var token in ParseTokens(stream).Tokens)
        {
            if (token.Data is not null)
            {
                offset += token.Literal;
                continue;
            }
            matches.Add((offset, token.Block));
            offset += sums.LengthOf(token.Block);
        }
        return matches;
    }

    /// <summary>
    /// rsync's choice of blocks by brute force (match.c, hash_search): at each offset the
    /// lowest-numbered block whose length, weak and strong sums fit the window (in place: not one
    /// behind the offset), unless the block after the previous match fits as well.
    /// </summary>
    private static List<(long Offset, int Block)> ReferenceMatches(byte[] file, BlockSums sums, int seed, bool inPlace)
    {
        var matches = new List<(long, int)>();
        if (file.Length == 0 || sums.Count == 0)
            return matches;
        var byWeak = Enumerable.Range(0, sums.Count).GroupBy(sums.Weak).ToDictionary(g => g.Key, g => g.ToArray());
        long end = file.Length + 1 - sums.LengthOf(sums.Count - 1);
        long offset = 0;
        int wanted = 0;
        while (offset < end)
        {
            int k = (int)Math.Min(sums.BlockLength, file.Length - offset);
            byte[] window = file.AsSpan((int)offset, k).ToArray();
            uint weak = RollingChecksumTests.Naive(window);
            byte[]? strong = null;
            bool Fits(int i)
            {
                if (sums.Weak(i) != weak || sums.LengthOf(i) != k || (inPlace && (long)i * sums.BlockLength < offset))
                    return false;
                strong ??= BlockStrong(window, seed);
                return strong.AsSpan(0, sums.StrongLength).SequenceEqual(sums.Strong(i));
            }
            int found = -1;
            foreach (int i in byWeak.GetValueOrDefault(weak, []))
            {
                if (Fits(i))
                {
                    found = i;
                    break;
                }
            }
            if (found < 0)
            {
                offset++;
                continue;
            }
            if (found != wanted && wanted < sums.Count && Fits(wanted))
                found = wanted;
            matches.Add((offset, found));
            wanted = found + 1;
            offset += sums.LengthOf(found);
        }
        return matches;
    }

    [Fact]
    public void BlocksSharingOneWeakSumCostLinearWork()
    {
        // Every block claims a zero block's weak sum with a strong sum of its own, and the file is
        // zeros: each offset's weak sum hits all of them, and none matches.
        var random = new Random(11);
        var sums = new BlockSums(CraftedBlockCount, CraftedBlockLength, 16, 0);
        uint weak = RollingChecksumTests.Naive(new byte[CraftedBlockLength]);
        var strong = new byte[16];
        for (int i = 0; i < sums.Count; i++)
        {
            random.NextBytes(strong);
            sums.Set(i, weak, strong);
        }
        sums.BuildIndex();
        byte[] file = new byte[CraftedFileLength];

        var (stream, stats, comparisons, _) = RunCounted(file, sums, 0);

        Assert.Equal(file.Length, Verify([], file, sums, 0, stream, stats));
        AssertLinear(comparisons, file.Length);
    }

    [Fact]
    public void IdenticalSumsThatNeverMatchCostLinearWork()
    {
        // One weak and strong sum repeated for every block; the weak sum hits at every offset of
        // the file, the strong sum never.
        var sums = new BlockSums(CraftedBlockCount, CraftedBlockLength, 16, 0);
        uint weak = RollingChecksumTests.Naive(new byte[CraftedBlockLength]);
        byte[] strong = BlockStrong(WeakZeroBlock(CraftedBlockLength, 7), 0);
        for (int i = 0; i < sums.Count; i++)
            sums.Set(i, weak, strong);
        sums.BuildIndex();
        byte[] file = new byte[CraftedFileLength];

        var (stream, stats, comparisons, _) = RunCounted(file, sums, 0);

        Assert.Equal(file.Length, Verify([], file, sums, 0, stream, stats));
        AssertLinear(comparisons, file.Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IdenticalSumsThatMatchAreTakenInRsyncsOrder(bool inPlace)
    {
        // A basis of zeros: every block has the same sums. rsync takes block 0, then the block
        // after each match, starting again from the lowest once the blocks run out.
        const int seed = 4242;
        byte[] basis = new byte[CraftedBlockCount * CraftedBlockLength];
        var sums = MakeSums(basis, CraftedBlockLength, 16, seed);
        var random = new Random(12);
        byte[] file = new byte[CraftedFileLength];
        for (int i = 0; i < 40; i++)
            file[CraftedBlockLength * CraftedBlockCount + random.Next(file.Length - CraftedBlockLength * CraftedBlockCount)] = (byte)(1 + random.Next(255));

        var (stream, stats, comparisons, _) = RunCounted(file, sums, seed, inPlace);

        Verify(basis, file, sums, seed, stream, stats);
        var matches = MatchesIn(stream, sums);
        Assert.Equal(ReferenceMatches(file, sums, seed, inPlace), matches);
        Assert.Equal(Enumerable.Range(0, CraftedBlockCount), matches.Take(CraftedBlockCount).Select(m => m.Block));
        AssertLinear(comparisons, file.Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ManyStrongSumsUnderOneWeakSumCostLinearWork(bool inPlace)
    {
        // A basis whose blocks all have the same weak sum but different contents, the zero block
        // last; the file is runs of zeros between copies of some of those blocks.
        const int seed = 99;
        byte[] basis = Concat(Enumerable.Range(0, CraftedBlockCount - 1)
            .Select(v => WeakZeroBlock(CraftedBlockLength, v))
            .Append(new byte[CraftedBlockLength]));
        var sums = MakeSums(basis, CraftedBlockLength, 16, seed);
        Assert.Single(Enumerable.Range(0, sums.Count).Select(sums.Weak).Distinct());
        var random = new Random(13);
        var pieces = new List<byte[]>();
        int length = 0;
        while (length < CraftedFileLength - 4 * CraftedBlockLength)
        {
            var piece = random.Next(3) == 0
                ? WeakZeroBlock(CraftedBlockLength, random.Next(CraftedBlockCount - 1))
                : new byte[random.Next(3 * CraftedBlockLength)];
            pieces.Add(piece);
            length += piece.Length;
        }
        byte[] file = Concat(pieces);

        var (stream, stats, comparisons, _) = RunCounted(file, sums, seed, inPlace);

        long literal = Verify(basis, file, sums, seed, stream, stats);
        if (!inPlace)
            Assert.InRange(literal, 1, file.Length / 4); // in place, blocks behind the offset are off limits
        Assert.Equal(ReferenceMatches(file, sums, seed, inPlace), MatchesIn(stream, sums));
        AssertLinear(comparisons, file.Length);
    }

    [Fact]
    public void RunsOfOneByteValueNeedOneStrongSumEach()
    {
        // A disk image's runs of zeros (and of 0x07) against blocks that claim their weak sums but
        // not their strong sums. Each window of a run equals the one before, so one strong sum
        // settles the run; otherwise every offset would hash a whole block.
        const int blockLength = 4096;
        var sums = new BlockSums(2, blockLength, 16, 0);
        byte[] bogus = BlockStrong(WeakZeroBlock(blockLength, 0), 0);
        sums.Set(0, RollingChecksumTests.Naive(new byte[blockLength]), bogus);
        sums.Set(1, RollingChecksumTests.Naive(Enumerable.Repeat((byte)7, blockLength).ToArray()), bogus);
        sums.BuildIndex();
        var random = new Random(14);
        var pieces = new List<byte[]>();
        int runs = 0;
        for (int length = 0; length < CraftedFileLength; runs++)
        {
            var run = Enumerable.Repeat((byte)(runs % 2 == 0 ? 0 : 7), 6000 + random.Next(20_000)).Append((byte)random.Next(256)).ToArray();
            pieces.Add(run);
            length += run.Length;
        }
        byte[] file = Concat(pieces);

        var (stream, stats, comparisons, strongSums) = RunCounted(file, sums, 0);

        Assert.Equal(file.Length, Verify([], file, sums, 0, stream, stats));
        Assert.Empty(ReferenceMatches(file, sums, 0, inPlace: false));
        Assert.InRange(strongSums, runs / 2, 2 * runs);
        AssertLinear(comparisons, file.Length);
    }

    /// <summary>A few block contents, several of them with one weak sum, for bases full of collisions.</summary>
    private static byte[][] Palette(int blockLength, int seed)
    {
        var random = new Random(seed);
        var other = new byte[blockLength];
        random.NextBytes(other);
        return
        [
            new byte[blockLength],
            WeakZeroBlock(blockLength, random.Next(100)),
            WeakZeroBlock(blockLength, 100 + random.Next(100)),
            other,
        ];
    }

    [Fact]
    public void CollidingSumsGiveRsyncsDelta()
    {
        var gen =
            from blockLength in Gen.Choose(5, 48)
            from paletteSeed in Gen.Choose(0, int.MaxValue)
            from basisPicks in Gen.ListOf(Gen.Choose(0, 3)).Select(l => l.Take(120).ToList())
            from shortLast in Gen.Choose(0, blockLength - 1)
            from filePieces in Gen.ListOf(Gen.Choose(0, 5)).Select(l => l.Take(60).ToList())
            from junkSeed in Gen.Choose(0, int.MaxValue)
            from strongLength in Gen.Elements(16, 2)
            from seed in Gen.Elements(0, 777)
            from inPlace in Gen.Elements(false, true)
            select (blockLength, paletteSeed, basisPicks, shortLast, filePieces, junkSeed, strongLength, seed, inPlace);
        Props.Check(gen, t =>
        {
            byte[][] palette = Palette(t.blockLength, t.paletteSeed);
            byte[] basis = Concat(t.basisPicks.Select(p => palette[p]).Append(palette[t.paletteSeed % 4][..t.shortLast]));
            var random = new Random(t.junkSeed);
            byte[] file = Concat(t.filePieces.Select(p => p switch
            {
                < 4 => palette[p],
                _ => Enumerable.Range(0, random.Next(2 * t.blockLength)).Select(_ => (byte)(random.Next(3) == 0 ? random.Next(256) : 0)).ToArray(),
            }));
            var sums = MakeSums(basis, t.blockLength, t.strongLength, t.seed);

            var (stream, stats, comparisons, _) = RunCounted(file, sums, t.seed, t.inPlace);

            Verify(basis, file, sums, t.seed, stream, stats);
            Assert.Equal(ReferenceMatches(file, sums, t.seed, t.inPlace), MatchesIn(stream, sums));
            Assert.True(comparisons <= ComparisonsPerByte * (file.Length + 1) + sums.Count,
                $"{comparisons} comparisons for {file.Length} bytes and {sums.Count} blocks");
        }, maxTest: 200, endSize: 100);
    }
}
