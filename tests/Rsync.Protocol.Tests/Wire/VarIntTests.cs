using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Wire;

public sealed class VarIntTests
{
    /// <summary>
    /// An encoder written from the format's definition rather than from io.c's loop: a value that
    /// needs <c>e</c> extra bytes goes out as one lead byte followed by the value's
    /// <c>minBytes - 1 + e</c> low-order bytes, little-endian. The lead byte holds <c>e</c> one
    /// bits, a zero bit, and then the value's remaining high bits; <c>e</c> is the smallest count
    /// for which those high bits fit (once the low bytes cover the whole value, the lead byte
    /// carries no value bits at all).
    /// </summary>
    private static byte[] Reference(ulong value, int minBytes, int widthBytes)
    {
        for (int extra = 0; ; extra++)
        {
            int lowBytes = minBytes - 1 + extra;
            byte prefix = (byte)(0xFF << (8 - extra));
            ulong high;
            if (lowBytes >= widthBytes)
                high = 0;
            else
            {
                high = value >> (8 * lowBytes);
                if (high >= 1UL << (7 - extra))
                    continue;
            }
            var result = new byte[1 + lowBytes];
            result[0] = (byte)(prefix | (byte)high);
            for (int i = 0; i < lowBytes; i++)
                result[1 + i] = i < widthBytes ? (byte)(value >> (8 * i)) : (byte)0;
            return result;
        }
    }

    private static byte[] EncodeInt(int value)
    {
        var buffer = new byte[VarInt.MaxVarIntLength];
        int n = VarInt.WriteVarInt(buffer, value);
        return buffer[..n];
    }

