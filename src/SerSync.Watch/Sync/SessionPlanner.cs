using NetRsync.Protocol.Text;
using NetRsync.SerSync.Config;

namespace NetRsync.SerSync.Sync;

/// <summary>One rsync session to run against a remote: extra arguments after the commonParams,
/// and the --files-from names when the session lists its paths.</summary>
/// <remarks>Names in <see cref="ExtraArgs"/> (filter rules) are <see cref="NameText"/> strings, as the
/// library reads its argv; the --files-from names are the path bytes.</remarks>
public sealed record PlannedSession(string Purpose, IReadOnlyList<string> ExtraArgs, IReadOnlyList<byte[]>? FilesFrom, int PathCount)
{
    /// <summary>The paths the session is about, for the log (the listed names, the removed paths, the mirrored directory).</summary>
    public IReadOnlyList<byte[]> Paths { get; init; } = FilesFrom ?? [];
}

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
    private readonly byte[] _root = NameText.ToBytes(root);

    public List<PlannedSession> Plan(IReadOnlyDictionary<byte[], ChangeFlags> paths)
    {
        var sessions = new List<PlannedSession>();
        var updates = new HashSet<byte[]>(Names.Comparer);
        var removals = new List<byte[]>();
        var crontab = new HashSet<byte[]>(Names.Comparer);
        var mirrors = new List<byte[]>();
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
            sessions.Add(new PlannedSession("update", ["--force"], updates.Order(Names.Comparer).ToList(), updates.Count));
        if (crontab.Count > 0)
            sessions.Add(new PlannedSession("crontab", ["--force", .. crontabExcludes.Select(e => "--exclude=" + e)], crontab.Order(Names.Comparer).ToList(), crontab.Count));
        if (removals.Count > 0)
        {
            var outermost = Outermost(removals);
            sessions.Add(new PlannedSession("remove", RemovalArgs(outermost), null, outermost.Count) { Paths = outermost });
        }
        foreach (byte[] dir in Outermost(mirrors))
            sessions.Add(MirrorSession(dir, crontabMirror ? crontabExcludes : []));
        return sessions;
    }

    private bool ExistsLocally(byte[] rel) =>
        FileSystemBytes.LStat(FileSystemBytes.Full(_root, rel)) != FileSystemBytes.EntryType.Missing;

    /// <summary>Drops every path that lies under another path of the list.</summary>
    public static List<byte[]> Outermost(IEnumerable<byte[]> paths)
    {
        var all = new HashSet<byte[]>(paths, Names.Comparer);
        if (all.Contains(Names.Empty))
            return [Names.Empty];
        // Checked by parents rather than by sort order: "a-b" sorts between "a" and "a/b".
        return all.Where(path => !Names.Parents(path).Any(all.Contains)).Order(Names.Comparer).ToList();
    }

    public static List<string> RemovalArgs(IEnumerable<byte[]> removed)
    {
        var args = new List<string> { "-r", "--delete" };
        var seen = new HashSet<byte[]>(Names.Comparer);
        foreach (byte[] rel in removed)
        {
            foreach (byte[] parent in Names.Parents(rel))
                if (seen.Add([.. parent, (byte)'/']))
                    args.Add(Rule("--include=/", EscapePattern(parent), "/"));
            if (seen.Add(rel))
            {
                // The path and all below it: an excluded child would protect a directory from deletion.
                args.Add(Rule("--include=/", EscapePattern(rel), ""));
                args.Add(Rule("--include=/", EscapeWildcards(rel), "/**"));
            }
        }
        args.Add("--exclude=*");
        return args;
    }

    /// <summary>A filter-rule argument naming a path: the path's bytes travel in the argument as <see cref="NameText"/>.</summary>
    private static string Rule(string prefix, byte[] pattern, string suffix) => prefix + NameText.FromBytes(pattern) + suffix;

    /// <summary>Deletes what the remote has under <paramref name="dir"/> and the source does not, and
    /// nothing else: --existing with --ignore-existing transfers no file at all (the walk's own list
    /// does that, through the exclude rule), and the names the rule keeps out are protected.</summary>
    private PlannedSession MirrorSession(byte[] dir, IReadOnlyList<string> extraExcludes)
    {
        var args = new List<string> { "-r", "--delete", "--existing", "--ignore-existing" };
        args.AddRange(extraExcludes.Select(e => "--exclude=" + e));
        var excluded = new List<byte[]>();
        Walk(dir, included: null, excluded);
        foreach (byte[] rel in excluded)
            args.Add(Rule("--exclude=/", EscapePattern(rel), ""));
        if (dir.Length > 0)
        {
            foreach (byte[] parent in Names.Parents(dir))
                args.Add(Rule("--include=/", EscapePattern(parent), "/"));
            args.Add(Rule("--include=/", EscapeWildcards(dir), "/***"));
            args.Add("--exclude=*");
        }
        return new PlannedSession("mirror", args, null, 1) { Paths = [dir] };
    }

    /// <summary>An rsync filter pattern matching exactly <paramref name="name"/>: a pattern with a
    /// wildcard character is matched with backslash escapes, one without is matched literally
    /// (exclude.c, add_rule: only a pattern holding *, ? or [ is given to wildmatch).</summary>
    public static byte[] EscapePattern(byte[] name) =>
        name.AsSpan().IndexOfAny("*?["u8) < 0 ? name : EscapeWildcards(name);

    /// <summary><paramref name="name"/> escaped for a pattern that has wildcards of its own.</summary>
    public static byte[] EscapeWildcards(byte[] name)
    {
        var escaped = new List<byte>(name.Length + 8);
        foreach (byte b in name)
        {
            if (b is (byte)'*' or (byte)'?' or (byte)'[' or (byte)'\\')
                escaped.Add((byte)'\\');
            escaped.Add(b);
        }
        return [.. escaped];
    }

    /// <summary>Lists <paramref name="rel"/> (when not the root) and everything below it that the
    /// filter lets through into <paramref name="included"/>, and the filtered-out names into
    /// <paramref name="excluded"/>, without descending into excluded directories or symlinks.</summary>
    public void Walk(byte[] rel, ISet<byte[]>? included, List<byte[]>? excluded)
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
        FileSystemBytes.WalkTree(_root, rel, enter: (_, _) => true, visit: (childRel, _) =>
        {
            if (filter.Excludes(childRel))
            {
                excluded?.Add(childRel);
                return false;
            }
            included?.Add(childRel);
            return true;
        });
    }
}
