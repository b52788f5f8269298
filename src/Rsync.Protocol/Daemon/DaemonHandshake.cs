using System.Security.Cryptography;
using System.Text;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Daemon;

/// <summary>The result of the daemon greeting: what both sides agreed on.</summary>
internal readonly record struct Greeting(int RemoteProtocol, int RemoteSubProtocol, int Protocol, string[] AuthDigests);

/// <summary>
/// The client side of the daemon's line protocol (clientserver.c, exchange_protocols and
/// start_inband_exchange; authenticate.c, auth_client).
/// </summary>
internal static class DaemonHandshake
{
    /// <summary>Digests we can answer a challenge with, most preferred first (checksum.c, valid_auth_checksums).</summary>
    public static readonly string[] SupportedAuthDigests = ["sha512", "sha256", "sha1", "md5"];

    public static Greeting ExchangeGreeting(RsyncReader reader, RsyncWriter writer, int protocol)
    {
        string? line;
        try
        {
            writer.WriteText($"@RSYNCD: {protocol}.0 {string.Join(' ', SupportedAuthDigests)}\n");
            writer.Flush();
            line = reader.ReadLine();
        }
        catch (RsyncProtocolException ex)
        {
            throw new RsyncException("rsync: did not see server greeting", ExitCodes.StartClient, ex);
        }
        return ParseGreeting(line ?? throw new RsyncException("rsync: did not see server greeting", ExitCodes.StartClient), protocol);
    }

    public static Greeting ParseGreeting(string line, int protocol)
    {
        const string prefix = "@RSYNCD: ";
        if (!line.StartsWith(prefix, StringComparison.Ordinal))
            throw new RsyncException($"rsync: server sent \"{line}\" rather than greeting", ExitCodes.StartClient);
        string rest = line[prefix.Length..];
        int space = rest.IndexOf(' ');
        string version = space < 0 ? rest : rest[..space];
        string[] digests = space < 0 ? [] : rest[(space + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int dot = version.IndexOf('.');
        if (!int.TryParse(dot < 0 ? version : version[..dot], out int remote))
            throw new RsyncException($"rsync: server sent \"{line}\" rather than greeting", ExitCodes.StartClient);
        int sub = -1;
        if (dot >= 0 && !int.TryParse(version[(dot + 1)..], out sub))
            sub = -1;
        if (sub < 0)
        {
            if (remote >= 30)
                throw new RsyncException($"rsync: the server omitted the subprotocol value: {line}", ExitCodes.StartClient);
            sub = 0;
        }
        if (digests.Length == 0 && remote > 31)
            throw new RsyncException($"rsync: the server omitted the digest name list: {line}", ExitCodes.StartClient);

        // A pre-release sub-protocol on either side steps the version down (clientserver.c, exchange_protocols).
        int negotiated = protocol;
        if (negotiated > remote)
            negotiated = sub != 0 ? remote - 1 : remote;
        else if (negotiated == remote && sub != 0)
            negotiated--;
        if (negotiated < ProtocolLimits.MinProtocol)
            throw new RsyncException($"protocol version mismatch: the server speaks protocol {remote}, and protocol {ProtocolLimits.MinProtocol} or newer is needed", ExitCodes.Protocol);
        return new Greeting(remote, sub, negotiated, digests);
    }

    /// <summary>The digest both sides pick: our most preferred one that the daemon lists (compat.c, negotiate_daemon_auth).</summary>
    public static string ChooseAuthDigest(string[] daemonList)
    {
        if (daemonList.Length == 0)
            return "md5";
        foreach (string ours in SupportedAuthDigests)
        {
            if (daemonList.Contains(ours, StringComparer.Ordinal))
                return ours;
        }
        throw new RsyncException($"Failed to negotiate a daemon auth checksum choice.\nServer list: {string.Join(' ', daemonList)}\nClient list: {string.Join(' ', SupportedAuthDigests)}", ExitCodes.Unsupported);
    }

    /// <summary>base64(digest(password + challenge)) without padding (authenticate.c, generate_hash).</summary>
    public static string AuthResponse(string digest, string password, string challenge)
    {
        byte[] input = Encoding.UTF8.GetBytes(password + challenge);
        byte[] hash = digest switch
        {
            "sha512" => SHA512.HashData(input),
            "sha256" => SHA256.HashData(input),
            "sha1" => SHA1.HashData(input),
            "md5" => Md5Digest(input),
            _ => throw new RsyncException($"unsupported auth digest {digest}", ExitCodes.Unsupported),
        };
        return Convert.ToBase64String(hash).TrimEnd('=');
    }

    private static byte[] Md5Digest(byte[] input)
    {
        byte[] hash = new byte[Md5.HashLength];
        Md5.HashData(input, hash);
        return hash;
    }

    /// <summary>Sends the module name and reads until "@RSYNCD: OK", answering an auth challenge on the way.</summary>
    /// <returns>False when the daemon ended the session with "@RSYNCD: EXIT" (a module listing).</returns>
    public static bool SelectModule(RsyncReader reader, RsyncWriter writer, Greeting greeting, string module,
        string user, Func<string> password, Action<string> printLine)
    {
        try
        {
            return SelectModuleCore(reader, writer, greeting, module, user, password, printLine);
        }
        catch (RsyncProtocolException ex)
        {
            // A daemon that hangs up here (even mid-write) never started the session (clientserver.c, start_inband_exchange).
            throw new RsyncException("rsync: didn't get server startup line", ExitCodes.StartClient, ex);
        }
    }

    private static bool SelectModuleCore(RsyncReader reader, RsyncWriter writer, Greeting greeting, string module,
        string user, Func<string> password, Action<string> printLine)
    {
        writer.WriteText(module + "\n");
        writer.Flush();
        while (true)
        {
            string line = reader.ReadLine() ?? throw new RsyncException("rsync: didn't get server startup line", ExitCodes.StartClient);
            if (line.StartsWith("@RSYNCD: AUTHREQD ", StringComparison.Ordinal))
            {
                string challenge = line["@RSYNCD: AUTHREQD ".Length..];
                string digest = ChooseAuthDigest(greeting.AuthDigests);
                writer.WriteText($"{user} {AuthResponse(digest, password(), challenge)}\n");
                writer.Flush();
                continue;
            }
            if (line == "@RSYNCD: OK")
                return true;
            if (line == "@RSYNCD: EXIT")
                return false;
            if (line.StartsWith("@ERROR", StringComparison.Ordinal))
                throw new RsyncException(line, ExitCodes.StartClient);
            printLine(line);
        }
    }

    /// <summary>Sends the server arguments, NUL-terminated at protocol 30+ (clientserver.c, start_inband_exchange).</summary>
    public static void SendArguments(RsyncWriter writer, IEnumerable<string> args)
    {
        foreach (string arg in args)
        {
            writer.WriteBytes(Text.NameText.ToBytes(arg));
            writer.WriteByte(0);
        }
        writer.WriteByte(0);
        writer.Flush();
    }
}
