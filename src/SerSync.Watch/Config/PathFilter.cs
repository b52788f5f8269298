using System.Text.RegularExpressions;

namespace NetRsync.SerSync.Config;

/// <summary>
/// Decides which paths are watched and pushed. The rule, the same at startup and at run time: each
/// &lt;exclude expression&gt; is a .NET regular expression matched against the whole path relative to
/// the watch root ("dir/file.php", no leading slash); a path is excluded when it or any of its parent
/// directories matches. Editor scratch files (vim swap files, emacs lock and backup files, gedit's
/// .goutputstream-*, vim's 4913 probe) are ignored as well: only the file they become is pushed.
/// </summary>
public sealed class PathFilter
{
    private readonly Regex[] _excludes;

    public PathFilter(IEnumerable<string> excludeExpressions)
    {
        _excludes = excludeExpressions
            .Select(e => new Regex(@"\A(?:" + e + @")\z", RegexOptions.CultureInvariant | RegexOptions.Compiled))
            .ToArray();
    }

    public static PathFilter None { get; } = new([]);

    /// <summary>True when <paramref name="relativePath"/> itself matches an expression (parents not checked).</summary>
    public bool ExcludesItself(string relativePath)
    {
        foreach (var regex in _excludes)
            if (regex.IsMatch(relativePath))
                return true;
        return false;
    }

    /// <summary>True when the path, or a directory above it, is excluded or an editor scratch file.</summary>
    public bool Excludes(string relativePath)
    {
        if (IsEditorScratch(FileName(relativePath)))
            return true;
        if (_excludes.Length == 0)
            return false;
        for (int slash = relativePath.IndexOf('/'); slash > 0; slash = relativePath.IndexOf('/', slash + 1))
            if (ExcludesItself(relativePath[..slash]))
                return true;
        return ExcludesItself(relativePath);
    }

    private static string FileName(string relativePath)
    {
        int slash = relativePath.LastIndexOf('/');
        return slash < 0 ? relativePath : relativePath[(slash + 1)..];
    }

    /// <summary>Temporary names editors write and rename or delete moments later.</summary>
    public static bool IsEditorScratch(string name) =>
        name == "4913"
        || name.EndsWith('~')
        || (name.StartsWith('.') && (name.EndsWith(".swp", StringComparison.Ordinal) || name.EndsWith(".swx", StringComparison.Ordinal) || name.EndsWith(".swpx", StringComparison.Ordinal)))
        || name.StartsWith(".#", StringComparison.Ordinal)
        || (name.Length > 1 && name.StartsWith('#') && name.EndsWith('#'))
        || name.StartsWith(".goutputstream-", StringComparison.Ordinal);
}
