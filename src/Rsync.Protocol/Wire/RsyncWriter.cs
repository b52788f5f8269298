using System.Buffers.Binary;
using System.Text;

namespace NetRsync.Protocol.Wire;

/// <summary>
/// The outgoing half of a connection: one contiguous buffer, with MSG_DATA frames whose 4-byte
/// header is reserved up front and patched when the frame closes (io.c, mplex_write).
/// </summary>
internal sealed class RsyncWriter
{
    // rsync's own frames never exceed its I/O buffer; peers size their input buffers to match.
    private const int MaxFramePayload = 32 * 1024;
    private const int FrameHeaderLength = 4;
    private const int MultiplexBase = 7;

    private readonly Stream _output;
    private readonly byte[] _buffer;
    private int _position;
    private int _frameStart = -1;
    private int _lastPositiveNdx = -1;
    private int _lastNegativeNdx = 1;

    public RsyncWriter(Stream output, int bufferSize = 256 * 1024)
    {
        _output = output;
        _buffer = new byte[bufferSize];
    }

    public bool Multiplexed { get; private set; }

    /// <summary>Bytes waiting in the buffer for the next flush.</summary>
    public int Buffered => _position;

    /// <summary>Raw bytes handed to the socket, frame headers included (rsync's total_written).</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Called after each write to the socket, for timeouts and bandwidth limits.</summary>
    public Action<int>? OnSocketWrite { get; set; }

    public void StartMultiplexing()
    {
        Flush();
        Multiplexed = true;
    }

    /// <summary>Back to raw bytes, for protocol-30 --files-from forwarding (io.c, start_filesfrom_forwarding).</summary>
    public void StopMultiplexing()
    {
        Flush();
        Multiplexed = false;
    }

    public void WriteByte(byte value) => GetSpan(1)[0] = value;

    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(GetSpan(4), value);

    public void WriteShortInt(int value) => BinaryPrimitives.WriteUInt16LittleEndian(GetSpan(2), (ushort)value);

    public void WriteVarInt(int value)
    {
        Span<byte> tmp = stackalloc byte[VarInt.MaxVarIntLength];
        WriteBytes(tmp[..VarInt.WriteVarInt(tmp, value)]);
    }

    public void WriteVarLong(long value, int minBytes)
    {
        Span<byte> tmp = stackalloc byte[VarInt.MaxVarLongLength];
        WriteBytes(tmp[..VarInt.WriteVarLong(tmp, value, minBytes)]);
    }

    /// <summary>
    /// Under --iconv a receiving side sorts its converted names, but indexes on the wire stay the
    /// sender's list order (flist.c, unsort_ndx): this maps a local index to the sender's. Null otherwise.
    /// </summary>
    public int[]? NdxToWire { get; set; }

    /// <summary>A file's index as the peer knows it.</summary>
    public int WireNdx(int ndx) => ndx >= 0 && NdxToWire is { } map ? map[ndx] : ndx;

    /// <summary>Writes an index as a delta from the previous one of the same sign (io.c, write_ndx).</summary>
    public void WriteNdx(int ndx)
    {
        ndx = WireNdx(ndx);
        Span<byte> b = stackalloc byte[6];
        int count = 0;
        int diff;
        if (ndx >= 0)
        {
            diff = ndx - _lastPositiveNdx;
            _lastPositiveNdx = ndx;
        }
        else if (ndx == Ndx.Done)
        {
            WriteByte(0);
            return;
        }
        else
        {
            b[count++] = 0xFF;
            ndx = -ndx;
            diff = ndx - _lastNegativeNdx;
            _lastNegativeNdx = ndx;
        }

        if (diff > 0 && diff < 0xFE)
            b[count++] = (byte)diff;
        else if (diff < 0 || diff > 0x7FFF)
        {
            b[count++] = 0xFE;
            b[count++] = (byte)((ndx >> 24) | 0x80);
            b[count++] = (byte)ndx;
            b[count++] = (byte)(ndx >> 8);
            b[count++] = (byte)(ndx >> 16);
        }
        else
        {
            b[count++] = 0xFE;
            b[count++] = (byte)(diff >> 8);
            b[count++] = (byte)diff;
        }
        WriteBytes(b[..count]);
    }

    /// <summary>A length-prefixed string of at most 0x7FFF bytes (io.c, write_vstring).</summary>
    public void WriteVString(ReadOnlySpan<byte> value)
    {
        if (value.Length > 0x7FFF)
            throw new RsyncProtocolException($"attempting to send over-long vstring ({value.Length} > {0x7FFF})");
        if (value.Length > 0x7F)
            WriteByte((byte)(value.Length / 0x100 + 0x80));
        WriteByte((byte)value.Length);
        WriteBytes(value);
    }

    /// <summary>Handshake text: a module name, an error line echoing a peer, each byte as it came (<see cref="Text.NameText"/>).</summary>
    public void WriteText(string text) => WriteBytes(Text.NameText.ToBytes(text));

