using System.Text;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// The daemon's line protocol before a client is admitted, read and written asynchronously so that
/// a client that says nothing holds no thread. Reads one byte at a time: nothing past the line is
/// taken from the connection, so the session's reader later starts exactly where this one stopped.
/// </summary>
internal sealed class HandshakeChannel(Stream stream)
{
    private readonly byte[] _one = new byte[1];

    /// <summary>A text line without its newline (and without carriage returns); null at end of stream.</summary>
    public async ValueTask<string?> ReadLineAsync(CancellationToken cancellationToken, int maxLength = 4096)
    {
        var bytes = new List<byte>();
        while (true)
        {
            int n = await stream.ReadAsync(_one, cancellationToken).ConfigureAwait(false);
            if (n == 0)
                return bytes.Count == 0 ? null : Text.NameText.FromBytes(bytes.ToArray());
            byte b = _one[0];
            if (b == (byte)'\n')
                return Text.NameText.FromBytes(bytes.ToArray());
            if (b == (byte)'\r')
                continue;
            if (bytes.Count >= maxLength)
                throw new RsyncProtocolException("over-long line received from the peer", ExitCodes.StreamIo);
            bytes.Add(b);
        }
    }

    public async ValueTask WriteAsync(string text, CancellationToken cancellationToken)
    {
        byte[] bytes = Text.NameText.ToBytes(text);
        await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
    }
}
