using System.Text;

namespace NetRsync.Protocol.Filters;

public enum FilterAction { Exclude, Include, Protect, Risk, Clear }

/// <summary>One include/exclude rule, with rsync's matching rules (exclude.c, rule_matches).</summary>
public sealed class FilterRule
{
    private readonly byte[] _pattern;

    private FilterRule(FilterAction action, string modifiers, string pattern)
    {
        Action = action;
        Modifiers = modifiers;
        Text = pattern;
        Negate = modifiers.Contains('!');
        SenderOnly = modifiers.Contains('s') || action is FilterAction.Exclude or FilterAction.Include && modifiers.Contains('s');
        ReceiverOnly = modifiers.Contains('r') || action is FilterAction.Protect or FilterAction.Risk;

        string p = pattern;
        if (p.EndsWith("/***", StringComparison.Ordinal))
        {
            AlsoMatchesDirectoryItself = true;
            p = p[..^4] + "/**";
        }
        else if (p.Length > 1 && p.EndsWith('/'))
        {
            DirectoryOnly = true;
            p = p.TrimEnd('/');
        }
        if (p.StartsWith('/'))
        {
            Anchored = true;
            p = p.TrimStart('/');
        }
        HasWildcards = p.AsSpan().IndexOfAny("*?[") >= 0;
        HasSlash = p.Contains('/') || p.Contains("**", StringComparison.Ordinal);
        _pattern = NetRsync.Protocol.Text.NameText.ToBytes(p);
    }

    public FilterAction Action { get; }
    public string Modifiers { get; }
    public string Text { get; }
    public bool Negate { get; }
    public bool DirectoryOnly { get; }
    public bool Anchored { get; }
    public bool HasWildcards { get; }
    public bool HasSlash { get; }
    public bool AlsoMatchesDirectoryItself { get; }
    public bool SenderOnly { get; }
    public bool ReceiverOnly { get; }

    /// <summary>The rule as rsync sends it to the other side (exclude.c, get_rule_prefix).</summary>
    public string WireText => Action switch
    {
        FilterAction.Exclude => "-" + Modifiers + " " + Text,
        FilterAction.Include => "+" + Modifiers + " " + Text,
        FilterAction.Protect => "P" + Modifiers + " " + Text,
        FilterAction.Risk => "R" + Modifiers + " " + Text,
        _ => "!",
    };

    /// <summary>Parses one rule: "- pat", "+ pat", "exclude pat", "include pat", "P pat", "!" and their modifiers.</summary>
    public static FilterRule Parse(string rule)
    {
        // A rule from the command line or the wire keeps a trailing CR or LF: it is part of the name.
        string r = rule;
        if (r == "!" || r == "clear")
            return new FilterRule(FilterAction.Clear, "", "");

        string word;
        string rest;
        int sep = r.IndexOfAny([' ', '_']);
        if (r.Length > 0 && "+-PRHS".Contains(r[0]) && (r.Length == 1 || sep > 0))
        {
            word = sep > 0 ? r[..sep] : r;
            rest = sep > 0 ? r[(sep + 1)..] : "";
        }
        else
        {
            int space = r.IndexOf(' ');
            word = space > 0 ? r[..space] : r;
            rest = space > 0 ? r[(space + 1)..] : "";
        }

        string name = word;
        string modifiers = "";
        int comma = word.IndexOf(',');
        if (word.Length > 0 && "+-PRHS".Contains(word[0]))
        {
            name = word[..1];
            modifiers = word[1..];
        }
        else if (comma > 0)
        {
            name = word[..comma];
            modifiers = word[(comma + 1)..];
        }

        FilterAction action = name switch
        {
            "-" or "exclude" => FilterAction.Exclude,
            "+" or "include" => FilterAction.Include,
            "P" or "protect" => FilterAction.Protect,
            "R" or "risk" => FilterAction.Risk,
            "H" or "hide" => FilterAction.Exclude,
            "S" or "show" => FilterAction.Include,
            "." or ":" or "merge" or "dir-merge" => throw new RsyncException($"merge filter rules are not supported: {rule}", Wire.ExitCodes.Syntax),
            _ => throw new RsyncException($"Unknown filter rule: `{rule}'", Wire.ExitCodes.Syntax),
        };
        if (name is "H" or "hide")
            modifiers += "s";
        if (name is "S" or "show")
            modifiers += "s";
        if (modifiers.AsSpan().IndexOfAnyExcept("/!Csrpx") >= 0)
            throw new RsyncException($"Unknown filter rule: `{rule}'", Wire.ExitCodes.Syntax);
        if (rest.Length == 0)
            throw new RsyncException($"Unknown filter rule: `{rule}'", Wire.ExitCodes.Syntax);
        return new FilterRule(action, modifiers, rest);
    }

