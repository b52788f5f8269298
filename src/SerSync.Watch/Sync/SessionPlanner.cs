using System.Text;
using NetRsync.SerSync.Config;

namespace NetRsync.SerSync.Sync;

/// <summary>One rsync session to run against a remote: extra arguments after the commonParams,
/// and the --files-from names when the session lists its paths.</summary>
public sealed record PlannedSession(string Purpose, IReadOnlyList<string> ExtraArgs, IReadOnlyList<string>? FilesFrom, int PathCount);

/// <summary>
/// Turns a batch of changed paths into rsync sessions, deciding each path by what exists locally
/// when the push runs (the source is the truth; the events only say where to look):
/// <list type="bullet">
/// <item>paths that exist go in one --files-from session (implying -R, so parent directories come
/// along); recursion is left to the watcher, which lists new directories itself, so the exclude
/// rule applies to every path exactly as it does to events;</item>
/// <item>paths gone locally are removed with rsync's delete semantics for exactly those paths: one
/// -r --delete session of the root whose filter includes each path, everything below it and its
/// parent directories, and excludes everything else (what is excluded is protected from deletion), as
/// sersync's <c>rsync -artuz -R --delete ./ --include=DIR/ --include=DIR/NAME --exclude=*</c> did, but
/// anchored at the root;</item>
/// <item>rescans walk the directory; a mirror rescan (-r or an inotify overflow, with delete on) also
/// runs a delete-only -r --delete session on the directory, protecting what the exclude rule keeps out.</item>
/// </list>
/// </summary>
public sealed class SessionPlanner(string root, PathFilter filter, IReadOnlyList<string> crontabExcludes)
{
    public List<PlannedSession> Plan(IReadOnlyDictionary<string, ChangeFlags> paths)
    {
        var sessions = new List<PlannedSession>();
        var updates = new HashSet<string>(StringComparer.Ordinal);
        var removals = new List<string>();
        var crontab = new HashSet<string>(StringComparer.Ordinal);
        var mirrors = new List<string>();
        bool crontabMirror = false;

        foreach (var (rel, flags) in paths)
        {
            if ((flags & ChangeFlags.Mirror) != 0)
            {
                mirrors.Add(rel);
                crontabMirror |= (flags & ChangeFlags.Crontab) != 0;
            }
            if ((flags & ChangeFlags.Crontab) != 0)
                Walk(rel, crontab, excluded: null);
            else if ((flags & (ChangeFlags.Rescan | ChangeFlags.Mirror)) != 0)
                Walk(rel, updates, excluded: null);

            if (rel.Length == 0 || (flags & (ChangeFlags.Update | ChangeFlags.MayRemove)) == 0)
                continue;
            if (ExistsLocally(rel))
                updates.Add(rel);
            else if ((flags & ChangeFlags.MayRemove) != 0)
                removals.Add(rel);
        }

        // --force: a directory replaced by a file of the same name must go remotely even with deletions off.
        if (updates.Count > 0)
            sessions.Add(new PlannedSession("update", ["--force"], updates.Order(StringComparer.Ordinal).ToList(), updates.Count));
        if (crontab.Count > 0)
            sessions.Add(new PlannedSession("crontab", ["--force", .. crontabExcludes.Select(e => "--exclude=" + e)], crontab.Order(StringComparer.Ordinal).ToList(), crontab.Count));
        if (removals.Count > 0)
        {
            var outermost = Outermost(removals);
            sessions.Add(new PlannedSession("remove", RemovalArgs(outermost), null, outermost.Count));
        }
        foreach (string dir in Outermost(mirrors))
            sessions.Add(MirrorSession(dir, crontabMirror ? crontabExcludes : []));
        return sessions;
    }

    private bool ExistsLocally(string rel)
    {
        string full = root + "/" + rel;
        return File.Exists(full) || Directory.Exists(full) || new FileInfo(full).LinkTarget is not null;
    }

    /// <summary>Drops every path that lies under another path of the list.</summary>
    public static List<string> Outermost(IEnumerable<string> paths)
    {
        var sorted = paths.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var kept = new List<string>();
        foreach (string path in sorted)
        {
            if (kept.Count > 0 && IsUnder(path, kept[^1]))
                continue;
            kept.Add(path);
        }
        return kept;
    }

