using System.Buffers;
using System.Runtime.InteropServices;

namespace NetRsync.Protocol.Text;

/// <summary>
/// How rsync writes a message line that may hold a file name, so a name cannot garble a terminal or
/// split a log line. Bytes the line's charset cannot show become "\#ooo" (three octal digits); so do
/// control bytes other than tab, and the backslash of a literal "\#ddd", so every escape reads back
/// unambiguously (log.c, rwrite and filtered_fwrite).
/// </summary>
public sealed partial class OutputEscape
{
    // iconv hands rwrite at most 1023 converted bytes at a time (its 1024-byte buffer keeps one for a
    // NUL), and a literal "\#ddd" is only seen within one such piece (log.c, rwrite; rsync.c, iconvbufs).
    private const int ConvertedChunk = 1023;

    private enum Mode
    {
        /// <summary>The locale's charset is UTF-8: valid sequences pass.</summary>
        Utf8,

        /// <summary>The C/POSIX locale: every byte above 0x7f is escaped.</summary>
        Ascii,

        /// <summary>Any other charset: libc's iconv decides what is valid, as it does for rsync.</summary>
        Iconv,

        /// <summary>-8, or no conversion available: only control bytes and "\#ddd" (filtered_fwrite without isprint).</summary>
        EightBit,

        /// <summary>iconv could not open the charset: bytes isprint() refuses are escaped; approximated by printable ASCII.</summary>
        Printable,

        /// <summary>A log file: control bytes, "\#ddd" and the C1 range 0x80-0x9f (rsync 3.5's logit).</summary>
        LogFile,
    }

    private readonly Mode _mode;
    private readonly nint _iconv = -1;
    private readonly object _iconvGate = new();

    private OutputEscape(Mode mode, string charset, nint iconv = -1)
    {
        _mode = mode;
        Charset = charset;
        _iconv = iconv;
    }

    /// <summary>The charset whose valid characters pass unescaped (nl_langinfo(CODESET) for the locale).</summary>
    public string Charset { get; }

    /// <summary>-8/--8-bit-output: high bytes pass as they are; control bytes are still escaped.</summary>
    public static OutputEscape EightBit { get; } = new(Mode.EightBit, "");

    /// <summary>
    /// Lines of a log file (the daemon's "log file", --log-file): rsync 3.5 escapes control bytes,
    /// "\#ddd" and C1 bytes there and keeps the line's newline (log.c, logit); 3.1.1 wrote them raw.
    /// </summary>
    public static OutputEscape LogFile { get; } = new(Mode.LogFile, "");

    private static readonly Lazy<OutputEscape> LocaleEscape = new(() => ForCharset(LocaleCharset));
    private static readonly Lazy<string> LocaleCharsetValue = new(ReadLocaleCharset);

    /// <summary>
    /// The charset of the environment's LC_CTYPE locale, as rsync sees it after setlocale(LC_CTYPE, "")
    /// (main.c, main; rsync.c, default_charset): "UTF-8", or "ANSI_X3.4-1968" for C, POSIX and any
    /// locale that is not installed.
    /// </summary>
    public static string LocaleCharset => LocaleCharsetValue.Value;

    /// <summary>What a client writes to its terminal: checked against the locale's charset unless -8 (rsync.c, setup_iconv).</summary>
    public static OutputEscape ForConsole(bool eightBitOutput) => eightBitOutput ? EightBit : LocaleEscape.Value;

    /// <summary>Checks lines against <paramref name="charset"/> (a name iconv knows, as nl_langinfo gives it).</summary>
    public static OutputEscape ForCharset(string charset)
    {
        string key = charset.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToUpperInvariant();
        if (key is "UTF8")
            return new OutputEscape(Mode.Utf8, charset);
        if (key is "ANSIX3.41968" or "ASCII" or "USASCII" or "")
            return new OutputEscape(Mode.Ascii, charset);
        nint cd = OpenIconv(charset);
        return cd == -1 ? new OutputEscape(Mode.Printable, charset) : new OutputEscape(Mode.Iconv, charset, cd);
    }

    /// <summary>Only for tests: the same check done by libc's iconv, whatever the charset.</summary>
    internal static OutputEscape ThroughIconv(string charset)
    {
        nint cd = OpenIconv(charset);
        return cd == -1 ? throw new ArgumentException($"iconv cannot open {charset}", nameof(charset)) : new OutputEscape(Mode.Iconv, charset, cd);
    }