    /// <summary>Does the rule match this path (relative to the transfer root)?</summary>
    public bool Matches(ReadOnlySpan<byte> path, bool isDirectory)
    {
        bool hit = MatchesCore(path, isDirectory);
        return Negate ? !hit : hit;
    }

    private bool MatchesCore(ReadOnlySpan<byte> path, bool isDirectory)
    {
        if (DirectoryOnly && !isDirectory)
            return false;
        if (AlsoMatchesDirectoryItself && isDirectory)
        {
            var dirPattern = _pattern.AsSpan(0, _pattern.Length - 3);
            if (MatchAt(dirPattern, path))
                return true;
        }
        if (Anchored)
            return Match(_pattern, path);
        if (!HasSlash)
        {
            int slash = path.LastIndexOf((byte)'/');
            return Match(_pattern, path[(slash + 1)..]);
        }
        // A leading ** may stand for no directories at all (exclude.c, rule_matches).
        if (_pattern.AsSpan().StartsWith("**"u8))
        {
            Span<byte> rooted = path.Length < 4096 ? stackalloc byte[path.Length + 1] : new byte[path.Length + 1];
            rooted[0] = (byte)'/';
            path.CopyTo(rooted[1..]);
            if (WildMatch.Match(_pattern, rooted))
                return true;
        }
        return MatchAt(_pattern, path);
    }

    /// <summary>An unanchored pattern with slashes matches the path's tail at a component boundary.</summary>
    private bool MatchAt(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> path)
    {
        if (Match(pattern, path))
            return true;
        for (int i = 0; i < path.Length; i++)
        {
            if (path[i] == (byte)'/' && Match(pattern, path[(i + 1)..]))
                return true;
        }
        return false;
    }

    /// <summary>Without *, ? or [ a pattern is compared as it is, a backslash included (exclude.c, rule_matches: strcmp).</summary>
    private bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text) =>
        HasWildcards ? WildMatch.Match(pattern, text) : pattern.SequenceEqual(text);
}

/// <summary>An ordered rule list; the first matching rule decides (exclude.c, check_filter).</summary>
public sealed class FilterList
{
    private readonly List<FilterRule> _rules = [];

    public IReadOnlyList<FilterRule> Rules => _rules;

    public bool IsEmpty => _rules.Count == 0;

    public void Add(FilterRule rule)
    {
        if (rule.Action == FilterAction.Clear)
            _rules.Clear();
        else
            _rules.Add(rule);
    }

    public static FilterList Parse(IEnumerable<string> rules)
    {
        var list = new FilterList();
        foreach (string r in rules)
            list.Add(FilterRule.Parse(r));
        return list;
    }

    /// <summary>Whether the sender leaves this path out.</summary>
    public bool IsExcludedBySender(ReadOnlySpan<byte> path, bool isDirectory)
    {
        foreach (var rule in _rules)
        {
            if (rule.ReceiverOnly)
                continue;
            if (rule.Matches(path, isDirectory))
                return rule.Action == FilterAction.Exclude;
        }
        return false;
    }
}

/// <summary>
/// rsync's wildcard matching (lib/wildmatch.c semantics): * and ? stop at '/', ** does not,
/// classes with ranges, negation, escapes and POSIX names; a malformed pattern matches nothing.
/// </summary>
public static class WildMatch
{
    private enum Result { Match, NoMatch, AbortAll, AbortToDoubleStar }

