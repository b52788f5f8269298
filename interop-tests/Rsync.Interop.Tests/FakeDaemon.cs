using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace NetRsync.Interop.Tests;

/// <summary>One entry of a <see cref="FakeDaemon"/>'s file list. <see cref="Name"/> goes on the wire
/// byte for byte (UTF-8), whatever it contains.</summary>
public sealed record FakeEntry(string Name, PosixFileType Type)
{
    /// <summary>A regular file's content (sent as literal data when the client asks for the file).</summary>
    public byte[] Content { get; init; } = [];

    public string? LinkTarget { get; init; }

    public uint Permissions { get; init; } = 0x1A4; // 0644

    public long MtimeSeconds { get; init; } = 1_300_000_000;

    /// <summary>With -H: this entry leads a hard-link group (XMIT_HLINKED | XMIT_HLINK_FIRST).</summary>
    public bool HardLinkFirst { get; init; }

    /// <summary>With -H: this entry is a member of the group led by the entry at this list index
    /// ("." included); only its name and that index go on the wire (flist.c, send_file_entry).</summary>
    public int? HardLinkLeader { get; init; }

    public static FakeEntry File(string name, string content) =>
        new(name, PosixFileType.Regular) { Content = Encoding.UTF8.GetBytes(content) };

    public static FakeEntry Directory(string name) =>
        new(name, PosixFileType.Directory) { Permissions = 0x1ED }; // 0755

    public static FakeEntry Symlink(string name, string target) =>
        new(name, PosixFileType.Symlink) { LinkTarget = target, Permissions = 0x1FF }; // 0777

    /// <summary>st_mode as it goes on the wire (type bits | permissions).</summary>
    public uint WireMode => (uint)Type | Permissions;

    /// <summary>The size field: content length, or the target's length for a symlink.</summary>
    public long Size => Type switch
    {
        PosixFileType.Regular => Content.Length,
        PosixFileType.Symlink => Encoding.UTF8.GetByteCount(LinkTarget ?? ""),
        _ => 0,
    };
}

/// <summary>
/// A scripted rsync daemon on 127.0.0.1 that serves one module ("mod", any name is accepted) as a
/// SENDER with a file list the test chooses, including names no honest daemon would send. It speaks
/// protocol 31 exactly as far as a pull needs, the way rsync 3.1.1's daemon does:
/// <list type="number">
/// <item>greeting <c>@RSYNCD: 31.0</c>; reads the client's greeting line and module line; <c>@RSYNCD: OK</c></item>
/// <item>reads the NUL-terminated arguments up to an empty one</item>
/// <item>compat flags 0 (a varint: one zero byte; so no incremental recursion, no varint flags, no
/// safe file list) and a 4-byte checksum seed, unmultiplexed</item>
/// <item>from here both directions are multiplexed (4-byte little-endian header <c>(7 + tag) &lt;&lt; 24 | length</c>,
/// tag 0 = MSG_DATA): reads the client's filter list (int32 lengths until 0)</item>
/// <item>sends the file list: "." first (unless told not to), then the given entries in the given order (give them in
/// rsync's sorted order, so the client's indexes are the fake's). Fields as flist.c send_file_entry
/// writes them for protocol 31 when only -r/-l are in effect: flags byte (XMIT_SAME_UID|XMIT_SAME_GID,
/// plus XMIT_TOP_DIR for "."), name length byte, name, varlong size (3), varlong mtime (4), int32 mode,
/// and for a symlink a varint length and the target; then a 0 byte</item>
/// <item>acts as sender.c send_files: answers each requested index with its whole content as literal
/// tokens and its MD5, echoes non-transfer items, ends the phases, sends the stats, and does the
/// protocol-31 goodbye</item>
/// </list>
/// So a client must be run with <c>-r</c> or <c>-rl</c> (no -o/-g/-D/-H/-c, which would add fields).
/// Every connection is served, one at a time. <see cref="Transcript"/> tells what happened.
/// </summary>
public sealed class FakeDaemon : IAsyncDisposable
{
    private const int ChunkSize = 32 * 1024;
    private const int MuxData = 7 << 24;

