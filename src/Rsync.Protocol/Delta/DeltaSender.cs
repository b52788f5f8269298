using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Delta;

/// <summary>What one file's delta cost.</summary>
public struct DeltaStats
{
    public long LiteralBytes;
    public long MatchedBytes;
    public bool ReadError;
}

/// <summary>
/// The sender's half of the delta algorithm (match.c, hash_search; token.c, simple_send_token):
/// slides a window over the file, finds blocks the receiver already has by weak then strong
/// checksum, and sends everything else as literal runs of at most 32 KiB. The file streams
/// through a bounded window; it is never held whole.
/// </summary>
internal sealed class DeltaSender : IDisposable
{
    // As much of the file as is read at once: rsync maps 256 KiB (fileio.c, MAX_MAP_SIZE), and per
    // connection memory counts in a daemon with many clients.
    private const int WindowSize = 256 * 1024;

    // The most entries one bucket of the block index may offer at one offset. Its keys are random,
    // so a bucket rarely holds more than two or three whatever sums arrive; the cap keeps the bound
    // even if one does (match.c, hash_search: MAX_CHAIN_LEN).
    private const int MaxProbes = 32;

    private readonly StrongChecksum _checksum;
    private readonly TokenSender _tokens;
    private readonly RsyncWriter _writer;
    // Made for the first file with data in it, so a tree of empty files never needs it.
    private byte[] _buffer = [];
    private readonly byte[] _strong = new byte[ChecksumKinds.MaxLength];

    private SafeFileHandle _file = null!;
    private long _fileLength;
    private long _bufferStart;
    private int _bufferLength;
    private long _sentUpTo;
    private DeltaStats _stats;
    private long _comparisons;
    private long _strongSums;
    private int[]? _firstUsable;

    // The last offset whose window matched nothing and is one byte value throughout, and that value.
    private long _uniformMissAt;
    private byte _uniformByte;

    public DeltaSender(RsyncWriter writer, int checksumSeed)
        : this(writer, new StrongChecksum(checksumSeed), new PlainTokenSender(writer))
    {
    }

    /// <summary>A sender that owns <paramref name="checksum"/> and writes through <paramref name="tokens"/>.</summary>
    public DeltaSender(RsyncWriter writer, StrongChecksum checksum, TokenSender tokens)
    {
        _writer = writer;
        _checksum = checksum;
        _tokens = tokens;
    }

    /// <summary>
    /// The receiver writes into the basis itself (--inplace): blocks before the current offset
    /// may already be overwritten there, so they are never used (match.c, updating_basis_file).
    /// </summary>
    public bool UpdatingBasisInPlace { get; set; }

    /// <summary>
    /// Candidate blocks examined plus strong sums computed during the last <see cref="Send"/>:
    /// the search's work beyond rolling, which must stay linear in the file's length whatever
    /// sums the peer sent.
    /// </summary>
    internal long Comparisons => _comparisons;

    /// <summary>Strong sums of windows computed during the last <see cref="Send"/> (a part of <see cref="Comparisons"/>).</summary>
    internal long StrongSums => _strongSums;

    /// <summary>Reports progress as bytes of the file dealt with so far.</summary>
    public Action<long>? Progress { get; set; }

    /// <summary>Sends tokens and the whole-file checksum for one file.</summary>
    public DeltaStats Send(SafeFileHandle file, long fileLength, BlockSums sums, int compressionLevel = 0)
    {
        _file = file;
        _fileLength = fileLength;
        _bufferStart = 0;
        _bufferLength = 0;
        _sentUpTo = 0;
        _stats = default;
        _comparisons = 0;
        _strongSums = 0;
        _uniformMissAt = -2;
        _firstUsable = UpdatingBasisInPlace && sums.Count > 0 ? sums.ResetFirstUsable() : null;

        _tokens.BeginFile(compressionLevel, hasBasis: sums.Count > 0);
        if (sums.Count == 0 && _tokens is PlainTokenSender)
            SendWholeInPlace();
        else
        {
            if (fileLength > 0 && sums.Count > 0)
                Search(sums);
            _firstUsable = null;
            SendLiteral(fileLength);
        }
        _tokens.EndFile();

        var strong = _strong.AsSpan(0, _checksum.Length);
        _checksum.FileFinish(strong);
        if (_stats.ReadError)
        {
            // A deliberately wrong sum makes the receiver discard the file (match.c, match_sums).
            bool allZero = strong.IndexOfAnyExcept((byte)0) < 0;
            strong.Clear();
            if (allZero)
                strong[^1] = 1;
        }
        _writer.WriteBytes(strong);
        return _stats;
    }

