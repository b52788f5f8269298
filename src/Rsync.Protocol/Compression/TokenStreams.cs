using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Compression;

/// <summary>
/// Writes one file's delta as rsync's token stream (token.c, send_token): literal data, matched
/// block indexes, and an end marker. Implementations differ in how literal data travels
/// (plain, zlib, zlibx, zstd, lz4). One instance serves a whole connection; state that rsync
/// resets per file is reset by <see cref="BeginFile"/>. Formats that hold native state implement
/// <see cref="IDisposable"/>.
/// </summary>
internal abstract class TokenSender
{
    protected TokenSender(RsyncWriter writer) => Writer = writer;

    protected RsyncWriter Writer { get; }

    /// <summary>
    /// Starts a file. <paramref name="level"/> is the compression level for it (0 when --skip-compress
    /// matched); without a basis (<paramref name="hasBasis"/> false) no block can match.
    /// </summary>
    public abstract void BeginFile(int level, bool hasBasis = true);

    /// <summary>Literal data, in calls of at most 32 KiB; it reaches the wire no later than the next token.</summary>
    public abstract void Literal(ReadOnlySpan<byte> data);

    /// <summary>The block at <paramref name="index"/> matched; <paramref name="block"/> holds its bytes.</summary>
    public abstract void Match(int index, ReadOnlySpan<byte> block);

    /// <summary>Ends the file's tokens (the whole-file checksum follows, written by the caller).</summary>
    public abstract void EndFile();
}

/// <summary>
/// Reads one file's token stream (token.c, recv_token / see_token). <see cref="Next"/> returns a
/// positive count of literal bytes now in <c>data</c>, <c>-(index + 1)</c> for a matched block, or
/// 0 at the end of the file. After a matched block the caller passes the block's bytes to
/// <see cref="SeeMatched"/>, which some formats add to their history.
/// </summary>
internal abstract class TokenReceiver
{
    protected TokenReceiver(RsyncReader reader) => Reader = reader;

    protected RsyncReader Reader { get; }

    public abstract int Next(out ReadOnlySpan<byte> data);

    public abstract void SeeMatched(ReadOnlySpan<byte> block);
}

/// <summary>The uncompressed stream (token.c, simple_send_token): int length + bytes, then int -(index + 1).</summary>
internal sealed class PlainTokenSender(RsyncWriter writer) : TokenSender(writer)
{
    public override void BeginFile(int level, bool hasBasis = true) { }

    public override void Literal(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var chunk = data[..Math.Min(data.Length, ProtocolLimits.ChunkSize)];
            Writer.WriteInt32(chunk.Length);
            Writer.WriteBytes(chunk);
            data = data[chunk.Length..];
        }
    }

    public override void Match(int index, ReadOnlySpan<byte> block) => Writer.WriteInt32(-(index + 1));

    public override void EndFile() => Writer.WriteInt32(0);
}

/// <summary>The uncompressed stream's reader (token.c, simple_recv_token).</summary>
internal sealed class PlainTokenReceiver(RsyncReader reader) : TokenReceiver(reader)
{
    private int _residue;

    public override int Next(out ReadOnlySpan<byte> data)
    {
        data = default;
        if (_residue == 0)
        {
            int token = Reader.ReadInt32();
            if (token <= 0)
                return token;
            // rsync never sends more than a chunk per token; a little slack tolerates odd senders.
            if (token > ProtocolLimits.ChunkSize * 8)
                throw new RsyncProtocolException($"invalid literal token length {token} [receiver]");
            _residue = token;
        }
        // Handed on where it lies in the read buffer: the receiver consumes it before reading on.
        data = Reader.ReadInPlace(Math.Min(_residue, ProtocolLimits.ChunkSize));
        _residue -= data.Length;
        return data.Length;
    }

    public override void SeeMatched(ReadOnlySpan<byte> block) { }
}
