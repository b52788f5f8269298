using System.Text;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.Filters;

namespace NetRsync.Protocol.Compression;

/// <summary>
/// Which files go out uncompressed (token.c, init_set_compression and set_compression): the
/// suffixes of --skip-compress ("gz/jpg/mp[34]"), and the space-separated "dont compress" list of
/// the daemon module, or rsync's default list when neither a module nor --skip-compress says
/// otherwise. "*.suffix" entries are plain suffixes; other entries are wildcard patterns matched
/// against the file's last path element; everything is compared without regard to ASCII case; a
/// "*" entry skips compression for every file.
/// <para>
/// How stock rsync applies the answer: rsync 3.1.1 computes a level per file, but its deflater
/// takes a level only when it is first created (later files reuse it through deflateReset), so
/// in practice only a "*" entry, or the first compressed file's verdict, changes anything; rsync
/// 3.2+ no longer computes per-file levels at all and only honours "*". The receiver never needs
/// to know the level, so any choice here stays compatible.
/// </para>
/// </summary>
internal sealed class SkipCompress
{
    /// <summary>rsync 3.1.1's default list (loadparm.c, DEFAULT_DONT_COMPRESS).</summary>
    public const string Rsync311Default = DaemonParameters.DefaultDontCompress;

    /// <summary>rsync 3.2+'s default list (generated from the --skip-compress section of rsync.1.md at 3.4.1).</summary>
    public const string Rsync34Default =
        "*.3g2 *.3gp *.7z *.aac *.ace *.apk *.avi *.bz2 *.deb *.dmg *.ear *.f4v *.flac *.flv *.gpg *.gz"
        + " *.iso *.jar *.jpeg *.jpg *.lrz *.lz *.lz4 *.lzma *.lzo *.m1a *.m1v *.m2a *.m2ts *.m2v *.m4a"
        + " *.m4b *.m4p *.m4r *.m4v *.mka *.mkv *.mov *.mp1 *.mp2 *.mp3 *.mp4 *.mpa *.mpeg *.mpg *.mpv"
        + " *.mts *.odb *.odf *.odg *.odi *.odm *.odp *.ods *.odt *.oga *.ogg *.ogm *.ogv *.ogx *.opus"
        + " *.otg *.oth *.otp *.ots *.ott *.oxt *.png *.qt *.rar *.rpm *.rz *.rzip *.spx *.squashfs *.sxc"
        + " *.sxd *.sxg *.sxm *.sxw *.sz *.tbz *.tbz2 *.tgz *.tlz *.ts *.txz *.tzo *.vob *.war *.webm"
        + " *.webp *.xz *.z *.zip *.zst";

    private const int MaxStackName = 512;

    private readonly HashSet<string> _suffixes = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _suffixLookup;
    private readonly List<byte[]> _patterns = [];
    private int _longestSuffix;

    private SkipCompress() => _suffixLookup = _suffixes.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>True when the list held "*": no file is compressed.</summary>
    public bool SkipsEverything { get; private set; }

    /// <summary>True when no file can be skipped.</summary>
    public bool SkipsNothing => !SkipsEverything && _patterns.Count == 0 && _suffixes.Count == 0;

    /// <param name="skipCompressOption">The --skip-compress value, or null when not given.</param>
    /// <param name="moduleDontCompress">The module's "dont compress" value (daemon side), or null outside a daemon.</param>
    /// <param name="inDaemonModule">True on a daemon's side of a module transfer.</param>
    /// <param name="defaultList">The list that applies when nothing else does (rsync 3.1.1's by default).</param>
    public static SkipCompress Create(string? skipCompressOption, string? moduleDontCompress, bool inDaemonModule, string defaultList = Rsync311Default)
    {
        var skip = new SkipCompress();
        if (skipCompressOption is not null)
            skip.AddSuffixes(skipCompressOption);
        // Outside a daemon, --skip-compress replaces the default list instead of adding to it.
        string list = inDaemonModule ? moduleDontCompress ?? defaultList : skipCompressOption is not null ? "" : defaultList;
        skip.AddList(list);
        return skip;
    }