    private const int XmitTopDir = 1 << 0;
    private const int XmitExtendedFlags = 1 << 2;
    private const int XmitHlinked = 1 << 9;
    private const int XmitHlinkFirst = 1 << 12;
    private const int XmitSameUid = 1 << 3;
    private const int XmitSameGid = 1 << 4;

    private const int ItemBasisTypeFollows = 1 << 11;
    private const int ItemXnameFollows = 1 << 12;
    private const int ItemTransfer = 1 << 15;

    private const int NdxDone = -1;
    private const int MsgErrorExit = 86;

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly StringBuilder _transcript = new();
    private readonly List<string> _requested = [];
    private readonly List<Socket> _sockets = [];
    private int _connectionsEnded;
    private int _fileListsSent;

    public int Port { get; }

    /// <summary>The whole list as sent: "." (unless left out) and then the entries.</summary>
    public IReadOnlyList<FakeEntry> List { get; }

    /// <summary>When set, decides how a requested file is answered (a lying sender); null answers
    /// honestly.</summary>
    public Func<int, FakeEntry, FakeTransferReply?>? ReplyFor { get; init; }

    private FakeDaemon(IReadOnlyList<FakeEntry> entries, bool withRoot, Func<int, FakeEntry, FakeTransferReply?>? replyFor = null)
    {
        ReplyFor = replyFor;
        List = withRoot ? [new FakeEntry(".", PosixFileType.Directory) { Permissions = 0x1ED }, .. entries] : [.. entries];
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoop();
    }

    /// <summary>Starts listening on a free loopback port. <paramref name="entries"/> follow ".", in
    /// rsync's sorted order. Without <paramref name="withRoot"/> the list has no "." first (as for
    /// a request of a single file, or when a test wants to send a "." of its own).</summary>
    public static FakeDaemon Start(IReadOnlyList<FakeEntry> entries, bool withRoot = true) => new(entries, withRoot);

    /// <summary>As <see cref="Start(IReadOnlyList{FakeEntry}, bool)"/>, with a hook that may answer a
    /// requested file with a reply of the test's making (see <see cref="FakeTransferReply"/>).</summary>
    public static FakeDaemon Start(IReadOnlyList<FakeEntry> entries, Func<int, FakeEntry, FakeTransferReply?> replyFor, bool withRoot = true) =>
        new(entries, withRoot, replyFor);

    /// <summary><c>rsync://127.0.0.1:PORT/mod/</c>.</summary>
    public string Url(string module = "mod") => $"rsync://127.0.0.1:{Port}/{module}/";

    /// <summary>How many connections got the complete file list.</summary>
    public int FileListsSent => Volatile.Read(ref _fileListsSent);

    /// <summary>How many connections have been served to the end (or hung up on).</summary>
    public int ConnectionsEnded => Volatile.Read(ref _connectionsEnded);

    /// <summary>Names the client asked to have transferred, in order.</summary>
    public IReadOnlyList<string> TransferRequests
    {
        get
        {
            lock (_transcript)
            {
                return _requested.ToArray();
            }
        }
    }

    /// <summary>A line per step of every connection: what the client sent, what the fake answered.</summary>
    public string Transcript
    {
        get
        {
            lock (_transcript)
            {
                return _transcript.ToString();
            }
        }
    }

