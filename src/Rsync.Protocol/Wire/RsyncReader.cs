using System.Buffers.Binary;
using System.Text;

namespace NetRsync.Protocol.Wire;

/// <summary>An out-of-band message; the payload is only valid during the call.</summary>
internal delegate void MessageReceived(MessageCode code, ReadOnlySpan<byte> payload);

/// <summary>
/// The incoming half of a connection: one buffer, read from the socket by the thread that consumes
/// it. Once multiplexing starts, frame headers are taken out as the buffer is read (io.c,
/// read_a_msg): MSG_DATA bytes are handed out in place, every other message goes to
/// <see cref="MessageHandler"/> in stream order, with no thread or pipe in between.
/// </summary>
/// <remarks>
/// Reading only when the consumer asks cannot deadlock a peer: whoever reads a connection never
/// waits on its own writes to it (the receiving side reads on one thread and writes on another; a
/// sender's peer keeps reading while it writes, as rsync's generator does in io.c, perform_io).
/// </remarks>
internal sealed class RsyncReader : IDisposable
{
    private const int MultiplexBase = 7;
    // Not in a data frame: the next bytes at the frame boundary are a header.
    private const int Unframed = int.MaxValue;

    private readonly Stream _input;
    private readonly byte[] _buffer;
    private int _position;
    private int _length;
    // Where the current MSG_DATA frame's bytes end in the buffer; Unframed before multiplexing.
    private int _dataEnd = Unframed;
    private bool _multiplexed;
    private long _rawBytesRead;
    private int _lastPositiveNdx = -1;
    private int _lastNegativeNdx = 1;

    public RsyncReader(Stream input, int bufferSize = 64 * 1024)
    {
        _input = input;
        _buffer = new byte[bufferSize];
    }

    /// <summary>Flushed before any read that may wait on the peer.</summary>
    public RsyncWriter? FlushBeforeWaiting { get; set; }

    /// <summary>Called before each read from the socket, after the flush.</summary>
    public Action? BeforeSocketRead { get; set; }

    /// <summary>Receives every out-of-band message, on the reading thread, in stream order.</summary>
    public MessageReceived? MessageHandler { get; set; }

    /// <summary>Called with each chunk of raw bytes read from the socket.</summary>
    public Action<int>? OnSocketRead { get; set; }

    /// <summary>Which side we are, for error messages ("sender", "receiver").</summary>
    public string Role { get; set; } = "sender";

    public long BytesRead => Interlocked.Read(ref _rawBytesRead);

    public bool Multiplexed => _multiplexed;

    /// <summary>From here on the stream is frames: what is already buffered starts with a header.</summary>
    public void StartMultiplexing()
    {
        if (_multiplexed)
            return;
        _multiplexed = true;
        _dataEnd = _position;
    }

    // Data bytes ready in the buffer, up to the end of the current frame.
    private int Available => Math.Min(_length, _dataEnd) - _position;

    public byte ReadByte()
    {
        if (Available < 1)
            NextData();
        return _buffer[_position++];
    }