    /// <summary>The level for a file: <paramref name="skipLevel"/> when it is skipped, else <paramref name="level"/>.</summary>
    public int LevelFor(ReadOnlySpan<byte> path, int level, int skipLevel = 0) => Skips(path) ? skipLevel : level;

    public bool Skips(string path) => Skips(Encoding.UTF8.GetBytes(path));

    /// <summary>Whether the file at <paramref name="path"/> (its name bytes, directories allowed) goes out uncompressed.</summary>
    public bool Skips(ReadOnlySpan<byte> path)
    {
        if (SkipsEverything)
            return true;
        if (SkipsNothing)
            return false;
        int slash = path.LastIndexOf((byte)'/');
        ReadOnlySpan<byte> name = slash >= 0 ? path[(slash + 1)..] : path;

        if (_patterns.Count > 0)
        {
            Span<byte> lower = name.Length <= MaxStackName ? stackalloc byte[MaxStackName] : new byte[name.Length];
            lower = lower[..name.Length];
            for (int i = 0; i < name.Length; i++)
                lower[i] = ToLower(name[i]);
            foreach (byte[] pattern in _patterns)
            {
                if (WildMatch.Match(pattern, lower))
                    return true;
            }
        }

        int dot = name.LastIndexOf((byte)'.');
        if (dot <= 0 || dot == name.Length - 1 || name.Length - dot - 1 > _longestSuffix)
            return false;
        ReadOnlySpan<byte> suffix = name[(dot + 1)..];
        Span<char> key = suffix.Length <= MaxStackName ? stackalloc char[MaxStackName] : new char[suffix.Length];
        key = key[..suffix.Length];
        for (int i = 0; i < suffix.Length; i++)
            key[i] = (char)ToLower(suffix[i]);
        return _suffixLookup.Contains(key);
    }

    private static byte ToLower(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + 32) : b;

    private static string Lower(string text)
    {
        var chars = text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (chars[i] is >= 'A' and <= 'Z')
                chars[i] = (char)(chars[i] + 32);
        }
        return new string(chars);
    }

    /// <summary>--skip-compress: suffixes separated by '/' (token.c, add_nocompress_suffixes).</summary>
    private void AddSuffixes(string option)
    {
        foreach (string suffix in option.Split('/', StringSplitOptions.RemoveEmptyEntries))
            AddSuffix(Lower(suffix));
    }

    /// <summary>The "dont compress" list: entries separated by spaces (token.c, init_set_compression).</summary>
    private void AddList(string list)
    {
        foreach (string raw in list.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string entry = Lower(raw);
            if (entry == "*")
            {
                // Everything is skipped; the suffixes and patterns no longer matter.
                SkipsEverything = true;
                _patterns.Clear();
                _suffixes.Clear();
                return;
            }
            if (entry.Length > 2 && entry.StartsWith("*.", StringComparison.Ordinal) && entry.AsSpan(2).IndexOfAny(".?*") < 0)
                AddSuffix(entry[2..]);
            else
                _patterns.Add(Encoding.UTF8.GetBytes(entry));
        }
    }

    /// <summary>
    /// A suffix, where "[abc]" stands for any one of a, b, c (token.c, add_suffix): a class of one
    /// character, or a '[' without a ']', is a literal '['; an empty class "[]" adds nothing.
    /// </summary>
    private void AddSuffix(string suffix)
    {
        var expanded = new List<string>();
        Expand(suffix, 0, new StringBuilder(), expanded);
        foreach (string text in expanded)
        {
            // Keys hold one char per name byte, as the lookup builds them.
            string s = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(text));
            _suffixes.Add(s);
            _longestSuffix = Math.Max(_longestSuffix, s.Length);
        }
    }

    private static void Expand(string pattern, int position, StringBuilder prefix, List<string> output)
    {
        for (; position < pattern.Length; position++)
        {
            char c = pattern[position];
            int close = c == '[' ? pattern.IndexOf(']', position + 1) : -1;
            if (close >= 0 && close != position + 2)
            {
                for (int i = position + 1; i < close; i++)
                {
                    int length = prefix.Length;
                    prefix.Append(pattern[i]);
                    Expand(pattern, close + 1, prefix, output);
                    prefix.Length = length;
                }
                return;
            }
            prefix.Append(c);
        }
        output.Add(prefix.ToString());
    }
}
