using System.Buffers.Binary;

namespace NetRsync.Protocol.TwoWay;

/// <summary>What the daemon did to a path.</summary>
public enum WrittenKind : byte
{
    File = 1,
    Directory = 2,
    Symlink = 3,
    Deleted = 4,
    Attributes = 5,
}

/// <summary>
/// A change the daemon makes, announced before it becomes visible: the path (absolute bytes, the
/// real path beneath a watched root) and the state lstat will then give: size, mtime and inode.
/// <see cref="Inode"/> is 0 when that state cannot be known beforehand (a directory, symlink or
/// device being created, and every deletion, whose other fields are 0 too): such a record matches
/// on the path alone, present for a creation and gone for <see cref="WrittenKind.Deleted"/>.
/// <see cref="WrittenKind.Attributes"/> names an existing path whose mode, owner or mtime changes.
/// </summary>
public readonly record struct WrittenRecord(WrittenKind Kind, byte[] Path, long Size, long MtimeSeconds, int MtimeNanoseconds, ulong Inode);

/// <summary>One message on the node link.</summary>
public abstract record NodeLinkFrame;

/// <summary>Watcher to daemon, first on every connection: the watched roots (real paths).</summary>
public sealed record HelloFrame(uint Version, IReadOnlyList<byte[]> Roots) : NodeLinkFrame;

/// <summary>Daemon to watcher: a change the daemon is about to make visible.</summary>
public sealed record WrittenFrame(WrittenRecord Record) : NodeLinkFrame;

/// <summary>Daemon to watcher: is this local version of the path a change not yet delivered to every remote?</summary>
public sealed record QueryFrame(uint Id, byte[] Path, long Size, long MtimeSeconds, int MtimeNanoseconds, ulong Inode) : NodeLinkFrame;

/// <summary>Watcher to daemon: the answer to the query with the same id.</summary>
public sealed record AnswerFrame(uint Id, bool Dirty) : NodeLinkFrame;

/// <summary>
/// Daemon to watcher: the daemon kept its local version of the path because it is newer than the
/// one a peer pushed (-u); the watcher pushes it to every remote so the newer version reaches them.
/// </summary>
public sealed record PushFrame(byte[] Path) : NodeLinkFrame;

/// <summary>A frame that breaks the node link's rules; the connection that sent it is closed.</summary>
public sealed class NodeLinkProtocolException(string message) : IOException(message);

/// <summary>
/// The node link's framing: u32 little-endian length of what follows, u8 type, payload. A path is
/// u32 length + bytes: absolute, without NUL, shorter than PATH_MAX. Integers are little-endian.
/// </summary>
public static class NodeLinkCodec
{
    public const uint ProtocolVersion = 1;

    /// <summary>The largest frame (type + payload) either side accepts.</summary>
    public const int MaxFrameLength = 64 * 1024;

    /// <summary>The longest path: PATH_MAX counts the terminating NUL.</summary>
    public const int MaxPathLength = Wire.ProtocolLimits.MaxPath - 1;

    public const int HeaderLength = 4;

    public const byte HelloType = 1;
    public const byte WrittenType = 2;
    public const byte QueryType = 3;
    public const byte AnswerType = 4;
    public const byte PushType = 5;

