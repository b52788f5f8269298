using System.Buffers.Binary;
using System.Security.Cryptography;

namespace NetRsync.Protocol.Checksums;

/// <summary>
/// The strong checksums of protocols 30 and 31: MD5 over a block followed by the 4-byte
/// checksum seed when the seed is non-zero (checksum.c, get_checksum2), and plain MD5 over a
/// whole file (checksum.c, sum_init / file_checksum).
/// </summary>
internal sealed class StrongChecksum : IDisposable
{
    public const int Md5Length = 16;

    private readonly IncrementalHash _block = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    private readonly IncrementalHash _file = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    private readonly byte[] _seedBytes = new byte[4];
    private readonly bool _appendSeed;

    public StrongChecksum(int seed)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_seedBytes, seed);
        _appendSeed = seed != 0;
    }

    public void BlockSum(ReadOnlySpan<byte> block, Span<byte> destination16)
    {
        _block.AppendData(block);
        if (_appendSeed)
            _block.AppendData(_seedBytes);
        _block.GetHashAndReset(destination16);
    }

    public void FileUpdate(ReadOnlySpan<byte> data) => _file.AppendData(data);

    public void FileFinish(Span<byte> destination16) => _file.GetHashAndReset(destination16);

    public static void FileSum(string path, Span<byte> destination16)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        var buffer = new byte[256 * 1024];
        long offset = 0;
        int n;
        while ((n = RandomAccess.Read(handle, buffer, offset)) > 0)
        {
            md5.AppendData(buffer, 0, n);
            offset += n;
        }
        md5.GetHashAndReset(destination16);
    }

    public void Dispose()
    {
        _block.Dispose();
        _file.Dispose();
    }
}