    private static byte[] EncodeLong(long value, int minBytes)
    {
        var buffer = new byte[VarInt.MaxVarLongLength];
        int n = VarInt.WriteVarLong(buffer, value, minBytes);
        return buffer[..n];
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    // Worked by hand from io.c's write_varint: the value is stored little-endian at b[1..4], cnt
    // drops to the highest non-zero byte (at least 1), bit = 1 << (8 - cnt). If b[cnt] >= bit the
    // lead byte becomes ~(bit - 1) and cnt grows by one; otherwise, when cnt > 1, the lead byte is
    // b[cnt] | ~(2 * bit - 1); with cnt == 1 it is b[1] itself. The first cnt bytes b[0..cnt) are sent.
    [Theory]
    // 0: cnt = 1, bit = 0x80, b[1] = 0 < 0x80, lead = b[1] = 00.
    [InlineData(0, "00")]
    // 127: cnt = 1, b[1] = 7F < 80, lead = 7F.
    [InlineData(127, "7F")]
    // 128: cnt = 1, b[1] = 80 >= 80, so cnt = 2 and lead = ~7F = 80; sent: 80, b[1] = 80.
    [InlineData(128, "80 80")]
    // 0x3FFF: b = [_, FF, 3F], cnt = 2, bit = 0x40, 3F < 40, lead = 3F | ~7F = BF; sent: BF FF.
    [InlineData(0x3FFF, "BF FF")]
    // 0x4000: b = [_, 00, 40], cnt = 2, bit = 0x40, 40 >= 40, cnt = 3, lead = ~3F = C0; sent: C0 00 40.
    [InlineData(0x4000, "C0 00 40")]
    // 0x10000: b = [_, 00, 00, 01], cnt = 3, bit = 0x20, 01 < 20, lead = 01 | ~3F = C1; sent: C1 00 00.
    [InlineData(0x10000, "C1 00 00")]
    // 0x0FFFFFFF: cnt = 4, bit = 0x10, 0F < 10, lead = 0F | ~1F = EF; sent: EF FF FF FF.
    [InlineData(0x0FFFFFFF, "EF FF FF FF")]
    // -1: b = [_, FF, FF, FF, FF], cnt = 4, bit = 0x10, FF >= 10, cnt = 5, lead = ~0F = F0.
    [InlineData(-1, "F0 FF FF FF FF")]
    // int.MaxValue: b = [_, FF, FF, FF, 7F], 7F >= 10, cnt = 5, lead = F0.
    [InlineData(int.MaxValue, "F0 FF FF FF 7F")]
    // int.MinValue: b = [_, 00, 00, 00, 80], 80 >= 10, cnt = 5, lead = F0.
    [InlineData(int.MinValue, "F0 00 00 00 80")]
    public void VarIntMatchesHandWorkedBytes(int value, string hex)
    {
        byte[] expected = Hex(hex);
        Assert.Equal(expected, EncodeInt(value));
        Assert.Equal(expected, Reference((uint)value, 1, 4));
        Assert.Equal(value, VarInt.ReadVarInt(expected, out int consumed));
        Assert.Equal(expected.Length, consumed);
    }

    // Worked by hand from io.c's write_varlong(x, min): x is stored little-endian at b[1..8], cnt
    // drops to the highest non-zero byte but not below min, bit = 1 << (7 - cnt + min), and the
    // lead byte follows the same three cases as write_varint; b[0..cnt) is sent.
    [Theory]
    // 0, min 3: cnt = 3, bit = 0x80, b[3] = 0, lead = b[3] = 00; sent: 00 b[1] b[2] = 00 00 00.
    [InlineData(0L, 3, "00 00 00")]
    // 5, min 3: cnt = 3, lead = b[3] = 00; sent: 00 05 00 (the top byte leads, then b[1], b[2]).
    [InlineData(5L, 3, "00 05 00")]
    // 0x1000000, min 3: b[4] = 01, cnt = 4, bit = 0x40, 01 < 40, lead = 01 | ~7F = 81; sent: 81 00 00 00.
    [InlineData(0x1000000L, 3, "81 00 00 00")]
    // -1, min 3: cnt = 8, bit = 1 << 2 = 04, FF >= 04, cnt = 9, lead = ~03 = FC; then eight FF bytes.
    [InlineData(-1L, 3, "FC FF FF FF FF FF FF FF FF")]
    // 1 000 000 000 = 0x3B9ACA00, min 4: b = [_, 00, CA, 9A, 3B], cnt = 4, bit = 0x80, 3B < 80,
    // lead = b[4] = 3B; sent: 3B 00 CA 9A.
    [InlineData(1_000_000_000L, 4, "3B 00 CA 9A")]
    // 2^32 (a time in 2106), min 4: b[5] = 01, cnt = 5, bit = 0x40, lead = 01 | ~7F = 81; sent: 81 00 00 00 00.
    [InlineData(0x1_0000_0000L, 4, "81 00 00 00 00")]
    // 1965-01-01T00:00:00Z = -157766400 = 0xFFFFFFFFF698AD00, min 4: b = [_, 00, AD, 98, F6, FF, FF, FF, FF],
    // cnt = 8, bit = 1 << 3 = 08, FF >= 08, cnt = 9, lead = ~07 = F8; sent: F8 then b[1..8].
    [InlineData(-157766400L, 4, "F8 00 AD 98 F6 FF FF FF FF")]
    // long.MaxValue, min 4: b[8] = 7F >= 08, cnt = 9, lead = F8.
    [InlineData(long.MaxValue, 4, "F8 FF FF FF FF FF FF FF 7F")]
    public void VarLongMatchesHandWorkedBytes(long value, int minBytes, string hex)
    {
        byte[] expected = Hex(hex);
        Assert.Equal(expected, EncodeLong(value, minBytes));
        Assert.Equal(expected, Reference((ulong)value, minBytes, 8));
        Assert.Equal(value, VarInt.ReadVarLong(expected, minBytes, out int consumed));
        Assert.Equal(expected.Length, consumed);
    }

    [Fact]
    public void The1965TimestampIsTheExpectedValue() =>
        Assert.Equal(-157766400L, new DateTimeOffset(1965, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds());

    [Fact]
    public void VarIntRoundTripsAndMatchesTheReferenceEncoding() =>
        Props.Check(Props.AnyInt, value =>
        {
            byte[] encoded = EncodeInt(value);
            Assert.Equal(Reference((uint)value, 1, 4), encoded);
            Assert.Equal(encoded.Length, 1 + VarInt.ExtraBytes(encoded[0]));
            Assert.Equal(value, VarInt.ReadVarInt(encoded, out int consumed));
            Assert.Equal(encoded.Length, consumed);
        }, maxTest: 2000);

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void VarLongRoundTripsAndMatchesTheReferenceEncoding(int minBytes) =>
        Props.Check(Props.AnyLong, value =>
        {
            byte[] encoded = EncodeLong(value, minBytes);
            Assert.Equal(Reference((ulong)value, minBytes, 8), encoded);
            Assert.Equal(encoded.Length, minBytes + VarInt.ExtraBytes(encoded[0]));
            Assert.Equal(value, VarInt.ReadVarLong(encoded, minBytes, out int consumed));
            Assert.Equal(encoded.Length, consumed);
        }, maxTest: 2000);

    [Fact]
    public void VarIntLengthsFollowSevenBitsPerByte()
    {
        // Each extra byte adds 8 value bits but costs one bit of the lead byte: 7 bits per byte
        // in all, until the fifth byte, which carries the whole 32-bit value.
        Assert.Single(EncodeInt((1 << 7) - 1));
        Assert.Equal(2, EncodeInt(1 << 7).Length);
        Assert.Equal(2, EncodeInt((1 << 14) - 1).Length);
        Assert.Equal(3, EncodeInt(1 << 14).Length);
        Assert.Equal(3, EncodeInt((1 << 21) - 1).Length);
        Assert.Equal(4, EncodeInt(1 << 21).Length);
        Assert.Equal(4, EncodeInt((1 << 28) - 1).Length);
        Assert.Equal(5, EncodeInt(1 << 28).Length);
    }

    [Fact]
    public void VarIntWithFiveExtraBytesIsAnOverflow()
    {
        // A lead byte of F8 announces five extra bytes, more than an int32 can hold (io.c, read_varint).
        var ex = Assert.ThrowsAny<RsyncException>(() => VarInt.ReadVarInt(Hex("F8 00 00 00 00 00"), out _));
        Assert.Equal(ExitCodes.StreamIo, ex.ExitCode);
        Assert.Contains("read_varint", ex.Message);

        using var reader = new RsyncReader(new MemoryStream(Hex("F8 00 00 00 00 00")));
        var ex2 = Assert.ThrowsAny<RsyncException>(() => reader.ReadVarInt());
        Assert.Equal(ExitCodes.StreamIo, ex2.ExitCode);
    }

    [Fact]
    public void VarLongLongerThanNineBytesIsAnOverflow()
    {
        // With min 4, a lead byte of FC announces six more bytes: ten in all (io.c, read_varlong).
        var ex = Assert.ThrowsAny<RsyncException>(() => VarInt.ReadVarLong(Hex("FC 00 00 00 00 00 00 00 00 00"), 4, out _));
        Assert.Equal(ExitCodes.StreamIo, ex.ExitCode);
        // The same lead byte with min 3 is the legitimate nine-byte form.
        Assert.Equal(-1L, VarInt.ReadVarLong(Hex("FC FF FF FF FF FF FF FF FF"), 3, out int consumed));
        Assert.Equal(9, consumed);
    }
}
