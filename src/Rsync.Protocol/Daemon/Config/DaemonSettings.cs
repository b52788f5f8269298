namespace NetRsync.Protocol.Daemon.Config;

/// <summary>
/// The module parameters, as a module or the global section holds them. Strings are returned raw
/// (null when never set); %VAR% references in them are expanded when used, see
/// <see cref="DaemonConfig.ExpandVariables(string, Func{string, string?})"/>.
/// </summary>
public abstract class DaemonSettings
{
    private protected DaemonSettings(object?[] values, object?[]? stringFallback)
    {
        Values = values;
        StringFallback = stringFallback;
    }

    private protected object?[] Values { get; }

    /// <summary>
    /// For a module, the global values at the end of the file: a string the module never had
    /// falls back to it, the others were copied when the module began (loadparm.c, FN_LOCAL_STRING).
    /// </summary>
    private protected object?[]? StringFallback { get; }

    /// <summary>A parameter's value by its rsync name (matched as rsync matches keys).</summary>
    public object? Get(string parameterName) =>
        Get(DaemonParameters.Find(parameterName) ?? throw new ArgumentException($"unknown parameter \"{parameterName}\"", nameof(parameterName)));

    /// <summary>A parameter's value: string (or null), int, bool, or bool? for tri-states.</summary>
    public object? Get(DaemonParameter parameter)
    {
        object? v = Values[parameter.Index];
        if (v is null && StringFallback is not null && parameter.Kind is DaemonParameterKind.String or DaemonParameterKind.Path)
            v = StringFallback[parameter.Index];
        return v;
    }

    private string? Str(DaemonParameter p) => (string?)Get(p);

    private int Int(DaemonParameter p) => (int)Get(p)!;

    private bool Bool(DaemonParameter p) => (bool)Get(p)!;

    private bool? Tri(DaemonParameter p) => (bool?)Get(p);

    public string? AuthDigest => Str(DaemonParameters.AuthDigest);
    public string? AuthUsers => Str(DaemonParameters.AuthUsers);
    public string? Charset => Str(DaemonParameters.Charset);
    public string? Comment => Str(DaemonParameters.Comment);
    public string? DontCompress => Str(DaemonParameters.DontCompress);
    public string? EarlyExec => Str(DaemonParameters.EarlyExec);
    public string? Exclude => Str(DaemonParameters.Exclude);
    public string? ExcludeFrom => Str(DaemonParameters.ExcludeFrom);
    public string? Filter => Str(DaemonParameters.Filter);
    public string? Gid => Str(DaemonParameters.Gid);
    public string? HostsAllow => Str(DaemonParameters.HostsAllow);
    public string? HostsDeny => Str(DaemonParameters.HostsDeny);
    public string? Include => Str(DaemonParameters.Include);
    public string? IncludeFrom => Str(DaemonParameters.IncludeFrom);
    public string? IncomingChmod => Str(DaemonParameters.IncomingChmod);
    public string? LockFile => Str(DaemonParameters.LockFile);
    public string? LogFile => Str(DaemonParameters.LogFile);
    public string? LogFormat => Str(DaemonParameters.LogFormat);
    public string? NameConverter => Str(DaemonParameters.NameConverter);
    public string? OutgoingChmod => Str(DaemonParameters.OutgoingChmod);
    public string? Path => Str(DaemonParameters.PathParameter);
    public string? PostXferExec => Str(DaemonParameters.PostXferExec);
    public string? PreXferExec => Str(DaemonParameters.PreXferExec);
    public string? RefuseOptions => Str(DaemonParameters.RefuseOptions);
    public string? SecretsFile => Str(DaemonParameters.SecretsFile);
    public string? SyslogTag => Str(DaemonParameters.SyslogTag);
    public string? TempDir => Str(DaemonParameters.TempDir);
    public string? Uid => Str(DaemonParameters.Uid);

    /// <summary>0 means no limit; a negative value disables the module.</summary>
    public int MaxConnections => Int(DaemonParameters.MaxConnections);
    public int MaxVerbosity => Int(DaemonParameters.MaxVerbosity);
    public int Timeout => Int(DaemonParameters.Timeout);

