namespace NetRsync.Protocol.Daemon.Config;

/// <summary>How a parameter's value is read (loadparm.c, the P_* parameter types).</summary>
public enum DaemonParameterKind
{
    /// <summary>Text kept verbatim; %VAR% references are expanded only when the value is used.</summary>
    String,

    /// <summary>Text like <see cref="String"/>, with trailing slashes removed (one is kept for "/").</summary>
    Path,

    /// <summary>A number read the way C's atoi reads it: garbage reads as 0.</summary>
    Integer,

    /// <summary>yes/no, true/false, 1/0 (case-insensitive, spaces ignored).</summary>
    Boolean,

    /// <summary>A boolean that may also be "unset" (or -1), its default.</summary>
    TriState,

    /// <summary>A syslog facility name, or a positive number.</summary>
    Facility,
}

/// <summary>Where a parameter may be set: only before the first module (global), or in modules too (module).</summary>
public enum DaemonParameterScope
{
    Global,
    Module,
}

/// <summary>One rsyncd.conf parameter: its label, type, scope and default (daemon-parm.txt in rsync 3.2+, the parm_table in 3.1).</summary>
public sealed class DaemonParameter
{
    internal DaemonParameter(int index, string name, DaemonParameterKind kind, DaemonParameterScope scope, object? defaultValue)
    {
        Index = index;
        Name = name;
        Kind = kind;
        Scope = scope;
        DefaultValue = defaultValue;
    }

    internal int Index { get; }

    /// <summary>The label as rsync documents it, e.g. "max connections".</summary>
    public string Name { get; }

    public DaemonParameterKind Kind { get; }

    public DaemonParameterScope Scope { get; }

    /// <summary>The value before any config line sets it: a string (or null), an int, a bool, or a bool? for tri-states.</summary>
    public object? DefaultValue { get; }

    public override string ToString() => Name;
}

/// <summary>The table of every parameter rsync's daemon knows (rsync 3.5.0's daemon-parm.txt, a superset of 3.1.1's table).</summary>
public static class DaemonParameters
{
    /// <summary>The default "dont compress" list (loadparm.c, DEFAULT_DONT_COMPRESS in rsync 3.1.1).</summary>
    public const string DefaultDontCompress =
        "*.gz *.zip *.z *.rpm *.deb *.iso *.bz2 *.t[gb]z *.7z *.mp[34] *.mov *.avi *.ogg *.jpg *.jpeg *.png"
        + " *.lzo *.rzip *.lzma *.rar *.ace *.gpg *.xz *.txz *.lz *.tlz";

    /// <summary>The default "lock file" (rsync.h, DEFAULT_LOCK_FILE).</summary>
    public const string DefaultLockFile = "/var/run/rsyncd.lock";

    /// <summary>The default "log format".</summary>
    public const string DefaultLogFormat = "%o %h [%a] %m (%u) %f %l";

    /// <summary>syslog's LOG_DAEMON, the default "syslog facility".</summary>
    public const int LogDaemon = 3 << 3;

    private static readonly List<DaemonParameter> Table = [];

    // Globals.
    internal static readonly DaemonParameter Address = Add("address", DaemonParameterKind.String, DaemonParameterScope.Global, null);
    internal static readonly DaemonParameter DaemonChroot = Add("daemon chroot", DaemonParameterKind.String, DaemonParameterScope.Global, null);
    internal static readonly DaemonParameter DaemonGid = Add("daemon gid", DaemonParameterKind.String, DaemonParameterScope.Global, null);
    internal static readonly DaemonParameter DaemonUid = Add("daemon uid", DaemonParameterKind.String, DaemonParameterScope.Global, null);
    internal static readonly DaemonParameter MotdFile = Add("motd file", DaemonParameterKind.String, DaemonParameterScope.Global, null);
    internal static readonly DaemonParameter PidFile = Add("pid file", DaemonParameterKind.String, DaemonParameterScope.Global, null);
    internal static readonly DaemonParameter ProxyProtocolHosts = Add("proxy protocol hosts", DaemonParameterKind.String, DaemonParameterScope.Global, null);
    internal static readonly DaemonParameter SocketOptions = Add("socket options", DaemonParameterKind.String, DaemonParameterScope.Global, null);
    internal static readonly DaemonParameter ListenBacklog = Add("listen backlog", DaemonParameterKind.Integer, DaemonParameterScope.Global, 5);
    internal static readonly DaemonParameter Port = Add("port", DaemonParameterKind.Integer, DaemonParameterScope.Global, 0);
    internal static readonly DaemonParameter ProxyProtocol = Add("proxy protocol", DaemonParameterKind.Boolean, DaemonParameterScope.Global, false);

