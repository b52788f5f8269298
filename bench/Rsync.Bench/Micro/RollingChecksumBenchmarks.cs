using BenchmarkDotNet.Attributes;
using NetRsync.Protocol.Checksums;

namespace NetRsync.Bench.Micro;

/// <summary>
/// rsync's weak checksum: computing it over a whole buffer (what the generator does once per
/// block, and the sender after every match), and rolling it one byte at a time (what the sender
/// does at every offset that does not match).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
[Throughput(ThroughputUnit.Bytes, "size")]
public class RollingChecksumBenchmarks
{
    /// <summary>The window the per-byte loop slides (rsync's block length for a 16 MiB file).</summary>
    public const int Window = 4096;

    private const int MaxSize = 1024 * 1024;

    private byte[] _data = [];

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[MaxSize + Window];
        new Random(12345).NextBytes(_data);
    }

    /// <summary>Sums <paramref name="size"/> bytes from scratch.</summary>
    [Benchmark]
    [Arguments(64 * 1024)]
    [Arguments(MaxSize)]
    public uint Compute(int size) => RollingChecksum.Compute(_data.AsSpan(0, size));

    /// <summary>The scalar twin of <see cref="Compute"/>, which the vector paths are held to.</summary>
    [Benchmark]
    [Arguments(64 * 1024)]
    [Arguments(MaxSize)]
    public uint ComputeScalar(int size) => RollingChecksum.ComputeScalar(_data.AsSpan(0, size));

    /// <summary>
    /// Slides a <see cref="Window"/>-byte window forward <paramref name="size"/> bytes, one byte at
    /// a time, reading the value at each step as the sender's search does.
    /// </summary>
    [Benchmark]
    [Arguments(MaxSize)]
    public uint Roll(int size)
    {
        ReadOnlySpan<byte> data = _data.AsSpan(0, size + Window);
        var rolling = default(RollingChecksum);
        rolling.Reset(data[..Window]);
        uint mix = 0;
        for (int i = 0; i < size; i++)
        {
            rolling.Roll(data[i], data[i + Window], Window);
            mix ^= rolling.Value;
        }
        return mix;
    }
}
