using System.Numerics;
using System.Runtime.CompilerServices;

namespace NetRsync.Protocol.Collections;

/// <summary>
/// A list that grows by adding blocks rather than by copying, for tables that grow through a whole
/// transfer (one row per directory). A <see cref="List{T}"/> of ten thousand rows doubles into the
/// large-object heap, where each outgrown array stays until a full collection; no block here is
/// larger than 32 KiB, and growing leaves nothing behind but the small block table.
/// </summary>
internal sealed class ChunkedList<T>
{
    private static readonly int Shift = BitOperations.Log2((uint)Math.Max(16, 32 * 1024 / Unsafe.SizeOf<T>()));
    private static readonly int Mask = (1 << Shift) - 1;

    // The first block starts small and doubles up to a whole block, so a short table stays small.
    private T[][] _blocks = [new T[4]];

    public int Count { get; private set; }

    public ref T this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(index), index, $"not below {Count}");
            return ref _blocks[index >> Shift][index & Mask];
        }
    }

    public void Add(T item)
    {
        int block = Count >> Shift, slot = Count & Mask;
        if (block == 0 && slot == _blocks[0].Length)
            Array.Resize(ref _blocks[0], slot * 2);
        else if (block > 0 && slot == 0)
        {
            if (block == _blocks.Length)
                Array.Resize(ref _blocks, block * 2);
            _blocks[block] = new T[1 << Shift];
        }
        _blocks[block][slot] = item;
        Count++;
    }
}
