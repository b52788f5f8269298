using System.Text;
using NetRsync.Protocol.Text;
using Xunit;

namespace NetRsync.Interop.Tests;

/// <summary>What <see cref="TreeComparer"/> compares besides names, types, modes, sizes, contents
/// and symlink targets (always compared).</summary>
public sealed record TreeCompareOptions
{
    /// <summary>Compare the nanosecond part of mtimes (false at protocol 30, which carries whole seconds
    /// only; then the seconds must still match).</summary>
    public bool CompareNanoseconds { get; init; } = true;

    public bool CompareDirectoryTimes { get; init; } = true;

    public bool CompareSymlinkTimes { get; init; } = true;

    /// <summary>Compare uid and gid.</summary>
    public bool CompareOwnership { get; init; } = true;

    /// <summary>Compare the two roots' own mode/owner/mtime (rsync applies them for "SRC/").</summary>
    public bool CompareRoot { get; init; } = true;

    /// <summary>The actual tree was received by an rsync daemon module with <c>use chroot = no</c>: such a
    /// daemon sanitizes received symlink targets (leading '/' stripped, "." and empty components
    /// dropped, ".." that would climb above the module root removed), so the expected target is the
    /// source target passed through <see cref="TreeComparer.SanitizeSymlinkTarget"/>.</summary>
    public bool ExpectSanitizedSymlinks { get; init; }

    /// <summary>Relative paths (e.g. "a/b.txt") to leave out on both sides, together with what is below them.</summary>
    public Func<string, bool>? Exclude { get; init; }

    /// <summary>How many differences a failure lists.</summary>
    public int MaxDifferences { get; init; } = 20;

    public static TreeCompareOptions Default { get; } = new();
}

/// <summary>One lstat'ed entry of a scanned tree. Paths are <see cref="NameText"/> strings: the names'
/// bytes, losslessly (a name that is not UTF-8 keeps every byte).</summary>
public sealed record TreeEntry(string RelativePath, string FullPath, PosixStat Stat, byte[]? LinkTarget);

/// <summary>Compares two directory trees the way a faithful `rsync -aH` copy must match its source.</summary>
public static class TreeComparer
{
    private const int ChunkSize = 1 << 20;

    /// <summary>Fails listing the first differences (at most <see cref="TreeCompareOptions.MaxDifferences"/>)
    /// between <paramref name="expected"/> and <paramref name="actual"/>: names, file types, permission
    /// bits (including setuid/setgid/sticky, from lstat's st_mode), sizes, contents byte for byte
    /// (streamed in 1 MiB chunks), symlink targets, mtimes (seconds, and nanoseconds if asked), uid/gid,
    /// device numbers, and the partition of regular files into hard-link groups.</summary>
    public static void AssertIdentical(string expected, string actual, TreeCompareOptions? options = null)
    {
        IReadOnlyList<string> diffs = FindDifferences(expected, actual, options);
        if (diffs.Count > 0)
        {
            int max = (options ?? TreeCompareOptions.Default).MaxDifferences;
            Assert.Fail($"trees differ (expected {expected}, actual {actual}); first {Math.Min(diffs.Count, max)} difference(s):\n  "
                + string.Join("\n  ", diffs.Take(max)) + (diffs.Count > max ? "\n  ..." : ""));
        }
    }

    /// <summary>The differences, at most MaxDifferences + 1 of them (the +1 says "there are more").</summary>
    public static IReadOnlyList<string> FindDifferences(string expected, string actual, TreeCompareOptions? options = null)
    {
        TreeCompareOptions o = options ?? TreeCompareOptions.Default;
        var diffs = new List<string>();
        bool Full() => diffs.Count > o.MaxDifferences;

        SortedDictionary<string, TreeEntry> left = Scan(expected, o.Exclude);
        SortedDictionary<string, TreeEntry> right = Scan(actual, o.Exclude);
        Dictionary<string, string> leftGroups = HardLinkGroups(left);
        Dictionary<string, string> rightGroups = HardLinkGroups(right);

        foreach (string name in left.Keys.Union(right.Keys).Order(StringComparer.Ordinal))
        {
            if (Full())
            {
                break;
            }
            bool inLeft = left.TryGetValue(name, out TreeEntry? e);
            bool inRight = right.TryGetValue(name, out TreeEntry? a);
            if (!inRight)
            {
                diffs.Add($"{Show(name)}: missing ({Describe(e!)} expected)");
                continue;
            }
            if (!inLeft)
            {
                diffs.Add($"{Show(name)}: unexpected ({Describe(a!)})");
                continue;
            }
            CompareEntry(e!, a!, o, diffs, leftGroups, rightGroups);
        }
        return diffs;
    }

