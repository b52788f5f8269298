using System.Runtime.CompilerServices;

namespace NetRsync.Protocol.Checksums;

/// <summary>
/// rsync's weak block checksum (checksum.c, get_checksum1): two 16-bit running sums over the
/// bytes taken as signed chars, packed as s1 | s2 &lt;&lt; 16. It rolls one byte at a time.
/// </summary>
public struct RollingChecksum
{
    private uint _s1;
    private uint _s2;

    public readonly uint Value => (_s1 & 0xFFFF) | (_s2 << 16);

    /// <summary>The raw running sums, for loops that keep them in registers.</summary>
    internal uint S1 { readonly get => _s1; set => _s1 = value; }

    internal uint S2 { readonly get => _s2; set => _s2 = value; }

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var rc = default(RollingChecksum);
        rc.Reset(data);
        return rc.Value;
    }

    public void Reset(ReadOnlySpan<byte> data)
    {
        uint s1 = 0, s2 = 0;
        ref byte start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(data);
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            int b0 = (sbyte)Unsafe.Add(ref start, i);
            int b1 = (sbyte)Unsafe.Add(ref start, i + 1);
            int b2 = (sbyte)Unsafe.Add(ref start, i + 2);
            int b3 = (sbyte)Unsafe.Add(ref start, i + 3);
            s2 += (uint)(4 * ((int)s1 + b0) + 3 * b1 + 2 * b2 + b3);
            s1 += (uint)(b0 + b1 + b2 + b3);
        }
        for (; i < data.Length; i++)
        {
            s1 += (uint)(sbyte)Unsafe.Add(ref start, i);
            s2 += s1;
        }
        _s1 = s1;
        _s2 = s2;
    }

    /// <summary>Slides a window of <paramref name="windowLength"/> bytes forward by one byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Roll(byte outgoing, byte incoming, int windowLength)
    {
        int o = (sbyte)outgoing;
        _s1 = _s1 - (uint)o + (uint)(sbyte)incoming;
        _s2 = _s2 - (uint)(windowLength * o) + _s1;
    }

    /// <summary>Drops the first byte of the window without adding one (the tail of a file).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RollOut(byte outgoing, int windowLength)
    {
        int o = (sbyte)outgoing;
        _s1 -= (uint)o;
        _s2 -= (uint)(windowLength * o);
    }
}
