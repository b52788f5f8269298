using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Text;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// Wildcards in a path a client asks a daemon for, expanded in the module one component at a time
/// (util.c, glob_expand and glob_match): "*", "?" and "[...]" match names in that directory,
/// every component before the last must be a directory, and names the module's own rules exclude
/// are not matched. A pattern that matches nothing stays as it was, for the sender to report.
/// Listing goes through the module's handle, so no symlink leads the expansion outside.
/// </summary>
internal static class ModuleGlob
{
    public static bool HasWildcards(string path) => path.AsSpan().IndexOfAny("*?[") >= 0;

    /// <summary>The paths <paramref name="requested"/> stands for, module-relative, in the order found.</summary>
    public static List<string> Expand(ConfinedRoot module, string requested, FilterList daemonFilters)
    {
        if (!HasWildcards(requested))
            return [requested];
        // Sanitized as rsync does before globbing (util.c, sanitize_path with SP_KEEP_DOT_DIRS):
        // ".." cannot climb above the module; "." stays, as it marks where -R paths start.
        var parts = new List<string>();
        foreach (string part in requested.Split('/'))
        {
            if (part.Length == 0)
                continue;
            if (part == "..")
            {
                int last = parts.FindLastIndex(p => p != ".");
                if (last >= 0)
                    parts.RemoveAt(last);
                continue;
            }
            parts.Add(part);
        }
        if (requested.EndsWith('/'))
            parts.Add("");
        var found = new List<string>();
        if (parts.Count > 0)
            Match(module, parts, 0, "", daemonFilters, found);
        return found.Count > 0 ? found : [requested];
    }

    private static void Match(ConfinedRoot module, List<string> parts, int index, string prefix, FilterList daemonFilters, List<string> found)
    {
        string part = parts[index];
        bool last = index == parts.Count - 1;
        if (part == "." && !last)
        {
            Match(module, parts, index + 1, prefix + "./", daemonFilters, found);
            return;
        }
        if (!HasWildcards(part))
        {
            Candidate(module, parts, index, prefix, part, fromPattern: false, daemonFilters, found);
            return;
        }
        var names = new List<byte[]>();
        string directory = prefix.Length == 0 ? "." : prefix.TrimEnd('/');
        if (module.List(NameText.ToBytes(directory), names, followInside: true) != 0)
            return;
        byte[] pattern = NameText.ToBytes(part);
        foreach (byte[] name in names)
        {
            if (name is [(byte)'.'] or [(byte)'.', (byte)'.'])
                continue;
            if (WildMatch.Match(pattern, name))
                Candidate(module, parts, index, prefix, NameText.FromBytes(name), fromPattern: true, daemonFilters, found);
        }
    }

    private static void Candidate(ConfinedRoot module, List<string> parts, int index, string prefix, string name, bool fromPattern, FilterList daemonFilters, List<string> found)
    {
        bool last = index == parts.Count - 1;
        string path = prefix + name;
        if (fromPattern || (!last && name.Length > 0))
        {
            if (module.LStat(NameText.ToBytes(path), out var st, followInside: true) != 0)
                return;
            if (!last && !st.IsDirectory)
                return;
            if (daemonFilters.IsExcludedBySender(NameText.ToBytes(path), st.IsDirectory))
                return;
        }
        if (last)
            found.Add(path);
        else
            Match(module, parts, index + 1, path + "/", daemonFilters, found);
    }
}
