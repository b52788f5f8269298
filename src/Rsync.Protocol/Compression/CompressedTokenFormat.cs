using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Compression;

/// <summary>
/// The flag bytes shared by rsync's compressed token formats (token.c: zlib, zlibx, zstd and lz4
/// all frame literal data and matched-block runs the same way).
/// </summary>
internal static class CompressedTokenFormat
{
    public const int EndFlag = 0x00;
    public const int TokenLong = 0x20;
    public const int TokenRunLong = 0x21;
    public const int DeflatedData = 0x40;
    public const int TokenRel = 0x80;
    public const int TokenRunRel = 0xc0;

    /// <summary>A data chunk's length fits 14 bits beside the flag (token.c, MAX_DATA_COUNT).</summary>
    public const int MaxDataCount = 16383;

    /// <summary>The highest block index a stream may name (token.c at 3.5.0, MAX_TOKEN_INDEX).</summary>
    public const int MaxTokenIndex = 0x7ffffffe;

    /// <summary>Writes one DEFLATED_DATA chunk: flag with the high 6 bits of the length, low byte, data.</summary>
    public static void WriteDataChunk(RsyncWriter writer, ReadOnlySpan<byte> chunk)
    {
        writer.WriteByte((byte)(DeflatedData | (chunk.Length >> 8)));
        writer.WriteByte((byte)chunk.Length);
        writer.WriteBytes(chunk);
    }

    /// <summary>The data length that follows a DEFLATED_DATA flag.</summary>
    public static int ReadDataLength(RsyncReader reader, int flag) => ((flag & 0x3f) << 8) | reader.ReadByte();

    public static bool IsDataFlag(int flag) => (flag & 0xc0) == DeflatedData;
}

/// <summary>
/// Sender-side coding of matched-block indexes (token.c, the run logic at the top of
/// send_deflated_token): consecutive indexes form a run, written once, before the next literal
/// data or a non-consecutive index, relative to the end of the previous run when close enough.
/// </summary>
internal struct TokenRunWriter
{
    private const int AtFileStart = -1;
    private const int AfterLiteral = -2;

    private int _lastToken;
    private int _runStart;
    private int _lastRunEnd;

    public void BeginFile()
    {
        _lastToken = AtFileStart;
        _runStart = 0;
        _lastRunEnd = 0;
    }

    /// <summary>Literal data is about to go out: a pending run must precede it.</summary>
    public void BeforeLiteral(RsyncWriter writer)
    {
        if (_lastToken >= 0)
            WriteRun(writer);
        _lastToken = AfterLiteral;
    }

    public void Token(RsyncWriter writer, int index)
    {
        if ((uint)index > CompressedTokenFormat.MaxTokenIndex)
            throw new ArgumentOutOfRangeException(nameof(index), index, "block index out of range");
        if (_lastToken < 0)
            _runStart = index;
        else if (index != (long)_lastToken + 1 || index >= (long)_runStart + 65536)
        {
            WriteRun(writer);
            _runStart = index;
        }
        _lastToken = index;
    }

    /// <summary>Writes any pending run and the end marker.</summary>
    public void EndFile(RsyncWriter writer)
    {
        if (_lastToken >= 0)
            WriteRun(writer);
        writer.WriteByte(CompressedTokenFormat.EndFlag);
        _lastToken = AtFileStart;
    }

    private void WriteRun(RsyncWriter writer)
    {
        long relative = (long)_runStart - _lastRunEnd;
        int extra = _lastToken - _runStart;
        if (relative is >= 0 and <= 63)
            writer.WriteByte((byte)((extra == 0 ? CompressedTokenFormat.TokenRel : CompressedTokenFormat.TokenRunRel) + (int)relative));
        else
        {
            writer.WriteByte(extra == 0 ? (byte)CompressedTokenFormat.TokenLong : (byte)CompressedTokenFormat.TokenRunLong);
            writer.WriteInt32(_runStart);
        }
        if (extra != 0)
        {
            writer.WriteByte((byte)extra);
            writer.WriteByte((byte)(extra >> 8));
        }
        _lastRunEnd = _lastToken;
    }
}

/// <summary>
/// Receiver-side decoding of matched-block indexes (token.c, recv_deflated_token's token branch;
/// the range checks follow rsync 3.5.0's recv_compressed_token_num).
/// </summary>
internal struct TokenRunReader
{
    private int _token;
    private int _runLeft;

    public readonly bool InRun => _runLeft > 0;

