using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;

namespace NetRsync.Protocol.Wire;

/// <summary>
/// The incoming half of a connection. Before multiplexing it reads the socket directly; after,
/// a pump thread demultiplexes frames as they arrive (so a peer never stalls on us while we
/// write), hands out-of-band messages to <see cref="MessageHandler"/> and queues MSG_DATA bytes.
/// </summary>
internal sealed class RsyncReader : IDisposable
{
    private const int MultiplexBase = 7;
    // How far the socket is read ahead of the consumer. The consumers of incoming data never wait on
    // our own writes, so a full buffer only slows the peer down; it bounds memory per connection, as
    // rsync's input buffer does, and the kernel's socket buffer reads ahead beyond it.
    private const long PumpBufferLimit = 1024 * 1024;

    private readonly Stream _input;
    private Exception? _pumpError;
    private readonly ManualResetEventSlim _pumpStopped = new();
    private readonly byte[] _buffer;
    private int _position;
    private int _length;
    private Stream _source;
    private Pipe? _pipe;
    private Thread? _pump;
    private long _rawBytesRead;
    private int _lastPositiveNdx = -1;
    private int _lastNegativeNdx = 1;

    public RsyncReader(Stream input, int bufferSize = 64 * 1024)
    {
        _input = input;
        _source = input;
        _buffer = new byte[bufferSize];
    }

    /// <summary>Flushed before any read that may wait on the peer.</summary>
    public RsyncWriter? FlushBeforeWaiting { get; set; }

    /// <summary>Receives every out-of-band message, on the pump thread, in stream order.</summary>
    public Action<MessageCode, byte[]>? MessageHandler { get; set; }

    /// <summary>Called with each chunk of raw bytes read from the socket.</summary>
    public Action<int>? OnSocketRead { get; set; }

    /// <summary>Which side we are, for error messages ("sender", "receiver").</summary>
    public string Role { get; set; } = "sender";

    public long BytesRead => Interlocked.Read(ref _rawBytesRead);

    public bool Multiplexed => _pipe is not null;

