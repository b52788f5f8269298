using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Tests.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Checksums;

public sealed class RollingChecksumTests
{
    /// <summary>
    /// The weak sum straight from its definition (checksum.c, get_checksum1, bytes as signed chars):
    /// s1 = sum of b[i], s2 = sum of (len - i) * b[i], value = (s1 &amp; 0xFFFF) | (s2 &lt;&lt; 16), mod 2^32.
    /// </summary>
    internal static uint Naive(ReadOnlySpan<byte> data)
    {
        long s1 = 0, s2 = 0;
        for (int i = 0; i < data.Length; i++)
        {
            long b = (sbyte)data[i];
            s1 += b;
            s2 += (data.Length - i) * b;
        }
        return (uint)((ulong)s1 & 0xFFFF) | (uint)((ulong)s2 << 16);
    }

    /// <summary>Arrays biased towards the signed range's edges, with lengths that cover the 4-byte unrolling.</summary>
    private static Gen<byte[]> Data(int maxLength) =>
        from len in Gen.OneOf(Gen.Choose(0, 9), Gen.Choose(0, maxLength))
        from data in Gen.ArrayOf(Gen.Frequency(
            (3, Gen.Choose(0, 255)),
            (1, Gen.Elements(0x00, 0x7F, 0x80, 0xFF))).Select(b => (byte)b), len)
        select data;

    [Theory]
    // s1 = 1 + 2 + 3 = 6; s2 = 3*1 + 2*2 + 1*3 = 10.
    [InlineData(new byte[] { 1, 2, 3 }, 0x000A_0006u)]
    // 0xFF is -1: s1 = -1 -> FFFF; s2 = -1 -> FFFF << 16.
    [InlineData(new byte[] { 0xFF }, 0xFFFF_FFFFu)]
    // 0x80 is -128, 0x7F is 127: s1 = -1 -> FFFF; s2 = 2*(-128) + 127 = -129 = 0xFFFFFF7F, low half 0xFF7F.
    // (Treating the bytes as unsigned would give s1 = 255 and s2 = 383 instead.)
    [InlineData(new byte[] { 0x80, 0x7F }, 0xFF7F_FFFFu)]
    [InlineData(new byte[0], 0u)]
    public void KnownValues(byte[] data, uint expected)
    {
        Assert.Equal(expected, Naive(data));
        Assert.Equal(expected, RollingChecksum.Compute(data));
    }

    [Fact]
    public void ComputeEqualsTheDefinition() =>
        Props.Check(Data(5000), data => Assert.Equal(Naive(data), RollingChecksum.Compute(data)), maxTest: 500);

    /// <summary>
    /// The vector paths against the scalar twin at every length around their chunk sizes and at
    /// odd starting offsets, so a slip in the chunk arithmetic or the tail cannot hide.
    /// </summary>
    [Fact]
    public void VectorPathsEqualTheScalarTwin()
    {
        var gen =
            from data in Data(1200)
            from skip in Gen.Choose(0, 31)
            select (data, skip);
        Props.Check(gen, t =>
        {
            var (data, skip) = t;
            ReadOnlySpan<byte> span = data.AsSpan(Math.Min(skip, data.Length));
            uint scalar = RollingChecksum.ComputeScalar(span);
            Assert.Equal(Naive(span), scalar);
            Assert.Equal(scalar, RollingChecksum.Compute(span));
            if (System.Runtime.Intrinsics.X86.Ssse3.IsSupported)
                Assert.Equal(scalar, RollingChecksum.ComputeSsse3(span));
        }, maxTest: 1000);
    }

    [Fact]
    public void VectorPathsAgreeWithTheScalarTwinOnWholeBlocks()
    {
        var rng = new Random(3);
        foreach (int length in new[] { 64, 700, 8192, 23168, 131072, 131072 + 17 })
        {
            byte[] data = new byte[length];
            rng.NextBytes(data);
            Assert.Equal(RollingChecksum.ComputeScalar(data), RollingChecksum.Compute(data));
            if (System.Runtime.Intrinsics.X86.Ssse3.IsSupported)
                Assert.Equal(RollingChecksum.ComputeScalar(data), RollingChecksum.ComputeSsse3(data));
        }
    }

    [Fact]
    public void LongRunsOfHighBytesWrapLikeTheDefinition()
    {
        // 2^17 bytes of 0x80 push s2 far past 32 bits, so the sums must wrap exactly as uint32 does.
        byte[] data = Enumerable.Repeat((byte)0x80, 1 << 17).ToArray();
        Assert.Equal(Naive(data), RollingChecksum.Compute(data));
        Assert.Equal(Naive(data), RollingChecksum.ComputeScalar(data));
        if (System.Runtime.Intrinsics.X86.Ssse3.IsSupported)
            Assert.Equal(Naive(data), RollingChecksum.ComputeSsse3(data));
    }

    [Fact]
    public void RollingEqualsRecomputingEachWindow()
    {
        var gen =
            from data in Data(3000)
            from window in Gen.Choose(1, 700)
            select (data, window);
        Props.Check(gen, t =>
        {
            var (data, window) = t;
            if (data.Length < window)
                return;
            var rc = default(RollingChecksum);
            rc.Reset(data.AsSpan(0, window));
            Assert.Equal(Naive(data.AsSpan(0, window)), rc.Value);
            for (int start = 1; start + window <= data.Length; start++)
            {
                rc.Roll(data[start - 1], data[start + window - 1], window);
                Assert.Equal(Naive(data.AsSpan(start, window)), rc.Value);
            }
        }, maxTest: 200);
    }

    [Fact]
    public void RollingOutTheTailEqualsRecomputingTheShrinkingWindow()
    {
        var gen =
            from data in Data(2000)
            from window in Gen.Choose(1, 700)
            select (data, window);
        Props.Check(gen, t =>
        {
            var (data, window) = t;
            int start = Math.Max(0, data.Length - window);
            var rc = default(RollingChecksum);
            rc.Reset(data.AsSpan(start));
            for (int s = start; s < data.Length; s++)
            {
                rc.RollOut(data[s], data.Length - s);
                Assert.Equal(Naive(data.AsSpan(s + 1)), rc.Value);
            }
            Assert.Equal(0u, rc.Value);
        }, maxTest: 200);
    }

    [Fact]
    public void ResetDiscardsEarlierState()
    {
        var rc = default(RollingChecksum);
        rc.Reset([1, 2, 3, 4, 5, 6, 7, 8, 9]);
        rc.Reset([0x80, 0x90]);
        Assert.Equal(Naive([0x80, 0x90]), rc.Value);
    }
}
