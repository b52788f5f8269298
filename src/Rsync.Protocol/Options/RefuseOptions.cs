using System.Text;
using NetRsync.Protocol.Filters;

namespace NetRsync.Protocol.Options;

/// <summary>Which rsync's reading of the "refuse options" parameter to follow.</summary>
public enum RefuseOptionsStyle
{
    /// <summary>
    /// rsync 3.1.1 (options.c, set_refuse_options): each space-separated term is a name or a
    /// wildcard matched against every option's long and short name; a term without wildcards
    /// refuses only the first option it names. Refusing "a" refuses only --archive itself, which
    /// stock clients never send.
    /// </summary>
    Rsync311,

    /// <summary>
    /// rsync 3.2.0 and later (options.c, set_refuse_options and parse_one_refuse_match): as
    /// 3.1.1, plus "!" terms that accept again, "a"/"archive" also refusing -rdlptgoD, and
    /// -e, -0, -s, -n, --iconv, --no-iconv, --checksum-seed, --log-format, --sender and --server
    /// matched only by their exact name, never by a wildcard.
    /// </summary>
    Rsync32,
}

/// <summary>
/// A module's "refuse options" parameter: which options a client may not use. The daemon also
/// always refuses --log-file and --log-file-format, and --iconv unless the module has a
/// "charset" (options.c, parse_arguments when am_daemon).
/// </summary>
/// <remarks>
/// Refusal covers what an option implies, as rsync checks it after reading all options
/// (options.c, parse_arguments): refusing "delete" refuses every --delete-WHEN and
/// --delete-excluded (they imply --delete) and, when the daemon sends, --remove-source-files;
/// "partial" also refuses -P and --inplace/--append; "progress" refuses -P; "inplace" refuses
/// --append; "compress" or "z" refuses --compress-level with a non-zero level; refusing any of
/// -r, -d, -l, -p, -t, -g, -o or -D refuses -a; refusing --delete-before (or --delete-during)
/// makes a plain --delete run during (or before) the transfer, and refusing both refuses it.
/// </remarks>
public sealed class RefuseOptions
{
    // 3.2+: options a wildcard never refuses (options.c, set_refuse_options).
    private static readonly HashSet<char> ExactOnlyShort = ['e', '0', 's', 'n'];

    private static readonly HashSet<string> ExactOnlyLong = new(StringComparer.Ordinal)
    {
        "iconv", "no-iconv", "checksum-seed", "log-format", "sender", "server",
    };

    private readonly bool[] _refused = new bool[OptionCatalog.Entries.Count];
    private readonly List<string> _unmatched = [];

    /// <summary>Parses the parameter's value.</summary>
    /// <param name="parameter">The "refuse options" value; null or empty refuses nothing beyond the daemon's own refusals.</param>
    /// <param name="charsetConfigured">True when the module sets "charset", which lets clients use --iconv.</param>
    /// <param name="style">Which rsync's reading of the value to follow.</param>
    public RefuseOptions(string? parameter, bool charsetConfigured = false, RefuseOptionsStyle style = RefuseOptionsStyle.Rsync311)
    {
        Parameter = parameter ?? "";
        CharsetConfigured = charsetConfigured;
        Style = style;
        if (style == RefuseOptionsStyle.Rsync311)
        {
            Mark311(charsetConfigured);
        }
        else
        {
            Mark32(charsetConfigured);
            foreach (CatalogEntry entry in OptionCatalog.Entries)
            {
                if (_refused[entry.Index])
                    Classify(entry);
            }
        }

        RefusedOptions = OptionCatalog.Entries.Where(e => _refused[e.Index]).Select(e => e.DisplayName).ToList();
    }

    /// <summary>A module without "refuse options" and without "charset".</summary>
    public static RefuseOptions Default { get; } = new(null);

    /// <summary>The parameter's value as given.</summary>
    public string Parameter { get; }

    /// <summary>Whether the module's "charset" lets clients use --iconv.</summary>
    public bool CharsetConfigured { get; }

    /// <summary>Which rsync's reading of the value this follows.</summary>
    public RefuseOptionsStyle Style { get; }

    /// <summary>
    /// Terms that named no option. rsync logs each as
    /// <c>No match for refuse-options string "TERM"</c> and goes on.
    /// </summary>
    public IReadOnlyList<string> UnmatchedTerms => _unmatched;

    /// <summary>The refused options in rsync's table order, each as "--LONG" (or "-S" for a short-only one).</summary>
    public IReadOnlyList<string> RefusedOptions { get; }

    // The refused options rsync checks again after reading all options (options.c, the refused_* variables).
    internal CatalogEntry? ArchivePart { get; private set; }

    internal CatalogEntry? Compress { get; private set; }

    internal CatalogEntry? Delete { get; private set; }

    internal CatalogEntry? DeleteBefore { get; private set; }

    internal CatalogEntry? DeleteDuring { get; private set; }

    internal CatalogEntry? Partial { get; private set; }

    internal CatalogEntry? Progress { get; private set; }

    internal CatalogEntry? Inplace { get; private set; }

    internal CatalogEntry? NoIconv { get; private set; }

