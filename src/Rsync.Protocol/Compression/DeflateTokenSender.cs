using System.IO.Compression;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Compression;

/// <summary>
/// rsync's deflated token stream (token.c, send_deflated_token): raw deflate (window 15) of the
/// literal data, sync-flushed before each token with the trailing 00 00 ff ff left off, in chunks
/// of at most 16383 bytes, with matched blocks coded as runs.
/// <para>
/// In the "zlib" format (<c>-z</c> of rsync 3.1.1) rsync also inserts every matched block into
/// the deflater's history (Z_INSERT_ONLY of its bundled zlib), and the receiver mirrors that.
/// With the machine's zlib (<see cref="SystemZlib"/>) the block goes in as rsync's does, through
/// deflateSetDictionary after the flush that precedes every token. Without it, the platform's
/// deflater has no such call, so this sender tracks the last 32 KiB of what the receiver's window
/// holds and, when literal data follows matched data, starts a fresh deflater and primes it with
/// those bytes (compressing them and discarding that output): the new deflater then refers to
/// them at the distances the receiver's window has them. In the "zlibx" format matched data stays
/// out of the history and no restart is ever needed.
/// </para>
/// </summary>
internal sealed class DeflateTokenSender : TokenSender, IDisposable
{
    /// <summary>rsync's level when none is given (token.c at 3.4.1, init_compression_level; zlib's own default).</summary>
    public const int DefaultLevel = 6;

    private const int Window = 32 * 1024;

    private readonly bool _matchedInHistory;
    private readonly bool _repeatLongBlockStart;
    private readonly CompressedOutput _output = new();
    private byte[]? _history;
    private int _historyLength;
    private DeflateStream? _deflater;
    private int _deflaterLevel;
    private bool _deflaterUsed;
    private bool _historyAhead;
    private bool _literalPending;
    private int _level = DefaultLevel;
    private TokenRunWriter _runs;
    private readonly bool _systemZlibAllowed;
    private SystemZlib? _zlib;
    private bool _zlibUsed;
    // This file goes through the machine's zlib: "zlib" format with a basis to match against.
    private bool _viaSystemZlib;

    /// <param name="writer">The stream to the receiver.</param>
    /// <param name="protocolVersion">The negotiated protocol; below 31 long matched blocks enter the history as rsync 3.1.1 feeds them.</param>
    /// <param name="includeMatchedInHistory">True for "zlib" (-z), false for "zlibx" (-zz, --new-compress).</param>
    /// <param name="useSystemZlib">False keeps to the platform's deflater even where the machine's zlib is installed.</param>
    public DeflateTokenSender(RsyncWriter writer, int protocolVersion, bool includeMatchedInHistory, bool useSystemZlib = true) : base(writer)
    {
        _matchedInHistory = includeMatchedInHistory;
        _repeatLongBlockStart = protocolVersion < 31;
        _systemZlibAllowed = useSystemZlib && includeMatchedInHistory && SystemZlib.Available;
        _runs.BeginFile();
    }

    /// <summary>
    /// Picks the deflater for the file. Matched blocks join the history only in the "zlib" format,
    /// and only the machine's zlib takes them without a restart; without a basis nothing can
    /// match, and the platform's deflater (zlib-ng) compresses faster.
    /// </summary>
    public override void BeginFile(int level, bool hasBasis = true)
    {
        if (level == -1)
            level = DefaultLevel;
        if (level is < 0 or > 9)
            throw new ArgumentOutOfRangeException(nameof(level), level, "deflate levels are 0 to 9");
        _level = level;
        _viaSystemZlib = _systemZlibAllowed && hasBasis;
        // deflateReset per file (token.c): a deflater that saw data, or has another level, starts over;
        // the machine's zlib does so when the file first uses it.
        _zlibUsed = false;
        if (_deflater is not null && (_deflaterUsed || _deflaterLevel != level))
            DropDeflater();
        _runs.BeginFile();
        _historyLength = 0;
        _historyAhead = false;
        _literalPending = false;
    }

    public override void Literal(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            return;
        _runs.BeforeLiteral(Writer);
        if (_viaSystemZlib)
            SystemDeflater().Write(data, _output);
        else
        {
            // Stored blocks (level 0) never refer back, so they need no primed history.
            DeflateStream deflater = _historyAhead && _level != 0 ? StartPrimedDeflater() : (_deflater ??= NewDeflater());
            _historyAhead = false;
            deflater.Write(data);
            _deflaterUsed = true;
            if (_matchedInHistory)
                AppendHistory(data);
        }
        _literalPending = true;
        // No flush until the next token (token.c, the token -2 path): only full chunks leave now.
        while (_output.Count >= CompressedTokenFormat.MaxDataCount)
            EmitChunk(CompressedTokenFormat.MaxDataCount);
    }

