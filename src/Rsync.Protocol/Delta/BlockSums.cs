using System.Numerics;
using System.Runtime.CompilerServices;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Delta;

/// <summary>
/// The receiver's block checksums for one basis file (rsync.h, sum_struct), indexed by weak sum
/// and by weak and strong sum for the sender's search. Flat arrays: no object per block.
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

    // The sender's index. Blocks with one weak sum, and blocks with identical weak and strong
    // sums, each count once, so sums a peer crafts to collide cannot make the search quadratic
    // (match.c, hash_search). Both tables hash with a key chosen here, which a peer cannot aim at.
    private int[] _buckets = [];    // by weak sum: a block for each distinct weak sum (its lowest)
    private int[] _nextWeak = [];   // from such a block, the next in its bucket
    private int[] _classes = [];    // by weak and strong sum: the lowest block with each distinct pair
    private int[] _nextClass = [];  // from such a block, the next in its bucket
    private int[] _nextSame = [];   // from any block, the next one with the same sums
    private int[]? _firstUsable;    // per distinct pair, its first block not yet passed (--inplace)
    private uint _multiplier;
    private int _shift;
    private int _classKey;
    private int _classMask;

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
        uint[] weak = capacity == 0 ? [] : new uint[capacity];
        byte[] strong = capacity == 0 ? [] : new byte[capacity * strongLength];
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

    /// <summary>Blocks of the full block length: all but a shorter last one.</summary>
    internal int FullLengthCount => Count > 0 && LengthOf(Count - 1) != BlockLength ? Count - 1 : Count;

    /// <summary>Indexes the full-length blocks by weak sum and by weak and strong sum together.</summary>
    internal void BuildIndex()
    {
        // No blocks (a new file, or one the generator sends whole) is most files of a fresh tree:
        // nothing is searched, so nothing is allocated.
        if (Count == 0)
            return;
        int bits = Math.Clamp(BitOperations.Log2((uint)Count) + 4, 4, 24);
        _shift = 32 - bits;
        _multiplier = ((uint)Random.Shared.Next() << 1) | 1;
        _classKey = Random.Shared.Next();
        _buckets = new int[1 << bits];
        Array.Fill(_buckets, -1);
        int classBits = Math.Clamp(BitOperations.Log2((uint)Math.Max(Count, 1)) + 2, 4, 26);
        _classMask = (1 << classBits) - 1;
        _classes = new int[1 << classBits];
        Array.Fill(_classes, -1);
        _nextWeak = new int[Count];
        _nextClass = new int[Count];
        _nextSame = new int[Count];
        _firstUsable = null;

        // The last block of each distinct pair so far, to keep each pair's blocks in order.
        var lastSame = new int[Count];
        for (int i = 0; i < FullLengthCount; i++)
        {
            _nextSame[i] = -1;
            uint weak = _weak[i];
            ReadOnlySpan<byte> strong = Strong(i);
            int slot = ClassSlot(weak, strong);
            int first = _classes[slot];
            while (first >= 0 && !(_weak[first] == weak && Strong(first).SequenceEqual(strong)))
                first = _nextClass[first];
            if (first >= 0)
            {
                _nextSame[lastSame[first]] = i;
                lastSame[first] = i;
                continue;
            }
            _nextClass[i] = _classes[slot];
            _classes[slot] = i;
            lastSame[i] = i;

            int bucket = Bucket(weak);
            int sameWeak = _buckets[bucket];
            while (sameWeak >= 0 && _weak[sameWeak] != weak)
                sameWeak = _nextWeak[sameWeak];
            if (sameWeak < 0)
            {
                _nextWeak[i] = _buckets[bucket];
                _buckets[bucket] = i;
            }
        }
        if (FullLengthCount < Count)
            _nextSame[Count - 1] = -1;
    }

    /// <summary>The weak-sum table's heads, for the sender's tight scan loop.</summary>
    internal int[] Buckets => _buckets;

    internal int BucketShift => _shift;

    internal uint BucketMultiplier => _multiplier;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Bucket(uint weak, uint multiplier, int shift) => (int)((weak * multiplier) >> shift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Bucket(uint weak) => (int)((weak * _multiplier) >> _shift);

    private int ClassSlot(uint weak, ReadOnlySpan<byte> strong)
    {
        var hash = default(HashCode);
        hash.Add(_classKey);
        hash.Add(weak);
        hash.AddBytes(strong);
        return hash.ToHashCode() & _classMask;
    }

    /// <summary>A full-length block that may be the first with weak sum <paramref name="weak"/> (check its sum), or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int FirstWithWeak(uint weak) => _buckets[Bucket(weak)];

    /// <summary>After a block from <see cref="FirstWithWeak"/> or this, the next with another weak sum, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int NextWeak(int index) => _nextWeak[index];

    /// <summary>A full-length block that may be the lowest with these sums (check them), or -1.</summary>
    internal int FirstWithSums(uint weak, ReadOnlySpan<byte> strong) => _classes[ClassSlot(weak, strong)];

    /// <summary>After a block from <see cref="FirstWithSums"/> or this, the next lowest of another pair, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int NextWithOtherSums(int index) => _nextClass[index];

    /// <summary>The next higher block with the same weak and strong sum as <paramref name="index"/>, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int NextSame(int index) => _nextSame[index];

    /// <summary>
    /// For --inplace: per lowest block of a distinct pair, the first of its blocks the search has
    /// not passed yet; starts as the lowest itself.
    /// </summary>
    internal int[] ResetFirstUsable()
    {
        _firstUsable ??= new int[Count];
        for (int i = 0; i < _firstUsable.Length; i++)
            _firstUsable[i] = i;
        return _firstUsable;
    }
}
