using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using NetRsync.Protocol.Text;

namespace NetRsync.SerSync.Config;

/// <summary>
/// Decides which paths are watched and pushed. The rule, the same at startup and at run time: each
/// &lt;exclude expression&gt; is a .NET regular expression matched against the whole path relative to
/// the watch root ("dir/file.php", no leading slash); a path is excluded when it or any of its parent
/// directories matches. Editor scratch files (vim swap files, emacs lock and backup files, gedit's
/// .goutputstream-*, vim's 4913 probe) are ignored as well: only the file they become is pushed.
/// </summary>
/// <remarks>
/// Paths are bytes, and so is the matching: the expression and the path are both read one byte to one
/// character, so '.' matches one byte, a literal "é" in the expression matches its two UTF-8 bytes, and
/// \xE9 matches the single byte 0xE9 (a Latin-1 é). Any name can be matched, whatever its encoding.
/// </remarks>
public sealed class PathFilter
{
    private const int StackChars = 512;
    private readonly Regex[] _excludes;

    public PathFilter(IEnumerable<string> excludeExpressions)
    {
        _excludes = excludeExpressions.Select(e => ByteRegex(e, RegexOptions.Compiled)).ToArray();
    }

    public static PathFilter None { get; } = new([]);

    /// <summary>An expression from the config (text) as a whole-string regex over byte-per-character text.</summary>
    public static Regex ByteRegex(string expression, RegexOptions options = RegexOptions.None) =>
        new(@"\A(?:" + Encoding.Latin1.GetString(NameText.ToBytes(expression)) + @")\z", RegexOptions.CultureInvariant | options);

    /// <summary>True when one of <paramref name="expressions"/> matches all of <paramref name="path"/>, byte for byte.</summary>
    public static bool AnyMatches(Regex[] expressions, ReadOnlySpan<byte> path)
    {
        if (expressions.Length == 0)
            return false;
        char[]? rented = null;
        Span<char> text = path.Length <= StackChars ? stackalloc char[StackChars] : (rented = ArrayPool<char>.Shared.Rent(path.Length));
        try
        {
            text = text[..Encoding.Latin1.GetChars(path, text)];
            foreach (var regex in expressions)
                if (regex.IsMatch(text))
                    return true;
            return false;
        }
        finally
        {
            if (rented is not null)
                ArrayPool<char>.Shared.Return(rented);
        }
    }

    /// <summary>True when <paramref name="relativePath"/> itself matches an expression (parents not checked).</summary>
    public bool ExcludesItself(ReadOnlySpan<byte> relativePath) => AnyMatches(_excludes, relativePath);

    /// <summary>True when the path, or a directory above it, is excluded or an editor scratch file.</summary>
    public bool Excludes(ReadOnlySpan<byte> relativePath)
    {
        if (IsEditorScratch(Names.FileName(relativePath)))
            return true;
        if (_excludes.Length == 0)
            return false;
        for (int slash = relativePath.IndexOf((byte)'/'); slash > 0; slash = NextSlash(relativePath, slash))
            if (ExcludesItself(relativePath[..slash]))
                return true;
        return ExcludesItself(relativePath);
    }

    private static int NextSlash(ReadOnlySpan<byte> path, int slash)
    {
        int next = path[(slash + 1)..].IndexOf((byte)'/');
        return next < 0 ? -1 : slash + 1 + next;
    }

    /// <summary>Temporary names editors write and rename or delete moments later.</summary>
    public static bool IsEditorScratch(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("4913"u8)
        || name.EndsWith("~"u8)
        || (name.StartsWith("."u8) && (name.EndsWith(".swp"u8) || name.EndsWith(".swx"u8) || name.EndsWith(".swpx"u8)))
        || name.StartsWith(".#"u8)
        || (name.Length > 1 && name[0] == (byte)'#' && name[^1] == (byte)'#')
        || name.StartsWith(".goutputstream-"u8);
}