    private static void CompareEntry(TreeEntry e, TreeEntry a, TreeCompareOptions o, List<string> diffs,
        Dictionary<string, string> leftGroups, Dictionary<string, string> rightGroups)
    {
        string n = Show(e.RelativePath);
        PosixStat es = e.Stat, ast = a.Stat;
        if (es.Type != ast.Type)
        {
            diffs.Add($"{n}: type {es.Type} expected, {ast.Type} found");
            return;
        }
        bool isRoot = e.RelativePath == ".";
        bool attributes = !isRoot || o.CompareRoot;

        if (attributes && es.Type != PosixFileType.Symlink && es.Permissions != ast.Permissions)
        {
            diffs.Add($"{n}: mode {Posix.Octal(es.Permissions)} expected, {Posix.Octal(ast.Permissions)} found");
        }
        if (attributes && o.CompareOwnership && (es.Uid != ast.Uid || es.Gid != ast.Gid))
        {
            diffs.Add($"{n}: owner {es.Uid}:{es.Gid} expected, {ast.Uid}:{ast.Gid} found");
        }
        bool compareTime = attributes && es.Type switch
        {
            PosixFileType.Directory => o.CompareDirectoryTimes,
            PosixFileType.Symlink => o.CompareSymlinkTimes,
            _ => true,
        };
        if (compareTime && (es.MtimeSeconds != ast.MtimeSeconds || (o.CompareNanoseconds && es.MtimeNanoseconds != ast.MtimeNanoseconds)))
        {
            diffs.Add($"{n}: mtime {FormatTime(es)} expected, {FormatTime(ast)} found{(o.CompareNanoseconds ? "" : " (seconds compared only)")}");
        }
        switch (es.Type)
        {
            case PosixFileType.Regular:
                if (es.Size != ast.Size)
                {
                    diffs.Add($"{n}: size {es.Size} expected, {ast.Size} found");
                }
                else
                {
                    long at = FirstDifference(e.FullPath, a.FullPath);
                    if (at >= 0)
                    {
                        diffs.Add($"{n}: content differs, first at byte offset {at}");
                    }
                }
                string lg = leftGroups[e.RelativePath], rg = rightGroups[a.RelativePath];
                if (lg != rg)
                {
                    diffs.Add($"{n}: hard-link group {{{lg}}} expected, {{{rg}}} found");
                }
                break;
            case PosixFileType.Symlink:
                byte[] expectedTarget = o.ExpectSanitizedSymlinks
                    ? NameText.ToBytes(SanitizeSymlinkTarget(e.RelativePath, NameText.FromBytes(e.LinkTarget!)))
                    : e.LinkTarget!;
                if (!expectedTarget.AsSpan().SequenceEqual(a.LinkTarget))
                {
                    diffs.Add($"{n}: symlink target {Show(NameText.FromBytes(expectedTarget))} expected, {Show(NameText.FromBytes(a.LinkTarget!))} found"
                        + (o.ExpectSanitizedSymlinks ? $" (source target {Show(NameText.FromBytes(e.LinkTarget!))}, sanitized as an unchrooted daemon does)" : ""));
                }
                break;
            case PosixFileType.CharDevice:
            case PosixFileType.BlockDevice:
                if (es.RdevMajor != ast.RdevMajor || es.RdevMinor != ast.RdevMinor)
                {
                    diffs.Add($"{n}: device {es.RdevMajor},{es.RdevMinor} expected, {ast.RdevMajor},{ast.RdevMinor} found");
                }
                break;
        }
    }

    /// <summary>What an unchrooted rsync daemon stores for a received symlink: rsync's
    /// <c>sanitize_path(target, depth)</c>, where depth is the number of directories above the link
    /// inside the module. Leading slashes, "." and empty components are dropped; up to depth leading
    /// ".." are kept; any other ".." removes the component before it (or itself, at the start);
    /// an empty result becomes ".".</summary>
    public static string SanitizeSymlinkTarget(string linkRelativePath, string target)
    {
        int depth = linkRelativePath.Count(c => c == '/');
        var parts = new List<string>();
        int start = 0; // parts before this index are kept leading ".."
        foreach (string comp in target.Split('/'))
        {
            if (comp.Length == 0 || comp == ".")
            {
                continue;
            }
            if (comp == "..")
            {
                if (depth <= 0 || parts.Count != start)
                {
                    if (parts.Count != start)
                    {
                        parts.RemoveAt(parts.Count - 1);
                    }
                    continue;
                }
                depth--;
                parts.Add("..");
                start = parts.Count;
                continue;
            }
            parts.Add(comp);
        }
        return parts.Count == 0 ? "." : string.Join('/', parts);
    }

