using K4os.Compression.LZ4;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Compression;

/// <summary>
/// rsync 3.2+'s lz4 token stream (token.c, send_compressed_token): literal data in independent
/// lz4 blocks of at most 16383 input bytes, each sent as one data chunk (the input is halved
/// until the block fits a chunk). There is no level and no history.
/// </summary>
internal sealed class Lz4TokenSender : TokenSender
{
    private readonly byte[] _chunk = new byte[LZ4Codec.MaximumOutputSize(CompressedTokenFormat.MaxDataCount)];
    private TokenRunWriter _runs;

    public Lz4TokenSender(RsyncWriter writer) : base(writer) => _runs.BeginFile();

    public override void BeginFile(int level, bool hasBasis = true) => _runs.BeginFile();

    public override void Literal(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            return;
        _runs.BeforeLiteral(Writer);
        while (!data.IsEmpty)
        {
            int take = Math.Min(data.Length, CompressedTokenFormat.MaxDataCount);
            int written;
            while ((written = LZ4Codec.Encode(data[..take], _chunk, LZ4Level.L00_FAST)) > CompressedTokenFormat.MaxDataCount)
                take /= 2;
            if (written <= 0)
                throw new InvalidOperationException("lz4 compression failed");
            CompressedTokenFormat.WriteDataChunk(Writer, _chunk.AsSpan(0, written));
            data = data[take..];
        }
    }

    public override void Match(int index, ReadOnlySpan<byte> block) => _runs.Token(Writer, index);

    public override void EndFile() => _runs.EndFile(Writer);
}

/// <summary>Reads rsync 3.2+'s lz4 token stream (token.c, recv_compressed_token).</summary>
internal sealed class Lz4TokenReceiver(RsyncReader reader) : CompressedTokenReceiver(reader)
{
    // token.c sizes its output for the larger of LZ4_compressBound(CHUNK_SIZE) and a chunk plus flag.
    private readonly byte[] _compressed = new byte[CompressedTokenFormat.MaxDataCount];
    private readonly byte[] _output = new byte[Math.Max(LZ4Codec.MaximumOutputSize(ProtocolLimits.ChunkSize), CompressedTokenFormat.MaxDataCount + 2)];
    private int _pending;

    /// <summary>Each chunk is one lz4 block; an empty one carries nothing and is skipped.</summary>
    protected override void ReadChunk(int length)
    {
        Span<byte> compressed = _compressed.AsSpan(0, length);
        Reader.ReadBytes(compressed);
        int produced = LZ4Codec.Decode(compressed, _output);
        if (produced < 0)
            throw new RsyncProtocolException($"lz4 decompression failed ({produced}) [receiver]", ExitCodes.StreamIo);
        _pending = produced;
    }

    protected override int Decode(out ReadOnlySpan<byte> data)
    {
        int produced = _pending;
        _pending = 0;
        data = _output.AsSpan(0, produced);
        return produced;
    }

    public override void SeeMatched(ReadOnlySpan<byte> block) { }
}