    /// <summary>The frame with its length header, ready to send.</summary>
    public static byte[] Encode(NodeLinkFrame frame)
    {
        var body = new List<byte>(64);
        switch (frame)
        {
            case HelloFrame hello:
                body.Add(HelloType);
                PutUInt32(body, hello.Version);
                PutUInt32(body, (uint)hello.Roots.Count);
                foreach (var root in hello.Roots)
                    PutPath(body, root);
                break;
            case WrittenFrame written:
                var r = written.Record;
                if (!Enum.IsDefined(r.Kind))
                    throw new ArgumentException($"unknown change kind {(byte)r.Kind}", nameof(frame));
                body.Add(WrittenType);
                body.Add((byte)r.Kind);
                PutPath(body, r.Path);
                PutState(body, r.Size, r.MtimeSeconds, r.MtimeNanoseconds, r.Inode);
                break;
            case QueryFrame query:
                body.Add(QueryType);
                PutUInt32(body, query.Id);
                PutPath(body, query.Path);
                PutState(body, query.Size, query.MtimeSeconds, query.MtimeNanoseconds, query.Inode);
                break;
            case AnswerFrame answer:
                body.Add(AnswerType);
                PutUInt32(body, answer.Id);
                body.Add(answer.Dirty ? (byte)1 : (byte)0);
                break;
            case PushFrame push:
                body.Add(PushType);
                PutPath(body, push.Path);
                break;
            default:
                throw new ArgumentException($"not a node link frame: {frame.GetType().Name}", nameof(frame));
        }
        if (body.Count > MaxFrameLength)
            throw new ArgumentException($"a node link frame of {body.Count} bytes is longer than {MaxFrameLength}", nameof(frame));
        var bytes = new byte[HeaderLength + body.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)body.Count);
        body.CopyTo(bytes, HeaderLength);
        return bytes;
    }

    /// <summary>The length a frame header announces, checked against <see cref="MaxFrameLength"/>.</summary>
    public static int ReadLength(ReadOnlySpan<byte> header)
    {
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (length == 0)
            throw new NodeLinkProtocolException("an empty node link frame");
        if (length > MaxFrameLength)
            throw new NodeLinkProtocolException($"a node link frame of {length} bytes is longer than {MaxFrameLength}");
        return (int)length;
    }

    /// <summary>A frame from its type byte and payload (everything after the length).</summary>
    public static NodeLinkFrame Decode(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
            throw new NodeLinkProtocolException("an empty node link frame");
        var input = new Input(body[1..]);
        NodeLinkFrame frame;
        switch (body[0])
        {
            case HelloType:
            {
                uint version = input.UInt32();
                uint count = input.UInt32();
                // Each root takes at least five bytes, so the count cannot outgrow the frame.
                if (count > (uint)input.Remaining / 5)
                    throw new NodeLinkProtocolException($"a HELLO announcing {count} roots in {input.Remaining} bytes");
                var roots = new List<byte[]>((int)count);
                for (uint i = 0; i < count; i++)
                    roots.Add(input.Path());
                frame = new HelloFrame(version, roots);
                break;
            }
            case WrittenType:
            {
                byte kind = input.Byte();
                if (!Enum.IsDefined((WrittenKind)kind))
                    throw new NodeLinkProtocolException($"a WRITTEN record of unknown kind {kind}");
                byte[] path = input.Path();
                var (size, seconds, nanoseconds, inode) = input.State();
                frame = new WrittenFrame(new WrittenRecord((WrittenKind)kind, path, size, seconds, nanoseconds, inode));
                break;
            }
            case QueryType:
            {
                uint id = input.UInt32();
                byte[] path = input.Path();
                var (size, seconds, nanoseconds, inode) = input.State();
                frame = new QueryFrame(id, path, size, seconds, nanoseconds, inode);
                break;
            }
            case AnswerType:
            {
                uint id = input.UInt32();
                byte dirty = input.Byte();
                if (dirty > 1)
                    throw new NodeLinkProtocolException($"an ANSWER with dirty = {dirty}");
                frame = new AnswerFrame(id, dirty == 1);
                break;
            }
            case PushType:
                frame = new PushFrame(input.Path());
                break;
            default:
                throw new NodeLinkProtocolException($"a node link frame of unknown type {body[0]}");
        }
        if (input.Remaining != 0)
            throw new NodeLinkProtocolException($"{input.Remaining} bytes left over after a frame of type {body[0]}");
        return frame;
    }

    /// <summary>Whether a path may travel on the link: absolute, without NUL, shorter than PATH_MAX.</summary>
    public static bool IsValidPath(ReadOnlySpan<byte> path) =>
        path.Length is > 0 and <= MaxPathLength && path[0] == (byte)'/' && !path.Contains((byte)0);

    private static void PutUInt32(List<byte> body, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        body.AddRange(b);
    }

    private static void PutUInt64(List<byte> body, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        body.AddRange(b);
    }

    private static void PutPath(List<byte> body, byte[] path)
    {
        if (!IsValidPath(path))
            throw new ArgumentException("a node link path must be absolute, without NUL and shorter than PATH_MAX", nameof(path));
        PutUInt32(body, (uint)path.Length);
        body.AddRange(path);
    }

    private static void PutState(List<byte> body, long size, long seconds, int nanoseconds, ulong inode)
    {
        PutUInt64(body, (ulong)size);
        PutUInt64(body, (ulong)seconds);
        PutUInt32(body, (uint)nanoseconds);
        PutUInt64(body, inode);
    }

    /// <summary>Reads a payload front to back; running short is a protocol error.</summary>
    private ref struct Input(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly int Remaining => _data.Length;

        private ReadOnlySpan<byte> Take(int count)
        {
            if (_data.Length < count)
                throw new NodeLinkProtocolException("a node link frame ends too soon");
            var taken = _data[..count];
            _data = _data[count..];
            return taken;
        }

        public byte Byte() => Take(1)[0];

        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public byte[] Path()
        {
            uint length = UInt32();
            if (length > MaxPathLength)
                throw new NodeLinkProtocolException($"a path of {length} bytes is longer than {MaxPathLength}");
            var path = Take((int)length);
            if (!IsValidPath(path))
                throw new NodeLinkProtocolException("a path that is empty, relative or holds a NUL byte");
            return path.ToArray();
        }

        public (long Size, long Seconds, int Nanoseconds, ulong Inode) State()
        {
            long size = (long)UInt64();
            long seconds = (long)UInt64();
            uint nanoseconds = UInt32();
            ulong inode = UInt64();
            if (size < 0)
                throw new NodeLinkProtocolException($"a negative size {size}");
            if (nanoseconds >= 1_000_000_000)
                throw new NodeLinkProtocolException($"{nanoseconds} nanoseconds");
            return (size, seconds, (int)nanoseconds, inode);
        }
    }
}