    /// <summary>
    /// A file with nothing to match against moves once: one read fills a run of literal tokens in
    /// their places in the outgoing frames, with no window between.
    /// </summary>
    private void SendWholeInPlace()
    {
        Span<Range> rooms = stackalloc Range[16];
        while (_sentUpTo < _fileLength)
        {
            Span<byte> region = _writer.ReserveTokens(_fileLength - _sentUpTo, rooms, out int count);
            ReadScattered(region, rooms[..count], _sentUpTo);
            foreach (Range room in rooms[..count])
            {
                Span<byte> data = region[room];
                _checksum.FileUpdate(data);
                _stats.LiteralBytes += data.Length;
                _sentUpTo += data.Length;
            }
            Progress?.Invoke(_sentUpTo);
        }
    }

    /// <summary>Fills the rooms of <paramref name="region"/> in order from the file at <paramref name="at"/>, with one preadv when it can.</summary>
    private unsafe void ReadScattered(Span<byte> region, ReadOnlySpan<Range> rooms, long at)
    {
        long wanted = 0;
        nint got;
        fixed (byte* start = region)
        {
            var vectors = stackalloc Native.Posix.IoVector[rooms.Length];
            for (int i = 0; i < rooms.Length; i++)
            {
                var (offset, length) = rooms[i].GetOffsetAndLength(region.Length);
                vectors[i] = new Native.Posix.IoVector { Base = start + offset, Length = (nuint)length };
                wanted += length;
            }
            got = Native.Posix.PReadV(_file, vectors, rooms.Length, at);
        }
        if (got == wanted)
            return;
        // Short or failed: the rest piece by piece, where a file that shrank is zero-filled.
        long done = Math.Max(0, got);
        foreach (Range room in rooms)
        {
            Span<byte> data = region[room];
            if (done < data.Length)
                ReadAt(data[(int)done..], at + done);
            done = Math.Max(0, done - data.Length);
            at += data.Length;
        }
    }

    /// <summary>Whether the window was ever needed: a sender of new files only never makes it.</summary>
    internal bool HasWindow => _buffer.Length > 0;

    private void Search(BlockSums sums)
    {
        int blockLength = sums.BlockLength;
        int lastLength = sums.LengthOf(sums.Count - 1);
        long end = _fileLength + 1 - lastLength;
        long offset = 0;
        int k = (int)Math.Min(blockLength, _fileLength);
        var rolling = default(RollingChecksum);
        rolling.Reset(Window(offset, k));
        int wanted = 0;

        while (offset < end)
        {
            if (k == blockLength)
                offset = ScanToCandidate(sums, ref rolling, offset, end, k);
            if (offset >= end)
                break;
            int matched = FindMatch(sums, rolling.Value, offset, k, wanted);

            if (matched >= 0)
            {
                SendLiteral(offset);
                int length = sums.LengthOf(matched);
                var block = Window(offset, length);
                _tokens.Match(matched, block);
                _checksum.FileUpdate(block);
                _stats.MatchedBytes += length;
                offset += length;
                _sentUpTo = offset;
                Progress?.Invoke(offset);
                wanted = matched + 1;
                if (offset >= end)
                    break;
                k = (int)Math.Min(blockLength, _fileLength - offset);
                rolling.Reset(Window(offset, k));
                continue;
            }

            // Slide one byte (match.c, hash_search: the null_hash step).
            bool more = offset + k < _fileLength;
            ReadOnlySpan<byte> span = Window(offset, more ? k + 1 : k);
            if (more)
                rolling.Roll(span[0], span[k], k);
            else
            {
                rolling.RollOut(span[0], k);
                k--;
            }
            offset++;
            if (offset - _sentUpTo >= ProtocolLimits.ChunkSize)
                SendLiteral(_sentUpTo + ProtocolLimits.ChunkSize);
        }
    }

