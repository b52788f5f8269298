using System.Numerics;
using System.Runtime.CompilerServices;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Delta;

/// <summary>
/// The receiver's block checksums for one basis file (rsync.h, sum_struct), indexed by weak
/// checksum for the sender's search. Flat arrays: no object per block.
/// </summary>
public sealed class BlockSums
{
    // Guards against a peer announcing absurd counts; 2^26 blocks of 128 KiB covers 8 TiB.
    private const int MaxBlockCount = 1 << 26;

    // Blocks room is made for before any sum arrives; a longer list grows as its sums are read, so a
    // count alone never makes us allocate.
    private const int InitialReadCapacity = 1 << 16;

    private readonly uint[] _weak;
    private readonly byte[] _strong;
    private int[] _buckets = [];
    private int[] _next = [];
    private int _shift;

    public BlockSums(int count, int blockLength, int strongLength, int remainder)
    {
        Count = count;
        BlockLength = blockLength;
        StrongLength = strongLength;
        Remainder = remainder;
        _weak = new uint[count];
        _strong = new byte[(long)count * strongLength];
    }

    private BlockSums(int count, int blockLength, int strongLength, int remainder, uint[] weak, byte[] strong)
    {
        Count = count;
        BlockLength = blockLength;
        StrongLength = strongLength;
        Remainder = remainder;
        _weak = weak;
        _strong = strong;
    }

    public int Count { get; }
    public int BlockLength { get; }
    public int StrongLength { get; }
    public int Remainder { get; }

    public int LengthOf(int index) => index == Count - 1 && Remainder != 0 ? Remainder : BlockLength;

    public long FileLength => Count == 0 ? 0 : (long)(Count - 1) * BlockLength + LengthOf(Count - 1);

    public uint Weak(int index) => _weak[index];

    public ReadOnlySpan<byte> Strong(int index) => _strong.AsSpan(index * StrongLength, StrongLength);

    /// <summary>Reads a sum head and the sums that follow it (io.c, read_sum_head; sender.c, receive_sums).</summary>
    internal static BlockSums Read(RsyncReader reader, int protocol, int maxStrongLength = 16)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > MaxBlockCount)
            throw new RsyncProtocolException($"Invalid checksum count {count} [sender]");
        int blockLength = reader.ReadInt32();
        if (blockLength < 0 || blockLength > ProtocolLimits.MaxBlockSize)
            throw new RsyncProtocolException($"Invalid block length {blockLength} [sender]");
        int strongLength = reader.ReadInt32();
        if (strongLength < 0 || strongLength > maxStrongLength)
            throw new RsyncProtocolException($"Invalid checksum length {strongLength} [sender]");
        int remainder = reader.ReadInt32();
        if (remainder < 0 || remainder > blockLength)
            throw new RsyncProtocolException($"Invalid remainder length {remainder} [sender]");
        if (count > 0 && blockLength == 0)
            throw new RsyncProtocolException($"Invalid block length {blockLength} [sender]");

        int capacity = Math.Min(count, InitialReadCapacity);
        var weak = new uint[capacity];
        var strong = new byte[capacity * strongLength];
        for (int i = 0; i < count; i++)
        {
            if (i == weak.Length)
            {
                capacity = (int)Math.Min(2L * capacity, count);
                Array.Resize(ref weak, capacity);
                Array.Resize(ref strong, capacity * strongLength);
            }
            weak[i] = (uint)reader.ReadInt32();
            reader.ReadBytes(strong.AsSpan(i * strongLength, strongLength));
        }
        var sums = new BlockSums(count, blockLength, strongLength, remainder, weak, strong);
        sums.BuildIndex();
        return sums;
    }

    internal void Write(RsyncWriter writer)
    {
        writer.WriteInt32(Count);
        writer.WriteInt32(BlockLength);
        writer.WriteInt32(StrongLength);
        writer.WriteInt32(Remainder);
        for (int i = 0; i < Count; i++)
        {
            writer.WriteInt32((int)_weak[i]);
            writer.WriteBytes(Strong(i));
        }
    }

    internal void Set(int index, uint weak, ReadOnlySpan<byte> strong)
    {
        _weak[index] = weak;
        strong[..StrongLength].CopyTo(_strong.AsSpan(index * StrongLength));
    }

    /// <summary>Chains blocks by weak checksum; earlier blocks come first in each chain.</summary>
    internal void BuildIndex()
    {
        int bits = Math.Clamp(BitOperations.Log2((uint)Math.Max(Count, 1)) + 4, 10, 24);
        _shift = 32 - bits;
        _buckets = new int[1 << bits];
        Array.Fill(_buckets, -1);
        _next = new int[Count];
        for (int i = Count - 1; i >= 0; i--)
        {
            int b = Bucket(_weak[i]);
            _next[i] = _buckets[b];
            _buckets[b] = i;
        }
    }

    /// <summary>The chain heads, for the sender's tight scan loop.</summary>
    internal int[] Buckets => _buckets;

    internal int BucketShift => _shift;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Bucket(uint weak, int shift) => (int)((weak * 0x9E3779B1u) >> shift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Bucket(uint weak) => (int)((weak * 0x9E3779B1u) >> _shift);

    /// <summary>First block whose weak sum may equal <paramref name="weak"/>, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int First(uint weak) => _buckets[Bucket(weak)];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Next(int index) => _next[index];
}
