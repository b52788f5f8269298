using System.Buffers.Binary;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.Wire;

namespace NetRsync.Bench.Micro;

/// <summary>How the receiver's basis file relates to the file being sent.</summary>
public enum BasisKind
{
    /// <summary>The same bytes: every block matches at the first probe.</summary>
    Identical,

    /// <summary>One byte changed in the middle: one block's worth of literal data, the rest matches.</summary>
    OneByteChanged,

    /// <summary>Unrelated random bytes: nothing matches, so every offset rolls and probes the index.</summary>
    Unrelated,
}

/// <summary>
/// The sender's block search (<see cref="DeltaSender.Send"/>) over a 16 MiB file on disk against
/// the block sums a generator would send for a basis file. Tokens go to an
/// <see cref="RsyncWriter"/> over <see cref="Stream.Null"/>, so what is measured is reading the
/// file, rolling, probing, strong sums, the whole-file MD5 and token encoding.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class DeltaSenderBenchmarks
{
    private const int FileLength = 16 * 1024 * 1024;
    private const int ChecksumSeed = 0x5EED_1234;
    private const int StrongLength = 16;

    // rsync.h: BLOCK_SIZE and, for protocol 30+, MAX_BLOCK_SIZE.
    private const int MinBlockLength = 700;
    private const int MaxBlockLength = 1 << 17;

    private string _path = "";
    private SafeFileHandle? _file;
    private BlockSums? _sums;
    private RsyncWriter? _writer;
    private DeltaSender? _sender;

    [Params(BasisKind.Identical, BasisKind.OneByteChanged, BasisKind.Unrelated)]
    public BasisKind Basis { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20240601);
        byte[] content = new byte[FileLength];
        random.NextBytes(content);

        _path = Path.Combine(Path.GetTempPath(), $"netrsync-bench-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(_path, content);
        _file = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.Read);

        byte[] basis = Basis switch
        {
            BasisKind.Identical => content,
            BasisKind.OneByteChanged => ChangeOneByte(content),
            _ => RandomBytes(random, FileLength),
        };
        _sums = GenerateSums(basis, ChecksumSeed);

        _writer = new RsyncWriter(Stream.Null);
        _sender = new DeltaSender(_writer, ChecksumSeed);

        // Make sure the case measures what its name says (and warm the page cache).
        DeltaStats stats = Send();
        int blockLength = _sums.BlockLength;
        bool expected = Basis switch
        {
            BasisKind.Identical => stats.LiteralBytes == 0 && stats.MatchedBytes == FileLength,
            BasisKind.OneByteChanged => stats.LiteralBytes > 0 && stats.LiteralBytes <= 2L * blockLength
                && stats.LiteralBytes + stats.MatchedBytes == FileLength,
            _ => stats.MatchedBytes == 0 && stats.LiteralBytes == FileLength,
        };
        if (!expected || stats.ReadError)
            throw new InvalidOperationException(
                $"{Basis}: unexpected delta (literal {stats.LiteralBytes}, matched {stats.MatchedBytes}, block {blockLength})");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sender?.Dispose();
        _file?.Dispose();
        if (_path.Length > 0)
            File.Delete(_path);
    }

    [Benchmark]
    [Throughput(ThroughputUnit.Bytes, FileLength)]
    public DeltaStats Send()
    {
        DeltaStats stats = _sender!.Send(_file!, FileLength, _sums!);
        _writer!.Flush();
        return stats;
    }

    /// <summary>
    /// The generator's side (generator.c, sum_sizes_sqroot and generate_and_send_sums): block
    /// length about sqrt(file length), weak sum per block, strong sum MD5(block ++ seed as 4 bytes LE).
    /// </summary>
    internal static BlockSums GenerateSums(ReadOnlySpan<byte> basis, int seed)
    {
        int blockLength = BlockLength(basis.Length);
        int count = (basis.Length + blockLength - 1) / blockLength;
        int remainder = basis.Length % blockLength;
        var sums = new BlockSums(count, blockLength, StrongLength, remainder);

        Span<byte> seedBytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(seedBytes, seed);
        Span<byte> digest = stackalloc byte[MD5.HashSizeInBytes];
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> block = basis.Slice(i * blockLength, Math.Min(blockLength, basis.Length - i * blockLength));
            md5.AppendData(block);
            md5.AppendData(seedBytes);
            md5.GetHashAndReset(digest);
            sums.Set(i, RollingChecksum.Compute(block), digest);
        }
        sums.BuildIndex();
        return sums;
    }

    /// <summary>generator.c, sum_sizes_sqroot, for protocol 30 and later.</summary>
    internal static int BlockLength(long fileLength)
    {
        if (fileLength <= (long)MinBlockLength * MinBlockLength)
            return MinBlockLength;
        int c = 1;
        for (long l = fileLength; (l >>= 2) != 0;)
            c <<= 1;
        if (c < 0 || c >= MaxBlockLength)
            return MaxBlockLength;
        int blockLength = 0;
        do
        {
            blockLength |= c;
            if (fileLength < (long)blockLength * blockLength)
                blockLength &= ~c;
            c >>= 1;
        }
        while (c >= 8);
        return Math.Max(blockLength, MinBlockLength);
    }

    private static byte[] ChangeOneByte(byte[] content)
    {
        byte[] basis = (byte[])content.Clone();
        basis[basis.Length / 2] ^= 0xFF;
        return basis;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