    /// <summary>Waits until <paramref name="count"/> connections have ended; false on timeout.</summary>
    public async Task<bool> WaitForConnectionsAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (ConnectionsEnded < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(25); // poll interval
        }
        return true;
    }

    private void Log(string line)
    {
        lock (_transcript)
        {
            _transcript.Append(line).Append('\n');
        }
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            lock (_sockets)
            {
                _sockets.Add(socket);
            }
            // One at a time, on a thread of its own: the exchange is plain blocking I/O.
            await Task.Factory.StartNew(() => Serve(socket), TaskCreationOptions.LongRunning);
        }
    }

    private void Serve(Socket socket)
    {
        Log("--- connection");
        try
        {
            // A client that stops talking must not hang the test run.
            socket.ReceiveTimeout = 30_000;
            socket.SendTimeout = 30_000;
            using var stream = new NetworkStream(socket, ownsSocket: true);
            var exchange = new Exchange(stream, Log);
            Run(exchange);
            Log("--- exchange complete");
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or ObjectDisposedException or InvalidDataException)
        {
            Log($"--- connection ended: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            Interlocked.Increment(ref _connectionsEnded);
        }
    }

    private void Run(Exchange s)
    {
        s.WriteRaw("@RSYNCD: 31.0\n"u8);
        Log($"client greeting: {Show(s.ReadLine())}");
        string module = s.ReadLine();
        Log($"module: {Show(module)}");
        s.WriteRaw("@RSYNCD: OK\n"u8);
        var args = new List<string>();
        while (s.ReadNulString() is { Length: > 0 } arg)
        {
            args.Add(arg);
        }
        Log($"args: {string.Join(" ", args.Select(Show))}");
        // -o/-g (e.g. from -a) make the client expect the uid and gid lists after the file list.
        string shortOptions = args.FirstOrDefault(a => a.Length > 1 && a[0] == '-' && a[1] != '-') is string cluster
            ? cluster.Split('e')[0]
            : "";
        bool uids = shortOptions.Contains('o', StringComparison.Ordinal);
        bool gids = shortOptions.Contains('g', StringComparison.Ordinal);

        // setup_protocol: compat flags (varint 0 = one zero byte) and the checksum seed.
        s.WriteRaw([0, 0x78, 0x56, 0x34, 0x12]);
        s.Multiplexed = true;

        int rules = 0;
        while (true)
        {
            int len = s.ReadInt32();
            if (len == 0)
            {
                break;
            }
            if (len < 0 || len > 4096)
            {
                throw new InvalidDataException($"filter rule length {len}");
            }
            Log($"filter rule: {Show(Encoding.UTF8.GetString(s.ReadBytes(len)))}");
            rules++;
        }
        Log($"filter list ended after {rules} rule(s)");

        WriteFileList(s);
        // uidlist.c, send_id_lists: each list is ended by id 0 (no names: every entry has uid/gid 0).
        if (uids)
        {
            s.WriteVarLong(0, 1);
        }
        if (gids)
        {
            s.WriteVarLong(0, 1);
        }
        s.Flush();
        Interlocked.Increment(ref _fileListsSent);
        Log($"file list sent: {List.Count} entries");

        SendFiles(s);
    }

    private void WriteFileList(Exchange s)
    {
        foreach (FakeEntry e in List)
        {
            byte[] name = Encoding.UTF8.GetBytes(e.Name);
            if (name.Length > 255)
            {
                throw new ArgumentException($"name too long for the fake's short-name encoding: {e.Name}");
            }
            int xflags = XmitSameUid | XmitSameGid | (e.Name == "." && e.Type == PosixFileType.Directory ? XmitTopDir : 0);
            if (e.HardLinkFirst || e.HardLinkLeader is not null)
            {
                xflags |= XmitHlinked | (e.HardLinkFirst ? XmitHlinkFirst : 0) | XmitExtendedFlags;
                s.WriteShortInt(xflags);
            }
            else
            {
                s.WriteByte((byte)xflags);
            }
            s.WriteByte((byte)name.Length);
            s.Write(name);
            if (e.HardLinkLeader is int leader)
            {
                // A later member of a group: the rest of its entry is the leader's.
                s.WriteVarLong(leader, 1);
                continue;
            }
            s.WriteVarLong(e.Size, 3);
            s.WriteVarLong(e.MtimeSeconds, 4);
            s.WriteInt32((int)e.WireMode);
            if (e.Type == PosixFileType.Symlink)
            {
                byte[] target = Encoding.UTF8.GetBytes(e.LinkTarget ?? "");
                s.WriteVarLong(target.Length, 1);
                s.Write(target);
            }
        }
        s.WriteByte(0);
    }

    /// <summary>sender.c send_files, then main.c handle_stats and read_final_goodbye (protocol 31).</summary>
    private void SendFiles(Exchange s)
    {
        int phase = 0;
        long written = 0;
        while (true)
        {
            int ndx = s.ReadNdx();
            if (ndx == NdxDone)
            {
                Log($"client: NDX_DONE (phase {phase})");
                if (++phase > 2)
                {
                    break;
                }
                s.WriteNdx(NdxDone);
                continue;
            }
            if (ndx < 0 || ndx >= List.Count)
            {
                throw new InvalidDataException($"client sent index {ndx}; the list has {List.Count} entries");
            }
            int iflags = s.ReadShortInt();
            int? basisType = (iflags & ItemBasisTypeFollows) != 0 ? s.ReadByte() : null;
            byte[]? xname = (iflags & ItemXnameFollows) != 0 ? s.ReadVString() : null;
            FakeEntry entry = List[ndx];
            Log($"client: index {ndx} ({Show(entry.Name)}) iflags 0x{iflags:x4}");

            if ((iflags & ItemTransfer) == 0)
            {
                WriteNdxAndAttrs(s, ndx, iflags, basisType, xname);
                continue;
            }
            lock (_transcript)
            {
                _requested.Add(entry.Name);
            }
            int count = s.ReadInt32();
            int blength = s.ReadInt32();
            int s2length = s.ReadInt32();
            int remainder = s.ReadInt32();
            if (count < 0 || s2length < 0 || s2length > 64)
            {
                throw new InvalidDataException($"sum head count={count} s2length={s2length}");
            }
            for (int i = 0; i < count; i++)
            {
                s.ReadInt32();
                s.ReadBytes(s2length);
            }

            if (ReplyFor?.Invoke(ndx, entry) is FakeTransferReply lie)
            {
                WriteNdxAndAttrs(s, ndx, iflags | (lie.BasisType is null ? 0 : ItemBasisTypeFollows) | (lie.Xname is null ? 0 : ItemXnameFollows),
                    lie.BasisType ?? basisType, lie.Xname is null ? xname : Encoding.UTF8.GetBytes(lie.Xname));
                s.WriteInt32(lie.BlockCount);
                s.WriteInt32(lie.BlockLength);
                s.WriteInt32(s2length);
                s.WriteInt32(lie.Remainder);
                foreach (FakeToken token in lie.Tokens)
                {
                    if (token.Literal is byte[] literal)
                    {
                        s.WriteInt32(literal.Length);
                        s.Write(literal);
                    }
                    else
                    {
                        s.WriteInt32(-(token.Block + 1));
                    }
                }
                s.WriteInt32(0);
                s.Write(lie.FileSum);
                Log($"sent a made-up reply for {Show(entry.Name)}: basis type {lie.BasisType?.ToString("x2") ?? "-"}, xname {Show(lie.Xname ?? "-")}, {lie.Tokens.Count} token(s)");
                continue;
            }

            WriteNdxAndAttrs(s, ndx, iflags, basisType, xname);
            s.WriteInt32(count);
            s.WriteInt32(blength);
            s.WriteInt32(s2length);
            s.WriteInt32(remainder);
            byte[] content = entry.Content;
            for (int off = 0; off < content.Length; off += ChunkSize)
            {
                int n = Math.Min(ChunkSize, content.Length - off);
                s.WriteInt32(n);
                s.Write(content.AsSpan(off, n));
            }
            s.WriteInt32(0);
            s.Write(MD5.HashData(content));
            written += content.Length;
            Log($"sent {content.Length} bytes of {Show(entry.Name)}");
        }
        s.WriteNdx(NdxDone);
        long totalSize = List.Sum(e => e.Type is PosixFileType.Regular or PosixFileType.Symlink ? e.Size : 0);
        s.WriteVarLong(s.BytesRead, 3);
        s.WriteVarLong(written, 3);
        s.WriteVarLong(totalSize, 3);
        s.WriteVarLong(0, 3);
        s.WriteVarLong(0, 3);
        s.Flush();
        Log("stats sent");

        int goodbye = s.ReadNdx();
        if (goodbye != NdxDone)
        {
            throw new InvalidDataException($"Invalid packet at end of run ({goodbye})");
        }
        s.WriteNdx(NdxDone);
        s.Flush();
        goodbye = s.ReadNdx();
        if (goodbye != NdxDone)
        {
            throw new InvalidDataException($"Invalid packet at end of run ({goodbye})");
        }
        Log("goodbye done");
    }

    private static void WriteNdxAndAttrs(Exchange s, int ndx, int iflags, int? basisType, byte[]? xname)
    {
        s.WriteNdx(ndx);
        s.WriteShortInt(iflags);
        if (basisType is int b)
        {
            s.WriteByte((byte)b);
        }
        if (xname is not null)
        {
            s.WriteVString(xname);
        }
    }

    private static string Show(string text) => TreeComparer.Show(text);

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (Socket socket in _sockets)
            {
                try
                {
                    socket.Close();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
        try
        {
            await _acceptLoop;
        }
        catch (Exception)
        {
            // teardown
        }
        _stop.Dispose();
    }

    /// <summary>One connection's byte stream: raw lines before the handshake ends, multiplexed
    /// MSG_DATA frames after; rsync's int, varlong and index encodings (io.c).</summary>
    private sealed class Exchange(Stream stream, Action<string> log) : WireReader
    {
        private readonly MemoryStream _out = new();
        private int _inFrameLeft;
        private int _prevPositiveOut = -1;
        private int _prevNegativeOut = 1;

        /// <summary>Whether both directions are multiplexed from now on.</summary>
        public bool Multiplexed { get; set; }

        /// <summary>Raw bytes read from the socket so far.</summary>
        public long BytesRead { get; private set; }

        public void WriteRaw(ReadOnlySpan<byte> data)
        {
            stream.Write(data);
            stream.Flush();
        }

        public void Write(ReadOnlySpan<byte> data) => _out.Write(data);

        public void WriteByte(byte b) => _out.WriteByte(b);

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

        /// <summary>io.c write_varlong: the value's little-endian bytes without high zero bytes (at
        /// least <paramref name="minBytes"/>), with the count of extra bytes in the first byte's high bits.</summary>
        public void WriteVarLong(long x, int minBytes)
        {
            byte[] b = new byte[9];
            BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(1), x);
            int cnt = 8;
            while (cnt > minBytes && b[cnt] == 0)
            {
                cnt--;
            }
            int bit = 1 << (7 - cnt + minBytes);
            if (b[cnt] >= bit)
            {
                cnt++;
                b[0] = (byte)~(bit - 1);
            }
            else if (cnt > minBytes)
            {
                b[0] = (byte)(b[cnt] | ~((bit * 2) - 1));
            }
            else
            {
                b[0] = b[cnt];
            }
            _out.Write(b, 0, cnt);
        }

        public void WriteVString(byte[] s)
        {
            if (s.Length > 0x7F)
            {
                _out.WriteByte((byte)((s.Length >> 8) | 0x80));
            }
            _out.WriteByte((byte)s.Length);
            _out.Write(s);
        }

        /// <summary>io.c write_ndx.</summary>
        public void WriteNdx(int ndx)
        {
            int diff;
            if (ndx >= 0)
            {
                diff = ndx - _prevPositiveOut;
                _prevPositiveOut = ndx;
            }
            else if (ndx == NdxDone)
            {
                _out.WriteByte(0);
                return;
            }
            else
            {
                _out.WriteByte(0xFF);
                ndx = -ndx;
                diff = ndx - _prevNegativeOut;
                _prevNegativeOut = ndx;
            }
            if (diff > 0 && diff < 0xFE)
            {
                _out.WriteByte((byte)diff);
            }
            else if (diff < 0 || diff > 0x7FFF)
            {
                _out.WriteByte(0xFE);
                _out.WriteByte((byte)((ndx >> 24) | 0x80));
                _out.WriteByte((byte)ndx);
                _out.WriteByte((byte)(ndx >> 8));
                _out.WriteByte((byte)(ndx >> 16));
            }
            else
            {
                _out.WriteByte(0xFE);
                _out.WriteByte((byte)(diff >> 8));
                _out.WriteByte((byte)diff);
            }
        }

        /// <summary>Sends what is buffered as MSG_DATA frames.</summary>
        public void Flush()
        {
            byte[] data = _out.ToArray();
            _out.SetLength(0);
            byte[] header = new byte[4];
            for (int off = 0; off < data.Length; off += ChunkSize)
            {
                int n = Math.Min(ChunkSize, data.Length - off);
                BinaryPrimitives.WriteInt32LittleEndian(header, MuxData | n);
                stream.Write(header);
                stream.Write(data, off, n);
            }
            stream.Flush();
        }

        private void ReadRawExactly(Span<byte> into)
        {
            int got = 0;
            while (got < into.Length)
            {
                int n = stream.Read(into[got..]);
                if (n == 0)
                {
                    throw new EndOfStreamException("the client closed the connection");
                }
                got += n;
                BytesRead += n;
            }
        }

        /// <summary>Payload bytes: raw before multiplexing, MSG_DATA payload after (other messages are
        /// logged and skipped). Flushes pending output first, since the client may wait for it.</summary>
        protected override void ReadExactly(Span<byte> into)
        {
            if (_out.Length > 0)
            {
                Flush();
            }
            if (!Multiplexed)
            {
                ReadRawExactly(into);
                return;
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
                    if (tag == MsgErrorExit)
                    {
                        // The client is giving up: answer as a daemon does (io.c, MSG_ERROR_EXIT at
                        // protocol 31) and hang up, so a client waiting for that is not left hanging.
                        int code = len >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(payload) : 0;
                        log($"client message MSG_ERROR_EXIT {code}");
                        byte[] reply = new byte[8];
                        BinaryPrimitives.WriteInt32LittleEndian(reply, ((7 + MsgErrorExit) << 24) | 4);
                        BinaryPrimitives.WriteInt32LittleEndian(reply.AsSpan(4), code);
                        _out.SetLength(0);
                        stream.Write(reply);
                        stream.Flush();
                        throw new EndOfStreamException($"the client gave up with MSG_ERROR_EXIT {code}");
                    }
                    log($"client message tag {tag}: {Show(Encoding.UTF8.GetString(payload))}");
                }
                int n = Math.Min(_inFrameLeft, into.Length - got);
                ReadRawExactly(into.Slice(got, n));
                _inFrameLeft -= n;
                got += n;
            }
        }

        public byte[] ReadVString()
        {
            int len = ReadByte();
            if ((len & 0x80) != 0)
            {
                len = ((len & 0x7F) << 8) + ReadByte();
            }
            return ReadBytes(len);
        }

        /// <summary>A line up to '\n' (unmultiplexed; the handshake), without the newline.</summary>
        public string ReadLine()
        {
            var line = new List<byte>();
            Span<byte> one = stackalloc byte[1];
            while (true)
            {
                ReadRawExactly(one);
                if (one[0] == (byte)'\n')
                {
                    return Encoding.UTF8.GetString(line.ToArray());
                }
                if (line.Count > 4096)
                {
                    throw new InvalidDataException("handshake line too long");
                }
                line.Add(one[0]);
            }
        }

        /// <summary>An argument up to its NUL (protocol 30+ daemon arguments).</summary>
        public string ReadNulString()
        {
            var arg = new List<byte>();
            Span<byte> one = stackalloc byte[1];
            while (true)
            {
                ReadRawExactly(one);
                if (one[0] == 0)
                {
                    return Encoding.UTF8.GetString(arg.ToArray());
                }
                if (arg.Count > 4096)
                {
                    throw new InvalidDataException("argument too long");
                }
                arg.Add(one[0]);
            }
        }
    }
}

/// <summary>A delta token: literal bytes, or (when <see cref="Literal"/> is null) a copy of block
/// <see cref="Block"/> of the receiver's basis.</summary>
public sealed record FakeToken(byte[]? Literal, int Block)
{
    public static FakeToken Data(byte[] bytes) => new(bytes, 0);

    public static FakeToken BasisBlock(int block) => new(null, block);
}

/// <summary>A sender's answer to a file request of the test's making: the basis type and extra name
/// the sender claims (FNAMECMP_* byte, e.g. 0x83 fuzzy, 0..N a --compare-dest index), the block
/// layout, the tokens and the whole-file MD5.</summary>
public sealed record FakeTransferReply(int? BasisType, string? Xname, int BlockCount, int BlockLength, int Remainder, IReadOnlyList<FakeToken> Tokens, byte[] FileSum);
