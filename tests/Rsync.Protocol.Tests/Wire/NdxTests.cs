using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Wire;

public sealed class NdxTests
{
    /// <summary>
    /// A decoder for the protocol-30 index format, written from its description: 0 is NDX_DONE;
    /// a leading FF marks a negative index; then either one byte 1..FD that is added to the
    /// previous index of the same sign, or FE followed by a two-byte big-endian difference, or
    /// FE followed by a byte with its top bit set that opens a full 31-bit value (that byte holds
    /// bits 24..30, the next three bytes bits 0..23 little-endian). Negative indexes are tracked
    /// by magnitude. The previous positive index starts at -1, the previous magnitude at 1.
    /// </summary>
    private static List<int> ReferenceDecode(byte[] data)
    {
        var result = new List<int>();
        int previousPositive = -1, previousNegative = 1;
        int i = 0;
        while (i < data.Length)
        {
            byte b = data[i++];
            if (b == 0)
            {
                result.Add(-1);
                continue;
            }
            bool negative = b == 0xFF;
            if (negative)
                b = data[i++];
            int previous = negative ? previousNegative : previousPositive;
            int magnitude;
            if (b != 0xFE)
                magnitude = previous + b;
            else if ((data[i] & 0x80) == 0)
            {
                magnitude = previous + (data[i] << 8 | data[i + 1]);
                i += 2;
            }
            else
            {
                magnitude = (data[i] & 0x7F) << 24 | data[i + 1] | data[i + 2] << 8 | data[i + 3] << 16;
                i += 4;
            }
            if (negative)
                previousNegative = magnitude;
            else
                previousPositive = magnitude;
            result.Add(negative ? -magnitude : magnitude);
        }
        return result;
    }

    private static byte[] Write(IEnumerable<int> indexes)
    {
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        foreach (int ndx in indexes)
            writer.WriteNdx(ndx);
        writer.Flush();
        return output.ToArray();
    }

    private static Gen<int> AnyNdx { get; } = Gen.Frequency(
        (4, Gen.Choose(0, 300)),
        (2, Gen.Choose(0, int.MaxValue)),
        (2, Gen.Constant(Ndx.Done)),
        (1, Gen.Elements(Ndx.FileListEof, Ndx.DeleteStats)),
        (2, Gen.Choose(0, 70000).Select(k => Ndx.FileListOffset - k)),
        (1, Gen.Choose(1, int.MaxValue).Select(v => -v)));

    /// <summary>Indexes as a sender produces them: mostly ascending runs with occasional jumps back.</summary>
    private static Gen<int[]> NdxSequence { get; } =
        from steps in Gen.ListOf(Gen.Frequency(
            (6, Gen.Choose(1, 40000).Select(d => (Delta: d, Raw: (int?)null))),
            (4, AnyNdx.Select(v => (Delta: 0, Raw: (int?)v)))))
        select Materialize(steps);

    private static int[] Materialize(IEnumerable<(int Delta, int? Raw)> steps)
    {
        var list = new List<int>();
        int last = -1;
        foreach (var (delta, raw) in steps)
        {
            if (raw is int r)
                list.Add(r);
            else
            {
                last = (int)Math.Min(int.MaxValue, (long)Math.Max(last, -1) + delta);
                list.Add(last);
            }
        }
        return [.. list];
    }

    [Fact]
    public void HandWorkedSequence()
    {
        int[] indexes = [0, 1, 5, 300, 100000, Ndx.Done, -101, -102, Ndx.FileListEof, 0, 253, 253, 507];
        // io.c write_ndx, previous positive -1 and previous negative 1 to begin with:
        //   0       diff 1 from -1                         -> 01
        //   1       diff 1                                 -> 01
        //   5       diff 4                                 -> 04
        //   300     diff 295 = 0x127, in 254..32767        -> FE 01 27
        //   100000  diff 99700 > 32767: full value 0x186A0 -> FE 80 A0 86 01
        //   -1      NDX_DONE                               -> 00
        //   -101    magnitude 101, diff 100 from 1         -> FF 64
        //   -102    diff 1                                 -> FF 01
        //   -2      diff 2 - 102 < 0: full value 2         -> FF FE 80 02 00 00
        //   0       diff 0 - 100000 < 0: full value 0      -> FE 80 00 00 00
        //   253     diff 253 = 0xFD                        -> FD
        //   253     diff 0 goes the two-byte way           -> FE 00 00
        //   507     diff 254 = 0xFE cannot be one byte     -> FE 00 FE
        byte[] expected = Convert.FromHexString(
            "01" + "01" + "04" + "FE0127" + "FE80A08601" + "00" + "FF64" + "FF01" + "FFFE80020000"
            + "FE80000000" + "FD" + "FE0000" + "FE00FE");
        Assert.Equal(expected, Write(indexes));
        Assert.Equal(indexes, ReferenceDecode(expected));

        using var reader = new RsyncReader(new MemoryStream(expected));
        Assert.Equal(indexes, indexes.Select(_ => reader.ReadNdx()).ToArray());
    }

    [Fact]
    public void WriterOutputDecodesWithTheReferenceDecoder() =>
        Props.Check(NdxSequence, indexes =>
        {
            Assert.Equal(indexes, ReferenceDecode(Write(indexes)));
        }, maxTest: 300);

    [Fact]
    public void RoundTripsOverAPlainStream() =>
        Props.Check(NdxSequence, indexes =>
        {
            using var reader = new RsyncReader(new MemoryStream(Write(indexes)));
            foreach (int expected in indexes)
                Assert.Equal(expected, reader.ReadNdx());
            Assert.Throws<RsyncProtocolException>(() => reader.ReadByte());
        }, maxTest: 300);

    [Fact]
    public void RoundTripsThroughTheMultiplexedPath()
    {
        var gen =
            from indexes in NdxSequence
            from chunks in Gen.ListOf(Gen.Choose(1, 9))
            select (indexes, chunks);
        Props.Check(gen, t =>
        {
            var output = new MemoryStream();
            var writer = new RsyncWriter(output);
            writer.StartMultiplexing();
            foreach (int ndx in t.indexes)
                writer.WriteNdx(ndx);
            writer.Flush();

            using var open = new ManualResetEventSlim();
            using var reader = new RsyncReader(new ChunkedStream(output.ToArray(), t.chunks, open));
            reader.StartMultiplexing();
            foreach (int expected in t.indexes)
                Assert.Equal(expected, reader.ReadNdx());
            open.Set();
            var ex = Assert.Throws<RsyncProtocolException>(() => reader.ReadByte());
            Assert.Equal(ExitCodes.StreamIo, ex.ExitCode);
        }, maxTest: 150);
    }
}
