namespace NetRsync.Protocol.Options;

internal enum ArgKind
{
    None,
    String,
    Int,
}

internal sealed class OptionSpec
{
    public required string? Long { get; init; }

    public required char Short { get; init; }

    public required ArgKind Kind { get; init; }

    public Action<ParseState>? OnFlag { get; init; }

    public Action<ParseState, string>? OnString { get; init; }

    public Action<ParseState, int>? OnInt { get; init; }
}

/// <summary>Mutable state while reading options: rsync's raw globals that need post-processing.</summary>
internal sealed class ParseState(string program, Func<Stream>? standardInput)
{
    public RsyncOptions O { get; } = new();

    public string Program { get; } = program;

    public Func<Stream>? StandardInput { get; } = standardInput;

    public bool Stop { get; set; }

    // rsync's recurse: 2 for an explicit -r, 1 when only implied by -a.
    public int Recurse { get; set; }

    // rsync's xfer_dirs: -1 unset, 0 off, 2 for an explicit -d.
    public int XferDirs { get; set; } = -1;

    // rsync's relative_paths: -1 unset.
    public int RelativePaths { get; set; } = -1;

    public bool DeleteRequested { get; set; }

    public int DeleteBefore { get; set; }

    // 1 for --delete-during / --del, 2 for --delete-delay.
    public int DeleteDuring { get; set; }

    public int DeleteAfter { get; set; }

    public int FilterFileCount { get; set; }

    public int MaxDelete { get; set; } = int.MinValue;

    public string? BackupSuffix { get; set; }

    public string? BackupDir { get; set; }

    // Set while parsing the arguments a client sent to a daemon.
    public ServerState? Server { get; init; }

    // A daemon ends with RERR_UNSUPPORTED when option parsing fails (clientserver.c, rsync_module).
    public int ErrorCode => Server is null ? RsyncUsageException.SyntaxError : RsyncUsageException.Unsupported;

    // A server names itself in popt's errors (options.c, parse_arguments).
    public RsyncUsageException Popt(string word, string problem) =>
        new($"{Program}: {(Server?.AmServer == true ? "on remote machine: " : "")}{word}: {problem}", ErrorCode);

    public RsyncUsageException Error(string message) => new($"{Program}: {message}", ErrorCode);
}

/// <summary>The supported subset of rsync 3.1.1's option table (options.c, long_options).</summary>
internal static class OptionTable
{
    public static readonly Dictionary<string, OptionSpec> Long = new(StringComparer.Ordinal);

    public static readonly Dictionary<char, OptionSpec> Short = [];

