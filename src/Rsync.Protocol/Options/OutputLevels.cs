using System.Text;

namespace NetRsync.Protocol.Options;

/// <summary>The --info words (options.c, info_words), in rsync's order: the order is the wire's and the help's.</summary>
public enum InfoFlag
{
    Backup, Copy, Del, Flist, Misc, Mount, Name, Progress, Remove, Skip, Stats, Symsafe,
}

/// <summary>The --debug words (options.c, debug_words), in rsync's order.</summary>
public enum DebugFlag
{
    Acl, Backup, Bind, Chdir, Connect, Cmd, Del, Deltasum, Dup, Exit, Filter, Flist, Fuzzy, Genr,
    Hash, Hlink, Iconv, Io, Own, Proto, Recv, Send, Time,
}

/// <summary>Which ends a word matters to, so the client knows which to pass on (options.c, W_CLI..W_REC).</summary>
[Flags]
internal enum OutputWhere : byte
{
    Client = 1,
    Server = 2,
    Sender = 4,
    Receiver = 8,
    Anywhere = Client | Server | Sender | Receiver,
}

/// <summary>One table of output words: --info's or --debug's, with the words each -v adds.</summary>
internal sealed class OutputWords
{
    private OutputWords(string option, (string Name, OutputWhere Where, string Help)[] words, string?[] verbosity)
    {
        Option = option;
        Words = words;
        Verbosity = verbosity;
    }

    /// <summary>"--info" or "--debug".</summary>
    public string Option { get; }

    public (string Name, OutputWhere Where, string Help)[] Words { get; }

    /// <summary>The words the Nth -v adds (options.c, info_verbosity and debug_verbosity).</summary>
    public string?[] Verbosity { get; }

    private const OutputWhere Cli = OutputWhere.Client, Srv = OutputWhere.Server, Snd = OutputWhere.Sender, Rec = OutputWhere.Receiver;

    public static OutputWords Info { get; } = new("--info",
    [
        ("BACKUP", Rec, "Mention files backed up"),
        ("COPY", Rec, "Mention files copied locally on the receiving side"),
        ("DEL", Rec, "Mention deletions on the receiving side"),
        ("FLIST", Cli, "Mention file-list receiving/sending (levels 1-2)"),
        ("MISC", Snd | Rec, "Mention miscellaneous information (levels 1-2)"),
        ("MOUNT", Snd | Rec, "Mention mounts that were found or skipped"),
        ("NAME", Snd | Rec, "Mention 1) updated file/dir names, 2) unchanged names"),
        ("PROGRESS", Cli, "Mention 1) per-file progress or 2) total transfer progress"),
        ("REMOVE", Snd, "Mention files removed on the sending side"),
        ("SKIP", Rec, "Mention files that are skipped due to options used"),
        ("STATS", Cli | Srv, "Mention statistics at end of run (levels 1-3)"),
        ("SYMSAFE", Snd | Rec, "Mention symlinks that are unsafe"),
    ],
    [null, "COPY,DEL,FLIST,MISC,NAME,STATS,SYMSAFE", "BACKUP,MISC2,MOUNT,NAME2,REMOVE,SKIP", null, null, null]);