    public void BeginFile()
    {
        _token = 0;
        _runLeft = 0;
    }

    /// <summary>Decodes a token flag (not END_FLAG, not data) and returns -(index + 1).</summary>
    public int Decode(RsyncReader reader, int flag)
    {
        bool run;
        if ((flag & CompressedTokenFormat.TokenRel) != 0)
        {
            int increment = flag & 0x3f;
            if (_token > CompressedTokenFormat.MaxTokenIndex - increment)
                throw Invalid($"relative token {increment} after {_token} overflows");
            _token += increment;
            run = (flag & 0x40) != 0;
        }
        else if (flag is CompressedTokenFormat.TokenLong or CompressedTokenFormat.TokenRunLong)
        {
            int token = reader.ReadInt32();
            if ((uint)token > CompressedTokenFormat.MaxTokenIndex)
                throw Invalid($"token {token} out of range");
            _token = token;
            run = flag == CompressedTokenFormat.TokenRunLong;
        }
        else
            throw Invalid($"unknown flag byte 0x{flag:x2}");

        if (run)
        {
            int count = reader.ReadByte();
            count |= reader.ReadByte() << 8;
            if (count == 0 || _token > CompressedTokenFormat.MaxTokenIndex - count)
                throw Invalid($"token run of {count} after {_token} is invalid");
            _runLeft = count;
        }
        return -1 - _token;
    }

    /// <summary>The next index of the current run, as -(index + 1).</summary>
    public int NextInRun()
    {
        if (_runLeft <= 0)
            throw new InvalidOperationException("no token run in progress");
        _runLeft--;
        return -1 - ++_token;
    }

    private static RsyncProtocolException Invalid(string detail) =>
        new($"invalid token in compressed stream: {detail} [receiver]");
}

/// <summary>
/// The token side every compressed format shares (token.c, recv_deflated_token and rsync 3.2+'s
/// recv_zstd_token / recv_compressed_token): flag bytes, runs of matched blocks, the end marker,
/// and data chunks handed to the format's decompressor, whose output is returned in pieces.
/// </summary>
internal abstract class CompressedTokenReceiver(RsyncReader reader) : TokenReceiver(reader)
{
    private enum State { FileStart, Idle, Decoding, Running }

    private State _state = State.FileStart;
    private bool _dataBeforeToken;
    private TokenRunReader _runs;

    /// <summary>
    /// Returns literal byte counts (data valid until the next call), -(index + 1) for a matched
    /// block, or 0 at the end of the file.
    /// </summary>
    public sealed override int Next(out ReadOnlySpan<byte> data)
    {
        data = default;
        while (true)
        {
            switch (_state)
            {
                case State.FileStart:
                    StartFile();
                    _runs.BeginFile();
                    _state = State.Idle;
                    break;

                case State.Idle:
                {
                    int flag = Reader.ReadByte();
                    if (CompressedTokenFormat.IsDataFlag(flag))
                    {
                        ReadChunk(CompressedTokenFormat.ReadDataLength(Reader, flag));
                        _dataBeforeToken = true;
                        _state = State.Decoding;
                        break;
                    }
                    if (_dataBeforeToken)
                    {
                        _dataBeforeToken = false;
                        DataEnded();
                    }
                    if (flag == CompressedTokenFormat.EndFlag)
                    {
                        _state = State.FileStart;
                        return 0;
                    }
                    int token = _runs.Decode(Reader, flag);
                    if (_runs.InRun)
                        _state = State.Running;
                    return token;
                }

                case State.Decoding:
                {
                    int produced = Decode(out data);
                    if (produced > 0)
                        return produced;
                    _state = State.Idle;
                    break;
                }

                case State.Running:
                {
                    int token = _runs.NextInRun();
                    if (!_runs.InRun)
                        _state = State.Idle;
                    return token;
                }
            }
        }
    }

    /// <summary>A new file begins (the previous one ended with END_FLAG).</summary>
    protected virtual void StartFile()
    {
    }

    /// <summary>Reads a data chunk of <paramref name="length"/> compressed bytes from <see cref="TokenReceiver.Reader"/>.</summary>
    protected abstract void ReadChunk(int length);

    /// <summary>The next piece of the chunk's output, or 0 once the chunk is used up.</summary>
    protected abstract int Decode(out ReadOnlySpan<byte> data);

    /// <summary>A token or the end marker follows data chunks.</summary>
    protected virtual void DataEnded()
    {
    }
}
