namespace NetRsync.SerSync.Config;

/// <summary>One rsync daemon module that receives a watched directory.</summary>
public sealed record RemoteTarget(string Host, string Module)
{
    /// <summary>How logs and the fail queue name this remote: HOST::MODULE.</summary>
    public string Key => $"{Host}::{Module}";
}

/// <summary>A watched directory and the modules it is mirrored to.</summary>
public sealed record WatchedPath(string Path, IReadOnlyList<RemoteTarget> Remotes);

/// <summary>Which inotify events lead to a push (the &lt;inotify&gt; switches).</summary>
public sealed record EventSwitches
{
    public bool Delete { get; init; }
    public bool CreateFolder { get; init; } = true;
    public bool CreateFile { get; init; }
    public bool CloseWrite { get; init; } = true;
    public bool MoveFrom { get; init; } = true;
    public bool MoveTo { get; init; } = true;
    public bool Attrib { get; init; }
    public bool Modify { get; init; }
}

/// <summary>The &lt;rsync&gt; element: how every push talks to the daemons.</summary>
public sealed record RsyncSettings
{
    public string CommonParams { get; init; } = "-artuz";
    public bool AuthEnabled { get; init; }
    public string? AuthUser { get; init; }
    public string? PasswordFile { get; init; }
    public int? Port { get; init; }
    public int? TimeoutSeconds { get; init; }
    public bool Ssh { get; init; }
}

public sealed record CommandPluginSettings(string Prefix, string Suffix, bool IgnoreError, IReadOnlyList<string> IncludeExpressions);

public sealed record SocketPluginTarget(string WatchPath, string Host, int Port);

public sealed record HttpPluginTarget(string WatchPath, string Url);

/// <summary>Everything confxml.xml says.</summary>
public sealed record WatchConfig
{
    public bool Debug { get; init; }
    public bool XfsFileSystem { get; init; }
    public bool FilterEnabled { get; init; }
    public IReadOnlyList<string> ExcludeExpressions { get; init; } = [];
    public EventSwitches Events { get; init; } = new();
    public IReadOnlyList<WatchedPath> Watches { get; init; } = [];
    public RsyncSettings Rsync { get; init; } = new();
    public string? FailLogPath { get; init; }
    /// <summary>Upper bound of the retry backoff for failed pushes, in minutes (failLog timeToExecute).</summary>
    public int FailRetryMinutes { get; init; } = 60;
    public bool CrontabEnabled { get; init; }
    public int CrontabMinutes { get; init; } = 600;
    public IReadOnlyList<string> CrontabExcludes { get; init; } = [];
    /// <summary>The plugin the &lt;sersync&gt; section switches on alongside the pushes, if any.</summary>
    public string? EnabledPlugin { get; init; }
    public CommandPluginSettings? CommandPlugin { get; init; }
    public IReadOnlyList<SocketPluginTarget> SocketTargets { get; init; } = [];
    public IReadOnlyList<HttpPluginTarget> HttpTargets { get; init; } = [];
    public bool RefreshCdnConfigured { get; init; }
    /// <summary>How long changes gather before a push (not in sersync's format: &lt;settle ms="100"/&gt;).</summary>
    public TimeSpan SettleWindow { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>How often to rescan when the inotify watch limit was hit (&lt;rescan minutes="5"/&gt;).</summary>
    public TimeSpan RescanInterval { get; init; } = TimeSpan.FromMinutes(5);
}