    /// <summary>The bytes of <paramref name="line"/> (a <see cref="NameText"/> string) as rsync writes them.</summary>
    public byte[] Escape(string line)
    {
        var raw = new ArrayBufferWriter<byte>(line.Length + 16);
        NameText.Append(line, raw);
        var output = new ArrayBufferWriter<byte>(raw.WrittenCount + 16);
        Write(raw.WrittenSpan, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Writes <paramref name="line"/> escaped. A leading carriage return and one trailing newline or
    /// carriage return stay as they are (log.c, rwrite); any other line break inside is escaped.
    /// </summary>
    public void Write(ReadOnlySpan<byte> line, IBufferWriter<byte> output)
    {
        byte trailing = 0;
        if (!line.IsEmpty && line[^1] is (byte)'\n' or (byte)'\r')
        {
            trailing = line[^1];
            line = line[..^1];
        }
        if (_mode != Mode.LogFile && !line.IsEmpty && line[0] == '\r')
        {
            Put(output, (byte)'\r');
            line = line[1..];
        }
        switch (_mode)
        {
            case Mode.Utf8:
            case Mode.Ascii:
                WriteChecked(line, output);
                break;
            case Mode.Iconv:
                WriteThroughIconv(line, output);
                break;
            default:
                Filter(line, output, printableOnly: _mode == Mode.Printable, escapeC1: _mode == Mode.LogFile);
                break;
        }
        if (trailing != 0)
            Put(output, trailing);
    }

    /// <summary>
    /// Valid characters pass in pieces of at most 1023 bytes, each filtered for control bytes and
    /// "\#ddd"; each byte that does not start a valid character is escaped alone and the check resumes
    /// at the next byte, as rwrite does with iconv's EILSEQ and EINVAL.
    /// </summary>
    private void WriteChecked(ReadOnlySpan<byte> line, IBufferWriter<byte> output)
    {
        int pos = 0;
        while (pos < line.Length)
        {
            int start = pos;
            int length;
            while (pos < line.Length && (length = CharLength(line[pos..])) > 0 && pos + length - start <= ConvertedChunk)
                pos += length;
            if (pos > start)
            {
                Filter(line[start..pos], output, printableOnly: false, escapeC1: false);
                continue;
            }
            Octal(output, line[pos++]);
        }
    }

    /// <summary>The length of the valid character at the start of <paramref name="s"/>, or 0 when there is none.</summary>
    private int CharLength(ReadOnlySpan<byte> s) => _mode == Mode.Ascii ? (s[0] < 0x80 ? 1 : 0) : Utf8CharLength(s);

    /// <summary>
    /// A UTF-8 character as glibc's converter takes it: one to six bytes for values up to 0x7fffffff,
    /// the shortest form only, no UTF-16 surrogates. An incomplete sequence at the end is invalid.
    /// </summary>
    internal static int Utf8CharLength(ReadOnlySpan<byte> s)
    {
        byte lead = s[0];
        if (lead < 0x80)
            return 1;
        int length;
        uint value;
        uint minimum;
        if (lead is >= 0xC2 and <= 0xDF)
            (length, value, minimum) = (2, lead & 0x1Fu, 0x80);
        else if (lead is >= 0xE0 and <= 0xEF)
            (length, value, minimum) = (3, lead & 0x0Fu, 0x800);
        else if (lead is >= 0xF0 and <= 0xF7)
            (length, value, minimum) = (4, lead & 0x07u, 0x10000);
        else if (lead is >= 0xF8 and <= 0xFB)
            (length, value, minimum) = (5, lead & 0x03u, 0x200000);
        else if (lead is 0xFC or 0xFD)
            (length, value, minimum) = (6, lead & 0x01u, 0x4000000);
        else
            return 0;
        if (s.Length < length)
            return 0;
        for (int i = 1; i < length; i++)
        {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            value = (value << 6) | (s[i] & 0x3Fu);
        }
        if (value < minimum || value is >= 0xD800 and <= 0xDFFF)
            return 0;
        return length;
    }

    /// <summary>
    /// Escapes control bytes other than tab and the backslash of "\#ddd"; with <paramref name="printableOnly"/>
    /// every byte outside printable ASCII, with <paramref name="escapeC1"/> also 0x80-0x9f (log.c, filtered_fwrite).
    /// </summary>
    private static void Filter(ReadOnlySpan<byte> s, IBufferWriter<byte> output, bool printableOnly, bool escapeC1)
    {
        int plain = 0;
        for (int i = 0; i < s.Length; i++)
        {
            byte b = s[i];
            bool literalEscape = b == '\\' && i + 4 < s.Length && s[i + 1] == '#'
                && char.IsAsciiDigit((char)s[i + 2]) && char.IsAsciiDigit((char)s[i + 3]) && char.IsAsciiDigit((char)s[i + 4]);
            bool escape = literalEscape
                || (b != '\t' && (b < 0x20 || (printableOnly && b >= 0x7F) || (escapeC1 && b is >= 0x80 and <= 0x9F)));
            if (!escape)
                continue;
            output.Write(s[plain..i]);
            Octal(output, b);
            plain = i + 1;
        }
        output.Write(s[plain..]);
    }

    private static void Octal(IBufferWriter<byte> output, byte b)
    {
        var span = output.GetSpan(5);
        span[0] = (byte)'\\';
        span[1] = (byte)'#';
        span[2] = (byte)('0' + (b >> 6));
        span[3] = (byte)('0' + ((b >> 3) & 7));
        span[4] = (byte)('0' + (b & 7));
        output.Advance(5);
    }

    private static void Put(IBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }

    /// <summary>rwrite's own loop over iconv: converted pieces are filtered, each refused byte is escaped.</summary>
    private unsafe void WriteThroughIconv(ReadOnlySpan<byte> line, IBufferWriter<byte> output)
    {
        const int E2Big = 7, EInval = 22, EIlseq = 84;
        byte* converted = stackalloc byte[ConvertedChunk];
        lock (_iconvGate)
        {
            Iconv(_iconv, null, null, null, null);
            fixed (byte* start = line)
            {
                byte* input = start;
                nuint left = (nuint)line.Length;
                while (left > 0)
                {
                    byte* outPtr = converted;
                    nuint room = ConvertedChunk;
                    nuint rc = Iconv(_iconv, &input, &left, &outPtr, &room);
                    int errno = rc == unchecked((nuint)(-1)) ? Marshal.GetLastPInvokeError() : 0;
                    int produced = (int)(outPtr - converted);
                    if (produced > 0)
                        Filter(new ReadOnlySpan<byte>(converted, produced), output, printableOnly: false, escapeC1: false);
                    if (errno is EIlseq or EInval && left > 0)
                    {
                        Octal(output, *input++);
                        left--;
                    }
                    else if (errno != 0 && errno != E2Big)
                    {
                        // Anything else would loop for ever; show the rest as bytes.
                        Filter(new ReadOnlySpan<byte>(input, (int)left), output, printableOnly: true, escapeC1: false);
                        break;
                    }
                }
            }
        }
    }

    private static nint OpenIconv(string charset)
    {
        try
        {
            return IconvOpen(charset, charset);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }

    /// <summary>nl_langinfo(CODESET) of the locale the environment names for LC_CTYPE, read without changing the process's locale.</summary>
    private static string ReadLocaleCharset()
    {
        const int LcCtypeMask = 1 << 0, Codeset = 14; // glibc and musl values
        try
        {
            nint locale = NewLocale(LcCtypeMask, "", 0);
            if (locale == 0)
                return "ANSI_X3.4-1968"; // setlocale fails and C stays in force
            try
            {
                return Marshal.PtrToStringUTF8(NlLanginfoL(Codeset, locale)) ?? "ANSI_X3.4-1968";
            }
            finally
            {
                FreeLocale(locale);
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            string name = Environment.GetEnvironmentVariable("LC_ALL") is { Length: > 0 } all ? all
                : Environment.GetEnvironmentVariable("LC_CTYPE") is { Length: > 0 } ctype ? ctype
                : Environment.GetEnvironmentVariable("LANG") ?? "";
            return name.Contains("UTF-8", StringComparison.OrdinalIgnoreCase) || name.Contains("utf8", StringComparison.OrdinalIgnoreCase)
                ? "UTF-8" : "ANSI_X3.4-1968";
        }
    }

    [LibraryImport("libc", EntryPoint = "newlocale", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint NewLocale(int categoryMask, string locale, nint baseLocale);

    [LibraryImport("libc", EntryPoint = "nl_langinfo_l")]
    private static partial nint NlLanginfoL(int item, nint locale);

    [LibraryImport("libc", EntryPoint = "freelocale")]
    private static partial void FreeLocale(nint locale);

    [LibraryImport("libc", EntryPoint = "iconv_open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint IconvOpen(string toCode, string fromCode);

    [LibraryImport("libc", EntryPoint = "iconv", SetLastError = true)]
    private static unsafe partial nuint Iconv(nint cd, byte** input, nuint* inputLeft, byte** output, nuint* outputLeft);
}
