using System.IO.Compression;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Compression;

/// <summary>
/// Reads rsync's deflated token stream (token.c, recv_deflated_token and see_deflate_token).
/// The inflater is fed by hand: data chunks as they arrive, the 00 00 ff ff the sender left off
/// when a token follows data, and, in the "zlib" format, each matched block wrapped in stored-block
/// headers so that it enters the window exactly as it does in rsync's receiver.
/// </summary>
internal sealed class DeflateTokenReceiver : CompressedTokenReceiver, IDisposable
{
    private readonly bool _matchedInHistory;
    private readonly bool _repeatLongBlockStart;
    private readonly InflaterInput _input = new(CompressedTokenFormat.MaxDataCount);
    private readonly byte[] _output = new byte[ProtocolLimits.ChunkSize];
    private DeflateStream? _inflater;
    private bool _inflaterUsed;

    /// <param name="reader">The stream from the sender.</param>
    /// <param name="protocolVersion">The negotiated protocol; below 31 long matched blocks enter the history as rsync 3.1.1 feeds them.</param>
    /// <param name="includeMatchedInHistory">True for "zlib" (-z), false for "zlibx" (-zz, --new-compress).</param>
    public DeflateTokenReceiver(RsyncReader reader, int protocolVersion, bool includeMatchedInHistory) : base(reader)
    {
        _matchedInHistory = includeMatchedInHistory;
        _repeatLongBlockStart = protocolVersion < 31;
    }

    protected override void StartFile()
    {
        // inflateReset per file (token.c): only an inflater that saw data needs replacing.
        if (_inflaterUsed)
            DropInflater();
    }

    protected override void ReadChunk(int length)
    {
        if (length == 0)
            throw new RsyncProtocolException("empty deflated data chunk [receiver]", ExitCodes.StreamIo);
        Reader.ReadBytes(_input.Load(length));
        EnsureInflater();
    }

    protected override int Decode(out ReadOnlySpan<byte> data)
    {
        int produced = Inflate(_output);
        if (produced == 0 && _input.Remaining != 0)
            throw new RsyncProtocolException("deflated data continues past the end of the stream [receiver]", ExitCodes.StreamIo);
        data = _output.AsSpan(0, produced);
        return produced;
    }

    protected override void DataEnded()
    {
        // The data before a token ended with a sync flush whose last 4 bytes were not sent.
        SyncTrailer.CopyTo(_input.Load(4));
        // An inflater that ended its stream leaves the trailer unread; one caught inside a
        // compressed block usually turns it into output.
        if (Inflate(_output) != 0 || _input.Remaining != 0)
            throw new RsyncProtocolException("decompressor lost sync [receiver]", ExitCodes.StreamIo);
    }

    /// <summary>
    /// In the "zlib" format the matched block enters the inflater's window (token.c,
    /// see_deflate_token): stored blocks of at most 0xffff bytes, whose output is discarded.
    /// </summary>
    public override void SeeMatched(ReadOnlySpan<byte> block)
    {
        if (!_matchedInHistory || block.IsEmpty)
            return;
        EnsureInflater();
        int offset = 0;
        for (int left = block.Length; left > 0;)
        {
            int piece = Math.Min(left, 0xffff);
            StorePiece(block.Slice(offset, piece));
            left -= piece;
            // Before protocol 31 every piece starts again at the block's first byte.
            if (!_repeatLongBlockStart)
                offset += piece;
        }
    }

    public void Dispose()
    {
        _inflater?.Dispose();
        _inflater = null;
    }

    private static ReadOnlySpan<byte> SyncTrailer => [0x00, 0x00, 0xff, 0xff];

    private void StorePiece(ReadOnlySpan<byte> piece)
    {
        int expected = piece.Length;
        Span<byte> header = _input.Load(5);
        header[0] = 0; // BFINAL 0, BTYPE 00 (stored), padded to the byte
        header[1] = (byte)expected;
        header[2] = (byte)(expected >> 8);
        header[3] = (byte)~header[1];
        header[4] = (byte)~header[2];
        int seen = Drain();
        while (!piece.IsEmpty)
        {
            int length = Math.Min(piece.Length, _input.Capacity);
            piece[..length].CopyTo(_input.Load(length));
            piece = piece[length..];
            seen += Drain();
        }
        if (seen != expected)
            throw new RsyncProtocolException($"decompressor lost sync: a matched block of {expected} bytes came out as {seen} [receiver]", ExitCodes.StreamIo);
    }

    private int Drain()
    {
        int total = 0;
        int produced;
        while ((produced = Inflate(_output)) > 0)
            total += produced;
        if (_input.Remaining != 0)
            throw new RsyncProtocolException("decompressor lost sync: matched data was not taken in [receiver]", ExitCodes.StreamIo);
        return total;
    }

    private int Inflate(Span<byte> destination)
    {
        try
        {
            return _inflater!.Read(destination);
        }
        catch (InvalidDataException e)
        {
            throw new RsyncProtocolException($"inflate failed: {e.Message} [receiver]", ExitCodes.StreamIo, e);
        }
    }

    private void EnsureInflater()
    {
        _inflater ??= new DeflateStream(_input, CompressionMode.Decompress, leaveOpen: true);
        _inflaterUsed = true;
    }

    private void DropInflater()
    {
        _inflater!.Dispose();
        _inflater = null;
        _inflaterUsed = false;
        _input.Clear();
    }
}

/// <summary>A read-only stream the receiver loads by hand; the inflater reads what was loaded.</summary>
internal sealed class InflaterInput(int capacity) : ReadOnlyForwardStream
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _position;
    private int _length;

    public int Capacity => _buffer.Length;

    public int Remaining => _length - _position;

    /// <summary>Replaces the unread input with <paramref name="length"/> bytes to be filled by the caller.</summary>
    public Span<byte> Load(int length)
    {
        if (Remaining != 0)
            throw new InvalidOperationException("inflater input loaded before the previous input was read");
        _position = 0;
        _length = length;
        return _buffer.AsSpan(0, length);
    }

    public void Clear() => _position = _length = 0;

    public override int Read(Span<byte> destination)
    {
        int count = Math.Min(destination.Length, _length - _position);
        _buffer.AsSpan(_position, count).CopyTo(destination);
        _position += count;
        return count;
    }

}