    static OptionTable()
    {
        Flag("help", '\0', s => { s.O.ShowHelp = true; s.Stop = true; });
        Flag("version", '\0', s => { s.O.ShowVersion = true; s.Stop = true; });
        Flag("verbose", 'v', s => s.O.Verbose++);
        Flag("no-verbose", '\0', s => s.O.Verbose = 0);
        Flag("no-v", '\0', s => s.O.Verbose = 0);
        Flag("quiet", 'q', s => s.O.Quiet++);
        Flag("stats", '\0', s => s.O.Stats = true);
        Str("info", '\0', (s, v) => OutputWordsGiven(s, OutputWords.Info, v));
        Str("debug", '\0', (s, v) => OutputWordsGiven(s, OutputWords.Debug, v));
        Flag("human-readable", 'h', s => s.O.HumanReadable++);
        Flag("no-human-readable", '\0', s => s.O.HumanReadable = 0);
        Flag("no-h", '\0', s => s.O.HumanReadable = 0);
        Flag("dry-run", 'n', s => s.O.DryRun = true);
        Flag("archive", 'a', Archive);
        Flag("recursive", 'r', s => s.Recurse = 2);
        Flag("no-recursive", '\0', s => s.Recurse = 0);
        Flag("no-r", '\0', s => s.Recurse = 0);
        Flag("dirs", 'd', s => s.XferDirs = 2);
        Flag("no-dirs", '\0', s => s.XferDirs = 0);
        Flag("no-d", '\0', s => s.XferDirs = 0);
        Flag("perms", 'p', s => s.O.PreservePerms = true);
        Flag("no-perms", '\0', s => s.O.PreservePerms = false);
        Flag("no-p", '\0', s => s.O.PreservePerms = false);
        Flag("executability", 'E', s => s.O.Executability = true);
        Flag("acls", 'A', s => { s.O.Acls = true; s.O.PreservePerms = true; });
        Flag("no-acls", '\0', s => s.O.Acls = false);
        Flag("no-A", '\0', s => s.O.Acls = false);
        Flag("xattrs", 'X', s => s.O.Xattrs++);
        Flag("no-xattrs", '\0', s => s.O.Xattrs = 0);
        Flag("no-X", '\0', s => s.O.Xattrs = 0);
        Flag("times", 't', s => s.O.PreserveTimes = true);
        Flag("no-times", '\0', s => s.O.PreserveTimes = false);
        Flag("no-t", '\0', s => s.O.PreserveTimes = false);
        Flag("omit-dir-times", 'O', s => s.O.OmitDirTimes = true);
        Flag("no-omit-dir-times", '\0', s => s.O.OmitDirTimes = false);
        Flag("no-O", '\0', s => s.O.OmitDirTimes = false);
        Flag("omit-link-times", 'J', s => s.O.OmitLinkTimes = true);
        Flag("no-omit-link-times", '\0', s => s.O.OmitLinkTimes = false);
        Flag("no-J", '\0', s => s.O.OmitLinkTimes = false);
        // -@ is rsync 3.2's short form; newer clients send it to servers (-@-1 for nanosecond compares).
        Int("modify-window", '@', (s, v) => s.O.ModifyWindow = v);
        Flag("implied-dirs", '\0', s => s.O.ImpliedDirs = true);
        Flag("no-implied-dirs", '\0', s => s.O.ImpliedDirs = false);
        Flag("i-d", '\0', s => s.O.ImpliedDirs = true);
        Flag("no-i-d", '\0', s => s.O.ImpliedDirs = false);
        Flag("super", '\0', s => s.O.Super = SuperMode.Super);
        Flag("no-super", '\0', s => s.O.Super = SuperMode.NoSuper);
        Flag("fake-super", '\0', s => s.O.Super = SuperMode.FakeSuper);
        Flag("owner", 'o', s => s.O.PreserveOwner = true);
        Flag("no-owner", '\0', s => s.O.PreserveOwner = false);
        Flag("no-o", '\0', s => s.O.PreserveOwner = false);
        Flag("group", 'g', s => s.O.PreserveGroup = true);
        Flag("no-group", '\0', s => s.O.PreserveGroup = false);
        Flag("no-g", '\0', s => s.O.PreserveGroup = false);
        Flag(null, 'D', s => { s.O.PreserveDevices = true; s.O.PreserveSpecials = true; });
        Flag("no-D", '\0', s => { s.O.PreserveDevices = false; s.O.PreserveSpecials = false; });
        Flag("devices", '\0', s => s.O.PreserveDevices = true);
        Flag("no-devices", '\0', s => s.O.PreserveDevices = false);
        Flag("specials", '\0', s => s.O.PreserveSpecials = true);
        Flag("no-specials", '\0', s => s.O.PreserveSpecials = false);
        Flag("links", 'l', s => s.O.PreserveLinks = true);
        Flag("no-links", '\0', s => s.O.PreserveLinks = false);
        Flag("no-l", '\0', s => s.O.PreserveLinks = false);
        Flag("copy-links", 'L', s => s.O.CopyLinks = true);
        Flag("copy-unsafe-links", '\0', s => s.O.CopyUnsafeLinks = true);
        Flag("safe-links", '\0', s => s.O.SafeLinks = true);
        Flag("munge-links", '\0', s => s.O.MungeLinks = true);
        Flag("no-munge-links", '\0', s => s.O.MungeLinks = false);
        Flag("copy-dirlinks", 'k', s => s.O.CopyDirLinks = true);
        Flag("keep-dirlinks", 'K', s => s.O.KeepDirLinks = true);
        Flag("hard-links", 'H', s => s.O.HardLinks++);
        Flag("no-hard-links", '\0', s => s.O.HardLinks = 0);
        Flag("no-H", '\0', s => s.O.HardLinks = 0);
        Flag("relative", 'R', s => s.RelativePaths = 1);
        Flag("no-relative", '\0', s => s.RelativePaths = 0);
        Flag("no-R", '\0', s => s.RelativePaths = 0);
        Str("chmod", '\0', Chmod);
        Flag("ignore-times", 'I', s => s.O.IgnoreTimes = true);
        Flag("size-only", '\0', s => s.O.SizeOnly = true);
        Flag("one-file-system", 'x', s => s.O.OneFileSystem++);
        Flag("no-one-file-system", '\0', s => s.O.OneFileSystem = 0);
        Flag("no-x", '\0', s => s.O.OneFileSystem = 0);
        Flag("update", 'u', s => s.O.Update = true);
        Flag("existing", '\0', s => s.O.IgnoreNonExisting = true);
        Flag("ignore-non-existing", '\0', s => s.O.IgnoreNonExisting = true);
        Flag("ignore-existing", '\0', s => s.O.IgnoreExisting = true);
        Flag("sparse", 'S', s => s.O.Sparse = true);
        Flag("fuzzy", 'y', s => s.O.Fuzzy = true);
        Flag("no-fuzzy", '\0', s => s.O.Fuzzy = false);
        Flag("no-y", '\0', s => s.O.Fuzzy = false);
        Flag("no-sparse", '\0', s => s.O.Sparse = false);
        Flag("no-S", '\0', s => s.O.Sparse = false);
        Flag("inplace", '\0', s => s.O.Inplace = true);
        Flag("no-inplace", '\0', s => s.O.Inplace = false);
        Flag("append", '\0', s => s.O.Append = 1);
        Flag("append-verify", '\0', s => s.O.Append = 2);
        Flag("no-append", '\0', s => s.O.Append = 0);
        Flag("del", '\0', s => s.DeleteDuring = 1);
        Flag("delete", '\0', s => s.DeleteRequested = true);
        Flag("delete-before", '\0', s => s.DeleteBefore = 1);
        Flag("delete-during", '\0', s => s.DeleteDuring = 1);
        Flag("delete-delay", '\0', s => s.DeleteDuring = 2);
        Flag("delete-after", '\0', s => s.DeleteAfter = 1);
        Flag("delete-excluded", '\0', s => s.O.DeleteExcluded = true);
        Flag("remove-sent-files", '\0', s => s.O.RemoveSourceFiles = 2);
        Flag("remove-source-files", '\0', s => s.O.RemoveSourceFiles = 1);
        Flag("force", '\0', s => s.O.Force = true);
        Flag("no-force", '\0', s => s.O.Force = false);
        Flag("ignore-errors", '\0', s => s.O.IgnoreErrors = true);
        Flag("no-ignore-errors", '\0', s => s.O.IgnoreErrors = false);
        Int("max-delete", '\0', (s, v) => s.MaxDelete = v);
        Flag(null, 'F', FilterFileShorthand);
        Str("filter", 'f', (s, v) =>
        {
            // Kept as written; an empty rule adds nothing (exclude.c, parse_rule_tok).
            if (v.Length > 0)
                s.O.FilterRules.Add(v);
        });
        Str("exclude", '\0', (s, v) => OptionParser.AddOldStyleRule(s, v, include: false));
        Str("include", '\0', (s, v) => OptionParser.AddOldStyleRule(s, v, include: true));
        Str("exclude-from", '\0', (s, v) => OptionParser.ReadRuleFile(s, v, include: false));
        Str("include-from", '\0', (s, v) => OptionParser.ReadRuleFile(s, v, include: true));
        Flag("whole-file", 'W', s => s.O.WholeFile = true);
        Flag("no-whole-file", '\0', s => s.O.WholeFile = false);
        Flag("no-W", '\0', s => s.O.WholeFile = false);
        Flag("inc-recursive", '\0', s => s.O.IncRecursive = true);
        Flag("i-r", '\0', s => s.O.IncRecursive = true);
        Flag("no-inc-recursive", '\0', s => s.O.IncRecursive = false);
        Flag("no-i-r", '\0', s => s.O.IncRecursive = false);
        Flag("checksum", 'c', s => s.O.Checksum = true);
        Flag("no-checksum", '\0', s => s.O.Checksum = false);
        Flag("no-c", '\0', s => s.O.Checksum = false);

        // From rsync 3.2 (options.c there); stored, not sent.
        Str("checksum-choice", '\0', (s, v) => s.O.ChecksumChoice = v);
        Str("cc", '\0', (s, v) => s.O.ChecksumChoice = v);
        Str("compress-choice", '\0', (s, v) => s.O.CompressChoice = v);
        Str("zc", '\0', (s, v) => s.O.CompressChoice = v);

        Flag("compress", 'z', s => s.O.Compress++);
        // options.c (3.2+): --old-compress and --new-compress name a choice, which no negotiation overrides.
        Flag("old-compress", '\0', s => s.O.CompressChoice = "zlib");
        Flag("new-compress", '\0', s => s.O.CompressChoice = "zlibx");
        Flag("no-compress", '\0', s => { s.O.Compress = 0; s.O.CompressChoice = null; });
        Flag("no-z", '\0', s => { s.O.Compress = 0; s.O.CompressChoice = null; });
        Str("skip-compress", '\0', (s, v) => s.O.SkipCompress = v);

        // -42 is rsync 3.1.1's "not specified" marker (NOT_SPECIFIED in options.c).
        Int("compress-level", '\0', (s, v) => s.O.CompressLevel = v == -42 ? null : v);
        Flag(null, 'P', s => { s.O.Progress = true; s.O.Partial = true; });
        Flag("progress", '\0', s => s.O.Progress = true);
        Flag("no-progress", '\0', s => s.O.Progress = false);
        Flag("partial", '\0', s => s.O.Partial = true);
        Flag("no-partial", '\0', s => s.O.Partial = false);
        Str("partial-dir", '\0', (s, v) => s.O.PartialDir = v);
        Flag("prune-empty-dirs", 'm', s => s.O.PruneEmptyDirs = true);
        Flag("no-prune-empty-dirs", '\0', s => s.O.PruneEmptyDirs = false);
        Flag("no-m", '\0', s => s.O.PruneEmptyDirs = false);
        Str("out-format", '\0', (s, v) => s.O.OutFormat = v);
        Str("log-format", '\0', (s, v) => s.O.OutFormat = v);
        Flag("itemize-changes", 'i', s => s.O.ItemizeChanges++);
        Flag("no-itemize-changes", '\0', s => s.O.ItemizeChanges = 0);
        Flag("no-i", '\0', s => s.O.ItemizeChanges = 0);
        Str("bwlimit", '\0', BandwidthLimit);
        Str("max-alloc", '\0', MaxAlloc);
        Str("block-size", 'B', BlockSize);
        Flag("no-bwlimit", '\0', s => s.O.BandwidthLimit = 0);
        Flag("backup", 'b', s => s.O.Backup = true);
        Flag("no-backup", '\0', s => s.O.Backup = false);
        Str("backup-dir", '\0', (s, v) => s.BackupDir = v);
        Str("suffix", '\0', (s, v) => s.BackupSuffix = v);
        Flag("list-only", '\0', s => s.O.ListOnly = true);
        Str("files-from", '\0', (s, v) => s.O.FilesFrom = v);
        Flag("from0", '0', s => s.O.From0 = true);
        Flag("no-from0", '\0', s => s.O.From0 = false);
        Flag("protect-args", 's', s => s.O.ProtectArgs = true);
        Flag("no-protect-args", '\0', s => s.O.ProtectArgs = false);
        Flag("no-s", '\0', s => s.O.ProtectArgs = false);
        Flag("numeric-ids", '\0', s => s.O.NumericIds = true);
        Flag("no-numeric-ids", '\0', s => s.O.NumericIds = false);
        Int("timeout", '\0', (s, v) => s.O.Timeout = v);
        Flag("no-timeout", '\0', s => s.O.Timeout = 0);
        Int("contimeout", '\0', (s, v) => s.O.ConnectTimeout = v);
        Flag("no-contimeout", '\0', s => s.O.ConnectTimeout = 0);
        Str("rsh", 'e', (s, v) => s.O.RemoteShell = v);
        Str("rsync-path", '\0', (s, v) => s.O.RsyncPath = v);
        Str("iconv", '\0', (s, v) => s.O.Iconv = v);
        Flag("no-iconv", '\0', s => s.O.Iconv = null);
        Flag("8-bit-output", '8', s => s.O.EightBitOutput = true);
        Flag("no-8-bit-output", '\0', s => s.O.EightBitOutput = false);
        Flag("no-8", '\0', s => s.O.EightBitOutput = false);
        Str("address", '\0', (s, v) => s.O.BindAddress = v);
        Int("port", '\0', (s, v) => s.O.Port = v);
        Str("sockopts", '\0', (s, v) => s.O.SocketOptions = v);
        Str("password-file", '\0', (s, v) => s.O.PasswordFile = v);
        Flag("blocking-io", '\0', s => s.O.BlockingIo = true);
        Flag("no-blocking-io", '\0', s => s.O.BlockingIo = false);
        Str("outbuf", '\0', (s, v) => s.O.OutputBuffering = v);
        Int("protocol", '\0', (s, v) => s.O.Protocol = v);
        Int("checksum-seed", '\0', (s, v) => s.O.ChecksumSeed = v);
    }