    private static bool IsUnder(string path, string dir) =>
        dir.Length == 0 || (path.Length > dir.Length && path[dir.Length] == '/' && path.StartsWith(dir, StringComparison.Ordinal));

    public static List<string> RemovalArgs(IEnumerable<string> removed)
    {
        var args = new List<string> { "-r", "--delete" };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string rel in removed)
        {
            foreach (string parent in Parents(rel))
                if (seen.Add(parent + "/"))
                    args.Add("--include=/" + EscapePattern(parent) + "/");
            if (seen.Add(rel))
            {
                // The path and all below it: an excluded child would protect a directory from deletion.
                args.Add("--include=/" + EscapePattern(rel));
                args.Add("--include=/" + EscapeWildcards(rel) + "/**");
            }
        }
        args.Add("--exclude=*");
        return args;
    }

    /// <summary>Deletes what the remote has under <paramref name="dir"/> and the source does not, and
    /// nothing else: --existing with --ignore-existing transfers no file at all (the walk's own list
    /// does that, through the exclude rule), and the names the rule keeps out are protected.</summary>
    private PlannedSession MirrorSession(string dir, IReadOnlyList<string> extraExcludes)
    {
        var args = new List<string> { "-r", "--delete", "--existing", "--ignore-existing" };
        args.AddRange(extraExcludes.Select(e => "--exclude=" + e));
        var excluded = new List<string>();
        Walk(dir, included: null, excluded);
        foreach (string rel in excluded)
            args.Add("--exclude=/" + EscapePattern(rel));
        if (dir.Length > 0)
        {
            foreach (string parent in Parents(dir))
                args.Add("--include=/" + EscapePattern(parent) + "/");
            args.Add("--include=/" + EscapeWildcards(dir) + "/***");
            args.Add("--exclude=*");
        }
        return new PlannedSession("mirror", args, null, 1);
    }

    /// <summary>"a", "a/b" for "a/b/c".</summary>
    public static IEnumerable<string> Parents(string rel)
    {
        for (int slash = rel.IndexOf('/'); slash > 0; slash = rel.IndexOf('/', slash + 1))
            yield return rel[..slash];
    }

    /// <summary>An rsync filter pattern matching exactly <paramref name="name"/>: a pattern with a
    /// wildcard character is matched with backslash escapes, one without is matched literally.</summary>
    public static string EscapePattern(string name) =>
        name.IndexOfAny(['*', '?', '[']) < 0 ? name : EscapeWildcards(name);

    /// <summary><paramref name="name"/> escaped for a pattern that has wildcards of its own.</summary>
    public static string EscapeWildcards(string name)
    {
        var sb = new StringBuilder(name.Length + 8);
        foreach (char c in name)
        {
            if (c is '*' or '?' or '[' or '\\')
                sb.Append('\\');
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Lists <paramref name="rel"/> (when not the root) and everything below it that the
    /// filter lets through into <paramref name="included"/>, and the filtered-out names into
    /// <paramref name="excluded"/>, without descending into excluded directories or symlinks.</summary>
    public void Walk(string rel, ISet<string>? included, List<string>? excluded)
    {
        if (rel.Length > 0)
        {
            if (filter.Excludes(rel))
            {
                excluded?.Add(rel);
                return;
            }
            if (!ExistsLocally(rel))
                return;
            included?.Add(rel);
        }
        var pending = new Stack<string>();
        pending.Push(rel);
        var options = new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0, RecurseSubdirectories = false };
        while (pending.Count > 0)
        {
            string dirRel = pending.Pop();
            string full = dirRel.Length == 0 ? root : root + "/" + dirRel;
            try
            {
                foreach (var entry in new DirectoryInfo(full).EnumerateFileSystemInfos("*", options))
                {
                    string childRel = dirRel.Length == 0 ? entry.Name : dirRel + "/" + entry.Name;
                    if (filter.Excludes(childRel))
                    {
                        excluded?.Add(childRel);
                        continue;
                    }
                    included?.Add(childRel);
                    if (Inotify.TreeWatcher.IsRealDirectory(entry))
                        pending.Push(childRel);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Log.Debug($"cannot list {full}: {ex.Message}");
            }
        }
    }
}