    /// <summary>
    /// The hot loop: rolls the checksum over the loaded window while no block shares its hash
    /// bucket, and returns the first offset worth a closer look (or where the window or the
    /// literal limit ends). No calls, no allocation, no bounds beyond the span's.
    /// </summary>
    private long ScanToCandidate(BlockSums sums, ref RollingChecksum rolling, long offset, long end, int k)
    {
        long stop = Math.Min(end, _sentUpTo + ProtocolLimits.ChunkSize);
        if (offset >= stop || offset + k >= _fileLength)
            return offset;
        int available = (int)Math.Min(stop - offset + k, _fileLength - offset);
        ReadOnlySpan<byte> window = WindowUpTo(offset, available);
        int limit = (int)Math.Min(stop - offset, window.Length - k);
        int[] buckets = sums.Buckets;
        uint multiplier = sums.BucketMultiplier;
        int shift = sums.BucketShift;
        uint s1 = rolling.S1;
        uint s2 = rolling.S2;
        uint blockLength = (uint)k;
        int i = 0;
        for (; i < limit; i++)
        {
            uint weak = (s1 & 0xFFFF) | (s2 << 16);
            if (buckets[BlockSums.Bucket(weak, multiplier, shift)] >= 0)
                break;
            if (i + k >= window.Length)
                break;
            int outgoing = (sbyte)window[i];
            s1 = s1 - (uint)outgoing + (uint)(sbyte)window[i + k];
            s2 = s2 - blockLength * (uint)outgoing + s1;
        }
        rolling.S1 = s1;
        rolling.S2 = s2;
        return offset + i;
    }

    /// <summary>
    /// The block rsync takes at this offset (match.c, hash_search): the one after the previous
    /// match if it fits, else the lowest-numbered one whose length and sums fit (with --inplace,
    /// not one behind the offset). Blocks with one weak sum, and blocks with identical sums, are
    /// looked up once each, and the window's strong sum is computed at most once, so the work here
    /// is bounded whatever sums the peer sent. Returns -1 when nothing fits.
    /// </summary>
    private int FindMatch(BlockSums sums, uint weak, long offset, int k, int wanted)
    {
        int found;
        ReadOnlySpan<byte> strong;
        if (k == sums.BlockLength)
        {
            if (!HasWeak(sums, weak))
                return -1;
            if (SameUniformWindowAsLastMiss(offset, k))
                return -1;
            strong = WindowStrong(sums, offset, k);
            found = LowestWithSums(sums, weak, strong);
            if (found >= 0 && _firstUsable is not null)
                found = FirstNotBehind(sums, found, offset);
            if (found < 0)
            {
                NoteMiss(offset, k);
                return -1;
            }
        }
        else
        {
            // Only the last block may be shorter than the rest.
            found = sums.Count - 1;
            _comparisons++;
            if (sums.LengthOf(found) != k || sums.Weak(found) != weak || IsBehind(sums, found, offset))
                return -1;
            strong = WindowStrong(sums, offset, k);
            if (!strong.SequenceEqual(sums.Strong(found)))
                return -1;
        }
        if (found >= 0 && found != wanted && wanted < sums.Count)
        {
            _comparisons++;
            if (!IsBehind(sums, wanted, offset) && sums.Weak(wanted) == weak && sums.LengthOf(wanted) == k
                && strong.SequenceEqual(sums.Strong(wanted)))
                found = wanted;
        }
        return found;
    }

    /// <summary>
    /// In a run of one byte value (zeros in a disk image, say) each window equals the one before,
    /// so a window that matched nothing settles the next one without another strong sum. Without
    /// this a peer that knows the file could make it hash a whole block at every offset of the run.
    /// A miss stays a miss further on: with --inplace, blocks passed stay passed.
    /// </summary>
    private bool SameUniformWindowAsLastMiss(long offset, int k)
    {
        if (offset != _uniformMissAt + 1 || Window(offset, k)[k - 1] != _uniformByte)
            return false;
        _comparisons++;
        _uniformMissAt = offset;
        return true;
    }

    private void NoteMiss(long offset, int k)
    {
        ReadOnlySpan<byte> window = Window(offset, k);
        if (window.IndexOfAnyExcept(window[0]) < 0)
        {
            _uniformMissAt = offset;
            _uniformByte = window[0];
        }
    }

    private bool HasWeak(BlockSums sums, uint weak)
    {
        int probes = 0;
        for (int i = sums.FirstWithWeak(weak); i >= 0 && probes < MaxProbes; i = sums.NextWeak(i))
        {
            probes++;
            if (sums.Weak(i) == weak)
            {
                _comparisons += probes;
                return true;
            }
        }
        _comparisons += probes;
        return false;
    }

    private int LowestWithSums(BlockSums sums, uint weak, ReadOnlySpan<byte> strong)
    {
        int probes = 0;
        for (int i = sums.FirstWithSums(weak, strong); i >= 0 && probes < MaxProbes; i = sums.NextWithOtherSums(i))
        {
            probes++;
            if (sums.Weak(i) == weak && strong.SequenceEqual(sums.Strong(i)))
            {
                _comparisons += probes;
                return i;
            }
        }
        _comparisons += probes;
        return -1;
    }