    /// <summary>The syslog facility code (LOG_DAEMON, 24, by default).</summary>
    public int SyslogFacility => Int(DaemonParameters.SyslogFacility);

    /// <summary>In a two-way module, whether a conflict's loser is kept as NAME.conflict-WHO-TIME (netrsyncd only).</summary>
    public bool ConflictCopies => Bool(DaemonParameters.ConflictCopies);
    public bool FakeSuper => Bool(DaemonParameters.FakeSuper);
    public bool ForwardLookup => Bool(DaemonParameters.ForwardLookup);
    public bool IgnoreErrors => Bool(DaemonParameters.IgnoreErrors);
    public bool IgnoreNonreadable => Bool(DaemonParameters.IgnoreNonreadable);
    public bool InsecureLinks => Bool(DaemonParameters.InsecureLinks);
    public bool List => Bool(DaemonParameters.List);
    public bool ReadOnly => Bool(DaemonParameters.ReadOnly);
    public bool ReverseLookup => Bool(DaemonParameters.ReverseLookup);
    public bool StrictModes => Bool(DaemonParameters.StrictModes);
    public bool TransferLogging => Bool(DaemonParameters.TransferLogging);
    public bool WriteOnly => Bool(DaemonParameters.WriteOnly);

    /// <summary>null (unset, the default) lets the module's chroot decide; see <see cref="DaemonModule.EffectiveMungeSymlinks"/>.</summary>
    public bool? MungeSymlinks => Tri(DaemonParameters.MungeSymlinks);

    /// <summary>null (unset, the default) lets the module's chroot decide; see <see cref="DaemonModule.EffectiveNumericIds"/>.</summary>
    public bool? NumericIds => Tri(DaemonParameters.NumericIds);

    /// <summary>null (unset, the default) leaves it to the client's --open-noatime.</summary>
    public bool? OpenNoatime => Tri(DaemonParameters.OpenNoatime);

    /// <summary>
    /// null (unset, the default since rsync 3.2.7): chroot when the path has a "/./" divider, else try to
    /// chroot and carry on without when that fails; true requires the chroot. See <see cref="DaemonModule.EffectiveUseChroot"/>.
    /// </summary>
    public bool? UseChroot => Tri(DaemonParameters.UseChroot);
}

/// <summary>The global section: the daemon-wide parameters plus the defaults modules start from.</summary>
public sealed class DaemonGlobalSettings : DaemonSettings
{
    internal DaemonGlobalSettings(object?[] values)
        : base(values, null)
    {
    }

    /// <summary>The address to listen on ("address").</summary>
    public string? Address => (string?)Get(DaemonParameters.Address);
    public string? DaemonChroot => (string?)Get(DaemonParameters.DaemonChroot);
    public string? DaemonGid => (string?)Get(DaemonParameters.DaemonGid);
    public string? DaemonUid => (string?)Get(DaemonParameters.DaemonUid);
    public string? MotdFile => (string?)Get(DaemonParameters.MotdFile);
    public string? PidFile => (string?)Get(DaemonParameters.PidFile);
    public string? ProxyProtocolHosts => (string?)Get(DaemonParameters.ProxyProtocolHosts);
    public string? SocketOptions => (string?)Get(DaemonParameters.SocketOptions);
    public int ListenBacklog => (int)Get(DaemonParameters.ListenBacklog)!;

    /// <summary>The port to listen on; 0 means the default (873) or --port.</summary>
    public int Port => (int)Get(DaemonParameters.Port)!;
    public bool ProxyProtocol => (bool)Get(DaemonParameters.ProxyProtocol)!;

    /// <summary>Seconds a client has from connecting until its arguments are in (greeting, module, auth); 0 for none.</summary>
    public int HandshakeTimeout => (int)Get(DaemonParameters.HandshakeTimeout)!;

    /// <summary>Connections served at once by the whole daemon; 0 for no limit.</summary>
    public int MaxClients => (int)Get(DaemonParameters.MaxClients)!;