    public int ReadInt32()
    {
        if (Available < 4)
            return BinaryPrimitives.ReadInt32LittleEndian(Gather(stackalloc byte[4]));
        int v = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_position));
        _position += 4;
        return v;
    }

    public int ReadShortInt()
    {
        if (Available < 2)
            return BinaryPrimitives.ReadUInt16LittleEndian(Gather(stackalloc byte[2]));
        int v = BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(_position));
        _position += 2;
        return v;
    }

    public int ReadVarInt()
    {
        byte first = ReadByte();
        int extra = VarInt.ExtraBytes(first);
        if (extra == 0)
            return first;
        if (extra >= 5)
            throw new RsyncProtocolException("Overflow in read_varint()", ExitCodes.StreamIo);
        if (Available < extra)
            return VarInt.DecodeVarInt(first, Gather(stackalloc byte[extra]));
        int v = VarInt.DecodeVarInt(first, _buffer.AsSpan(_position, extra));
        _position += extra;
        return v;
    }

    public long ReadVarLong(int minBytes)
    {
        if (Available >= minBytes)
        {
            int more = VarInt.ExtraBytes(_buffer[_position]);
            if (Available >= minBytes + more)
            {
                long v = VarInt.DecodeVarLong(_buffer.AsSpan(_position, minBytes), _buffer.AsSpan(_position + minBytes, more), minBytes);
                _position += minBytes + more;
                return v;
            }
        }
        Span<byte> bytes = stackalloc byte[16];
        var head = Gather(bytes[..minBytes]);
        int extra = VarInt.ExtraBytes(head[0]);
        var tail = Gather(bytes.Slice(minBytes, extra));
        return VarInt.DecodeVarLong(head, tail, minBytes);
    }

    // Fills a small span from the stream, across frames, and returns it.
    private Span<byte> Gather(Span<byte> into)
    {
        ReadBytes(into);
        return into;
    }

    /// <summary>Reads an index sent as a delta from the previous one of its sign (io.c, read_ndx).</summary>
    public int ReadNdx()
    {
        byte b = ReadByte();
        bool negative = false;
        if (b == 0xFF)
        {
            negative = true;
            b = ReadByte();
        }
        else if (b == 0)
            return Ndx.Done;

        ref int previous = ref negative ? ref _lastNegativeNdx : ref _lastPositiveNdx;
        int num;
        if (b == 0xFE)
        {
            byte b0 = ReadByte();
            byte b1 = ReadByte();
            if ((b0 & 0x80) != 0)
            {
                byte b2 = ReadByte();
                byte b3 = ReadByte();
                num = b1 | (b2 << 8) | (b3 << 16) | ((b0 & 0x7F) << 24);
            }
            else
                num = (b0 << 8) + b1 + previous;
        }
        else
            num = b + previous;
        previous = num;
        if (negative)
            return -num;
        if (NdxFromWire is { } map)
        {
            if ((uint)num >= (uint)map.Length)
                throw new RsyncProtocolException($"Invalid file index: {num} (count={map.Length})", ExitCodes.Protocol);
            return map[num];
        }
        return num;
    }

    /// <summary>
    /// Under --iconv, maps the sender's list order to this receiving side's sorted order
    /// (see <see cref="RsyncWriter.NdxToWire"/>). Null otherwise.
    /// </summary>
    public int[]? NdxFromWire { get; set; }

    public void ReadBytes(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            if (Available < 1)
                NextData();
            int n = Math.Min(destination.Length, Available);
            _buffer.AsSpan(_position, n).CopyTo(destination);
            _position += n;
            destination = destination[n..];
        }
    }

    /// <summary>
    /// Between 1 and <paramref name="max"/> data bytes where they lie in the buffer, with no copy;
    /// valid until the next read.
    /// </summary>
    public ReadOnlySpan<byte> ReadInPlace(int max)
    {
        if (Available < 1)
            NextData();
        int n = Math.Min(max, Available);
        var span = _buffer.AsSpan(_position, n);
        _position += n;
        return span;
    }

    public byte[] ReadBytes(int count)
    {
        var result = new byte[count];
        ReadBytes(result);
        return result;
    }

    public byte[] ReadVString(int maxLength)
    {
        int len = ReadByte();
        if ((len & 0x80) != 0)
            len = (len & ~0x80) * 0x100 + ReadByte();
        if (len >= maxLength)
            throw new RsyncProtocolException($"over-long vstring received ({len} > {maxLength - 1})");
        return ReadBytes(len);
    }

    /// <summary>A text line without its newline, as the daemon handshake sends them (io.c, read_line_old).</summary>
    public string? ReadLine(int maxLength = 4096)
    {
        var bytes = new List<byte>();
        while (true)
        {
            if (Available < 1 && !TryNextData())
                return bytes.Count == 0 ? null : Text.NameText.FromBytes(bytes.ToArray());
            byte b = _buffer[_position++];
            if (b == (byte)'\n')
                return Text.NameText.FromBytes(bytes.ToArray());
            if (b == (byte)'\r')
                continue;
            if (bytes.Count >= maxLength)
                throw new RsyncProtocolException("over-long line received from the peer", ExitCodes.StreamIo);
            bytes.Add(b);
        }
    }

    private void NextData()
    {
        if (!TryNextData())
            throw ConnectionClosed();
    }

    /// <summary>
    /// Makes data bytes available: reads the socket, and at a frame boundary takes the header out,
    /// passing any message on (io.c, read_a_msg). False when the stream ended first.
    /// </summary>
    private bool TryNextData()
    {
        while (Available < 1)
        {
            if (_position < _dataEnd)
            {
                if (!ReadMore(1))
                    return false;
                continue;
            }
            if (!ReadMore(4))
                return false;
            uint word = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_position));
            int tag = (int)(word >> 24) - MultiplexBase;
            int length = (int)(word & 0xFFFFFF);
            if (tag < 0)
                throw new RsyncProtocolException($"unexpected tag {tag} [{Role}]", ExitCodes.StreamIo);
            _position += 4;
            if (tag == (int)MessageCode.Data)
            {
                _dataEnd = _position + length;
                continue;
            }
            _dataEnd = _position;
            if (length <= _buffer.Length)
            {
                // Handed over where it lies in the buffer, with no copy of its own.
                if (!ReadMore(length))
                    return false;
                int at = _position;
                _position += length;
                _dataEnd = _position;
                MessageHandler?.Invoke((MessageCode)tag, _buffer.AsSpan(at, length));
                continue;
            }
            byte[] payload = new byte[length];
            int buffered = _length - _position;
            _buffer.AsSpan(_position, buffered).CopyTo(payload);
            _position += buffered;
            _dataEnd = _position;
            if (!ReadRaw(payload.AsSpan(buffered)))
                return false;
            MessageHandler?.Invoke((MessageCode)tag, payload);
        }
        return true;
    }

    /// <summary>Reads from the socket until at least <paramref name="count"/> bytes past the position are buffered.</summary>
    private bool ReadMore(int count)
    {
        while (_length - _position < count)
        {
            if (_buffer.Length - _position < count || _length == _buffer.Length)
                Compact();
            int n = ReadSocket(_buffer.AsSpan(_length));
            if (n <= 0)
                return false;
            _length += n;
        }
        return true;
    }

    // A message longer than the buffer is read straight into its own array.
    private bool ReadRaw(Span<byte> into)
    {
        while (!into.IsEmpty)
        {
            int n = ReadSocket(into);
            if (n <= 0)
                return false;
            into = into[n..];
        }
        return true;
    }

    private void Compact()
    {
        int kept = _length - _position;
        if (_position == 0)
            return;
        Buffer.BlockCopy(_buffer, _position, _buffer, 0, kept);
        if (_dataEnd != Unframed)
            _dataEnd -= _position;
        _length = kept;
        _position = 0;
    }

    /// <summary>Whether a read is waiting on the peer: only then can it time out (io.c, check_timeout runs while waiting).</summary>
    public bool Waiting => Volatile.Read(ref _waiting) != 0;

    private int _waiting;

    private int ReadSocket(Span<byte> into)
    {
        FlushBeforeWaiting?.Flush();
        BeforeSocketRead?.Invoke();
        int n;
        try
        {
            Volatile.Write(ref _waiting, 1);
            n = _input.Read(into);
        }
        catch (RsyncException)
        {
            throw;
        }
        catch (IOException ex) when (ex.InnerException is RsyncException inner)
        {
            throw inner;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            throw ConnectionClosed(ex);
        }
        finally
        {
            Volatile.Write(ref _waiting, 0);
        }
        if (n > 0)
        {
            Interlocked.Add(ref _rawBytesRead, n);
            OnSocketRead?.Invoke(n);
        }
        return n;
    }

    private RsyncProtocolException ConnectionClosed(Exception? inner = null) =>
        new($"connection unexpectedly closed ({BytesRead} bytes received so far) [{Role}]", ExitCodes.StreamIo, inner);

    /// <summary>
    /// After the closing handshake, waits for the peer to hang up first, reading and passing on
    /// anything more it sends. Closing with unread bytes would reset the connection under a daemon
    /// that is still tidying up.
    /// </summary>
    public void WaitForPeerToClose(TimeSpan timeout)
    {
        if (!_multiplexed)
            return;
        // The read blocks until the peer closes, so it runs apart and is given up on at the deadline;
        // the caller then closes the connection, which ends it.
        var drain = Task.Run(() =>
        {
            try
            {
                while (TryNextData())
                    _position += Available;
            }
            catch (Exception ex) when (ex is RsyncException or IOException or ObjectDisposedException)
            {
            }
        });
        drain.Wait(timeout);
    }

    public void Dispose()
    {
    }
}
