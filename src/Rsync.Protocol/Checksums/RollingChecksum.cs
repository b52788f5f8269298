using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
        int done = 0;
        // The vector loop pays off from a couple of chunks on; rsync takes the same path (simd-checksum-x86_64.cpp).
        if (Avx2.IsSupported && data.Length >= 2 * Vector256<byte>.Count)
            done = SumAvx2(data, out s1, out s2);
        else if (Ssse3.IsSupported && data.Length >= 2 * Vector128<byte>.Count)
            done = SumSsse3(data, out s1, out s2);
        ContinueScalar(data[done..], ref s1, ref s2);
        _s1 = s1;
        _s2 = s2;
    }

    /// <summary>The plain loop, which the vector paths must always agree with.</summary>
    internal static uint ComputeScalar(ReadOnlySpan<byte> data)
    {
        uint s1 = 0, s2 = 0;
        ContinueScalar(data, ref s1, ref s2);
        return (s1 & 0xFFFF) | (s2 << 16);
    }

    /// <summary>The 16-byte path alone, for machines where the wider one would be taken.</summary>
    internal static uint ComputeSsse3(ReadOnlySpan<byte> data)
    {
        uint s1 = 0, s2 = 0;
        int done = data.Length >= Vector128<byte>.Count ? SumSsse3(data, out s1, out s2) : 0;
        ContinueScalar(data[done..], ref s1, ref s2);
        return (s1 & 0xFFFF) | (s2 << 16);
    }

    private static void ContinueScalar(ReadOnlySpan<byte> data, ref uint s1Ref, ref uint s2Ref)
    {
        uint s1 = s1Ref, s2 = s2Ref;
        ref byte start = ref MemoryMarshal.GetReference(data);
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
        s1Ref = s1;
        s2Ref = s2;
    }

    // Over a chunk of n bytes c[0..n) entered with running sum S: s1 gains sum(c), s2 gains
    // n*S + sum((n - t) * c[t]). pmaddubsw multiplies the weights (unsigned) by the bytes (signed)
    // and adds pairs: at most 2 * 32 * 128, inside a short. Lane sums wrap as rsync's uint32 sums do.

    /// <summary>Sums whole 32-byte chunks from the start; returns how many bytes that covered.</summary>
    private static int SumAvx2(ReadOnlySpan<byte> data, out uint s1, out uint s2)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        int chunks = data.Length / Vector256<byte>.Count;
        Vector256<byte> weights = Vector256.Create(
            (byte)32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
            16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
        Vector256<byte> ones = Vector256.Create((byte)1);
        Vector256<short> pairs = Vector256.Create((short)1);
        Vector256<int> sums = Vector256<int>.Zero;      // sum(c) so far, per lane
        Vector256<int> before = Vector256<int>.Zero;    // the running sums each chunk entered with
        Vector256<int> weighted = Vector256<int>.Zero;  // sum((32 - t) * c[t]) over the chunks
        for (int i = 0; i < chunks; i++)
        {
            Vector256<sbyte> c = Vector256.LoadUnsafe(ref start, (nuint)(i * Vector256<byte>.Count)).AsSByte();
            before += sums;
            sums += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, c), pairs);
            weighted += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(weights, c), pairs);
        }
        s1 = (uint)Vector256.Sum(sums);
        s2 = (uint)(Vector256<byte>.Count * Vector256.Sum(before) + Vector256.Sum(weighted));
        return chunks * Vector256<byte>.Count;
    }

    /// <summary>The same over 16-byte chunks.</summary>
    private static int SumSsse3(ReadOnlySpan<byte> data, out uint s1, out uint s2)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        int chunks = data.Length / Vector128<byte>.Count;
        Vector128<byte> weights = Vector128.Create((byte)16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
        Vector128<byte> ones = Vector128.Create((byte)1);
        Vector128<short> pairs = Vector128.Create((short)1);
        Vector128<int> sums = Vector128<int>.Zero;
        Vector128<int> before = Vector128<int>.Zero;
        Vector128<int> weighted = Vector128<int>.Zero;
        for (int i = 0; i < chunks; i++)
        {
            Vector128<sbyte> c = Vector128.LoadUnsafe(ref start, (nuint)(i * Vector128<byte>.Count)).AsSByte();
            before += sums;
            sums += Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(ones, c), pairs);
            weighted += Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(weights, c), pairs);
        }
        s1 = (uint)Vector128.Sum(sums);
        s2 = (uint)(Vector128<byte>.Count * Vector128.Sum(before) + Vector128.Sum(weighted));
        return chunks * Vector128<byte>.Count;
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
