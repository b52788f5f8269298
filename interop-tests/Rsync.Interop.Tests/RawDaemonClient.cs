using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace NetRsync.Interop.Tests;

/// <summary>A hand-driven pulling client at protocol 30 (MD5 block sums, no negotiation, no
/// incremental recursion): does the daemon handshake, asks for one file as a receiver does, and then
/// lets the test send whatever sum head and sums it likes (io.c, sender.c: what a hostile client
/// sends to a daemon's sender). Server output is demultiplexed; message text (MSG_ERROR, MSG_INFO,
/// ...) is kept in <see cref="Messages"/>.</summary>
public sealed class RawDaemonClient : WireReader, IDisposable
{
    private const int MuxData = 7 << 24;
    private const int XmitExtendedFlags = 1 << 2;
    private const int XmitSameMode = 1 << 1;
    private const int XmitSameName = 1 << 5;
    private const int XmitLongName = 1 << 6;
    private const int XmitSameTime = 1 << 7;

    /// <summary>CF_CHKSUM_SEED_FIX: the seed goes before the data in block sums.</summary>
    public const int CompatSeedFix = 1 << 5;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly MemoryStream _out = new();
    private int _inFrameLeft;
    private int _prevPositiveOut = -1;

    /// <summary>Text of every non-data message the daemon sent.</summary>
    public StringBuilder Messages { get; } = new();

    public int CompatFlags { get; private set; }

    public int ChecksumSeed { get; private set; }

    /// <summary>Names in the file list, in order (their list indexes).</summary>
    public List<string> Files { get; } = [];

    /// <summary>MSG_DATA bytes read since <see cref="ResetDataCount"/>.</summary>
    public long DataBytesRead { get; private set; }

