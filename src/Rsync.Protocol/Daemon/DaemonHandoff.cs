using System.Text;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// What a connection's new process needs to carry on where the listening daemon stopped: the client
/// was admitted to <see cref="Module"/> and authenticated, and waits for "@RSYNCD: OK".
/// </summary>
public sealed record DaemonHandoff(string Module, string User, bool ReadOnly, int Protocol, string Host)
{
    /// <summary>One command-line word (base64 of tab-separated fields).</summary>
    public string Encode() =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Join('\t', Module, User, ReadOnly ? "1" : "0", Protocol.ToString(System.Globalization.CultureInfo.InvariantCulture), Host)));

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
        if (f.Length != 5 || !int.TryParse(f[3], System.Globalization.CultureInfo.InvariantCulture, out int protocol))
            throw new FormatException("malformed connection handoff");
        return new DaemonHandoff(f[0], f[1], f[2] == "1", protocol, f[4]);
    }
}