/// <summary>
/// Collects bytes from a stream socket and cuts them into frames; a frame's length is checked
/// before any of it is kept, so memory stays within one frame.
/// </summary>
public sealed class NodeLinkFrameBuffer
{
    private byte[] _buffer = new byte[4096];
    private int _start;
    private int _end;

    /// <summary>Bytes received but not yet taken as frames.</summary>
    public int Pending => _end - _start;

    /// <summary>Space for at least <paramref name="minimum"/> more bytes.</summary>
    public Memory<byte> FreeSpace(int minimum = 4096)
    {
        if (_start > 0 && _start == _end)
            _start = _end = 0;
        if (_buffer.Length - _end < minimum)
        {
            int pending = _end - _start;
            int needed = pending + minimum;
            var target = needed <= _buffer.Length ? _buffer : new byte[Math.Max(needed, _buffer.Length * 2)];
            Buffer.BlockCopy(_buffer, _start, target, 0, pending);
            _buffer = target;
            _start = 0;
            _end = pending;
        }
        return _buffer.AsMemory(_end);
    }

    /// <summary>Counts <paramref name="count"/> bytes written into <see cref="FreeSpace"/> as received.</summary>
    public void Advance(int count) => _end += count;

    /// <summary>Forgets everything received (the connection it came from is gone).</summary>
    public void Clear()
    {
        _start = _end = 0;
        if (_buffer.Length > 16 * 1024)
            _buffer = new byte[4096];
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(FreeSpace(bytes.Length).Span);
        Advance(bytes.Length);
    }

    /// <summary>The next whole frame, or null until more bytes arrive; a bad frame throws <see cref="NodeLinkProtocolException"/>.</summary>
    public NodeLinkFrame? TryTake()
    {
        if (_end - _start < NodeLinkCodec.HeaderLength)
            return null;
        int length = NodeLinkCodec.ReadLength(_buffer.AsSpan(_start, NodeLinkCodec.HeaderLength));
        if (_end - _start < NodeLinkCodec.HeaderLength + length)
            return null;
        var frame = NodeLinkCodec.Decode(_buffer.AsSpan(_start + NodeLinkCodec.HeaderLength, length));
        _start += NodeLinkCodec.HeaderLength + length;
        // A buffer that grew for one large frame goes back to its usual size once empty.
        if (_start == _end && _buffer.Length > 16 * 1024)
        {
            _buffer = new byte[4096];
            _start = _end = 0;
        }
        return frame;
    }
}
