namespace NetRsync.Protocol.Daemon;

/// <summary>A daemon location: rsync://[USER@]HOST[:PORT]/MODULE[/PATH] or [USER@]HOST::MODULE[/PATH].</summary>
public sealed record DaemonUrl(string? User, string Host, int? Port, string Module, string Path)
{
    public const int DefaultPort = 873;

    /// <summary>
    /// A remote-shell location, [USER@]HOST:PATH: a colon before any slash makes an argument remote
    /// (options.c, check_for_hostspec and parse_hostspec), "[v6addr]:PATH" too. Daemon forms are not.
    /// </summary>
    public static bool IsRemoteShellPath(string argument) => Client.RemoteShellPath.TryParse(argument) is not null;

    /// <summary>Recognises both daemon forms; null for a local path.</summary>
    public static DaemonUrl? TryParse(string argument)
    {
        string rest;
        string? user = null;
        string host;
        int? port = null;
        if (argument.StartsWith("rsync://", StringComparison.OrdinalIgnoreCase))
        {
            rest = argument["rsync://".Length..];
            int slash = rest.IndexOf('/');
            string authority = slash < 0 ? rest : rest[..slash];
            rest = slash < 0 ? "" : rest[(slash + 1)..];
            (user, authority) = SplitUser(authority);
            (host, port) = SplitPort(authority);
        }
        else
        {
            // "[v6addr]::MODULE" and "USER@[v6addr]::MODULE": the address's own colons are not the separator.
            int at = argument.IndexOf('@');
            int bracket = argument.StartsWith('[') ? 0 : at >= 0 && at + 1 < argument.Length && argument[at + 1] == '[' ? at + 1 : -1;
            int hostEnd = bracket < 0 ? 0 : argument.IndexOf(']', bracket) + 1;
            int colons = argument.IndexOf("::", hostEnd, StringComparison.Ordinal);
            int firstSlash = argument.IndexOf('/');
            if (colons <= 0 || (firstSlash >= 0 && firstSlash < colons))
                return null;
            string authority = argument[..colons];
            rest = argument[(colons + 2)..];
            (user, host) = SplitUser(authority);
        }
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];
        int moduleEnd = rest.IndexOf('/');
        string module = moduleEnd < 0 ? rest : rest[..moduleEnd];
        string path = moduleEnd < 0 ? "" : rest[(moduleEnd + 1)..];
        return new DaemonUrl(user, host, port, module, path);
    }

    private static (string? User, string Remainder) SplitUser(string authority)
    {
        int at = authority.LastIndexOf('@');
        return at < 0 ? (null, authority) : (authority[..at], authority[(at + 1)..]);
    }

    private static (string Host, int? Port) SplitPort(string authority)
    {
        int close = authority.LastIndexOf(']');
        int colon = authority.LastIndexOf(':');
        if (colon > close && int.TryParse(authority[(colon + 1)..], out int p))
            return (authority[..colon], p);
        return (authority, null);
    }

    /// <summary>The remote argument as rsync sends it: "MODULE/PATH" (clientserver.c, start_inband_exchange).</summary>
    public string RemoteArgument => Path.Length == 0 ? Module + "/" : Module + "/" + Path;
}
