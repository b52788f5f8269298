using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Tests.Wire;

/// <summary>Runs FsCheck properties with bounded counts, so the suite stays fast.</summary>
internal static class Props
{
    public static void Check<T>(Gen<T> gen, Action<T> body, int maxTest = 100, int endSize = 100) =>
        Prop.ForAll(gen.ToArbitrary(), body)
            .Check(Config.QuickThrowOnFailure.WithMaxTest(maxTest).WithEndSize(endSize));

    private static Gen<ulong> Word16 { get; } = Gen.Choose(0, 0xFFFF).Select(v => (ulong)v);

    private static Gen<ulong> Raw64 { get; } =
        from a in Word16
        from b in Word16
        from c in Word16
        from d in Word16
        select a | (b << 16) | (c << 32) | (d << 48);

    /// <summary>Any int, with bit lengths 0..32 equally likely and a quarter of them complemented,
    /// so small and huge magnitudes of both signs show up.</summary>
    public static Gen<int> AnyInt { get; } =
        from bits in Gen.Choose(0, 32)
        from raw in Raw64
        from flip in Gen.Choose(0, 3)
        let v = (int)(uint)(bits == 32 ? raw : raw & ((1UL << bits) - 1))
        select flip == 0 ? ~v : v;

    /// <summary>Any long, built the same way as <see cref="AnyInt"/>.</summary>
    public static Gen<long> AnyLong { get; } =
        from bits in Gen.Choose(0, 64)
        from raw in Raw64
        from flip in Gen.Choose(0, 3)
        let v = (long)(bits == 64 ? raw : raw & ((1UL << bits) - 1))
        select flip == 0 ? ~v : v;

    public static Gen<byte[]> Bytes(int maxLength) =>
        from len in Gen.Choose(0, maxLength)
        from data in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), len)
        select data;
}

/// <summary>
/// A read-only stream that hands out its bytes in chunks of the given sizes (cycled). With
/// <paramref name="holdEnd"/> it reports the end of the stream only once that event is set, as a
/// peer that keeps its socket open would.
/// </summary>
internal sealed class ChunkedStream(byte[] data, IReadOnlyList<int> chunkSizes, ManualResetEventSlim? holdEnd = null) : ReadOnlyForwardStream
{
    private int _position;
    private int _chunk;

    public int ReadCalls { get; private set; }

    public override int Read(Span<byte> buffer)
    {
        ReadCalls++;
        if (buffer.IsEmpty)
            return 0;
        if (_position >= data.Length)
        {
            holdEnd?.Wait(TimeSpan.FromSeconds(30));
            return 0;
        }
        int size = chunkSizes.Count == 0 ? int.MaxValue : Math.Max(1, chunkSizes[_chunk++ % chunkSizes.Count]);
        int n = Math.Min(Math.Min(size, buffer.Length), data.Length - _position);
        data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

}