    public override void Match(int index, ReadOnlySpan<byte> block)
    {
        FlushLiteral();
        _runs.Token(Writer, index);
        if (!_matchedInHistory)
            return;
        // send_deflated_token feeds the block in pieces of at most 0xffff bytes; before protocol 31
        // each piece starts again at the block's first byte (the "data-duplicating bug").
        int offset = 0;
        for (int left = block.Length; left > 0;)
        {
            int piece = Math.Min(left, 0xffff);
            if (_viaSystemZlib)
                SystemDeflater().AddHistory(block.Slice(offset, piece));
            else
                AppendHistory(block.Slice(offset, piece));
            left -= piece;
            if (!_repeatLongBlockStart)
                offset += piece;
        }
        _historyAhead = !_viaSystemZlib;
    }

    public override void EndFile()
    {
        FlushLiteral();
        _runs.EndFile(Writer);
        _historyLength = 0;
        _historyAhead = false;
    }

    public void Dispose()
    {
        _deflater?.Dispose();
        _deflater = null;
        _zlib?.Dispose();
        _zlib = null;
    }

    /// <summary>The machine's zlib, reset at the file's level the first time the file uses it.</summary>
    private SystemZlib SystemDeflater()
    {
        if (_zlib is null)
            _zlib = SystemZlib.TryCreate(_level) ?? throw new RsyncProtocolException("compression init failed", ExitCodes.Protocol);
        else if (!_zlibUsed)
            _zlib.Reset(_level);
        _zlibUsed = true;
        return _zlib;
    }

    private DeflateStream NewDeflater()
    {
        _deflaterLevel = _level;
        _deflaterUsed = false;
        return new DeflateStream(_output, new ZLibCompressionOptions { CompressionLevel = _level }, leaveOpen: true);
    }

    private void DropDeflater()
    {
        _deflater!.Dispose(); // its closing block goes to the sink and is thrown away
        _deflater = null;
        _output.Clear();
    }

    /// <summary>
    /// A fresh deflater whose window holds the receiver's last 32 KiB: compressing them and
    /// discarding the output leaves the match finder pointing at them, and the sync flush ends
    /// on a byte boundary, so what follows decodes against the receiver's window alone.
    /// </summary>
    private DeflateStream StartPrimedDeflater()
    {
        if (_deflater is not null)
            DropDeflater();
        var deflater = NewDeflater();
        int length = Math.Min(_historyLength, Window);
        if (length > 0)
        {
            deflater.Write(_history.AsSpan(_historyLength - length, length));
            deflater.Flush();
            _output.Clear();
        }
        _deflaterUsed = true;
        return _deflater = deflater;
    }

    private void FlushLiteral()
    {
        if (!_literalPending)
            return;
        _literalPending = false;
        // Z_SYNC_FLUSH: ends with an empty stored block, 00 00 ff ff
        if (_viaSystemZlib)
            _zlib!.SyncFlush(_output);
        else
            _deflater!.Flush();
        ReadOnlySpan<byte> pending = _output.Pending;
        if (pending.Length < 4 || !pending[^4..].SequenceEqual(SyncTrailer))
            throw new InvalidOperationException("deflate flush did not end with a sync marker");
        _output.DropLast(4); // the receiver puts it back (token.c, recv_deflated_token)
        while (_output.Count > 0)
            EmitChunk(Math.Min(_output.Count, CompressedTokenFormat.MaxDataCount));
    }

    private static ReadOnlySpan<byte> SyncTrailer => [0x00, 0x00, 0xff, 0xff];

    private void EmitChunk(int length)
    {
        CompressedTokenFormat.WriteDataChunk(Writer, _output.Pending[..length]);
        _output.Consume(length);
    }

    private void AppendHistory(ReadOnlySpan<byte> data)
    {
        byte[] history = _history ??= new byte[2 * Window];
        if (data.Length >= Window)
        {
            data[^Window..].CopyTo(history);
            _historyLength = Window;
            return;
        }
        if (_historyLength + data.Length > history.Length)
        {
            int keep = Window - data.Length;
            history.AsSpan(_historyLength - keep, keep).CopyTo(history);
            _historyLength = keep;
        }
        data.CopyTo(history.AsSpan(_historyLength));
        _historyLength += data.Length;
    }
}

/// <summary>A write-only stream that keeps what a compressor writes until it is sent on.</summary>
internal sealed class CompressedOutput : WriteOnlyForwardStream
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    public int Count => _end - _start;

    public ReadOnlySpan<byte> Pending => _buffer.AsSpan(_start, _end - _start);

    public void Consume(int count)
    {
        _start += count;
        if (_start == _end)
            _start = _end = 0;
    }

    public void DropLast(int count) => _end -= count;

    public void Clear() => _start = _end = 0;

    public override void Write(ReadOnlySpan<byte> data)
    {
        if (_end + data.Length > _buffer.Length)
        {
            int count = Count;
            if (count + data.Length > _buffer.Length)
            {
                var larger = new byte[Math.Max(_buffer.Length * 2, count + data.Length)];
                Pending.CopyTo(larger);
                _buffer = larger;
            }
            else
                Pending.CopyTo(_buffer);
            _start = 0;
            _end = count;
        }
        data.CopyTo(_buffer.AsSpan(_end));
        _end += data.Length;
    }

    public override void WriteByte(byte value) => Write([value]);
}
