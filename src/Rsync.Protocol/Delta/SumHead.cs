using System.Buffers;
using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Delta;

/// <summary>The block layout the generator picks for a basis file (generator.c, sum_sizes_sqroot).</summary>
public readonly record struct SumHead(int Count, int BlockLength, int StrongLength, int Remainder)
{
    public const int MinBlockLength = 700;
    private const int BlockSumBias = 10;
    public const int ShortStrongLength = 2;

    /// <summary>Block length near the square root of the file, a multiple of 8, within rsync's limits; strong sums only as long as the file needs.</summary>
    public static SumHead For(long length, bool fullStrongSums, int fixedBlockLength = 0, int maxStrongLength = StrongChecksum.Md5Length)
    {
        int blockLength;
        if (fixedBlockLength > 0)
            blockLength = fixedBlockLength;
        else if (length <= (long)MinBlockLength * MinBlockLength)
            blockLength = MinBlockLength;
        else
        {
            int c = 1;
            for (long l = length; (l >>= 2) != 0; c <<= 1)
            {
            }
            if (c < 0 || c >= ProtocolLimits.MaxBlockSize)
                blockLength = ProtocolLimits.MaxBlockSize;
            else
            {
                blockLength = 0;
                do
                {
                    blockLength |= c;
                    if (length < (long)blockLength * blockLength)
                        blockLength &= ~c;
                    c >>= 1;
                }
                while (c >= 8);
                blockLength = Math.Max(blockLength, MinBlockLength);
            }
        }

        int strongLength;
        if (fullStrongSums)
            strongLength = maxStrongLength;
        else
        {
            // Enough strong-sum bits that a false match over the whole file stays unlikely.
            int b = BlockSumBias;
            for (long l = length; (l >>= 1) != 0; b += 2)
            {
            }
            for (int c = blockLength; (c >>= 1) != 0 && b != 0; b--)
            {
            }
            strongLength = (b + 1 - 32 + 7) / 8;
            strongLength = Math.Clamp(strongLength, ShortStrongLength, maxStrongLength);
        }
        int remainder = (int)(length % blockLength);
        long count = length / blockLength + (remainder != 0 ? 1 : 0);
        if (count > int.MaxValue)
            throw new RsyncException("file is too large for checksum sending", ExitCodes.FileIo);
        return new SumHead((int)count, blockLength, strongLength, remainder);
    }

    public static SumHead Empty => default;

    internal void Write(RsyncWriter writer)
    {
        writer.WriteInt32(Count);
        writer.WriteInt32(BlockLength);
        writer.WriteInt32(StrongLength);
        writer.WriteInt32(Remainder);
    }

    internal static SumHead Read(RsyncReader reader, int maxStrongLength = StrongChecksum.Md5Length)
    {
        int count = reader.ReadInt32();
        int blockLength = reader.ReadInt32();
        int strongLength = reader.ReadInt32();
        int remainder = reader.ReadInt32();
        if (count < 0)
            throw new RsyncProtocolException($"Invalid checksum count {count} [receiver]");
        if (blockLength < 0 || blockLength > ProtocolLimits.MaxBlockSize)
            throw new RsyncProtocolException($"Invalid block length {blockLength} [receiver]");
        if (strongLength < 0 || strongLength > maxStrongLength)
            throw new RsyncProtocolException($"Invalid checksum length {strongLength} [receiver]");
        if (remainder < 0 || remainder > blockLength)
            throw new RsyncProtocolException($"Invalid remainder length {remainder} [receiver]");
        return new SumHead(count, blockLength, strongLength, remainder);
    }

    /// <summary>Writes the head and each block's weak and strong sum (generator.c, generate_and_send_sums).</summary>
    internal static void WriteSums(RsyncWriter writer, SafeFileHandle basis, long length, SumHead head, StrongChecksum strong)
    {
        head.Write(writer);
        if (head.Count == 0)
            return;
        // Once per file with a basis: a pooled buffer, not a large object each time.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(256 * 1024, head.BlockLength));
        try
        {
            Span<byte> digest = stackalloc byte[ChecksumKinds.MaxLength];
            long offset = 0;
            int filled = 0;
            int start = 0;
            for (int i = 0; i < head.Count; i++)
            {
                int n = (int)Math.Min(head.BlockLength, length - (long)i * head.BlockLength);
                if (filled - start < n)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                    filled -= start;
                    offset += start;
                    start = 0;
                    while (filled < n)
                    {
                        int got = RandomAccess.Read(basis, buffer.AsSpan(filled), offset + filled);
                        if (got <= 0)
                        {
                            // A basis that shrank under us: zeros keep the layout; the sender simply finds fewer matches.
                            buffer.AsSpan(filled, n - filled).Clear();
                            filled = n;
                            break;
                        }
                        filled += got;
                    }
                }
                ReadOnlySpan<byte> block = buffer.AsSpan(start, n);
                writer.WriteInt32((int)RollingChecksum.Compute(block));
                strong.BlockSum(block, digest);
                writer.WriteBytes(digest[..head.StrongLength]);
                start += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
