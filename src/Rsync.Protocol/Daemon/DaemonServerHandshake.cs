using System.Security.Cryptography;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Daemon;

/// <summary>The daemon side of the line protocol (clientserver.c, exchange_protocols and rsync_module; authenticate.c, auth_server).</summary>
internal static class DaemonServerHandshake
{
    /// <summary>Sends our greeting with the auth digests we accept, then the motd, and reads the client's greeting.</summary>
    public static async Task<Greeting> ExchangeAsync(HandshakeChannel channel, string? motd, CancellationToken cancellationToken)
    {
        var text = new System.Text.StringBuilder($"@RSYNCD: {ProtocolLimits.MaxProtocol}.0 {string.Join(' ', DaemonHandshake.SupportedAuthDigests)}\n");
        if (!string.IsNullOrEmpty(motd))
            text.Append(motd.EndsWith('\n') ? motd : motd + "\n").Append('\n');
        await channel.WriteAsync(text.ToString(), cancellationToken).ConfigureAwait(false);
        string line = await channel.ReadLineAsync(cancellationToken).ConfigureAwait(false) ?? throw new RsyncException("client closed before its greeting", ExitCodes.StartClient);
        if (!line.StartsWith("@RSYNCD: ", StringComparison.Ordinal))
        {
            await channel.WriteAsync("@ERROR: protocol startup error\n", cancellationToken).ConfigureAwait(false);
            throw new RsyncException($"protocol startup error: \"{line}\"", ExitCodes.StartClient);
        }
        try
        {
            return DaemonHandshake.ParseGreeting(line, ProtocolLimits.MaxProtocol);
        }
        catch (RsyncException ex)
        {
            await channel.WriteAsync($"@ERROR: {ex.Message}\n", cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The digest the client will use: the first in its list that we accept, else md5 (compat.c, negotiate_daemon_auth).</summary>
    public static string ChooseDigest(string[] clientList)
    {
        foreach (string name in clientList)
        {
            if (DaemonHandshake.SupportedAuthDigests.Contains(name, StringComparer.Ordinal))
                return name;
        }
        return "md5";
    }

    /// <summary>A fresh challenge: base64 of 16 random bytes, unpadded, as long as rsync's.</summary>
    public static string NewChallenge() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=');

    /// <summary>Sends the challenge and reads "USER RESPONSE"; null user when the reply is malformed.</summary>
    public static (string? User, string? Response) Challenge(RsyncReader reader, RsyncWriter writer, string challenge)
    {
        writer.WriteAscii($"@RSYNCD: AUTHREQD {challenge}\n");
        writer.Flush();
        string? line = reader.ReadLine();
        int space = line?.IndexOf(' ') ?? -1;
        if (line is null || space <= 0)
            return (null, null);
        return (line[..space], line[(space + 1)..]);
    }

    public static bool Verify(string digest, string password, string challenge, string response) =>
        CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(DaemonHandshake.AuthResponse(digest, password, challenge)),
            System.Text.Encoding.ASCII.GetBytes(response));

    /// <summary>Reads the client's arguments: NUL-terminated from protocol 30, ending with an empty one (clientserver.c, read_args).</summary>
    public static List<string> ReadArguments(RsyncReader reader, int protocol, int maxArguments = 1024)
    {
        var args = new List<string>();
        while (true)
        {
            string arg = protocol >= 30 ? ReadNulTerminated(reader) : reader.ReadLine() ?? throw new RsyncException("client closed while sending arguments", ExitCodes.StartClient);
            if (arg.Length == 0)
                return args;
            if (args.Count >= maxArguments)
                throw new RsyncException("too many arguments from the client", ExitCodes.Protocol);
            args.Add(arg);
        }
    }

    private static string ReadNulTerminated(RsyncReader reader)
    {
        var bytes = new List<byte>();
        while (true)
        {
            byte b = reader.ReadByte();
            if (b == 0)
                return Text.NameText.FromBytes(bytes.ToArray());
            if (bytes.Count >= ProtocolLimits.MaxPath * 2)
                throw new RsyncException("over-long argument from the client", ExitCodes.Protocol);
            bytes.Add(b);
        }
    }
}
