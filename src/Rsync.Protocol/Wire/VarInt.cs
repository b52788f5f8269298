using System.Buffers.Binary;

namespace NetRsync.Protocol.Wire;

/// <summary>
/// rsync's variable-length integers (io.c, write_varint / write_varlong): the count of leading
/// one bits in the first byte says how many little-endian bytes follow.
/// </summary>
public static class VarInt
{
    public const int MaxVarIntLength = 5;
    public const int MaxVarLongLength = 9;

    /// <summary>How many bytes follow a first byte (io.c, int_byte_extra).</summary>
    public static int ExtraBytes(byte first) => first switch
    {
        < 0x80 => 0,
        < 0xC0 => 1,
        < 0xE0 => 2,
        < 0xF0 => 3,
        < 0xF8 => 4,
        < 0xFC => 5,
        _ => 6,
    };

    public static int WriteVarInt(Span<byte> destination, int value) => WriteVarLong(destination, (uint)value, 1, 4);

    public static int WriteVarLong(Span<byte> destination, long value, int minBytes) => WriteVarLong(destination, value, minBytes, 8);

    private static int WriteVarLong(Span<byte> destination, long value, int minBytes, int width)
    {
        Span<byte> b = stackalloc byte[10];
        BinaryPrimitives.WriteInt64LittleEndian(b[1..], value);
        int count = width;
        while (count > minBytes && b[count] == 0)
            count--;
        int bit = 1 << (7 - count + minBytes);
        if (b[count] >= bit)
        {
            count++;
            b[0] = (byte)~(bit - 1);
        }
        else if (count > minBytes)
            b[0] = (byte)(b[count] | ~(bit * 2 - 1));
        else
            b[0] = b[count];
        b[..count].CopyTo(destination);
        return count;
    }

    /// <summary>Decodes a varint whose first byte and following bytes are given.</summary>
    public static int DecodeVarInt(byte first, ReadOnlySpan<byte> extra)
    {
        int extraCount = ExtraBytes(first);
        if (extraCount >= 5)
            throw new RsyncProtocolException("Overflow in read_varint()", ExitCodes.StreamIo);
        Span<byte> u = stackalloc byte[8];
        u.Clear();
        if (extraCount > 0)
        {
            extra[..extraCount].CopyTo(u);
            u[extraCount] = (byte)(first & ((1 << (8 - extraCount)) - 1));
        }
        else
            u[0] = first;
        return BinaryPrimitives.ReadInt32LittleEndian(u);
    }

    /// <summary>Decodes a varlong from its first <paramref name="minBytes"/> bytes and the extra bytes they announce.</summary>
    public static long DecodeVarLong(ReadOnlySpan<byte> head, ReadOnlySpan<byte> extra, int minBytes)
    {
        int extraCount = ExtraBytes(head[0]);
        if (minBytes + extraCount > 9)
            throw new RsyncProtocolException("Overflow in read_varlong()", ExitCodes.StreamIo);
        Span<byte> u = stackalloc byte[16];
        u.Clear();
        head[1..minBytes].CopyTo(u);
        if (extraCount > 0)
        {
            extra[..extraCount].CopyTo(u[(minBytes - 1)..]);
            u[minBytes + extraCount - 1] = (byte)(head[0] & ((1 << (8 - extraCount)) - 1));
        }
        else
            u[minBytes - 1] = head[0];
        return BinaryPrimitives.ReadInt64LittleEndian(u);
    }

    /// <summary>Reads a varint from the start of a span.</summary>
    public static int ReadVarInt(ReadOnlySpan<byte> source, out int consumed)
    {
        int extra = ExtraBytes(source[0]);
        consumed = 1 + extra;
        return DecodeVarInt(source[0], source.Slice(1, Math.Min(extra, source.Length - 1)));
    }

    /// <summary>Reads a varlong from the start of a span.</summary>
    public static long ReadVarLong(ReadOnlySpan<byte> source, int minBytes, out int consumed)
    {
        int extra = ExtraBytes(source[0]);
        consumed = minBytes + extra;
        return DecodeVarLong(source[..minBytes], source.Slice(minBytes, Math.Min(extra, source.Length - minBytes)), minBytes);
    }
}