    public static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text) => Run(pattern, text) == Result.Match;

    private static Result Run(ReadOnlySpan<byte> p, ReadOnlySpan<byte> t)
    {
        int pi = 0, ti = 0;
        for (; pi < p.Length; pi++, ti++)
        {
            byte pc = p[pi];
            if (ti >= t.Length && pc != (byte)'*')
                return Result.AbortAll;
            switch (pc)
            {
                case (byte)'\\':
                    if (++pi >= p.Length)
                        return Result.AbortAll;
                    if (t[ti] != p[pi])
                        return Result.NoMatch;
                    break;
                case (byte)'?':
                    if (t[ti] == (byte)'/')
                        return Result.NoMatch;
                    break;
                case (byte)'*':
                {
                    bool crossSlash = false;
                    if (pi + 1 < p.Length && p[pi + 1] == (byte)'*')
                    {
                        crossSlash = true;
                        while (pi + 1 < p.Length && p[pi + 1] == (byte)'*')
                            pi++;
                    }
                    pi++;
                    if (pi >= p.Length)
                        return crossSlash || t[ti..].IndexOf((byte)'/') < 0 ? Result.Match : Result.NoMatch;
                    for (; ; ti++)
                    {
                        if (ti > t.Length)
                            return Result.AbortAll;
                        Result r = Run(p[pi..], t[ti..]);
                        if (r != Result.NoMatch)
                        {
                            if (!crossSlash || r != Result.AbortToDoubleStar)
                                return r;
                        }
                        else if (!crossSlash && ti < t.Length && t[ti] == (byte)'/')
                            return Result.AbortToDoubleStar;
                        if (ti >= t.Length)
                            return Result.AbortAll;
                    }
                }
                case (byte)'[':
                {
                    int end = MatchClass(p, pi, t[ti], out bool hit);
                    if (end < 0)
                        return Result.AbortAll;
                    if (!hit || t[ti] == (byte)'/')
                        return Result.NoMatch;
                    pi = end;
                    break;
                }
                default:
                    if (t[ti] != pc)
                        return Result.NoMatch;
                    break;
            }
        }
        return ti == t.Length ? Result.Match : Result.NoMatch;
    }

    /// <summary>Evaluates a bracket class starting at <paramref name="open"/>; returns the index of its ']' or -1 if malformed.</summary>
    private static int MatchClass(ReadOnlySpan<byte> p, int open, byte ch, out bool hit)
    {
        hit = false;
        int i = open + 1;
        bool negate = i < p.Length && (p[i] == (byte)'!' || p[i] == (byte)'^');
        if (negate)
            i++;
        bool first = true;
        byte previous = 0;
        bool havePrevious = false;
        for (; i < p.Length; i++)
        {
            byte c = p[i];
            if (c == (byte)']' && !first)
            {
                hit ^= negate;
                return i;
            }
            first = false;
            if (c == (byte)'\\')
            {
                if (++i >= p.Length)
                    return -1;
                c = p[i];
                if (c == ch)
                    hit = true;
                previous = c;
                havePrevious = true;
                continue;
            }
            if (c == (byte)'-' && havePrevious && i + 1 < p.Length && p[i + 1] != (byte)']')
            {
                byte upper = p[++i];
                if (upper == (byte)'\\')
                {
                    if (++i >= p.Length)
                        return -1;
                    upper = p[i];
                }
                if (ch >= previous && ch <= upper)
                    hit = true;
                havePrevious = false;
                continue;
            }
            int close = c == (byte)'[' && i + 1 < p.Length && p[i + 1] == (byte)':' ? p[(i + 2)..].IndexOf(":]"u8) : -1;
            if (close >= 0)
            {
                string name = System.Text.Encoding.ASCII.GetString(p.Slice(i + 2, close));
                bool? inClass = PosixClass(name, ch);
                if (inClass is null)
                    return -1;
                if (inClass.Value)
                    hit = true;
                i += close + 3;
                havePrevious = false;
                continue;
            }
            if (c == ch)
                hit = true;
            previous = c;
            havePrevious = true;
        }
        return -1;
    }

    private static bool? PosixClass(string name, byte b)
    {
        char c = (char)b;
        return name switch
        {
            "alnum" => char.IsAsciiLetterOrDigit(c),
            "alpha" => char.IsAsciiLetter(c),
            "blank" => c is ' ' or '\t',
            "cntrl" => b < 0x20 || b == 0x7F,
            "digit" => char.IsAsciiDigit(c),
            "graph" => b > 0x20 && b < 0x7F,
            "lower" => char.IsAsciiLetterLower(c),
            "print" => b >= 0x20 && b < 0x7F,
            "punct" => b > 0x20 && b < 0x7F && !char.IsAsciiLetterOrDigit(c),
            "space" => c is ' ' or '\t' or '\n' or '\r' or '\f' or '\v',
            "upper" => char.IsAsciiLetterUpper(c),
            "xdigit" => char.IsAsciiHexDigit(c),
            _ => null,
        };
    }
}