    private static void Archive(ParseState s)
    {
        // -a implies -r without overriding an explicit -r/--no-r, and does not imply -H, -A or -X.
        if (s.Recurse == 0)
            s.Recurse = 1;
        var o = s.O;
        o.PreserveLinks = true;
        o.PreservePerms = true;
        o.PreserveTimes = true;
        o.PreserveGroup = true;
        o.PreserveOwner = true;
        o.PreserveDevices = true;
        o.PreserveSpecials = true;
    }

    private static void FilterFileShorthand(ParseState s)
    {
        // options.c, parse_arguments: the first -F reads per-directory .rsync-filter files,
        // the second also keeps those files out of the transfer; more have no effect.
        switch (++s.FilterFileCount)
        {
            case 1:
                s.O.FilterRules.Add(": /.rsync-filter");
                break;
            case 2:
                s.O.FilterRules.Add("- .rsync-filter");
                break;
        }
    }

    /// <summary>--info or --debug: applied at once, as popt hands them over (options.c, OPT_INFO); "help" ends parsing.</summary>
    private static void OutputWordsGiven(ParseState s, OutputWords table, string value)
    {
        try
        {
            s.O.Output.Apply(table, value, OutputPriority.User);
        }
        catch (RsyncUsageException ex)
        {
            throw new RsyncUsageException(ex.Message, s.ErrorCode);
        }
        if (s.O.Output.HelpAsked is { } asked)
        {
            s.O.OutputHelp = OutputLevels.Help(asked);
            s.Stop = true;
        }
    }