    public void WriteBytes(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            Span<byte> room = GetSpanUpTo(data.Length);
            data[..room.Length].CopyTo(room);
            data = data[room.Length..];
        }
    }

    /// <summary>The longest literal token <see cref="ReserveTokens"/> lays out: it and its length fill one frame.</summary>
    public const int LargestTokenInPlace = MaxFramePayload - 4;

    /// <summary>
    /// Lays out literal tokens for up to <paramref name="total"/> bytes in the buffer's free room,
    /// flushing first if not even one fits, each token with its length in a frame of its own.
    /// Returns the region they take, with each token's data room in <paramref name="rooms"/>
    /// (relative to the region), for the caller to fill in place, from one file read, say.
    /// </summary>
    public Span<byte> ReserveTokens(long total, Span<Range> rooms, out int count)
    {
        CloseFrame();
        int header = Multiplexed ? FrameHeaderLength + 4 : 4;
        if (_buffer.Length - _position < header + (int)Math.Min(LargestTokenInPlace, total))
            Flush();
        int start = _position;
        count = 0;
        while (total > 0 && count < rooms.Length)
        {
            int n = (int)Math.Min(LargestTokenInPlace, total);
            if (_buffer.Length - _position < header + n)
                break;
            if (Multiplexed)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_position), ((uint)MultiplexBase << 24) | (uint)(4 + n));
                _position += FrameHeaderLength;
            }
            BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_position), n);
            _position += 4;
            rooms[count++] = new Range(_position - start, _position - start + n);
            _position += n;
            total -= n;
        }
        return _buffer.AsSpan(start, _position - start);
    }

    /// <summary>Sends an out-of-band message frame, after any data written so far.</summary>
    public void WriteMessage(MessageCode code, ReadOnlySpan<byte> payload)
    {
        if (!Multiplexed)
            throw new InvalidOperationException("messages need a multiplexed stream");
        CloseFrame();
        if (_buffer.Length - _position < FrameHeaderLength + payload.Length)
            Flush();
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_position), ((uint)(MultiplexBase + (int)code) << 24) | (uint)payload.Length);
        _position += FrameHeaderLength;
        payload.CopyTo(_buffer.AsSpan(_position));
        _position += payload.Length;
    }

    public void WriteMessageInt(MessageCode code, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, value);
        WriteMessage(code, b);
    }

    private long _lastFlush = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>
    /// Flushes unless that was done within <paramref name="interval"/>: a stream of small requests
    /// keeps the peer busy without a system call each (io.c, maybe_flush_socket). Whoever is about to
    /// wait on the peer still flushes first.
    /// </summary>
    public void FlushUnlessRecent(TimeSpan interval)
    {
        if (System.Diagnostics.Stopwatch.GetElapsedTime(_lastFlush) >= interval)
            Flush();
    }

    /// <summary>Runs on the flushing thread just before the bytes go out, to add queued messages.</summary>
    public Action? BeforeFlush { get; set; }

    /// <summary>Whether a write is waiting on the peer to take the bytes.</summary>
    public bool Waiting => Volatile.Read(ref _waiting) != 0;

    private int _waiting;

    public void Flush()
    {
        BeforeFlush?.Invoke();
        CloseFrame();
        _lastFlush = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_position == 0)
            return;
        try
        {
            Volatile.Write(ref _waiting, 1);
            _output.Write(_buffer, 0, _position);
            _output.Flush();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            throw new RsyncProtocolException($"writefd_unbuffered failed to write {_position} bytes to socket: {ex.InnerException?.Message ?? ex.Message}", ExitCodes.StreamIo, ex);
        }
        finally
        {
            Volatile.Write(ref _waiting, 0);
        }
        BytesWritten += _position;
        OnSocketWrite?.Invoke(_position);
        _position = 0;
    }

    /// <summary>Exactly <paramref name="length"/> contiguous bytes (small fields only).</summary>
    private Span<byte> GetSpan(int length)
    {
        if (!Multiplexed)
        {
            if (_buffer.Length - _position < length)
                Flush();
        }
        else
        {
            if (_frameStart >= 0 && (_position - _frameStart - FrameHeaderLength + length > MaxFramePayload || _buffer.Length - _position < length))
                CloseFrame();
            if (_frameStart < 0)
            {
                if (_buffer.Length - _position < FrameHeaderLength + length)
                    Flush();
                _frameStart = _position;
                _position += FrameHeaderLength;
            }
        }
        Span<byte> span = _buffer.AsSpan(_position, length);
        _position += length;
        return span;
    }

    /// <summary>Up to <paramref name="length"/> bytes of room in the current frame, flushing when the buffer is full.</summary>
    private Span<byte> GetSpanUpTo(int length)
    {
        if (!Multiplexed)
        {
            if (_position == _buffer.Length)
                Flush();
            int n = Math.Min(length, _buffer.Length - _position);
            Span<byte> raw = _buffer.AsSpan(_position, n);
            _position += n;
            return raw;
        }

        if (_frameStart >= 0 && _position - _frameStart - FrameHeaderLength >= MaxFramePayload)
            CloseFrame();
        if (_frameStart < 0)
        {
            if (_buffer.Length - _position < FrameHeaderLength + 1)
                Flush();
            _frameStart = _position;
            _position += FrameHeaderLength;
        }
        int room = Math.Min(MaxFramePayload - (_position - _frameStart - FrameHeaderLength), _buffer.Length - _position);
        if (room == 0)
        {
            Flush();
            return GetSpanUpTo(length);
        }
        int take = Math.Min(length, room);
        Span<byte> span = _buffer.AsSpan(_position, take);
        _position += take;
        return span;
    }

    private void CloseFrame()
    {
        if (_frameStart < 0)
            return;
        int payload = _position - _frameStart - FrameHeaderLength;
        if (payload == 0)
            _position = _frameStart;
        else
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_frameStart), ((uint)MultiplexBase << 24) | (uint)payload);
        _frameStart = -1;
    }
}
