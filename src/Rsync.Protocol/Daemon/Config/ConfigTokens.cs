namespace NetRsync.Protocol.Daemon.Config;

/// <summary>How rsync splits list-valued parameters.</summary>
internal static class ConfigTokens
{
    /// <summary>
    /// Splits on blanks and commas, unless the list starts (after blanks) with a comma: then on commas
    /// only, each item trimmed. Empty items are dropped (util1.c, conf_strtok, rsync 3.5.0).
    /// </summary>
    public static List<string> Split(string list)
    {
        string s = list.TrimStart(' ', '\t', '\n', '\v', '\f', '\r');
        if (!s.StartsWith(','))
            return SplitOn(s, " ,\t\r\n");
        var items = new List<string>();
        foreach (string part in s[1..].Split(','))
        {
            string t = part.Trim(' ', '\t', '\n', '\v', '\f', '\r');
            if (t.Length > 0)
                items.Add(t);
        }
        return items;
    }

    /// <summary>strtok: the non-empty runs between any of the separators.</summary>
    public static List<string> SplitOn(string list, string separators) =>
        [.. list.Split(separators.ToCharArray(), StringSplitOptions.RemoveEmptyEntries)];
}