    /// <summary>lstat's every entry below (and including, as ".") <paramref name="root"/>, without
    /// following symlinks; hidden (dot) files included. Directories are read with readdir(3) and names
    /// kept as bytes (<see cref="Posix.ReadDirectory"/>), so names that differ only in bytes that are not
    /// UTF-8 are told apart.</summary>
    public static SortedDictionary<string, TreeEntry> Scan(string root, Func<string, bool>? exclude = null)
    {
        root = Path.GetFullPath(root).TrimEnd('/');
        if (root.Length == 0)
        {
            root = "/";
        }
        var result = new SortedDictionary<string, TreeEntry>(StringComparer.Ordinal);
        PosixStat rootStat = Posix.LStat(root);
        if (rootStat.Type != PosixFileType.Directory)
        {
            Assert.Fail($"{root} is not a directory ({rootStat.Type})");
        }
        result["."] = new TreeEntry(".", root, rootStat, null);
        var pending = new Stack<(string Full, string Rel)>();
        pending.Push((root, ""));
        while (pending.Count > 0)
        {
            (string dirFull, string dirRel) = pending.Pop();
            foreach (string name in Posix.ReadDirectory(dirFull))
            {
                string full = dirFull + "/" + name;
                string rel = dirRel.Length == 0 ? name : dirRel + "/" + name;
                if (exclude?.Invoke(rel) == true)
                {
                    continue;
                }
                PosixStat st = Posix.LStat(full);
                byte[]? target = st.Type == PosixFileType.Symlink ? Posix.ReadLink(full) : null;
                result[rel] = new TreeEntry(rel, full, st, target);
                if (st.Type == PosixFileType.Directory)
                {
                    pending.Push((full, rel));
                }
            }
        }
        return result;
    }

    /// <summary>For every regular file: the sorted names of all files in the tree sharing its inode.</summary>
    private static Dictionary<string, string> HardLinkGroups(SortedDictionary<string, TreeEntry> tree)
    {
        var byInode = tree.Values.Where(v => v.Stat.Type == PosixFileType.Regular)
            .GroupBy(v => (v.Stat.Device, v.Stat.Inode));
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in byInode)
        {
            string joined = string.Join(", ", group.Select(g => Show(g.RelativePath)).Order(StringComparer.Ordinal));
            foreach (TreeEntry entry in group)
            {
                result[entry.RelativePath] = joined;
            }
        }
        return result;
    }

    /// <summary>Offset of the first differing byte of two files, or -1 if identical (including
    /// length). Reads both in 1 MiB chunks; never holds a whole file in memory.</summary>
    public static long FirstDifference(string path1, string path2)
    {
        using FileStream f1 = Posix.OpenRead(path1);
        using FileStream f2 = Posix.OpenRead(path2);
        // Pooled: a tree of many small files would otherwise allocate two chunks per file.
        byte[] b1 = System.Buffers.ArrayPool<byte>.Shared.Rent(ChunkSize);
        byte[] b2 = System.Buffers.ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            return FirstDifference(f1, f2, b1, b2);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(b1);
            System.Buffers.ArrayPool<byte>.Shared.Return(b2);
        }
    }

    private static long FirstDifference(FileStream f1, FileStream f2, byte[] b1, byte[] b2)
    {
        long offset = 0;
        while (true)
        {
            int n1 = f1.ReadAtLeast(b1, ChunkSize, throwOnEndOfStream: false);
            int n2 = f2.ReadAtLeast(b2, ChunkSize, throwOnEndOfStream: false);
            int common = Math.Min(n1, n2);
            int mismatch = b1.AsSpan(0, common).CommonPrefixLength(b2.AsSpan(0, common));
            if (mismatch < common)
            {
                return offset + mismatch;
            }
            if (n1 != n2)
            {
                return offset + common;
            }
            if (n1 == 0)
            {
                return -1;
            }
            offset += n1;
        }
    }

    private static string Describe(TreeEntry e) => e.Stat.Type switch
    {
        PosixFileType.Regular => $"file of {e.Stat.Size} bytes",
        PosixFileType.Symlink => $"symlink to {Show(NameText.FromBytes(e.LinkTarget!))}",
        PosixFileType.Directory => "directory",
        var t => t.ToString(),
    };

    private static string FormatTime(PosixStat s) =>
        $"{DateTimeOffset.FromUnixTimeSeconds(s.MtimeSeconds):yyyy-MM-dd HH:mm:ss}.{s.MtimeNanoseconds:D9} ({s.MtimeSeconds}s+{s.MtimeNanoseconds}ns)";

    /// <summary>A name quoted so that newlines, tabs and bytes that are not UTF-8 (\xNN) are visible.</summary>
    public static string Show(string name) =>
        "\"" + ShowBytes(name.Replace("\\", "\\\\").Replace("\n", "\\n").Replace("\t", "\\t").Replace("\"", "\\\"")) + "\"";

    /// <summary>A <see cref="NameText"/> string with each byte that is not UTF-8 written as \xNN and
    /// other control characters as \u00NN.</summary>
    public static string ShowBytes(string text)
    {
        if (!NameText.HasEscapedBytes(text) && !text.Any(char.IsControl))
        {
            return text;
        }
        var sb = new StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            if (c >= '\uDC80' && c <= '\uDCFF')
            {
                sb.Append($"\\x{c - 0xDC00:x2}");
            }
            else if (char.IsControl(c))
            {
                sb.Append($"\\u{(int)c:x4}");
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }
}