    private static void Chmod(ParseState s, string value)
    {
        if (!OptionSyntax.IsValidChmod(value))
            throw s.Error($"Invalid argument passed to --chmod ({value})");
        s.O.Chmod.Add(value);
    }

    private static void BlockSize(ParseState s, string value)
    {
        // options.c, OPT_BLOCK_SIZE: a size in bytes, at most MAX_BLOCK_SIZE.
        long size = OptionSyntax.ParseSizeArg(value, 'b');
        if (size < 0)
            throw s.Error($"--block-size value is invalid: {value}");
        if (size > Wire.ProtocolLimits.MaxBlockSize)
            throw s.Error($"--block-size={size} is too large (max: {Wire.ProtocolLimits.MaxBlockSize})");
        s.O.BlockSize = (int)size;
    }

    private static void MaxAlloc(ParseState s, string value)
    {
        // options.c, max_alloc_arg: bytes by default, at least 1 MiB; 0 for no limit.
        long size = OptionSyntax.ParseSizeArg(value, 'B');
        if (size < 0)
            throw s.Error($"--max-alloc value is invalid: {value}");
        if (size != 0 && size < 1024 * 1024)
            throw s.Error($"--max-alloc value is too small: {value}");
        s.O.MaxAlloc = size;
    }

    private static void BandwidthLimit(ParseState s, string value)
    {
        // options.c (3.1.1), OPT_BWLIMIT: bytes with K as the default unit, kept in KiB rounded to nearest.
        long bytes = OptionSyntax.ParseSizeArg(value, 'K');
        if (bytes < 0)
            throw s.Error($"--bwlimit value is invalid: {value}");
        long kib = (bytes + 512) / 1024;
        if (kib > int.MaxValue)
            throw s.Error($"--bwlimit value is invalid: {value}");
        if (bytes != 0 && kib == 0)
            throw s.Error($"--bwlimit value is too small: {value}");
        s.O.BandwidthLimit = (int)kib;
    }

    private static void Flag(string? longName, char shortName, Action<ParseState> apply) =>
        Add(new OptionSpec { Long = longName, Short = shortName, Kind = ArgKind.None, OnFlag = apply });

    private static void Str(string? longName, char shortName, Action<ParseState, string> apply) =>
        Add(new OptionSpec { Long = longName, Short = shortName, Kind = ArgKind.String, OnString = apply });

    private static void Int(string? longName, char shortName, Action<ParseState, int> apply) =>
        Add(new OptionSpec { Long = longName, Short = shortName, Kind = ArgKind.Int, OnInt = apply });

    private static void Add(OptionSpec spec)
    {
        if (spec.Long is not null)
            Long.Add(spec.Long, spec);
        if (spec.Short != '\0')
            Short.Add(spec.Short, spec);
    }
}