    public void StartMultiplexing()
    {
        if (_pipe is not null)
            return;
        byte[] leftover = _buffer.AsSpan(_position, _length - _position).ToArray();
        _position = _length = 0;
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: PumpBufferLimit, resumeWriterThreshold: PumpBufferLimit / 2, useSynchronizationContext: false));
        _source = _pipe.Reader.AsStream();
        _pump = new Thread(() => Pump(leftover)) { IsBackground = true, Name = "rsync-demux" };
        _pump.Start();
    }

    public byte ReadByte()
    {
        Ensure(1);
        return _buffer[_position++];
    }

    public int ReadInt32()
    {
        Ensure(4);
        int v = BinaryPrimitives.ReadInt32LittleEndian(_buffer.AsSpan(_position));
        _position += 4;
        return v;
    }

    public int ReadShortInt()
    {
        Ensure(2);
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
        Ensure(extra);
        int v = VarInt.DecodeVarInt(first, _buffer.AsSpan(_position, extra));
        _position += extra;
        return v;
    }

    public long ReadVarLong(int minBytes)
    {
        Ensure(minBytes);
        int extra = VarInt.ExtraBytes(_buffer[_position]);
        Ensure(minBytes + extra);
        long v = VarInt.DecodeVarLong(_buffer.AsSpan(_position, minBytes), _buffer.AsSpan(_position + minBytes, extra), minBytes);
        _position += minBytes + extra;
        return v;
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
            if (_position == _length)
                Fill(1);
            int n = Math.Min(destination.Length, _length - _position);
            _buffer.AsSpan(_position, n).CopyTo(destination);
            _position += n;
            destination = destination[n..];
        }
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
            if (_position == _length && !TryFill())
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

    private void Ensure(int count)
    {
        if (_length - _position < count)
            Fill(count);
    }

    private void Fill(int count)
    {
        while (_length - _position < count)
        {
            if (!TryFill())
                throw Volatile.Read(ref _pumpError) ?? ConnectionClosed();
        }
    }

    private bool TryFill()
    {
        if (_position > 0)
        {
            Buffer.BlockCopy(_buffer, _position, _buffer, 0, _length - _position);
            _length -= _position;
            _position = 0;
        }
        FlushBeforeWaiting?.Flush();
        int n;
        try
        {
            n = _source.Read(_buffer, _length, _buffer.Length - _length);
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
        if (n <= 0)
            return false;
        if (_pipe is null)
            CountRaw(n);
        _length += n;
        return true;
    }

    private void CountRaw(int n)
    {
        Interlocked.Add(ref _rawBytesRead, n);
        OnSocketRead?.Invoke(n);
    }

    private RsyncProtocolException ConnectionClosed(Exception? inner = null) =>
        new($"connection unexpectedly closed ({BytesRead} bytes received so far) [{Role}]", ExitCodes.StreamIo, inner);

    private void Pump(byte[] leftover)
    {
        var writer = _pipe!.Writer;
        int leftoverPos = 0;
        var header = new byte[4];

        bool ReadExactly(Span<byte> into)
        {
            while (!into.IsEmpty)
            {
                int n;
                if (leftoverPos < leftover.Length)
                {
                    n = Math.Min(into.Length, leftover.Length - leftoverPos);
                    leftover.AsSpan(leftoverPos, n).CopyTo(into);
                    leftoverPos += n;
                }
                else
                {
                    n = _input.Read(into);
                    if (n <= 0)
                        return false;
                    CountRaw(n);
                }
                into = into[n..];
            }
            return true;
        }

        try
        {
            while (true)
            {
                if (!ReadExactly(header))
                {
                    Stop(writer, ConnectionClosed());
                    return;
                }
                uint word = BinaryPrimitives.ReadUInt32LittleEndian(header);
                int tag = (int)(word >> 24) - MultiplexBase;
                int length = (int)(word & 0xFFFFFF);
                if (tag < 0)
                    throw new RsyncProtocolException($"unexpected tag {tag + MultiplexBase - MultiplexBase} [{Role}]", ExitCodes.StreamIo);
                if (tag == (int)MessageCode.Data)
                {
                    while (length > 0)
                    {
                        Span<byte> span = writer.GetSpan(Math.Min(length, 64 * 1024));
                        int take = Math.Min(span.Length, length);
                        if (!ReadExactly(span[..take]))
                        {
                            Stop(writer, ConnectionClosed());
                            return;
                        }
                        writer.Advance(take);
                        length -= take;
                    }
                    var flush = writer.FlushAsync().AsTask().GetAwaiter().GetResult();
                    if (flush.IsCompleted)
                        return;
                    continue;
                }

                var payload = new byte[length];
                if (!ReadExactly(payload))
                {
                    Stop(writer, ConnectionClosed());
                    return;
                }
                MessageHandler?.Invoke((MessageCode)tag, payload);
            }
        }
        catch (Exception ex)
        {
            Stop(writer, ex is RsyncException ? ex : ConnectionClosed(ex));
        }
    }

    /// <summary>
    /// Ends the data stream cleanly, so bytes already queued are still read; the reason is
    /// raised only when a read needs more than arrived (io.c serves its buffer first too).
    /// </summary>
    private void Stop(PipeWriter writer, Exception reason)
    {
        Volatile.Write(ref _pumpError, reason);
        writer.Complete();
        _pumpStopped.Set();
    }

    /// <summary>
    /// After the closing handshake, waits for the peer to hang up first, discarding anything
    /// more it sends. Closing with unread bytes would reset the connection under a daemon
    /// that is still tidying up.
    /// </summary>
    public void WaitForPeerToClose(TimeSpan timeout)
    {
        if (_pipe is null)
            return;
        var deadline = DateTime.UtcNow + timeout;
        while (!_pumpStopped.IsSet)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return;
            if (_pipe.Reader.TryRead(out var result))
                _pipe.Reader.AdvanceTo(result.Buffer.End);
            _pumpStopped.Wait(left < TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50));
        }
    }

    public void Dispose()
    {
        _pipe?.Reader.Complete();
    }
}
