using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace NetRsync.Protocol.Checksums;

/// <summary>
/// MD5 (RFC 1321), incremental, in managed code. Every file and every block of a transfer is
/// hashed, most blocks a few hundred bytes: a call into OpenSSL per block costs more than the
/// block, and loading OpenSSL into each connection costs megabytes of resident memory.
/// </summary>
internal struct Md5
{
    public const int HashLength = 16;
    private const int BlockLength = 64;

    private uint _a, _b, _c, _d;
    private ulong _length;
    private Tail _tail;

    [InlineArray(BlockLength)]
    private struct Tail
    {
        private byte _element;
    }

    public static Md5 Create()
    {
        var md5 = default(Md5);
        md5.Reset();
        return md5;
    }

    public void Reset()
    {
        (_a, _b, _c, _d) = (0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u);
        _length = 0;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        int held = (int)(_length & (BlockLength - 1));
        _length += (ulong)data.Length;
        Span<byte> tail = _tail;
        if (held > 0)
        {
            int take = Math.Min(BlockLength - held, data.Length);
            data[..take].CopyTo(tail[held..]);
            data = data[take..];
            if (held + take < BlockLength)
                return;
            Compress(tail);
        }
        int whole = data.Length & ~(BlockLength - 1);
        if (whole > 0)
            Compress(data[..whole]);
        data[whole..].CopyTo(tail);
    }

