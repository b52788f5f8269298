using BenchmarkDotNet.Attributes;
using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.Wire;

namespace NetRsync.Bench.Micro;

/// <summary>
/// The generator's block sums (<see cref="SumHead.WriteSums"/>, generator.c, generate_and_send_sums)
/// over a 16 MiB basis on disk: each block read, its weak sum, its seeded strong sum (MD5 as with
/// rsync 3.1, xxh128 as 3.2+ peers agree) and both written to an <see cref="RsyncWriter"/> over
/// <see cref="Stream.Null"/>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
[Throughput(ThroughputUnit.Bytes, FileLength)]
public class BlockSumBenchmarks
{
    private const int FileLength = 16 * 1024 * 1024;

    private string _path = "";
    private SafeFileHandle _basis = null!;
    private RsyncWriter _writer = null!;
    private StrongChecksum _strong = null!;
    private SumHead _head;

    [Params(ChecksumKind.Md5, ChecksumKind.Xxh128)]
    public ChecksumKind Kind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.GetTempFileName();
        byte[] data = new byte[FileLength];
        new Random(9).NextBytes(data);
        File.WriteAllBytes(_path, data);
        _basis = File.OpenHandle(_path);
        _writer = new RsyncWriter(Stream.Null);
        _writer.StartMultiplexing();
        _strong = new StrongChecksum(Kind, seed: 0x5EED, seedFirst: true);
        _head = SumHead.For(FileLength, fullStrongSums: false, maxStrongLength: _strong.Length);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _basis.Dispose();
        _strong.Dispose();
        File.Delete(_path);
    }

    [Benchmark]
    public void WriteSums()
    {
        SumHead.WriteSums(_writer, _basis, FileLength, _head, _strong);
        _writer.Flush();
    }
}
