using System.Text;

namespace NetRsync.SerSync;

/// <summary>
/// Paths are bytes (any byte string without NUL; '/' separates components), from the inotify event
/// to the --files-from list. These are the few operations on them, and the one way to show one.
/// </summary>
public static class Names
{
    /// <summary>Equality and byte-wise order (rsync's order, and the order of an ordinal sort of UTF-8).</summary>
    public static NetRsync.Protocol.Text.ByteNameComparer Comparer => NetRsync.Protocol.Text.ByteNameComparer.Instance;

    public static byte[] Empty { get; } = [];

    /// <summary>DIR/NAME, or NAME when DIR is the root ("").</summary>
    public static byte[] Join(ReadOnlySpan<byte> dir, ReadOnlySpan<byte> name)
    {
        if (dir.IsEmpty)
            return name.ToArray();
        var joined = new byte[dir.Length + 1 + name.Length];
        dir.CopyTo(joined);
        joined[dir.Length] = (byte)'/';
        name.CopyTo(joined.AsSpan(dir.Length + 1));
        return joined;
    }

    /// <summary>The last component.</summary>
    public static ReadOnlySpan<byte> FileName(ReadOnlySpan<byte> path) => path[(path.LastIndexOf((byte)'/') + 1)..];

    /// <summary>"a", "a/b" for "a/b/c".</summary>
    public static IEnumerable<byte[]> Parents(byte[] path)
    {
        for (int slash = Array.IndexOf(path, (byte)'/'); slash > 0; slash = Array.IndexOf(path, (byte)'/', slash + 1))
            yield return path[..slash];
    }

    /// <summary>True when <paramref name="path"/> lies strictly below <paramref name="dir"/> ("" holds everything).</summary>
    public static bool IsUnder(ReadOnlySpan<byte> path, ReadOnlySpan<byte> dir) =>
        dir.IsEmpty ? !path.IsEmpty : path.Length > dir.Length && path[dir.Length] == (byte)'/' && path.StartsWith(dir);

    /// <summary>The path itself or something below it.</summary>
    public static bool IsSelfOrUnder(ReadOnlySpan<byte> path, ReadOnlySpan<byte> dir) => path.SequenceEqual(dir) || IsUnder(path, dir);

    /// <summary>
    /// A path for a person to read, escaped as rsync escapes names in its output for a UTF-8 locale
    /// (log.c, filtered_fwrite and the iconv branch of rwrite): a byte that is not part of valid UTF-8,
    /// a control character other than tab, and the backslash of a literal "\#ddd" become \#ooo (octal).
    /// </summary>
    public static string Display(ReadOnlySpan<byte> path)
    {
        var sb = new StringBuilder(path.Length + 8);
        Span<char> pair = stackalloc char[2];
        int i = 0;
        while (i < path.Length)
        {
            byte b = path[i];
            if (b < 0x80)
            {
                bool literalEscape = b == (byte)'\\' && i + 4 < path.Length && path[i + 1] == (byte)'#'
                    && char.IsAsciiDigit((char)path[i + 2]) && char.IsAsciiDigit((char)path[i + 3]) && char.IsAsciiDigit((char)path[i + 4]);
                if ((b < 0x20 && b != (byte)'\t') || literalEscape)
                    AppendOctal(sb, b);
                else
                    sb.Append((char)b);
                i++;
                continue;
            }
            if (System.Buffers.OperationStatus.Done == Rune.DecodeFromUtf8(path[i..], out var rune, out int used))
            {
                sb.Append(pair[..rune.EncodeToUtf16(pair)]);
                i += used;
            }
            else
            {
                AppendOctal(sb, b);
                i++;
            }
        }
        return sb.ToString();
    }

    private static void AppendOctal(StringBuilder sb, byte b) =>
        sb.Append('\\').Append('#').Append((char)('0' + (b >> 6))).Append((char)('0' + ((b >> 3) & 7))).Append((char)('0' + (b & 7)));

    /// <summary>True when the bytes are valid UTF-8 (and so read back exactly from a .NET string).</summary>
    public static bool IsUtf8(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);
}