    // netrsyncd's own limits, which rsync leaves to its one-process-per-client model.
    internal static readonly DaemonParameter HandshakeTimeout = Add("handshake timeout", DaemonParameterKind.Integer, DaemonParameterScope.Global, 30);
    internal static readonly DaemonParameter MaxClients = Add("max clients", DaemonParameterKind.Integer, DaemonParameterScope.Global, 1000);
    internal static readonly DaemonParameter MaxClientsPerAddress = Add("max clients per address", DaemonParameterKind.Integer, DaemonParameterScope.Global, 100);
    internal static readonly DaemonParameter MaxFileListEntries = Add("max file list entries", DaemonParameterKind.Integer, DaemonParameterScope.Global, 1_000_000);
    internal static readonly DaemonParameter MaxFileListSize = Add("max file list size", DaemonParameterKind.Integer, DaemonParameterScope.Global, 64);

    // netrsyncd's two-way sync: whether a conflict's loser is kept beside the winner.
    internal static readonly DaemonParameter ConflictCopies = Add("conflict copies", DaemonParameterKind.Boolean, DaemonParameterScope.Module, true);

    // Module parameters (their global values are the defaults for modules).
    internal static readonly DaemonParameter AuthDigest = Add("auth digest", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter AuthUsers = Add("auth users", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter Charset = Add("charset", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter Comment = Add("comment", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter DontCompress = Add("dont compress", DaemonParameterKind.String, DaemonParameterScope.Module, DefaultDontCompress);
    internal static readonly DaemonParameter EarlyExec = Add("early exec", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter Exclude = Add("exclude", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter ExcludeFrom = Add("exclude from", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter Filter = Add("filter", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter Gid = Add("gid", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter HostsAllow = Add("hosts allow", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter HostsDeny = Add("hosts deny", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter Include = Add("include", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter IncludeFrom = Add("include from", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter IncomingChmod = Add("incoming chmod", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter LockFile = Add("lock file", DaemonParameterKind.String, DaemonParameterScope.Module, DefaultLockFile);
    internal static readonly DaemonParameter LogFile = Add("log file", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter LogFormat = Add("log format", DaemonParameterKind.String, DaemonParameterScope.Module, DefaultLogFormat);
    internal static readonly DaemonParameter Name = Add("name", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter NameConverter = Add("name converter", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter OutgoingChmod = Add("outgoing chmod", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter PostXferExec = Add("post-xfer exec", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter PreXferExec = Add("pre-xfer exec", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter RefuseOptions = Add("refuse options", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter SecretsFile = Add("secrets file", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter SyslogTag = Add("syslog tag", DaemonParameterKind.String, DaemonParameterScope.Module, "rsyncd");
    internal static readonly DaemonParameter Uid = Add("uid", DaemonParameterKind.String, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter PathParameter = Add("path", DaemonParameterKind.Path, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter TempDir = Add("temp dir", DaemonParameterKind.Path, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter MaxConnections = Add("max connections", DaemonParameterKind.Integer, DaemonParameterScope.Module, 0);
    internal static readonly DaemonParameter MaxVerbosity = Add("max verbosity", DaemonParameterKind.Integer, DaemonParameterScope.Module, 1);
    internal static readonly DaemonParameter Timeout = Add("timeout", DaemonParameterKind.Integer, DaemonParameterScope.Module, 0);
    internal static readonly DaemonParameter SyslogFacility = Add("syslog facility", DaemonParameterKind.Facility, DaemonParameterScope.Module, LogDaemon);
    internal static readonly DaemonParameter FakeSuper = Add("fake super", DaemonParameterKind.Boolean, DaemonParameterScope.Module, false);
    internal static readonly DaemonParameter ForwardLookup = Add("forward lookup", DaemonParameterKind.Boolean, DaemonParameterScope.Module, true);
    internal static readonly DaemonParameter IgnoreErrors = Add("ignore errors", DaemonParameterKind.Boolean, DaemonParameterScope.Module, false);
    internal static readonly DaemonParameter IgnoreNonreadable = Add("ignore nonreadable", DaemonParameterKind.Boolean, DaemonParameterScope.Module, false);
    internal static readonly DaemonParameter InsecureLinks = Add("insecure links", DaemonParameterKind.Boolean, DaemonParameterScope.Module, false);
    internal static readonly DaemonParameter List = Add("list", DaemonParameterKind.Boolean, DaemonParameterScope.Module, true);
    internal static readonly DaemonParameter ReadOnly = Add("read only", DaemonParameterKind.Boolean, DaemonParameterScope.Module, true);
    internal static readonly DaemonParameter ReverseLookup = Add("reverse lookup", DaemonParameterKind.Boolean, DaemonParameterScope.Module, true);
    internal static readonly DaemonParameter StrictModes = Add("strict modes", DaemonParameterKind.Boolean, DaemonParameterScope.Module, true);
    internal static readonly DaemonParameter TransferLogging = Add("transfer logging", DaemonParameterKind.Boolean, DaemonParameterScope.Module, false);
    internal static readonly DaemonParameter WriteOnly = Add("write only", DaemonParameterKind.Boolean, DaemonParameterScope.Module, false);
    internal static readonly DaemonParameter MungeSymlinks = Add("munge symlinks", DaemonParameterKind.TriState, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter NumericIds = Add("numeric ids", DaemonParameterKind.TriState, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter OpenNoatime = Add("open noatime", DaemonParameterKind.TriState, DaemonParameterScope.Module, null);
    internal static readonly DaemonParameter UseChroot = Add("use chroot", DaemonParameterKind.TriState, DaemonParameterScope.Module, null);

    /// <summary>Every parameter, in table order.</summary>
    public static IReadOnlyList<DaemonParameter> All => Table;

    internal static int Count => Table.Count;

    private static DaemonParameter Add(string name, DaemonParameterKind kind, DaemonParameterScope scope, object? defaultValue)
    {
        var p = new DaemonParameter(Table.Count, name, kind, scope, defaultValue);
        Table.Add(p);
        return p;
    }

    /// <summary>
    /// The parameter a config key names, comparing as rsync does: case-insensitively with all whitespace ignored,
    /// so "max connections", "MaxConnections" and " max  CONNECTIONS " are one key; underscores are not ignored
    /// (loadparm.c, map_parameter). A name starting with '-' never matches.
    /// </summary>
    public static DaemonParameter? Find(string name)
    {
        if (name.StartsWith('-'))
            return null;
        foreach (DaemonParameter p in Table)
        {
            if (LooseEquals(p.Name, name))
                return p;
        }
        return null;
    }

    /// <summary>Case-insensitive (ASCII) equality that skips whitespace on both sides (loadparm.c, strwicmp/strwiEQ).</summary>
    internal static bool LooseEquals(string a, string b)
    {
        int i = 0, j = 0;
        while (true)
        {
            while (i < a.Length && IsCSpace(a[i]))
                i++;
            while (j < b.Length && IsCSpace(b[j]))
                j++;
            if (i == a.Length || j == b.Length)
                return i == a.Length && j == b.Length;
            if (AsciiUpper(a[i]) != AsciiUpper(b[j]))
                return false;
            i++;
            j++;
        }
    }

    internal static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static char AsciiUpper(char c) => c is >= 'a' and <= 'z' ? (char)(c - 32) : c;
}
