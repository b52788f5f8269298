using System.Text;

namespace NetRsync.Protocol.Options;

public static partial class OptionParser
{
    /// <summary>How rsync names itself in a daemon's messages (RSYNC_NAME).</summary>
    internal const string ServerProgramName = "rsync";

    /// <summary>
    /// Parses the arguments a client sent to the daemon, as the client sent them
    /// ("--server", "--sender", "-logDtpre.iLsfx", ..., ".", "mod/path"), for a module without
    /// "refuse options" and without "charset".
    /// </summary>
    /// <exception cref="RsyncUsageException">rsync's daemon would refuse the arguments; the message is the line it prints.</exception>
    public static ServerInvocation ParseServer(IReadOnlyList<string> args) => ParseServer(args, new ServerParseSettings());

    /// <summary>
    /// Parses the arguments a client sent to the daemon as rsync's daemon does
    /// (clientserver.c, rsync_module; io.c, read_args; util.c, glob_expand_module; options.c,
    /// parse_arguments with am_server and am_daemon set).
    /// </summary>
    /// <remarks>
    /// The options known are rsync 3.1.1's. Those this implementation does not carry out
    /// (--link-dest, -y, -C, --temp-dir, --max-size and so on) are rejected with
    /// "The server does not support --OPTION" (the wording of rsync 3.2+ for an option its
    /// server lacks); options newer than 3.1.1 (--mkpath, --no-msgs2stderr, --checksum-choice,
    /// ...) are unknown options, as they are to a 3.1.1 daemon. Wildcards in the paths are not
    /// expanded and the paths are not cleaned: see <see cref="ServerInvocation.Paths"/>.
    /// Errors use exit code <see cref="RsyncUsageException.Unsupported"/>, as the daemon's do,
    /// except where rsync prints its usage text (<see cref="RsyncUsageException.ShowUsage"/>).
    /// </remarks>
    /// <exception cref="RsyncUsageException">rsync's daemon would refuse the arguments; the message is the line it prints.</exception>
    public static ServerInvocation ParseServer(IReadOnlyList<string> args, ServerParseSettings settings)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(settings);
        var server = new ServerState(settings.Refuse ?? RefuseOptions.Default);
        var st = new ParseState(ServerProgramName, standardInput: null) { Server = server };

        // The daemon passes "rsyncd" as argv[0]; popt never looks at it.
        var first = ReadArgsItems(args, settings.ModuleName, protectArgs: false, out string? request);
        if (!ReadOptions(st, first, ServerOptionTable.Long, ServerOptionTable.Short))
            return server.Result(st, request, pending: false);
        FinishEarly(st);

        // options.c, parse_arguments: with -s a server stops here until the protected batch arrives.
        if (st.O.ProtectArgs && server.AmServer)
        {
            if (settings.ProtectedArgs is null)
                return server.Result(st, request, pending: true);

            // That batch starts with the client's own argv[0], and popt starts afresh on it.
            var items = settings.ProtectedArgs.Count > 0 ? settings.ProtectedArgs.Skip(1).ToList() : [];
            var second = ReadArgsItems(items, settings.ModuleName, protectArgs: true, out request);
            st.O.Positional.Clear();
            if (!ReadOptions(st, second, ServerOptionTable.Long, ServerOptionTable.Short))
                return server.Result(st, request, pending: false);
            FinishEarly(st);
        }

