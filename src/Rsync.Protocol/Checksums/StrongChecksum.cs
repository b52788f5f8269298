using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Checksums;

/// <summary>
/// The negotiated strong checksum of one connection: per block, seeded (checksum.c,
/// get_checksum2), and over a whole file, unseeded (checksum.c, sum_init / sum_update /
/// sum_end; file_checksum for --checksum). Without negotiation it is MD5 with the seed after
/// the data; the 3.2+ seed fix ('C') moves it before.
/// </summary>
internal sealed class StrongChecksum : IDisposable
{
    public const int Md5Length = 16;

    private readonly IncrementalHash? _block;
    private readonly IncrementalHash? _file;
    private Md5 _md5Block;
    private Md5 _md5File;
    private readonly NonCryptographicHashAlgorithm? _fileXx;
    private readonly byte[] _seedBytes = new byte[4];
    private readonly bool _hasSeed;
    private readonly bool _seedFirst;
    private readonly long _xxSeed;

    public StrongChecksum(int seed) : this(ChecksumKind.Md5, seed, seedFirst: false)
    {
    }

    public StrongChecksum(ChecksumKind kind, int seed, bool seedFirst)
    {
        Kind = kind;
        Length = ChecksumKinds.Length(kind);
        BinaryPrimitives.WriteInt32LittleEndian(_seedBytes, seed);
        _hasSeed = seed != 0;
        // OpenSSL digests (sha1) always take the seed first (checksum.c, get_checksum2).
        _seedFirst = seedFirst || kind == ChecksumKind.Sha1;
        // C converts the int seed to the 64-bit xxhash seed with sign extension.
        _xxSeed = seed;
        switch (kind)
        {
            case ChecksumKind.Md5:
                _md5Block = Md5.Create();
                _md5File = Md5.Create();
                break;
            case ChecksumKind.Sha1:
                _block = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
                _file = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
                break;
            case ChecksumKind.Xxh64:
                _fileXx = new XxHash64();
                break;
            case ChecksumKind.Xxh3:
                _fileXx = new XxHash3();
                break;
            case ChecksumKind.Xxh128:
                _fileXx = new XxHash128();
                break;
            case ChecksumKind.None:
                break;
            default:
                throw new RsyncException($"checksum {ChecksumKinds.Name(kind)} is not supported", ExitCodes.Unsupported);
        }
    }

    public ChecksumKind Kind { get; }

    /// <summary>Digest length on the wire.</summary>
    public int Length { get; }

    /// <summary>The block's seeded digest; <paramref name="destination"/> holds at least <see cref="Length"/> bytes.</summary>
    public void BlockSum(ReadOnlySpan<byte> block, Span<byte> destination)
    {
        switch (Kind)
        {
            case ChecksumKind.Xxh64:
                BinaryPrimitives.WriteUInt64LittleEndian(destination, XxHash64.HashToUInt64(block, _xxSeed));
                return;
            case ChecksumKind.Xxh3:
                BinaryPrimitives.WriteUInt64LittleEndian(destination, XxHash3.HashToUInt64(block, _xxSeed));
                return;
            case ChecksumKind.Xxh128:
                BinaryPrimitives.WriteUInt128LittleEndian(destination, XxHash128.HashToUInt128(block, _xxSeed));
                return;
            case ChecksumKind.None:
                destination[0] = 0;
                return;
            case ChecksumKind.Md5:
                if (_hasSeed && _seedFirst)
                    _md5Block.Append(_seedBytes);
                _md5Block.Append(block);
                if (_hasSeed && !_seedFirst)
                    _md5Block.Append(_seedBytes);
                _md5Block.Finish(destination);
                return;
        }
        if (_hasSeed && _seedFirst)
            _block!.AppendData(_seedBytes);
        _block!.AppendData(block);
        if (_hasSeed && !_seedFirst)
            _block.AppendData(_seedBytes);
        _block.GetHashAndReset(destination);
    }

    public void FileUpdate(ReadOnlySpan<byte> data)
    {
        if (Kind == ChecksumKind.Md5)
            _md5File.Append(data);
        else if (_file is not null)
            _file.AppendData(data);
        else
            _fileXx?.Append(data);
    }

    /// <summary>Writes the whole-file digest (<see cref="Length"/> bytes) and starts over.</summary>
    public void FileFinish(Span<byte> destination)
    {
        if (Kind == ChecksumKind.Md5)
        {
            _md5File.Finish(destination);
            return;
        }
        if (_file is not null)
        {
            _file.GetHashAndReset(destination);
            return;
        }
        switch (_fileXx)
        {
            case XxHash64 x64:
                BinaryPrimitives.WriteUInt64LittleEndian(destination, x64.GetCurrentHashAsUInt64());
                break;
            case XxHash3 x3:
                BinaryPrimitives.WriteUInt64LittleEndian(destination, x3.GetCurrentHashAsUInt64());
                break;
            case XxHash128 x128:
                BinaryPrimitives.WriteUInt128LittleEndian(destination, x128.GetCurrentHashAsUInt128());
                break;
            default:
                destination[0] = 0;
                break;
        }
        _fileXx?.Reset();
    }

    /// <summary>The --checksum digest of a file (checksum.c, file_checksum): unseeded.</summary>
    public static void FileSum(string path, Span<byte> destination) => FileSum(ChecksumKind.Md5, path, destination);

    public static void FileSum(ChecksumKind kind, string path, Span<byte> destination)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        FileSum(kind, handle, destination);
    }

    public static void FileSum(ChecksumKind kind, Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> destination)
    {
        using var sum = new StrongChecksum(kind, 0, seedFirst: false);
        // Once per file with --checksum: a pooled buffer, not a large object each time.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        try
        {
            long offset = 0;
            int n;
            while ((n = RandomAccess.Read(handle, buffer, offset)) > 0)
            {
                sum.FileUpdate(buffer.AsSpan(0, n));
                offset += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        sum.FileFinish(destination);
    }

    public void Dispose()
    {
        _block?.Dispose();
        _file?.Dispose();
    }
}
