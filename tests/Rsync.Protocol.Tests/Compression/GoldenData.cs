using System.Buffers.Binary;
using System.Text;

namespace NetRsync.Protocol.Tests.Compression;

/// <summary>Deterministic test data (xorshift), so a capture made from it can be checked later.</summary>
internal sealed class TestBytes(ulong seed)
{
    private ulong _state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;

    public byte[] Next(int length)
    {
        var bytes = new byte[length];
        Fill(bytes);
        return bytes;
    }

    public void Fill(Span<byte> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            _state ^= _state << 13;
            _state ^= _state >> 7;
            _state ^= _state << 17;
            destination[i] = (byte)(_state >> 24);
        }
    }
}

/// <summary>
/// The two files the golden token streams were captured from (see Golden/README.md). File "a":
/// a 300000-byte basis sent with --block-size=100000, so matched blocks are longer than 0xffff,
/// and a target whose literal data after each match repeats parts of the matched block: the part
/// that only a protocol 30 window holds (the block's start fed twice) and the part that only a
/// protocol 31 window holds (the block's end), and the literal data before the first match,
/// which only a window without the matched data holds (zlibx). File "b": a short basis and literal data repeating
/// file "a"'s literal data, which only a history spanning files (zstd) can refer to.
/// </summary>
internal static class GoldenData
{
    public const int BlockSize = 100_000;

    public static readonly byte[] BasisA = new TestBytes(2026).Next(300_000);
    public static readonly byte[] PrefixA = new TestBytes(5).Next(300);
    public static readonly byte[] LiteralA1 = Concat(BasisA[20_000..20_600], new TestBytes(7).Next(100), BasisA[80_000..80_600], PrefixA);
    public static readonly byte[] LiteralA2 = Concat(BasisA[210_000..210_400], Encoding.ASCII.GetBytes("the end of file a\n"), BasisA[290_000..290_400]);
    public static readonly byte[] TargetA = Concat(PrefixA, BasisA[..100_000], LiteralA1, BasisA[100_000..], LiteralA2);

    public static readonly byte[] BasisB = new TestBytes(77).Next(1000);
    public static readonly byte[] TargetB = Concat(LiteralA1, Encoding.ASCII.GetBytes("file b says hello hello hello\n"), BasisB);

    /// <summary>Writes src/a, src/b (targets) and dst/a, dst/b (bases) under <paramref name="root"/>.</summary>
    public static void WriteTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "src"));
        Directory.CreateDirectory(Path.Combine(root, "dst"));
        File.WriteAllBytes(Path.Combine(root, "src", "a"), TargetA);
        File.WriteAllBytes(Path.Combine(root, "src", "b"), TargetB);
        File.WriteAllBytes(Path.Combine(root, "dst", "a"), BasisA);
        File.WriteAllBytes(Path.Combine(root, "dst", "b"), BasisB);
    }

    /// <summary>The sum header rsync sends for a basis of this length (count, block length, remainder).</summary>
    public static (int Count, int BlockLength, int Remainder) SumHead(int basisLength) =>
        ((basisLength + BlockSize - 1) / BlockSize, BlockSize, basisLength % BlockSize);

    /// <summary>
    /// Finds a file's token stream in a batch file: it starts right after the file's sum header
    /// (count, block length, checksum length, remainder as 32-bit ints) and ends at END_FLAG.
    /// </summary>
    public static (int Start, int End) FindTokenStream(ReadOnlySpan<byte> batch, int basisLength)
    {
        var (count, blockLength, remainder) = SumHead(basisLength);
        for (int i = 0; i + 16 <= batch.Length; i++)
        {
            if (BinaryPrimitives.ReadInt32LittleEndian(batch[i..]) != count
                || BinaryPrimitives.ReadInt32LittleEndian(batch[(i + 4)..]) != blockLength
                || BinaryPrimitives.ReadInt32LittleEndian(batch[(i + 8)..]) is < 2 or > 16
                || BinaryPrimitives.ReadInt32LittleEndian(batch[(i + 12)..]) != remainder)
                continue;
            int start = i + 16;
            return (start, TokenStreamEnd(batch, start));
        }
        throw new InvalidDataException($"no sum header for a {basisLength}-byte basis in the batch");
    }

    /// <summary>Walks a compressed token stream's framing (token.c flag bytes) to just past its END_FLAG.</summary>
    public static int TokenStreamEnd(ReadOnlySpan<byte> stream, int position)
    {
        while (true)
        {
            int flag = stream[position];
            if (flag == 0)
                return position + 1;
            if ((flag & 0xc0) == 0x40)
                position += 2 + (((flag & 0x3f) << 8) | stream[position + 1]);
            else if (flag >= 0x80)
                position += (flag & 0x40) != 0 ? 3 : 1;
            else if (flag is 0x20 or 0x21)
                position += flag == 0x21 ? 7 : 5;
            else
                throw new InvalidDataException($"flag 0x{flag:x2} at {position}");
        }
    }

    private static byte[] Concat(params byte[][] parts)
    {
        var all = new byte[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (var part in parts)
        {
            part.CopyTo(all, offset);
            offset += part.Length;
        }
        return all;
    }
}
