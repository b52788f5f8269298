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

    private readonly Compressor _compressor;
    private readonly byte[] _chunk = new byte[CompressedTokenFormat.MaxDataCount];
    private int _chunkLength;
    private bool _literalPending;
    private TokenRunWriter _runs;

    /// <param name="writer">The stream to the receiver.</param>
    /// <param name="level">
    /// The level for the whole connection: rsync sets it once when the stream starts, and a zstd
    /// stream cannot change it midway, so <see cref="BeginFile"/>'s level is not used.
    /// </param>
    public ZstdTokenSender(RsyncWriter writer, int level = DefaultLevel) : base(writer)
    {
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
            _compressor.WrapStream(data, _chunk.AsSpan(_chunkLength), out int consumed, out int written, isFinalBlock: false);
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

    public void Dispose() => _compressor.Dispose();

    private void FlushLiteral()
    {
        if (!_literalPending)
            return;
        _literalPending = false;
        while (true)
        {
            var status = _compressor.FlushStream(_chunk.AsSpan(_chunkLength), out int written);
            _chunkLength += written;
            if (status == System.Buffers.OperationStatus.Done)
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
internal sealed class ZstdTokenReceiver(RsyncReader reader) : CompressedTokenReceiver(reader), IDisposable
{
    private readonly Decompressor _decompressor = new();
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
            try
            {
                _decompressor.UnwrapStream(_compressed.AsSpan(_compressedStart, _compressedEnd - _compressedStart), _output, out consumed, out written);
            }
            catch (ZstdException e)
            {
                throw new RsyncProtocolException($"zstd decompression failed: {e.Message} [receiver]", ExitCodes.StreamIo, e);
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

    public void Dispose() => _decompressor.Dispose();
}
