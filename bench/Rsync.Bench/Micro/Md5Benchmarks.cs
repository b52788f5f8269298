using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using NetRsync.Protocol.Checksums;

namespace NetRsync.Bench.Micro;

/// <summary>
/// The strong checksum of protocols 30 and 31, ours beside OpenSSL's through .NET: a whole file in
/// 256 KiB pieces (the file sum), and one block of the default sizes with the seed after it (the
/// block sums the generator sends and the sender checks on every weak match).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
[Throughput(ThroughputUnit.Bytes, "size")]
public class Md5Benchmarks
{
    private const int Piece = 256 * 1024;
    private static readonly byte[] Seed = [1, 2, 3, 4];
    private byte[] _data = [];
    private readonly byte[] _digest = new byte[Md5.HashLength];
    private IncrementalHash _openSsl = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[4 * 1024 * 1024];
        new Random(12345).NextBytes(_data);
        _openSsl = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    }

    [GlobalCleanup]
    public void Cleanup() => _openSsl.Dispose();

    [Benchmark]
    [Arguments(4 * 1024 * 1024)]
    public byte Managed_File(int size)
    {
        var md5 = Md5.Create();
        for (int at = 0; at < size; at += Piece)
            md5.Append(_data.AsSpan(at, Piece));
        md5.Finish(_digest);
        return _digest[0];
    }

    [Benchmark]
    [Arguments(4 * 1024 * 1024)]
    public byte OpenSsl_File(int size)
    {
        for (int at = 0; at < size; at += Piece)
            _openSsl.AppendData(_data.AsSpan(at, Piece));
        _openSsl.GetHashAndReset(_digest);
        return _digest[0];
    }

    [Benchmark]
    [Arguments(700)]
    [Arguments(8192)]
    public byte Managed_Block(int size)
    {
        var md5 = Md5.Create();
        md5.Append(_data.AsSpan(0, size));
        md5.Append(Seed);
        md5.Finish(_digest);
        return _digest[0];
    }

    [Benchmark]
    [Arguments(700)]
    [Arguments(8192)]
    public byte OpenSsl_Block(int size)
    {
        _openSsl.AppendData(_data.AsSpan(0, size));
        _openSsl.AppendData(Seed);
        _openSsl.GetHashAndReset(_digest);
        return _digest[0];
    }
}