        FinishLate(st);
        return server.Result(st, request, pending: false);
    }

    /// <summary>
    /// io.c, read_args: the words after the first "." are paths. Each loses a leading module name
    /// and, outside --protect-args, is split at every " MODULE/" (util.c, glob_expand_module).
    /// </summary>
    private static List<string> ReadArgsItems(IReadOnlyList<string> args, string? module, bool protectArgs, out string? request)
    {
        var result = new List<string>();
        StringBuilder? requestText = null;
        int requestBytes = 0;
        bool afterDot = false;
        foreach (string arg in args)
        {
            if (!afterDot)
            {
                result.Add(arg);
                afterDot = arg == ".";
                continue;
            }

            // The request (for the log line) keeps the words as sent, until it passes 1 KiB.
            if (requestBytes < 1024)
            {
                requestText ??= new StringBuilder();
                if (requestBytes > 0)
                {
                    requestText.Append(' ');
                    requestBytes++;
                }

                requestText.Append(arg);
                requestBytes += Encoding.UTF8.GetByteCount(arg);
            }

            if (module is null)
                result.Add(arg);
            else
                result.AddRange(StripModule(arg, module, protectArgs));
        }

        request = requestText?.ToString();
        return result;
    }

    // util.c, glob_expand_module (before each piece is cleaned and its wildcards expanded).
    internal static IEnumerable<string> StripModule(string arg, string module, bool protectArgs)
    {
        if (arg.Length == 0)
            yield break;
        if (arg.StartsWith(module, StringComparison.Ordinal))
            arg = arg[module.Length..];
        if (protectArgs)
        {
            yield return arg;
            yield break;
        }

        // "mod/a mod/b" names two paths; the split keeps the '/' after the module name.
        string separator = " " + module + "/";
        int start = 0;
        while (start < arg.Length)
        {
            int hit = arg.IndexOf(separator, start, StringComparison.Ordinal);
            if (hit < 0)
            {
                yield return arg[start..];
                yield break;
            }

            yield return arg[start..hit];
            start = hit + separator.Length - 1;
        }
    }
}

/// <summary>What parsing a client's arguments to a daemon tracks beyond <see cref="RsyncOptions"/>.</summary>
internal sealed class ServerState(RefuseOptions refuse)
{
    public RefuseOptions Refuse { get; } = refuse;

    // rsync's am_server and am_sender.
    public bool AmServer { get; set; }

    public bool AmSender { get; set; }

    // options.c, OPT_SERVER: popt starts over after the first --server.
    public bool RestartRequested { get; set; }

    // The -e value, rsync's client_info (compat.c).
    public string? ClientInfo { get; set; }

    public bool ReadBatch { get; set; }

    // 1 for --write-batch, -1 for --only-write-batch.
    public int WriteBatch { get; set; }

    public string? BatchName { get; set; }

    public bool? AllowIncRecurse { get; set; }

    public bool UseQsort { get; set; }

    public List<string> Notices { get; } = [];

    public RsyncUsageException Refused(ParseState st, CatalogEntry entry) =>
        new($"{st.Program}: The server is configured to refuse {entry.RefuseName}", RsyncUsageException.Unsupported)
        {
            IsRefusal = true,
        };

    // options.c, parse_arguments: a server ignores batch files, except that --only-write-batch
    // makes the daemon a dry run (clientserver.c, rsync_module).
    public void FinishBatch(ParseState st)
    {
        if (WriteBatch != 0 && ReadBatch)
            throw st.Error("--write-batch and --read-batch can not be used together");
        if (WriteBatch > 0 || ReadBatch)
        {
            if (AmServer)
            {
                Notices.Add($"ignoring --{(WriteBatch != 0 ? "write" : "read")}-batch option sent to server");
                ReadBatch = false;
                WriteBatch = 0;
                BatchName = null;
            }
            else if (st.O.DryRun)
            {
                WriteBatch = 0;
            }
        }
        else if (WriteBatch < 0 && st.O.DryRun)
        {
            WriteBatch = 0;
        }

        if (BatchName is { Length: > 256 })
            throw st.Error("the batch-file name must be 256 characters or less.");
    }

    // options.c, parse_arguments: --files-from on a server names "-" (the connection) or a file
    // the daemon opens itself, never another host.
    public void FinishFilesFrom(ParseState st)
    {
        RsyncOptions o = st.O;
        string filesFrom = o.FilesFrom!;
        if (o.Positional.Count > 2)
        {
            throw new RsyncUsageException(
                $"{st.Program}: --files-from needs a source and a destination argument",
                RsyncUsageException.SyntaxError,
                showUsage: true);
        }

        if (filesFrom != "-" && (IsRsyncUrl(filesFrom) || OptionSyntax.TrySplitHostSpec(filesFrom, out _, out _)))
            throw st.Error("The --files-from sent to the server cannot specify a host.");
        o.FilesFromPath = filesFrom;
    }

