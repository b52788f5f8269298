using System.Globalization;
using System.Text;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// What a connection's new process needs to carry on where the listening daemon stopped: the client
/// was admitted to <see cref="Module"/> and authenticated, and waits for "@RSYNCD: OK". The client's
/// greeting comes along so that the rest of the session sees it as the listener did.
/// </summary>
public sealed record DaemonHandoff(string Module, string User, bool ReadOnly, string Host,
    int RemoteProtocol, int RemoteSubProtocol, int Protocol, IReadOnlyList<string> AuthDigests)
{
    internal Greeting Greeting => new(RemoteProtocol, RemoteSubProtocol, Protocol, [.. AuthDigests]);

    internal static DaemonHandoff From(string module, string user, bool readOnly, string host, Greeting greeting) =>
        new(module, user, readOnly, host, greeting.RemoteProtocol, greeting.RemoteSubProtocol, greeting.Protocol, greeting.AuthDigests);

    /// <summary>One command-line word (base64 of tab-separated fields).</summary>
    public string Encode()
    {
        string Number(int n) => n.ToString(CultureInfo.InvariantCulture);
        string fields = string.Join('\t', Module, User, ReadOnly ? "1" : "0", Host,
            Number(RemoteProtocol), Number(RemoteSubProtocol), Number(Protocol), string.Join(' ', AuthDigests));
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(fields));
    }

    public static DaemonHandoff Decode(string word)
    {
        string[] f;
        try
        {
            f = Encoding.UTF8.GetString(Convert.FromBase64String(word)).Split('\t');
        }
        catch (FormatException)
        {
            f = [];
        }
        if (f.Length != 8
            || !int.TryParse(f[4], CultureInfo.InvariantCulture, out int remote)
            || !int.TryParse(f[5], CultureInfo.InvariantCulture, out int remoteSub)
            || !int.TryParse(f[6], CultureInfo.InvariantCulture, out int protocol))
            throw new FormatException("malformed connection handoff");
        return new DaemonHandoff(f[0], f[1], f[2] == "1", f[3], remote, remoteSub, protocol, f[7].Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }
}
