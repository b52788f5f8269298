namespace NetRsync.Protocol.Options;

/// <summary>
/// The client's capability string: the value of the "-e" option at the end of the letter bundle
/// ("-logDtpre.iLsfx" carries ".iLsfx"). The client writes "." (or "PROTOCOL.SUB" when it speaks a
/// pre-release protocol) followed by one letter per capability (options.c, server_options); the
/// server looks each letter up anywhere in the string (compat.c, setup_protocol and
/// set_allow_inc_recurse).
/// </summary>
public sealed record ClientCapabilities(string Text)
{
    /// <summary>No "-e" option: a client that did not speak protocol 30 or newer when it built its arguments.</summary>
    public static ClientCapabilities None { get; } = new("");

    /// <summary>The letters after the version part ("iLsfx" for ".iLsfx", "iLsfxCIvu" for ".iLsfxCIvu").</summary>
    public string Letters
    {
        get
        {
            int i = 0;
            while (i < Text.Length && char.IsAsciiDigit(Text[i]))
                i++;
            if (i < Text.Length && Text[i] == '.')
            {
                i++;
                while (i < Text.Length && char.IsAsciiDigit(Text[i]))
                    i++;
            }

            return Text[i..];
        }
    }

    /// <summary>
    /// The pre-release protocol the client announced ("31.14" gives 31 and 14), or null for a
    /// released version (compat.c, check_sub_protocol: both numbers must be non-zero).
    /// </summary>
    public (int Protocol, int Subprotocol)? PreRelease
    {
        get
        {
            int protocol = LeadingNumber(Text);
            int dot = Text.IndexOf('.');
            if (protocol == 0 || dot < 0)
                return null;
            int sub = LeadingNumber(Text[(dot + 1)..]);
            return sub == 0 ? null : (protocol, sub);
        }
    }

    /// <summary>'i': the client allows incremental recursion (CF_INC_RECURSE).</summary>
    public bool IncrementalRecursion => Has('i');

    /// <summary>'L': the client can set symlink times (CF_SYMLINK_TIMES; read by a sending server).</summary>
    public bool SymlinkTimes => Has('L');

    /// <summary>'s': symlink targets take part in --iconv conversion (CF_SYMLINK_ICONV).</summary>
    public bool SymlinkIconv => Has('s');

    /// <summary>'f': safe file-list I/O-error handling (CF_SAFE_FLIST).</summary>
    public bool SafeFileList => Has('f');

    /// <summary>'x': the client wants no xattr hard-link optimization (CF_AVOID_XATTR_OPTIM).</summary>
    public bool AvoidXattrOptimization => Has('x');

    /// <summary>'C' (3.2+): checksum seed in the fixed order (CF_CHKSUM_SEED_FIX).</summary>
    public bool ChecksumSeedFix => Has('C');

    /// <summary>'I' (3.2+): --inplace may go with --partial-dir (CF_INPLACE_PARTIAL_DIR).</summary>
    public bool InplacePartialDir => Has('I');

    /// <summary>
    /// 'v' (3.2+): file-list flags and compat flags as varints, and checksum/compression name
    /// negotiation (CF_VARINT_FLIST_FLAGS).
    /// </summary>
    public bool VarintFileListFlags => Has('v');

    /// <summary>'u' (3.2+): names are sent for user and group id 0 too (CF_ID0_NAMES).</summary>
    public bool Id0Names => Has('u');

    /// <summary>'V': a 3.2 pre-release's form of 'v' (compat flags still sent as one byte).</summary>
    public bool PreReleaseVarintFlags => Has('V');

    /// <summary>Whether the letter occurs in the string (compat.c looks letters up with strchr).</summary>
    public bool Has(char letter) => Text.Contains(letter, StringComparison.Ordinal);

    // atoi on the start of the text.
    private static int LeadingNumber(string text)
    {
        int n = 0;
        foreach (char c in text)
        {
            if (!char.IsAsciiDigit(c) || n > 100_000_000)
                break;
            n = n * 10 + (c - '0');
        }

        return n;
    }
}

/// <summary>How <see cref="OptionParser.ParseServer(IReadOnlyList{string}, ServerParseSettings)"/> reads a client's arguments.</summary>
public sealed class ServerParseSettings
{
    /// <summary>
    /// The module the client connected to. Each argument after "." loses this prefix and, outside
    /// --protect-args, is split at every " MODULE/" (util.c, glob_expand_module). Null leaves the
    /// path arguments as they are.
    /// </summary>
    public string? ModuleName { get; init; }

    /// <summary>The module's refusals; null for a module without "refuse options" and without "charset".</summary>
    public RefuseOptions? Refuse { get; init; }

