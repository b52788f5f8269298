using BenchmarkDotNet.Attributes;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Wire;

namespace NetRsync.Bench.Micro;

/// <summary>
/// Compressed token streams over log text: rsync's "zlib" format (-z with rsync 3.1, or --zc=zlib)
/// for a new file (literals only) and for a delta in which every other 8 KiB block matched, with
/// the machine's zlib and with the platform's deflater, which has to be primed again after every
/// match; and zstd (-z between 3.2+ peers) for a new file, with the machine's libzstd and with
/// the managed port.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
[Throughput(ThroughputUnit.Bytes, "size")]
public class CompressedTokenBenchmarks
{
    private const int Size = 4 * 1024 * 1024;
    private const int Block = 8192;

    private byte[] _text = [];
    private DeflateTokenSender _system = null!;
    private DeflateTokenSender _primed = null!;
    private ZstdTokenSender _zstd = null!;
    private ZstdTokenSender _zstdManaged = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(7);
        string[] words = ["GET", "POST", "/api/items", "/login", "200", "404", "500", "user", "session", "cache", "miss", "hit", "ms"];
        var sb = new System.Text.StringBuilder();
        for (int line = 0; sb.Length < Size; line++)
        {
            sb.Append("2026-11-26T12:").Append(line % 60).Append(" host-").Append(rng.Next(8));
            for (int w = 0; w < 6; w++)
                sb.Append(' ').Append(words[rng.Next(words.Length)]);
            sb.Append(' ').Append(rng.Next(100_000)).Append('\n');
        }
        _text = System.Text.Encoding.ASCII.GetBytes(sb.ToString(0, Size));
        var writer = new RsyncWriter(Stream.Null);
        writer.StartMultiplexing();
        _system = new DeflateTokenSender(writer, 31, includeMatchedInHistory: true);
        _primed = new DeflateTokenSender(writer, 31, includeMatchedInHistory: true, useSystemZlib: false);
        _zstd = new ZstdTokenSender(writer);
        _zstdManaged = new ZstdTokenSender(writer, useSystemZstd: false);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _system.Dispose();
        _primed.Dispose();
        _zstd.Dispose();
        _zstdManaged.Dispose();
    }

    /// <summary>A new file, as sent: without a basis the platform's deflater (zlib-ng) is taken.</summary>
    [Benchmark]
    [Arguments(Size)]
    public void NewFile(int size) => Send(_system, size, matchEvery: 0, hasBasis: false);

    /// <summary>The same through the machine's zlib, which a file with a basis takes.</summary>
    [Benchmark]
    [Arguments(Size)]
    public void NewFileSystemZlib(int size) => Send(_system, size, matchEvery: 0);

    [Benchmark]
    [Arguments(Size)]
    public void DeltaSystemZlib(int size) => Send(_system, size, matchEvery: 2);

    [Benchmark]
    [Arguments(Size)]
    public void DeltaPrimed(int size) => Send(_primed, size, matchEvery: 2);

    [Benchmark]
    [Arguments(Size)]
    public void NewFileZstd(int size) => Send(_zstd, size, matchEvery: 0, hasBasis: false);

    [Benchmark]
    [Arguments(Size)]
    public void NewFileZstdManaged(int size) => Send(_zstdManaged, size, matchEvery: 0, hasBasis: false);

    private void Send(TokenSender sender, int size, int matchEvery, bool hasBasis = true)
    {
        sender.BeginFile(DeflateTokenSender.DefaultLevel, hasBasis);
        for (int block = 0; block * Block < size; block++)
        {
            var data = _text.AsSpan(block * Block, Math.Min(Block, size - block * Block));
            if (matchEvery > 0 && block % matchEvery == 0)
                sender.Match(block, data);
            else
                sender.Literal(data);
        }
        sender.EndFile();
    }
}
