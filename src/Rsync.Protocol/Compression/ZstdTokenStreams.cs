using NetRsync.Protocol.Wire;
using ZstdSharp;

namespace NetRsync.Protocol.Compression;

/// <summary>
/// rsync 3.2+'s zstd token stream (token.c, send_zstd_token): one zstd stream for the whole
/// connection, never ended and never reset between files, flushed (ZSTD_e_flush) before each
/// token and at the end of each file, sent in chunks of at most 16383 bytes. Matched data never
/// enters the history.
/// </summary>
internal sealed class ZstdTokenSender : TokenSender, IDisposable
{
    /// <summary>rsync's level when none is given (token.c at 3.4.1, init_compression_level: ZSTD_CLEVEL_DEFAULT).</summary>
    public const int DefaultLevel = 3;

    // The machine's libzstd where it is installed, else the managed port: the same stream either way.
    private readonly SystemZstd? _native;
    private readonly Compressor? _compressor;
    private readonly byte[] _chunk = new byte[CompressedTokenFormat.MaxDataCount];
    private int _chunkLength;
    private bool _literalPending;
    private TokenRunWriter _runs;

    /// <param name="writer">The stream to the receiver.</param>
    /// <param name="level">
    /// The level for the whole connection: rsync sets it once when the stream starts, and a zstd
    /// stream cannot change it midway, so <see cref="BeginFile"/>'s level is not used.
    /// </param>
    /// <param name="useSystemZstd">False keeps to the managed port even where libzstd is installed.</param>
    public ZstdTokenSender(RsyncWriter writer, int level = DefaultLevel, bool useSystemZstd = true) : base(writer)
    {
        _native = useSystemZstd ? SystemZstd.TryCompressor(level) : null;
        if (_native is null)
            _compressor = new Compressor(level);
        _runs.BeginFile();
    }

    public override void BeginFile(int level, bool hasBasis = true)
    {
        _runs.BeginFile();
        _literalPending = false;
    }

    public override void Literal(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            return;
        _runs.BeforeLiteral(Writer);
        while (!data.IsEmpty)
        {
            int consumed, written;
            if (_native is not null)
                _native.Compress(data, _chunk.AsSpan(_chunkLength), flush: false, out consumed, out written);
            else
                _compressor!.WrapStream(data, _chunk.AsSpan(_chunkLength), out consumed, out written, isFinalBlock: false);
            data = data[consumed..];
            _chunkLength += written;
            if (_chunkLength == _chunk.Length)
                EmitChunk();
            else if (consumed == 0 && written == 0)
                throw new InvalidOperationException("zstd compressor made no progress");
        }
        _literalPending = true;
    }

    public override void Match(int index, ReadOnlySpan<byte> block)
    {
        FlushLiteral();
        _runs.Token(Writer, index);
    }

    public override void EndFile()
    {
        FlushLiteral();
        _runs.EndFile(Writer);
    }

    public void Dispose()
    {
        _native?.Dispose();
        _compressor?.Dispose();
    }

    private void FlushLiteral()
    {
        if (!_literalPending)
            return;
        _literalPending = false;
        while (true)
        {
            int written;
            bool done = _native is not null
                ? _native.Compress([], _chunk.AsSpan(_chunkLength), flush: true, out _, out written)
                : _compressor!.FlushStream(_chunk.AsSpan(_chunkLength), out written) == System.Buffers.OperationStatus.Done;
            _chunkLength += written;
            if (done)
                break;
            if (_chunkLength == _chunk.Length)
                EmitChunk();
            else if (written == 0)
                throw new InvalidOperationException("zstd flush made no progress");
        }
        if (_chunkLength > 0)
            EmitChunk();
    }

    private void EmitChunk()
    {
        CompressedTokenFormat.WriteDataChunk(Writer, _chunk.AsSpan(0, _chunkLength));
        _chunkLength = 0;
    }
}

/// <summary>
/// Reads rsync 3.2+'s zstd token stream (token.c, recv_zstd_token): one decompression context for
/// the whole connection; data chunks may be any size up to 16383 bytes, empty ones included.
/// </summary>
internal sealed class ZstdTokenReceiver(RsyncReader reader, bool useSystemZstd = true) : CompressedTokenReceiver(reader), IDisposable
{
    private readonly SystemZstd? _native = useSystemZstd ? SystemZstd.TryDecompressor() : null;
    private Decompressor? _decompressor;
    private readonly byte[] _compressed = new byte[CompressedTokenFormat.MaxDataCount];
    private readonly byte[] _output = new byte[ProtocolLimits.ChunkSize];
    private int _compressedStart;
    private int _compressedEnd;
    private bool _chunkDone;

    protected override void ReadChunk(int length)
    {
        Reader.ReadBytes(_compressed.AsSpan(0, length));
        _compressedStart = 0;
        _compressedEnd = length;
        _chunkDone = false;
    }

    protected override int Decode(out ReadOnlySpan<byte> data)
    {
        data = default;
        while (!_chunkDone)
        {
            int consumed, written;
            var input = _compressed.AsSpan(_compressedStart, _compressedEnd - _compressedStart);
            if (_native is not null)
                _native.Decompress(input, _output, out consumed, out written);
            else
            {
                try
                {
                    (_decompressor ??= new Decompressor()).UnwrapStream(input, _output, out consumed, out written);
                }
                catch (ZstdException e)
                {
                    throw new RsyncProtocolException($"zstd decompression failed: {e.Message} [receiver]", ExitCodes.StreamIo, e);
                }
            }
            _compressedStart += consumed;
            // Done with this chunk once its input is used up and the output had room to spare.
            if (_compressedStart == _compressedEnd && written < _output.Length)
                _chunkDone = true;
            else if (consumed == 0 && written == 0)
                throw new RsyncProtocolException("zstd decompression made no progress [receiver]", ExitCodes.StreamIo);
            if (written > 0)
            {
                data = _output.AsSpan(0, written);
                return written;
            }
        }
        return 0;
    }

    /// <summary>zstd keeps matched data out of its history (token.c, see_token).</summary>
    public override void SeeMatched(ReadOnlySpan<byte> block) { }

    public void Dispose()
    {
        _native?.Dispose();
        _decompressor?.Dispose();
    }
}