    /// <summary>Connections served at once from one client address; 0 for no limit.</summary>
    public int MaxClientsPerAddress => (int)Get(DaemonParameters.MaxClientsPerAddress)!;

    /// <summary>Entries a pushing client's file list may have in one session; 0 for no limit.</summary>
    public int MaxFileListEntries => (int)Get(DaemonParameters.MaxFileListEntries)!;

    /// <summary>Megabytes of names a pushing client's file list may carry in one session; 0 for no limit.</summary>
    public int MaxFileListSize => (int)Get(DaemonParameters.MaxFileListSize)!;
}

/// <summary>One [module] section.</summary>
public sealed class DaemonModule : DaemonSettings
{
    /// <summary>The user rsync switches to when running as root and "uid" is unset (configure's NOBODY_USER).</summary>
    public const string NobodyUser = "nobody";

    internal DaemonModule(object?[] values, object?[] globals)
        : base(values, globals)
    {
    }

    /// <summary>The module's name, as clients must spell it (the "name" parameter, set from the section header).</summary>
    public string Name => (string?)Get(DaemonParameters.Name) ?? "";

    /// <summary>
    /// Whether the module chroots: as set, or when unset, yes if the path has a "/./" divider,
    /// else whether a chroot is possible at all (clientserver.c, rsync_module, rsync 3.2.7+).
    /// </summary>
    public bool EffectiveUseChroot(bool chrootAvailable) =>
        UseChroot ?? ((Path ?? "").Contains("/./", StringComparison.Ordinal) || chrootAvailable);

    /// <summary>
    /// Whether incoming symlinks are munged: as set, or when unset, yes unless the module is chrooted
    /// straight into its path (no inner "/./" subdirectory) (clientserver.c, rsync_module).
    /// </summary>
    public bool EffectiveMungeSymlinks(bool useChroot) => MungeSymlinks ?? (!useChroot || HasInnerChrootPath());

    /// <summary>
    /// Whether the daemon acts as if --numeric-ids were given: when chrooted, unless set to false or a
    /// "name converter" is set; otherwise only when set to true (clientserver.c, rsync_module).
    /// </summary>
    public bool EffectiveNumericIds(bool useChroot) =>
        useChroot ? NumericIds != false && string.IsNullOrEmpty(NameConverter) : NumericIds == true;

    /// <summary>The user transfers run as: "uid", else nobody when the daemon runs as root, else no change (null).</summary>
    public string? EffectiveUid(bool runningAsRoot) =>
        !string.IsNullOrEmpty(Uid) ? Uid : runningAsRoot ? NobodyUser : null;

    /// <summary>
    /// The groups transfers run with: "gid" split as rsync splits it (a leading comma means commas only;
    /// "*" first means all the user's groups), else the nobody group when running as root, else none.
    /// </summary>
    public IReadOnlyList<string> EffectiveGids(bool runningAsRoot, string? nobodyGroup = null)
    {
        if (!string.IsNullOrEmpty(Gid))
            return ConfigTokens.Split(Gid);
        return runningAsRoot ? [nobodyGroup ?? DefaultNobodyGroup()] : [];
    }

    /// <summary>The nobody group as rsync's configure picks it: "nobody" if /etc/group has it, else "nogroup" if it has that.</summary>
    public static string DefaultNobodyGroup()
    {
        try
        {
            string[] lines = File.ReadAllLines("/etc/group");
            if (lines.Any(l => l.StartsWith("nobody:", StringComparison.Ordinal)))
                return "nobody";
            if (lines.Any(l => l.StartsWith("nogroup:", StringComparison.Ordinal)))
                return "nogroup";
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return "nobody";
    }

    private bool HasInnerChrootPath()
    {
        string path = Path ?? "";
        int divider = path.IndexOf("/./", StringComparison.Ordinal);
        if (divider < 0)
            return false;
        return path[(divider + 2)..].Split('/').Any(part => part.Length > 0 && part != ".");
    }

    public override string ToString() => Name;
}