    /// <summary>
    /// Whether the option itself is refused: "delete", "--delete", "z" or "-z". Options refused
    /// only through what they imply (--delete-after when "delete" is refused) are not reported here.
    /// </summary>
    public bool Refuses(string option)
    {
        ArgumentNullException.ThrowIfNull(option);
        string name = option.StartsWith("--", StringComparison.Ordinal) ? option[2..]
            : option.Length == 2 && option[0] == '-' ? option[1..]
            : option;
        CatalogEntry? entry = name.Length == 1 && OptionCatalog.ByShort.TryGetValue(name[0], out var s) ? s
            : OptionCatalog.ByLong.GetValueOrDefault(name);
        return entry is not null && _refused[entry.Index];
    }

    /// <summary>
    /// The line rsync's daemon prints when the client's arguments use a refused option, e.g.
    /// <c>rsync: The server is configured to refuse --delete</c>; null when nothing is refused.
    /// The arguments are parsed as <see cref="OptionParser.ParseServer(IReadOnlyList{string}, ServerParseSettings)"/>
    /// does; like rsync, the parse stops at its first problem, so when that problem is something
    /// else (an unknown option, say) the answer is null and ParseServer reports it.
    /// </summary>
    /// <param name="serverArgs">The arguments as the client sent them ("--server", ...).</param>
    /// <param name="protectedArgs">The second batch sent after -s (--protect-args), starting with its "rsync", if any.</param>
    public string? Check(IReadOnlyList<string> serverArgs, IReadOnlyList<string>? protectedArgs = null)
    {
        ArgumentNullException.ThrowIfNull(serverArgs);
        try
        {
            OptionParser.ParseServer(serverArgs, new ServerParseSettings { Refuse = this, ProtectedArgs = protectedArgs });
            return null;
        }
        catch (RsyncUsageException ex) when (ex.IsRefusal)
        {
            return ex.Message;
        }
        catch (RsyncUsageException)
        {
            return null;
        }
    }

    internal bool IsRefused(CatalogEntry entry) => _refused[entry.Index];

    // options.c (3.1.1), set_refuse_options: the module's terms, then the daemon's own refusals.
    private void Mark311(bool charsetConfigured)
    {
        foreach (string term in Terms(Parameter))
            Mark311Term(term);
        Mark311Term("log-file*");
        if (!charsetConfigured)
            Mark311Term("iconv");
    }

    private void Mark311Term(string term)
    {
        bool wild = IsWild(term);
        bool found = false;
        foreach (CatalogEntry entry in OptionCatalog.Entries)
        {
            if (!Matches(term, entry))
                continue;
            _refused[entry.Index] = true;
            Classify(entry);
            found = true;
            if (!wild)
                break;
        }

        if (!found)
            _unmatched.Add(term);
    }

    // options.c (3.2+), set_refuse_options and parse_one_refuse_match.
    private void Mark32(bool charsetConfigured)
    {
        var entries = OptionCatalog.Entries;
        bool[] exactOnly = new bool[entries.Count];
        foreach (CatalogEntry entry in entries)
        {
            exactOnly[entry.Index] = ExactOnlyShort.Contains(entry.Short)
                || (entry.Long is not null && ExactOnlyLong.Contains(entry.Long));
        }

        foreach (string raw in Terms(Parameter))
        {
            string term = raw;
            bool negated = term[0] == '!';
            if (negated && term.Length > 1)
                term = term[1..];
            Mark32Term(term, negated, exactOnly);
        }

        if (!charsetConfigured)
            Mark32Term("iconv", negated: false, exactOnly);
        Mark32Term("log-file*", negated: false, exactOnly);
    }

    private void Mark32Term(string term, bool negated, bool[] exactOnly)
    {
        bool wild = IsWild(term);
        if (term is "a" or "archive")
        {
            // The archive option stands for everything it implies.
            term = "[ardlptgoD]";
            wild = true;
        }

        bool found = false;
        foreach (CatalogEntry entry in OptionCatalog.Entries)
        {
            if (!Matches(term, entry))
                continue;
            if (!exactOnly[entry.Index] || !wild)
                _refused[entry.Index] = !negated;
            found = true;
            if (!wild)
                break;
        }

        if (!found)
            _unmatched.Add(term);
    }

    // options.c, set_refuse_options: notes the refusals that are checked again for implied
    // options; a later refusal of the same kind replaces an earlier one, as there.
    private void Classify(CatalogEntry entry)
    {
        switch (entry.Short)
        {
            case 'r' or 'd' or 'l' or 'p' or 't' or 'g' or 'o' or 'D':
                ArchivePart = entry;
                break;
            case 'z':
                Compress = entry;
                break;
            case '\0':
                switch (entry.Long)
                {
                    case "delete": Delete = entry; break;
                    case "delete-before": DeleteBefore = entry; break;
                    case "delete-during": DeleteDuring = entry; break;
                    case "partial": Partial = entry; break;
                    case "progress": Progress = entry; break;
                    case "inplace": Inplace = entry; break;
                    case "no-iconv": NoIconv = entry; break;
                }

                break;
        }
    }

    // Terms are separated by spaces only; runs of spaces are skipped.
    private static IEnumerable<string> Terms(string parameter) =>
        parameter.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static bool IsWild(string term) => term.AsSpan().IndexOfAny("*?[") >= 0;

    private static bool Matches(string term, CatalogEntry entry)
    {
        byte[] pattern = Encoding.UTF8.GetBytes(term);
        return (entry.Long is not null && WildMatch.Match(pattern, Encoding.UTF8.GetBytes(entry.Long)))
            || (entry.Short != '\0' && WildMatch.Match(pattern, [(byte)entry.Short]));
    }
}