    public static OutputWords Debug { get; } = new("--debug",
    [
        ("ACL", Snd | Rec, "Debug extra ACL info"),
        ("BACKUP", Rec, "Debug backup actions (levels 1-2)"),
        ("BIND", Cli, "Debug socket bind actions"),
        ("CHDIR", Cli | Srv, "Debug when the current directory changes"),
        ("CONNECT", Cli, "Debug connection events (levels 1-2)"),
        ("CMD", Cli, "Debug commands+options that are issued (levels 1-2)"),
        ("DEL", Rec, "Debug delete actions (levels 1-3)"),
        ("DELTASUM", Snd | Rec, "Debug delta-transfer checksumming (levels 1-4)"),
        ("DUP", Rec, "Debug weeding of duplicate names"),
        ("EXIT", Cli | Srv, "Debug exit events (levels 1-3)"),
        ("FILTER", Snd | Rec, "Debug filter actions (levels 1-2)"),
        ("FLIST", Snd | Rec, "Debug file-list operations (levels 1-4)"),
        ("FUZZY", Rec, "Debug fuzzy scoring (levels 1-2)"),
        ("GENR", Rec, "Debug generator functions"),
        ("HASH", Snd | Rec, "Debug hashtable code"),
        ("HLINK", Snd | Rec, "Debug hard-link actions (levels 1-3)"),
        ("ICONV", Cli | Srv, "Debug iconv character conversions (levels 1-2)"),
        ("IO", Cli | Srv, "Debug I/O routines (levels 1-4)"),
        ("OWN", Rec, "Debug ownership changes in users & groups (levels 1-2)"),
        ("PROTO", Cli | Srv, "Debug protocol information"),
        ("RECV", Rec, "Debug receiver functions"),
        ("SEND", Snd, "Debug sender functions"),
        ("TIME", Rec, "Debug setting of modified times (levels 1-2)"),
    ],
    [
        null, null,
        "BIND,CMD,CONNECT,DEL,DELTASUM,DUP,FILTER,FLIST,ICONV",
        "ACL,BACKUP,CONNECT2,DELTASUM2,DEL2,EXIT,FILTER2,FLIST2,FUZZY,GENR,OWN,RECV,SEND,TIME",
        "CMD2,DELTASUM3,DEL3,EXIT2,FLIST3,ICONV2,OWN2,PROTO,TIME2",
        "CHDIR,DELTASUM4,FLIST4,FUZZY2,HASH,HLINK",
    ]);
}

/// <summary>How strongly a level was set: a later setting wins only at the same or a higher priority (options.c, *_PRIORITY).</summary>
internal enum OutputPriority : byte
{
    Default = 0,
    Help = 1,
    User = 2,
    Limit = 3,
}

/// <summary>
/// The levels of rsync 3.1's --info and --debug words: what -v, --progress and --stats imply and
/// what the user asked for (options.c, parse_output_words and set_output_verbosity).
/// </summary>
public sealed class OutputLevels
{
    /// <summary>The highest level a word takes (options.c, MAX_OUT_LEVEL).</summary>
    public const int MaxLevel = 4;

    /// <summary>The most -v that still adds words (options.c, MAX_VERBOSITY).</summary>
    public const int MaxVerbosity = 5;

    private readonly short[] _info = new short[OutputWords.Info.Words.Length];
    private readonly short[] _debug = new short[OutputWords.Debug.Words.Length];
    private readonly OutputPriority[] _infoPriority = new OutputPriority[OutputWords.Info.Words.Length];
    private readonly OutputPriority[] _debugPriority = new OutputPriority[OutputWords.Debug.Words.Length];

    public int this[InfoFlag flag] => _info[(int)flag];

    public int this[DebugFlag flag] => _debug[(int)flag];

    /// <summary>Whether "help" was among the words: the caller prints <see cref="Help"/> and exits 0.</summary>
    internal OutputWords? HelpAsked { get; private set; }

    /// <summary>
    /// Applies a comma-separated list like "name2,progress" or "all0" (options.c, parse_output_words).
    /// Throws on a word the table lacks, with rsync's message.
    /// </summary>
    internal void Apply(OutputWords table, string? text, OutputPriority priority)
    {
        if (text is null)
            return;
        var (levels, priorities) = Arrays(table);
        foreach (string item in text.Split(','))
        {
            int end = item.Length;
            while (end > 0 && char.IsAsciiDigit(item[end - 1]))
                end--;
            int level = end < item.Length ? LevelOf(item.AsSpan(end)) : 1;
            string word = item[..end];
            if (word.Equals("help", StringComparison.OrdinalIgnoreCase))
            {
                HelpAsked = table;
                return;
            }
            bool all = word.Equals("all", StringComparison.OrdinalIgnoreCase);
            if (word.Equals("none", StringComparison.OrdinalIgnoreCase))
            {
                all = true;
                level = 0;
            }
            bool found = false;
            for (int j = 0; j < table.Words.Length; j++)
            {
                if (!all && !word.Equals(table.Words[j].Name, StringComparison.OrdinalIgnoreCase))
                    continue;
                found = true;
                if (priority >= priorities[j])
                {
                    priorities[j] = priority;
                    levels[j] = (short)level;
                }
                if (!all)
                    break;
            }
            // An empty word (",," or "2") sets nothing, as rsync's loop does.
            if (!found && word.Length > 0)
                throw new RsyncUsageException($"Unknown {table.Option} item: \"{word}\"");
        }
    }

