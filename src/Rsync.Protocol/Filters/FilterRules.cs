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
        _pattern = Encoding.UTF8.GetBytes(p);
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
        string r = rule.TrimEnd('\r', '\n');
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
            return WildMatch.Match(_pattern, path);
        if (!HasSlash)
        {
            int slash = path.LastIndexOf((byte)'/');
            return WildMatch.Match(_pattern, path[(slash + 1)..]);
        }
        return MatchAt(_pattern, path);
    }

    /// <summary>An unanchored pattern with slashes matches the path's tail at a component boundary.</summary>
    private static bool MatchAt(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> path)
    {
        if (WildMatch.Match(pattern, path))
            return true;
        for (int i = 0; i < path.Length; i++)
        {
            if (path[i] == (byte)'/' && WildMatch.Match(pattern, path[(i + 1)..]))
                return true;
        }
        return false;
    }
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

/// <summary>rsync's wildcard matching (lib/wildmatch.c semantics): * and ? stop at '/', ** does not.</summary>
public static class WildMatch
{
    public static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text)
    {
        int p = 0, t = 0;
        while (p < pattern.Length)
        {
            byte c = pattern[p];
            if (c == (byte)'*')
            {
                bool doubleStar = p + 1 < pattern.Length && pattern[p + 1] == (byte)'*';
                int next = p + (doubleStar ? 2 : 1);
                while (next < pattern.Length && pattern[next] == (byte)'*')
                    next++;
                if (next == pattern.Length)
                    return doubleStar || text[t..].IndexOf((byte)'/') < 0;
                for (int i = t; i <= text.Length; i++)
                {
                    if (Match(pattern[next..], text[i..]))
                        return true;
                    if (i < text.Length && !doubleStar && text[i] == (byte)'/')
                        return false;
                }
                return false;
            }
            if (t >= text.Length)
                return false;
            if (c == (byte)'?')
            {
                if (text[t] == (byte)'/')
                    return false;
                p++;
                t++;
                continue;
            }
            if (c == (byte)'[')
            {
                int end = ClassEnd(pattern, p);
                if (end > 0)
                {
                    if (text[t] == (byte)'/' || !ClassMatches(pattern[(p + 1)..end], text[t]))
                        return false;
                    p = end + 1;
                    t++;
                    continue;
                }
            }
            if (c == (byte)'\\' && p + 1 < pattern.Length)
            {
                p++;
                c = pattern[p];
            }
            if (c != text[t])
                return false;
            p++;
            t++;
        }
        return t == text.Length;
    }

    private static int ClassEnd(ReadOnlySpan<byte> pattern, int open)
    {
        int i = open + 1;
        if (i < pattern.Length && (pattern[i] == (byte)'!' || pattern[i] == (byte)'^'))
            i++;
        if (i < pattern.Length && pattern[i] == (byte)']')
            i++;
        for (; i < pattern.Length; i++)
        {
            if (pattern[i] == (byte)']')
                return i;
        }
        return -1;
    }

    private static bool ClassMatches(ReadOnlySpan<byte> cls, byte ch)
    {
        bool negate = cls.Length > 0 && (cls[0] == (byte)'!' || cls[0] == (byte)'^');
        if (negate)
            cls = cls[1..];
        bool hit = false;
        for (int i = 0; i < cls.Length; i++)
        {
            if (i + 2 < cls.Length && cls[i + 1] == (byte)'-')
            {
                if (ch >= cls[i] && ch <= cls[i + 2])
                    hit = true;
                i += 2;
            }
            else if (cls[i] == ch)
                hit = true;
        }
        return hit != negate;
    }
}
