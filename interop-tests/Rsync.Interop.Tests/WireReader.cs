using System.Buffers.Binary;

namespace NetRsync.Interop.Tests;

/// <summary>
/// The integer and index decoding of rsync's io.c, over whatever delivers the data bytes: the
/// scripted peers (<see cref="FakeDaemon"/>, <see cref="RawDaemonClient"/>) read their side with it.
/// </summary>
public abstract class WireReader
{
    private int _prevPositiveIn = -1;
    private int _prevNegativeIn = 1;

    /// <summary>Fills <paramref name="into"/> with the next data bytes.</summary>
    protected abstract void ReadExactly(Span<byte> into);

    public byte[] ReadBytes(int n)
    {
        byte[] b = new byte[n];
        ReadExactly(b);
        return b;
    }

    public int ReadByte()
    {
        Span<byte> b = stackalloc byte[1];
        ReadExactly(b);
        return b[0];
    }

    public int ReadInt32()
    {
        Span<byte> b = stackalloc byte[4];
        ReadExactly(b);
        return BinaryPrimitives.ReadInt32LittleEndian(b);
    }

    public int ReadShortInt()
    {
        Span<byte> b = stackalloc byte[2];
        ReadExactly(b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    /// <summary>io.c read_ndx: NDX_DONE is -1, negative indexes come after 0xFF.</summary>
    public int ReadNdx()
    {
        int first = ReadByte();
        bool negative = false;
        if (first == 0xFF)
        {
            negative = true;
            first = ReadByte();
        }
        else if (first == 0)
        {
            return -1;
        }
        int num;
        int prev = negative ? _prevNegativeIn : _prevPositiveIn;
        if (first == 0xFE)
        {
            int b0 = ReadByte();
            int b1 = ReadByte();
            if ((b0 & 0x80) != 0)
            {
                int b2 = ReadByte();
                int b3 = ReadByte();
                num = b1 | (b2 << 8) | (b3 << 16) | ((b0 & 0x7F) << 24);
            }
            else
            {
                num = (b0 << 8) + b1 + prev;
            }
        }
        else
        {
            num = first + prev;
        }
        if (negative)
        {
            _prevNegativeIn = num;
            return -num;
        }
        _prevPositiveIn = num;
        return num;
    }
}
