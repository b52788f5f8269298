using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.Tests.Wire;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Delta;

public sealed class BlockSumsTests
{
    private static Gen<(int BlockLength, int StrongLength, uint[] Weak, byte[][] Strong, int Remainder)> AnySums { get; } =
        from count in Gen.Choose(0, 300)
        from blockLength in Gen.Choose(1, ProtocolLimits.MaxBlockSize)
        from strongLength in Gen.Choose(2, 16)
        // Few distinct weak sums, so chains get long.
        from weakPool in Gen.Choose(1, 20)
        from weak in Gen.ArrayOf(Gen.Choose(0, weakPool).Select(w => (uint)w * 0x01000193u), count)
        // Few distinct strong sums too, so blocks with identical sums are common.
        from strong in Gen.ArrayOf(Gen.Frequency(
            (1, Props.Bytes(16).Select(b => b.Concat(new byte[16]).Take(16).ToArray())),
            (2, Gen.Choose(0, 2).Select(v => Enumerable.Repeat((byte)v, 16).ToArray()))), count)
        from remainderFraction in Gen.Choose(0, 1000)
        select (blockLength, strongLength, weak, strong, (int)((long)blockLength * remainderFraction / 1000));

    private static BlockSums Build((int BlockLength, int StrongLength, uint[] Weak, byte[][] Strong, int Remainder) s)
    {
        var sums = new BlockSums(s.Weak.Length, s.BlockLength, s.StrongLength, s.Remainder);
        for (int i = 0; i < s.Weak.Length; i++)
            sums.Set(i, s.Weak[i], s.Strong[i]);
        sums.BuildIndex();
        return sums;
    }

    [Fact]
    public void TheIndexFindsEachFullLengthBlockBySums() =>
        Props.Check(AnySums, s => CheckIndex(Build(s)), maxTest: 200);

    /// <summary>
    /// Each distinct weak sum of the full-length blocks is found once; each distinct weak and
    /// strong pair leads to its lowest block, and from there to all its blocks in order. A shorter
    /// last block is not in the index.
    /// </summary>
    private static void CheckIndex(BlockSums sums)
    {
        int full = Enumerable.Range(0, sums.Count).Count(i => sums.LengthOf(i) == sums.BlockLength);
        Assert.Equal(full, sums.FullLengthCount);
        var blocks = Enumerable.Range(0, full);
        foreach (var sameWeak in blocks.GroupBy(sums.Weak))
        {
            var withWeak = new List<int>();
            for (int i = sums.FirstWithWeak(sameWeak.Key); i >= 0; i = sums.NextWeak(i))
            {
                if (sums.Weak(i) == sameWeak.Key)
                    withWeak.Add(i);
            }
            Assert.Equal([sameWeak.First()], withWeak);
        }
        foreach (var sameSums in blocks.GroupBy(i => (sums.Weak(i), Convert.ToHexString(sums.Strong(i)))))
        {
            int lowest = sameSums.First();
            var firsts = new List<int>();
            for (int i = sums.FirstWithSums(sums.Weak(lowest), sums.Strong(lowest)); i >= 0; i = sums.NextWithOtherSums(i))
            {
                if (sums.Weak(i) == sums.Weak(lowest) && sums.Strong(i).SequenceEqual(sums.Strong(lowest)))
                    firsts.Add(i);
            }
            Assert.Equal([lowest], firsts);
            var same = new List<int>();
            for (int i = lowest; i >= 0; i = sums.NextSame(i))
                same.Add(i);
            Assert.Equal(sameSums, same);
        }
        if (full < sums.Count)
        {
            int last = sums.Count - 1;
            for (int i = sums.FirstWithWeak(sums.Weak(last)); i >= 0; i = sums.NextWeak(i))
                Assert.NotEqual(last, i);
        }
    }

    [Fact]
    public void LengthsFollowTheRemainder() =>
        Props.Check(AnySums, s =>
        {
            var sums = Build(s);
            for (int i = 0; i < sums.Count; i++)
            {
                bool last = i == sums.Count - 1;
                Assert.Equal(last && s.Remainder != 0 ? s.Remainder : s.BlockLength, sums.LengthOf(i));
            }
            long expected = sums.Count == 0 ? 0 : (long)(sums.Count - 1) * s.BlockLength + (s.Remainder != 0 ? s.Remainder : s.BlockLength);
            Assert.Equal(expected, sums.FileLength);
        }, maxTest: 200);

    [Fact]
    public void WriteThenReadRoundTrips() =>
        Props.Check(AnySums, s =>
        {
            var sums = Build(s);
            var output = new MemoryStream();
            var writer = new RsyncWriter(output);
            sums.Write(writer);
            writer.Flush();
            byte[] raw = output.ToArray();
            // io.c, write_sum_head: count, block length, strong length, remainder as 4-byte ints;
            // then per block the weak sum as an int and the strong sum's leading bytes.
            Assert.Equal(16 + s.Weak.Length * (4 + s.StrongLength), raw.Length);
            Assert.Equal(s.Weak.Length, BinaryPrimitives.ReadInt32LittleEndian(raw));
            Assert.Equal(s.BlockLength, BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(4)));
            Assert.Equal(s.StrongLength, BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(8)));
            Assert.Equal(s.Remainder, BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(12)));

            using var reader = new RsyncReader(new MemoryStream(raw));
            var read = BlockSums.Read(reader, 31);
            Assert.Equal(sums.Count, read.Count);
            Assert.Equal(sums.BlockLength, read.BlockLength);
            Assert.Equal(sums.StrongLength, read.StrongLength);
            Assert.Equal(sums.Remainder, read.Remainder);
            for (int i = 0; i < sums.Count; i++)
            {
                Assert.Equal(s.Weak[i], read.Weak(i));
                Assert.Equal(s.Strong[i][..s.StrongLength], read.Strong(i).ToArray());
            }
            CheckIndex(read);
        }, maxTest: 100);

    [Theory]
    // sender.c / io.c, read_sum_head: each field is range-checked.
    [InlineData(-1, 700, 16, 0)]
    [InlineData(1, -1, 16, 0)]
    [InlineData(1, (1 << 17) + 1, 16, 0)]
    [InlineData(1, 700, 17, 0)]
    [InlineData(1, 700, -1, 0)]
    [InlineData(1, 700, 16, 701)]
    [InlineData(1, 700, 16, -1)]
    public void InvalidSumHeadsAreRefused(int count, int blockLength, int strongLength, int remainder)
    {
        var raw = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(raw, count);
        BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(4), blockLength);
        BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(8), strongLength);
        BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(12), remainder);
        using var reader = new RsyncReader(new MemoryStream(raw));
        var ex = Assert.Throws<RsyncProtocolException>(() => BlockSums.Read(reader, 31));
        Assert.Equal(ExitCodes.Protocol, ex.ExitCode);
    }
}