    /// <summary>Writes the 16-byte digest and starts over.</summary>
    public void Finish(Span<byte> destination)
    {
        ulong bits = _length << 3;
        int held = (int)(_length & (BlockLength - 1));
        Span<byte> tail = _tail;
        tail[held] = 0x80;
        tail[(held + 1)..].Clear();
        if (held >= BlockLength - 8)
        {
            Compress(tail);
            tail.Clear();
        }
        BinaryPrimitives.WriteUInt64LittleEndian(tail[(BlockLength - 8)..], bits);
        Compress(tail);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, _a);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], _b);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], _c);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], _d);
        Reset();
    }

    public static void HashData(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        var md5 = Create();
        md5.Append(data);
        md5.Finish(destination);
    }

    // The 64 steps unrolled; the registers rotate roles instead of values. Each step adds the word
    // and constant first, so only the round function waits on the step before.
    private void Compress(ReadOnlySpan<byte> blocks)
    {
        uint a = _a, b = _b, c = _c, d = _d;
        while (blocks.Length >= BlockLength)
        {
            ReadOnlySpan<byte> block = blocks[..BlockLength];
            uint x0 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(0, 4));
            uint x1 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(4, 4));
            uint x2 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(8, 4));
            uint x3 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(12, 4));
            uint x4 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(16, 4));
            uint x5 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(20, 4));
            uint x6 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(24, 4));
            uint x7 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(28, 4));
            uint x8 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(32, 4));
            uint x9 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(36, 4));
            uint x10 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(40, 4));
            uint x11 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(44, 4));
            uint x12 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(48, 4));
            uint x13 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(52, 4));
            uint x14 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(56, 4));
            uint x15 = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(60, 4));
            uint a0 = a, b0 = b, c0 = c, d0 = d;
            a = b + BitOperations.RotateLeft(a + x0 + 0xd76aa478u + (d ^ (b & (c ^ d))), 7);
            d = a + BitOperations.RotateLeft(d + x1 + 0xe8c7b756u + (c ^ (a & (b ^ c))), 12);
            c = d + BitOperations.RotateLeft(c + x2 + 0x242070dbu + (b ^ (d & (a ^ b))), 17);
            b = c + BitOperations.RotateLeft(b + x3 + 0xc1bdceeeu + (a ^ (c & (d ^ a))), 22);
            a = b + BitOperations.RotateLeft(a + x4 + 0xf57c0fafu + (d ^ (b & (c ^ d))), 7);
            d = a + BitOperations.RotateLeft(d + x5 + 0x4787c62au + (c ^ (a & (b ^ c))), 12);
            c = d + BitOperations.RotateLeft(c + x6 + 0xa8304613u + (b ^ (d & (a ^ b))), 17);
            b = c + BitOperations.RotateLeft(b + x7 + 0xfd469501u + (a ^ (c & (d ^ a))), 22);
            a = b + BitOperations.RotateLeft(a + x8 + 0x698098d8u + (d ^ (b & (c ^ d))), 7);
            d = a + BitOperations.RotateLeft(d + x9 + 0x8b44f7afu + (c ^ (a & (b ^ c))), 12);
            c = d + BitOperations.RotateLeft(c + x10 + 0xffff5bb1u + (b ^ (d & (a ^ b))), 17);
            b = c + BitOperations.RotateLeft(b + x11 + 0x895cd7beu + (a ^ (c & (d ^ a))), 22);
            a = b + BitOperations.RotateLeft(a + x12 + 0x6b901122u + (d ^ (b & (c ^ d))), 7);
            d = a + BitOperations.RotateLeft(d + x13 + 0xfd987193u + (c ^ (a & (b ^ c))), 12);
            c = d + BitOperations.RotateLeft(c + x14 + 0xa679438eu + (b ^ (d & (a ^ b))), 17);
            b = c + BitOperations.RotateLeft(b + x15 + 0x49b40821u + (a ^ (c & (d ^ a))), 22);
            a = b + BitOperations.RotateLeft(a + x1 + 0xf61e2562u + (c & ~d) + (b & d), 5);
            d = a + BitOperations.RotateLeft(d + x6 + 0xc040b340u + (b & ~c) + (a & c), 9);
            c = d + BitOperations.RotateLeft(c + x11 + 0x265e5a51u + (a & ~b) + (d & b), 14);
            b = c + BitOperations.RotateLeft(b + x0 + 0xe9b6c7aau + (d & ~a) + (c & a), 20);
            a = b + BitOperations.RotateLeft(a + x5 + 0xd62f105du + (c & ~d) + (b & d), 5);
            d = a + BitOperations.RotateLeft(d + x10 + 0x02441453u + (b & ~c) + (a & c), 9);
            c = d + BitOperations.RotateLeft(c + x15 + 0xd8a1e681u + (a & ~b) + (d & b), 14);
            b = c + BitOperations.RotateLeft(b + x4 + 0xe7d3fbc8u + (d & ~a) + (c & a), 20);
            a = b + BitOperations.RotateLeft(a + x9 + 0x21e1cde6u + (c & ~d) + (b & d), 5);
            d = a + BitOperations.RotateLeft(d + x14 + 0xc33707d6u + (b & ~c) + (a & c), 9);
            c = d + BitOperations.RotateLeft(c + x3 + 0xf4d50d87u + (a & ~b) + (d & b), 14);
            b = c + BitOperations.RotateLeft(b + x8 + 0x455a14edu + (d & ~a) + (c & a), 20);
            a = b + BitOperations.RotateLeft(a + x13 + 0xa9e3e905u + (c & ~d) + (b & d), 5);
            d = a + BitOperations.RotateLeft(d + x2 + 0xfcefa3f8u + (b & ~c) + (a & c), 9);
            c = d + BitOperations.RotateLeft(c + x7 + 0x676f02d9u + (a & ~b) + (d & b), 14);
            b = c + BitOperations.RotateLeft(b + x12 + 0x8d2a4c8au + (d & ~a) + (c & a), 20);
            a = b + BitOperations.RotateLeft(a + x5 + 0xfffa3942u + (c ^ d ^ b), 4);
            d = a + BitOperations.RotateLeft(d + x8 + 0x8771f681u + (b ^ c ^ a), 11);
            c = d + BitOperations.RotateLeft(c + x11 + 0x6d9d6122u + (a ^ b ^ d), 16);
            b = c + BitOperations.RotateLeft(b + x14 + 0xfde5380cu + (d ^ a ^ c), 23);
            a = b + BitOperations.RotateLeft(a + x1 + 0xa4beea44u + (c ^ d ^ b), 4);
            d = a + BitOperations.RotateLeft(d + x4 + 0x4bdecfa9u + (b ^ c ^ a), 11);
            c = d + BitOperations.RotateLeft(c + x7 + 0xf6bb4b60u + (a ^ b ^ d), 16);
            b = c + BitOperations.RotateLeft(b + x10 + 0xbebfbc70u + (d ^ a ^ c), 23);
            a = b + BitOperations.RotateLeft(a + x13 + 0x289b7ec6u + (c ^ d ^ b), 4);
            d = a + BitOperations.RotateLeft(d + x0 + 0xeaa127fau + (b ^ c ^ a), 11);
            c = d + BitOperations.RotateLeft(c + x3 + 0xd4ef3085u + (a ^ b ^ d), 16);
            b = c + BitOperations.RotateLeft(b + x6 + 0x04881d05u + (d ^ a ^ c), 23);
            a = b + BitOperations.RotateLeft(a + x9 + 0xd9d4d039u + (c ^ d ^ b), 4);
            d = a + BitOperations.RotateLeft(d + x12 + 0xe6db99e5u + (b ^ c ^ a), 11);
            c = d + BitOperations.RotateLeft(c + x15 + 0x1fa27cf8u + (a ^ b ^ d), 16);
            b = c + BitOperations.RotateLeft(b + x2 + 0xc4ac5665u + (d ^ a ^ c), 23);
            a = b + BitOperations.RotateLeft(a + x0 + 0xf4292244u + (c ^ (b | ~d)), 6);
            d = a + BitOperations.RotateLeft(d + x7 + 0x432aff97u + (b ^ (a | ~c)), 10);
            c = d + BitOperations.RotateLeft(c + x14 + 0xab9423a7u + (a ^ (d | ~b)), 15);
            b = c + BitOperations.RotateLeft(b + x5 + 0xfc93a039u + (d ^ (c | ~a)), 21);
            a = b + BitOperations.RotateLeft(a + x12 + 0x655b59c3u + (c ^ (b | ~d)), 6);
            d = a + BitOperations.RotateLeft(d + x3 + 0x8f0ccc92u + (b ^ (a | ~c)), 10);
            c = d + BitOperations.RotateLeft(c + x10 + 0xffeff47du + (a ^ (d | ~b)), 15);
            b = c + BitOperations.RotateLeft(b + x1 + 0x85845dd1u + (d ^ (c | ~a)), 21);
            a = b + BitOperations.RotateLeft(a + x8 + 0x6fa87e4fu + (c ^ (b | ~d)), 6);
            d = a + BitOperations.RotateLeft(d + x15 + 0xfe2ce6e0u + (b ^ (a | ~c)), 10);
            c = d + BitOperations.RotateLeft(c + x6 + 0xa3014314u + (a ^ (d | ~b)), 15);
            b = c + BitOperations.RotateLeft(b + x13 + 0x4e0811a1u + (d ^ (c | ~a)), 21);
            a = b + BitOperations.RotateLeft(a + x4 + 0xf7537e82u + (c ^ (b | ~d)), 6);
            d = a + BitOperations.RotateLeft(d + x11 + 0xbd3af235u + (b ^ (a | ~c)), 10);
            c = d + BitOperations.RotateLeft(c + x2 + 0x2ad7d2bbu + (a ^ (d | ~b)), 15);
            b = c + BitOperations.RotateLeft(b + x9 + 0xeb86d391u + (d ^ (c | ~a)), 21);
            a += a0;
            b += b0;
            c += c0;
            d += d0;
            blocks = blocks[BlockLength..];
        }
        (_a, _b, _c, _d) = (a, b, c, d);
    }
}