    /// <summary>
    /// With -s (--protect-args) the client sends its arguments in two batches (clientserver.c,
    /// rsync_module): the first holds only the options up to the bundle and --iconv, the second,
    /// read after the first parsed without error and always NUL-separated, holds "rsync" (its
    /// argv[0]), the remaining options, "." and the paths. Pass the second batch here, as read.
    /// </summary>
    public IReadOnlyList<string>? ProtectedArgs { get; init; }
}

/// <summary>
/// What a client asked a daemon for, read from the arguments it sent after the module was
/// accepted: "--server [--sender] -LETTERSe.CAPS [--long-options...] . MODULE/PATH..." parsed as
/// rsync's daemon parses them (clientserver.c, rsync_module; options.c, parse_arguments with
/// am_server and am_daemon set).
/// </summary>
public sealed class ServerInvocation
{
    /// <summary>rsync's MAX_VERBOSITY (options.c): the highest verbosity that has any effect.</summary>
    public const int MaxVerbosityLevel = 5;

    /// <summary>The default of the "max verbosity" module parameter (loadparm.c).</summary>
    public const int DefaultMaxVerbosity = 1;

    internal ServerInvocation(RsyncOptions options)
    {
        Options = options;
    }

    /// <summary>
    /// The options as the daemon holds them after parse_arguments and rsync_module's own
    /// adjustments (-q dropped; --only-write-batch turned into --dry-run). The positional
    /// arguments are in <see cref="RsyncOptions.Positional"/>: the "." directory first, then the paths.
    /// </summary>
    public RsyncOptions Options { get; }

    /// <summary>--server was among the options (stock clients always send it first).</summary>
    public bool IsServer { get; internal init; }

    /// <summary>--sender: the daemon sends files, i.e. the client pulls.</summary>
    public bool IsSender { get; internal init; }

    /// <summary>The value of -e (rsync's client_info), e.g. ".iLsfx"; null when the client sent none.</summary>
    public string? ClientInfo { get; internal init; }

    /// <summary>The capabilities <see cref="ClientInfo"/> announces.</summary>
    public ClientCapabilities Capabilities => ClientInfo is null ? ClientCapabilities.None : new ClientCapabilities(ClientInfo);

    /// <summary>The first positional argument, the directory the server works in: "." from stock clients.</summary>
    public string? Directory => Options.Positional.Count > 0 ? Options.Positional[0] : null;

    /// <summary>
    /// The path arguments after <see cref="Directory"/>, without the module prefix. Each is what
    /// util.c, glob_expand receives: the daemon still cleans it (clean_fname) or, for a module
    /// that is not chrooted, sanitizes it (sanitize_path), and expands its wildcards against the
    /// module's files.
    /// </summary>
    public IReadOnlyList<string> Paths => Options.Positional.Skip(1).ToList();

    /// <summary>
    /// The path arguments as the client sent them, joined by spaces (about 1 KiB at most), for
    /// the daemon's "rsync on REQUEST from HOST" log line (io.c, read_args); null without any.
    /// </summary>
    public string? Request { get; internal init; }

    /// <summary>
    /// The first batch asked for --protect-args and <see cref="ServerParseSettings.ProtectedArgs"/>
    /// was not given: read the second batch and parse again with it. Only the options seen so far
    /// are in <see cref="Options"/>, and the checks that need all options have not run.
    /// </summary>
    public bool ProtectedArgsPending { get; internal init; }

    /// <summary>
    /// Informational lines rsync prints while parsing, e.g. "ignoring --write-batch option sent
    /// to server" (options.c, parse_arguments).
    /// </summary>
    public IReadOnlyList<string> Notices { get; internal init; } = [];

    /// <summary>
    /// --inc-recursive / --no-inc-recursive (and --i-r / --no-i-r) as given; null when neither
    /// was (rsync's allow_inc_recurse defaults to on).
    /// </summary>
    public bool? IncRecursiveOption { get; internal init; }

    /// <summary>
    /// rsync's allow_inc_recurse for a daemon (compat.c, set_allow_inc_recurse): recursion is on,
    /// --qsort and --no-inc-recursive were not given, the client announced 'i', and a receiving
    /// daemon was not asked for --delete-before, --delete-after, --delay-updates or
    /// --prune-empty-dirs.
    /// </summary>
    public bool IncrementalRecursionAllowed { get; internal init; }

    /// <summary>
    /// The verbosity the daemon honours for its own messages and log given the module's
    /// "max verbosity" (options.c, limit_output_verbosity: a limit above
    /// <see cref="MaxVerbosityLevel"/> limits nothing).
    /// </summary>
    public int LimitVerbosity(int maxVerbosity)
    {
        int level = Math.Min(Options.Verbose, MaxVerbosityLevel);
        return maxVerbosity > MaxVerbosityLevel ? level : Math.Min(level, Math.Max(maxVerbosity, 0));
    }
}