    private RawDaemonClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _stream.ReadTimeout = 20_000;
        _stream.WriteTimeout = 20_000;
    }

    /// <summary>Connects, sends <c>--server --sender -te.LsC . MODULE/PATH</c> and reads the file list.</summary>
    public static async Task<RawDaemonClient> PullAsync(int port, string module, string path)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var c = new RawDaemonClient(tcp);
        try
        {
            c.Handshake(module, ["--server", "--sender", "-te.LsC", ".", $"{module}/{path}"]);
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    private void Handshake(string module, string[] args)
    {
        string greeting = ReadLine();
        if (!greeting.StartsWith("@RSYNCD: ", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"not a daemon greeting: {greeting}");
        }
        WriteRaw("@RSYNCD: 30.0\n"u8);
        WriteRaw(Encoding.UTF8.GetBytes(module + "\n"));
        while (true)
        {
            string line = ReadLine();
            if (line == "@RSYNCD: OK")
            {
                break;
            }
            if (line.StartsWith("@ERROR", StringComparison.Ordinal) || line.StartsWith("@RSYNCD: EXIT", StringComparison.Ordinal))
            {
                throw new InvalidDataException($"the daemon refused: {line}");
            }
            Messages.Append(line).Append('\n'); // motd
        }
        foreach (string a in args)
        {
            WriteRaw(Encoding.UTF8.GetBytes(a));
            WriteRaw([0]);
        }
        WriteRaw([0]);

        // compat.c, setup_protocol: the compat flags (one byte without 'v') and the seed, unmultiplexed.
        CompatFlags = ReadRawByte();
        Span<byte> seed = stackalloc byte[4];
        ReadRawExactly(seed);
        ChecksumSeed = BinaryPrimitives.ReadInt32LittleEndian(seed);

        // The (empty) filter list, multiplexed as a protocol-30 receiver does.
        WriteInt32(0);
        Flush();
        ReadFileList();
    }

    /// <summary>flist.c, recv_file_entry, for the fields "-t" without -r/-l/-o/-g/-D brings.</summary>
    private void ReadFileList()
    {
        string last = "";
        while (true)
        {
            int flags = ReadByte();
            if (flags == 0)
            {
                return;
            }
            if ((flags & XmitExtendedFlags) != 0)
            {
                flags |= ReadByte() << 8;
            }
            int l1 = (flags & XmitSameName) != 0 ? ReadByte() : 0;
            int l2 = (flags & XmitLongName) != 0 ? (int)ReadVarLong(1) : ReadByte();
            string name = last[..l1] + Encoding.UTF8.GetString(ReadBytes(l2));
            ReadVarLong(3); // size
            if ((flags & XmitSameTime) == 0)
            {
                ReadVarLong(4);
            }
            if ((flags & XmitSameMode) == 0)
            {
                ReadInt32();
            }
            Files.Add(name);
            last = name;
        }
    }

    public void ResetDataCount() => DataBytesRead = 0;

    /// <summary>Reads until the daemon hangs up; false if it is still talking after <paramref name="timeout"/>.</summary>
    public bool ReadUntilClosed(TimeSpan timeout)
    {
        _stream.ReadTimeout = (int)timeout.TotalMilliseconds;
        try
        {
            while (true)
            {
                ReadByte();
            }
        }
        catch (EndOfStreamException)
        {
            return true;
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut })
        {
            return false;
        }
        catch (IOException)
        {
            return true; // reset by the peer: closed too
        }
    }

    // ---------------------------------------------------------------- writing (multiplexed)

    public void WriteRaw(ReadOnlySpan<byte> data)
    {
        _stream.Write(data);
        _stream.Flush();
    }

    public void Write(ReadOnlySpan<byte> data) => _out.Write(data);

    public void WriteInt32(int v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        _out.Write(b);
    }

    public void WriteShortInt(int v)
    {
        _out.WriteByte((byte)v);
        _out.WriteByte((byte)(v >> 8));
    }

    /// <summary>io.c write_ndx (positive indexes and NDX_DONE only).</summary>
    public void WriteNdx(int ndx)
    {
        if (ndx < 0)
        {
            _out.WriteByte(0);
            return;
        }
        int diff = ndx - _prevPositiveOut;
        _prevPositiveOut = ndx;
        if (diff > 0 && diff < 0xFE)
        {
            _out.WriteByte((byte)diff);
        }
        else
        {
            _out.WriteByte(0xFE);
            _out.WriteByte((byte)((ndx >> 24) | 0x80));
            _out.WriteByte((byte)ndx);
            _out.WriteByte((byte)(ndx >> 8));
            _out.WriteByte((byte)(ndx >> 16));
        }
    }

    public void Flush()
    {
        byte[] data = _out.ToArray();
        _out.SetLength(0);
        Span<byte> header = stackalloc byte[4];
        for (int off = 0; off < data.Length; off += 0xFFFF)
        {
            int n = Math.Min(0xFFFF, data.Length - off);
            BinaryPrimitives.WriteInt32LittleEndian(header, MuxData | n);
            _stream.Write(header);
            _stream.Write(data, off, n);
        }
        _stream.Flush();
    }

    // ---------------------------------------------------------------- reading (demultiplexed)

    private void ReadRawExactly(Span<byte> into)
    {
        int got = 0;
        while (got < into.Length)
        {
            int n = _stream.Read(into[got..]);
            if (n == 0)
            {
                throw new EndOfStreamException("the daemon closed the connection");
            }
            got += n;
        }
    }

    private int ReadRawByte()
    {
        Span<byte> b = stackalloc byte[1];
        ReadRawExactly(b);
        return b[0];
    }

    private string ReadLine()
    {
        var line = new List<byte>();
        while (true)
        {
            int b = ReadRawByte();
            if (b == '\n')
            {
                return Encoding.UTF8.GetString(line.ToArray());
            }
            if (line.Count > 4096)
            {
                throw new InvalidDataException("handshake line too long");
            }
            line.Add((byte)b);
        }
    }

    protected override void ReadExactly(Span<byte> into)
    {
        if (_out.Length > 0)
        {
            Flush();
        }
        int got = 0;
        Span<byte> header = stackalloc byte[4];
        while (got < into.Length)
        {
            while (_inFrameLeft == 0)
            {
                ReadRawExactly(header);
                int h = BinaryPrimitives.ReadInt32LittleEndian(header);
                int tag = (h >>> 24) - 7;
                int len = h & 0xFFFFFF;
                if (tag == 0)
                {
                    _inFrameLeft = len;
                    continue;
                }
                byte[] payload = new byte[len];
                ReadRawExactly(payload);
                Messages.Append($"[message {tag}] ").Append(Encoding.UTF8.GetString(payload)).Append('\n');
            }
            int n = Math.Min(_inFrameLeft, into.Length - got);
            ReadRawExactly(into.Slice(got, n));
            _inFrameLeft -= n;
            got += n;
            DataBytesRead += n;
        }
    }

    /// <summary>io.c read_varlong: <paramref name="minBytes"/> bytes, the first one's leading 1 bits
    /// counting the extra bytes that follow.</summary>
    public long ReadVarLong(int minBytes)
    {
        Span<byte> first = stackalloc byte[8];
        ReadExactly(first[..minBytes]);
        Span<byte> u = stackalloc byte[9];
        u.Clear();
        first[1..minBytes].CopyTo(u);
        int lead = first[0];
        int extra = 0;
        while (extra < 6 && (lead & (0x80 >> extra)) != 0)
        {
            extra++;
        }
        if (extra > 0)
        {
            ReadExactly(u.Slice(minBytes - 1, extra));
            u[minBytes + extra - 1] = (byte)(lead & ((1 << (8 - extra)) - 1));
        }
        else
        {
            u[minBytes - 1] = (byte)lead;
        }
        return BinaryPrimitives.ReadInt64LittleEndian(u);
    }

    /// <summary>checksum.c get_checksum1 (signed chars, CHAR_OFFSET 0).</summary>
    public static uint WeakSum(ReadOnlySpan<byte> block)
    {
        uint s1 = 0, s2 = 0;
        foreach (byte b in block)
        {
            s1 += (uint)(sbyte)b;
            s2 += s1;
        }
        return (s1 & 0xFFFF) + (s2 << 16);
    }

    public void Dispose()
    {
        _stream.Dispose();
        _tcp.Dispose();
    }
}