    public ServerInvocation Result(ParseState st, string? request, bool pending)
    {
        RsyncOptions o = st.O;
        if (!pending)
        {
            // clientserver.c, rsync_module: the daemon's own say after parsing.
            o.Quiet = 0;
            if (WriteBatch < 0)
                o.DryRun = true;
            o.MungeLinks = false;

            // Only exactly two --append make --append-verify (match.c compares with 2).
            if (o.Append > 2)
                o.Append = 1;
        }

        var capabilities = ClientInfo is null ? ClientCapabilities.None : new ClientCapabilities(ClientInfo);
        bool incRecurse = !pending && o.Recursive && !UseQsort && AllowIncRecurse != false && capabilities.IncrementalRecursion
            && (AmSender || !(o.DeleteMode is DeleteMode.Before or DeleteMode.After || o.PruneEmptyDirs));
        return new ServerInvocation(o)
        {
            IsServer = AmServer,
            IsSender = AmSender,
            ClientInfo = ClientInfo,
            Request = request,
            ProtectedArgsPending = pending,
            Notices = Notices.ToList(),
            IncRecursiveOption = AllowIncRecurse,
            IncrementalRecursionAllowed = incRecurse,
        };
    }

    // options.c, check_for_hostspec: an rsync:// URL names a host too.
    private static bool IsRsyncUrl(string text)
    {
        const string prefix = "rsync://";
        if (!text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            return false;
        string rest = text[prefix.Length..];
        int end = rest.IndexOfAny(['/', ':']);
        return (end < 0 ? rest.Length : end) > 0;
    }
}

/// <summary>
/// The options a daemon knows: every row of rsync 3.1.1's table, each checked against the
/// module's refusals before it takes effect (options.c, parse_arguments: a refused option
/// returns its refusal as soon as popt has read its value).
/// </summary>
internal static class ServerOptionTable
{
    public static readonly Dictionary<string, OptionSpec> Long = new(StringComparer.Ordinal);

    public static readonly Dictionary<char, OptionSpec> Short = [];

    // Accepted, with no effect on a daemon.
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "msgs2stderr", "motd", "no-motd", "ipv4", "ipv6", "rsync-path", "preallocate",
        "no-delay-updates", "implied-dirs", "i-d",
    };

    // --config and the others that start rsync's daemon-mode parsing.
    private static readonly HashSet<string> DaemonOnly = new(StringComparer.Ordinal)
    {
        "config", "daemon", "dparam", "detach", "no-detach",
    };

    static ServerOptionTable()
    {
        foreach (CatalogEntry entry in OptionCatalog.Entries)
        {
            OptionSpec spec = Build(entry);
            if (entry.Long is not null)
                Long.Add(entry.Long, spec);
            if (entry.Short != '\0')
                Short.Add(entry.Short, spec);
        }

        // Newer clients name an explicit checksum or compressor (options.c 3.2+, server_options).
        // They are not rows of 3.1.1's table, so refusals reach them only through "compress".
        foreach (string name in (string[])["checksum-choice", "cc", "compress-choice", "zc"])
            Long.Add(name, OptionTable.Long[name]);
    }

    /// <summary>The client-side handler a catalog row shares, if any.</summary>
    internal static OptionSpec? Shared(CatalogEntry entry) =>
        entry.Long is not null ? OptionTable.Long.GetValueOrDefault(entry.Long) : OptionTable.Short.GetValueOrDefault(entry.Short);

    internal static ArgKind KindOf(CatalogEntry entry) => entry.Kind switch
    {
        PoptKind.Int => ArgKind.Int,
        PoptKind.String or PoptKind.Long => ArgKind.String,
        _ => ArgKind.None,
    };