    /// <summary>
    /// With --inplace, the first block with the same sums as <paramref name="lowest"/> that is not
    /// behind the offset, or -1. Offsets only grow, so passed blocks are dropped for good and the
    /// walk costs each block once per file.
    /// </summary>
    private int FirstNotBehind(BlockSums sums, int lowest, long offset)
    {
        int i = _firstUsable![lowest];
        while (i >= 0 && IsBehind(sums, i, offset))
        {
            _comparisons++;
            i = sums.NextSame(i);
        }
        _firstUsable[lowest] = i;
        return i;
    }

    /// <summary>With --inplace, blocks before the offset may already be overwritten in the basis (match.c, updating_basis_file).</summary>
    private bool IsBehind(BlockSums sums, int index, long offset) =>
        _firstUsable is not null && (long)index * sums.BlockLength < offset;

    private ReadOnlySpan<byte> WindowStrong(BlockSums sums, long offset, int k)
    {
        _comparisons++;
        _strongSums++;
        _checksum.BlockSum(Window(offset, k), _strong);
        return _strong.AsSpan(0, sums.StrongLength);
    }

    /// <summary>Sends [sent, upTo) as literal tokens of at most 32 KiB.</summary>
    private void SendLiteral(long upTo)
    {
        while (_sentUpTo < upTo)
        {
            int n = (int)Math.Min(ProtocolLimits.ChunkSize, upTo - _sentUpTo);
            ReadOnlySpan<byte> data = Window(_sentUpTo, n);
            _tokens.Literal(data);
            _checksum.FileUpdate(data);
            _stats.LiteralBytes += n;
            _sentUpTo += n;
            Progress?.Invoke(_sentUpTo);
        }
    }

    /// <summary>As many of the file's bytes from <paramref name="offset"/> as are loaded, at least <paramref name="length"/> of them when the buffer allows.</summary>
    private ReadOnlySpan<byte> WindowUpTo(long offset, int length)
    {
        long bufferEnd = _bufferStart + _bufferLength;
        if (offset < _bufferStart || offset + length > bufferEnd)
        {
            int room = _buffer.Length - (int)(offset - Math.Min(offset, _sentUpTo));
            Load(offset, Math.Min(length, room));
            bufferEnd = _bufferStart + _bufferLength;
        }
        return _buffer.AsSpan((int)(offset - _bufferStart), (int)Math.Min(length, bufferEnd - offset));
    }

    /// <summary>The file's bytes [offset, offset + length), loading them if needed.</summary>
    private ReadOnlySpan<byte> Window(long offset, int length)
    {
        if (offset < _bufferStart || offset + length > _bufferStart + _bufferLength)
            Load(offset, length);
        return _buffer.AsSpan((int)(offset - _bufferStart), length);
    }

    private void Load(long offset, int length)
    {
        if (_buffer.Length == 0)
            _buffer = new byte[WindowSize + ProtocolLimits.MaxBlockSize + ProtocolLimits.ChunkSize];
        // Keep unsent bytes: they may still go out as literal data.
        long keepFrom = Math.Min(offset, _sentUpTo);
        if (keepFrom < _bufferStart)
            keepFrom = offset;
        if (keepFrom >= _bufferStart && keepFrom < _bufferStart + _bufferLength)
        {
            int skip = (int)(keepFrom - _bufferStart);
            Buffer.BlockCopy(_buffer, skip, _buffer, 0, _bufferLength - skip);
            _bufferLength -= skip;
        }
        else
            _bufferLength = 0;
        _bufferStart = keepFrom;

        long need = offset + length - _bufferStart;
        if (need > _buffer.Length)
            throw new InvalidOperationException("delta window overflow");
        long at = _bufferStart + _bufferLength;
        int want = (int)Math.Min(_buffer.Length - _bufferLength, _fileLength - at);
        if (_bufferLength < need)
        {
            ReadAt(_buffer.AsSpan(_bufferLength, want), at);
            _bufferLength += want;
        }
    }

    /// <summary>Fills <paramref name="into"/> from the file at <paramref name="at"/>.</summary>
    private void ReadAt(Span<byte> into, long at)
    {
        while (!into.IsEmpty)
        {
            int n = 0;
            try
            {
                n = RandomAccess.Read(_file, into, at);
            }
            catch (IOException)
            {
                _stats.ReadError = true;
            }
            if (n <= 0)
            {
                // Short or failed read: zeros keep the stream in step; the bad sum discards the file.
                _stats.ReadError = true;
                into.Clear();
                return;
            }
            into = into[n..];
            at += n;
        }
    }

    public void Dispose()
    {
        _checksum.Dispose();
        (_tokens as IDisposable)?.Dispose();
    }
}