    private static int LevelOf(ReadOnlySpan<char> digits)
    {
        // atoi, capped: a long run of digits is still the top level.
        int level = 0;
        foreach (char c in digits)
        {
            level = level * 10 + (c - '0');
            if (level > MaxLevel)
                return MaxLevel;
        }
        return level;
    }

    /// <summary>What <paramref name="verbose"/> -v options imply (options.c, set_output_verbosity).</summary>
    internal void ApplyVerbosity(int verbose, OutputPriority priority)
    {
        for (int v = 1; v <= Math.Min(verbose, MaxVerbosity); v++)
        {
            Apply(OutputWords.Info, OutputWords.Info.Verbosity[v], priority);
            Apply(OutputWords.Debug, OutputWords.Debug.Verbosity[v], priority);
        }
    }

    /// <summary>Caps every level at what <paramref name="verbose"/> -v would give (options.c, limit_output_verbosity: a module's max verbosity).</summary>
    internal void LimitTo(int verbose)
    {
        if (verbose > MaxVerbosity)
            return;
        var limits = new OutputLevels();
        limits.ApplyVerbosity(verbose, OutputPriority.Limit);
        for (int j = 0; j < _info.Length; j++)
            _info[j] = Math.Min(_info[j], limits._info[j]);
        for (int j = 0; j < _debug.Length; j++)
            _debug[j] = Math.Min(_debug[j], limits._debug[j]);
    }

    /// <summary>
    /// The option that carries the words set by more than -v and that matter to
    /// <paramref name="where"/>, or null when there are none (options.c, make_output_option). The
    /// client sends this to the server, which applies -v itself.
    /// </summary>
    internal string? ToOption(OutputWords table, OutputWhere where)
    {
        var (levels, priorities) = Arrays(table);
        var counts = new int[MaxLevel + 1];
        int mostCommon = 0, max = 0;
        bool anyImplied = false, any = false;
        for (int j = 0; j < table.Words.Length; j++)
        {
            if ((table.Words[j].Where & where) == 0)
                continue;
            if (priorities[j] == OutputPriority.Default)
            {
                anyImplied = true;
                continue;
            }
            any = true;
            if (priorities[j] == OutputPriority.Help)
                continue;
            if (++counts[levels[j]] > max)
            {
                mostCommon = levels[j];
                max = counts[mostCommon];
            }
        }
        if (!any)
            return null;
        var text = new StringBuilder(table.Option).Append('=');
        int abbreviated = -1;
        if (!anyImplied && max >= 5)
        {
            abbreviated = mostCommon;
            text.Append(mostCommon switch { 0 => "NONE", 1 => "ALL", _ => "ALL" + mostCommon });
        }
        bool first = abbreviated < 0;
        for (int j = 0; j < table.Words.Length; j++)
        {
            if (priorities[j] == OutputPriority.Default || levels[j] == abbreviated || (table.Words[j].Where & where) == 0)
                continue;
            if (!first)
                text.Append(',');
            first = false;
            text.Append(table.Words[j].Name);
            if (levels[j] != 1)
                text.Append((char)('0' + levels[j]));
        }
        return text.ToString();
    }

    /// <summary>The text of --info=help or --debug=help (options.c, output_item_help).</summary>
    internal static string Help(OutputWords table)
    {
        var text = new StringBuilder();
        void Line(string name, string help) => text.Append($"{name,-10} {help}\n");
        text.Append("Use OPT or OPT1 for level 1 output, OPT2 for level 2, etc.; OPT0 silences.\n\n");
        foreach (var (name, _, help) in table.Words)
            Line(name, help);
        text.Append('\n');
        Line("ALL", $"Set all {table.Option} options (e.g. all{MaxLevel})");
        Line("NONE", $"Silence all {table.Option} options (same as all0)");
        Line("HELP", "Output this help message");
        text.Append("\nOptions added for each increase in verbose level:\n");
        for (int v = 1; v <= MaxVerbosity; v++)
        {
            var levels = new OutputLevels();
            levels.Apply(table, table.Verbosity[v], OutputPriority.Help);
            if (levels.ToOption(table, OutputWhere.Anywhere) is { } option)
                text.Append($"{v}) {option[(option.IndexOf('=') + 1)..]}\n");
        }
        return text.ToString();
    }

    private (short[] Levels, OutputPriority[] Priorities) Arrays(OutputWords table) =>
        table == OutputWords.Info ? (_info, _infoPriority) : (_debug, _debugPriority);
}