    private static OptionSpec Build(CatalogEntry entry)
    {
        ArgKind kind = KindOf(entry);
        Action<ParseState, string?> handler = Handler(entry);
        return kind switch
        {
            ArgKind.None => new OptionSpec
            {
                Long = entry.Long, Short = entry.Short, Kind = kind,
                OnFlag = s => { CheckRefused(s, entry); handler(s, null); },
            },
            ArgKind.Int => new OptionSpec
            {
                Long = entry.Long, Short = entry.Short, Kind = kind,
                OnInt = (s, n) =>
                {
                    CheckRefused(s, entry);
                    if (Shared(entry)?.OnInt is not { } apply)
                        throw s.Error($"The server does not support {entry.RefuseName}");
                    apply(s, n);
                },
            },
            _ => new OptionSpec
            {
                Long = entry.Long, Short = entry.Short, Kind = kind,
                OnString = (s, v) => { CheckRefused(s, entry); handler(s, v); },
            },
        };
    }

    private static void CheckRefused(ParseState s, CatalogEntry entry)
    {
        ServerState server = s.Server!;
        if (server.Refuse.IsRefused(entry))
            throw server.Refused(s, entry);
    }

    // What a row does once it is known not to be refused; value is null for a flag.
    private static Action<ParseState, string?> Handler(CatalogEntry entry)
    {
        string name = entry.Long ?? entry.Short.ToString();
        if (DaemonOnly.Contains(name))
            return (s, _) => throw s.Error("Attempt to hack rsync thwarted!");
        if (Ignored.Contains(name))
            return (_, _) => { };

        switch (name)
        {
            case "server":
                return (s, _) =>
                {
                    ServerState server = s.Server!;
                    if (!server.AmServer)
                    {
                        server.AmServer = true;
                        server.RestartRequested = true;
                    }

                    s.O.Iconv = null;
                };
            case "sender":
                return (s, _) =>
                {
                    if (!s.Server!.AmServer)
                    {
                        throw new RsyncUsageException(
                            $"{s.Program}: --sender is only for a server (after --server)",
                            RsyncUsageException.SyntaxError,
                            showUsage: true);
                    }

                    s.Server.AmSender = true;
                };
            case "rsh":
                // compat.c: a server takes -e as the client's capability string.
                return (s, v) => s.Server!.ClientInfo = v;
            case "append":
                // options.c, OPT_APPEND: a server counts, so "--append --append" is --append-verify.
                return (s, _) => s.O.Append = s.Server!.AmServer ? s.O.Append + 1 : 1;
            case "archive":
                return (s, v) =>
                {
                    if (s.Server!.Refuse.ArchivePart is { } part)
                        throw s.Server.Refused(s, part);
                    Shared(entry)!.OnFlag!(s);
                };
            case "P":
                return (s, v) =>
                {
                    RefuseOptions refuse = s.Server!.Refuse;
                    if ((refuse.Partial ?? refuse.Progress) is { } refused)
                        throw s.Server.Refused(s, refused);
                    Shared(entry)!.OnFlag!(s);
                };
            case "read-batch":
                return (s, v) => { s.Server!.ReadBatch = true; s.Server.BatchName = v; };
            case "write-batch":
                return (s, v) => { s.Server!.WriteBatch = 1; s.Server.BatchName = v; };
            case "only-write-batch":
                return (s, v) => { s.Server!.WriteBatch = -1; s.Server.BatchName = v; };
            case "remote-option":
                return (s, v) =>
                {
                    if (!v!.StartsWith('-'))
                        throw s.Error($"Remote option must start with a dash: {v}");
                };
            case "qsort":
                return (s, _) => s.Server!.UseQsort = true;
            case "inc-recursive" or "i-r":
                return (s, _) => s.Server!.AllowIncRecurse = true;
            case "no-inc-recursive" or "no-i-r":
                return (s, _) => s.Server!.AllowIncRecurse = false;
            case "old-dirs" or "old-d":
                return (s, _) => s.XferDirs = 4;
            case "exclude-from" or "include-from":
                // The daemon would read a file of its own host here; the client's rules arrive over the connection.
                return Unsupported(entry);
        }

        OptionSpec? shared = Shared(entry);
        if (shared is null)
            return Unsupported(entry);
        return shared.Kind == ArgKind.None
            ? (s, _) => shared.OnFlag!(s)
            : (s, v) => shared.OnString!(s, v!);
    }

    private static Action<ParseState, string?> Unsupported(CatalogEntry entry) =>
        (s, _) => throw s.Error($"The server does not support {entry.RefuseName}");
}
