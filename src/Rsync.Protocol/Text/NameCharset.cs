using System.Text;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Text;

/// <summary>
/// The local side of --iconv: names are held in this charset on disk and travel as UTF-8
/// (rsync.c, setup_iconv opens ic_send as local to UTF-8 and ic_recv as UTF-8 to local).
/// A name that cannot be converted is refused, never mangled: every conversion is strict.
/// </summary>
public sealed class NameCharset
{
    /// <summary>What rsync calls UTF-8 on the wire (rsync.h, UTF8_CHARSET).</summary>
    public const string WireCharset = "UTF-8";

    private const int EILSEQ = 84;

    private static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Encoding _local;
    private readonly bool _localIsUtf8;
    // .NET's code page 936 gives its user-defined areas (and 0xFF) private-use characters, which
    // glibc's GBK refuses as invalid; they are refused here too.
    private readonly bool _refusePrivateUse;
    // Bytes below 0x80 mean the same in both charsets, so such names need no conversion.
    private readonly bool _asciiCompatible;

    static NameCharset() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    private NameCharset(string name, Encoding local)
    {
        Name = name;
        _local = local;
        _localIsUtf8 = local.CodePage == Encoding.UTF8.CodePage;
        _asciiCompatible = IsAsciiCompatible(local);
        _refusePrivateUse = local.CodePage == 936;
    }

    /// <summary>The charset as it was named (after "." was resolved to the locale's).</summary>
    public string Name { get; }

    /// <summary>
    /// The charset named as iconv_open takes it; "." or "" is the locale's (rsync.c, setup_iconv;
    /// default_charset). Null when .NET has no such charset.
    /// </summary>
    public static NameCharset? TryResolve(string name)
    {
        if (name.Length == 0 || name == ".")
            name = LocaleCharset();
        int codePage = CodePageOf(name);
        try
        {
            Encoding e = codePage > 0
                ? Encoding.GetEncoding(codePage, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback)
                : Encoding.GetEncoding(name, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);
            // A name must not gain NUL bytes: charsets wider than a byte per ASCII character are no use.
            if (!IsAsciiSafe(e))
                return null;
            return new NameCharset(name, e);
        }
        catch (ArgumentException)
        {
            return null;
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>As <see cref="TryResolve"/>, failing as rsync does when iconv_open refuses the name (rsync.c, setup_iconv).</summary>
    public static NameCharset Resolve(string name) =>
        TryResolve(name) ?? throw new RsyncException(
            $"iconv_open(\"{WireCharset}\", \"{(name.Length == 0 || name == "." ? LocaleCharset() : name)}\") failed", ExitCodes.Unsupported);

    /// <summary>
    /// The charset this side converts with for an --iconv value: a client uses the part before the
    /// comma, a server the part after it (rsync.c, setup_iconv). Null for no conversion.
    /// </summary>
    public static NameCharset? ForOption(string? iconv, bool amServer)
    {
        if (iconv is null)
            return null;
        int comma = iconv.IndexOf(',');
        string charset = comma < 0 ? iconv : amServer ? iconv[(comma + 1)..] : iconv[..comma];
        return Resolve(charset);
    }

    /// <summary>Local bytes to the wire's UTF-8 (ic_send). On failure, <paramref name="error"/> is the strerror text iconv gave.</summary>
    public bool TryToWire(byte[] local, out byte[] wire, out string? error)
    {
        error = null;
        wire = local;
        if (_asciiCompatible && Ascii.IsValid(local))
            return true;
        string text;
        try
        {
            text = _local.GetString(local);
        }
        catch (DecoderFallbackException)
        {
            error = DecodeError(_local, local);
            return false;
        }
        if (_refusePrivateUse && HasPrivateUse(text))
        {
            error = Posix.StrError(EILSEQ);
            return false;
        }
        wire = _localIsUtf8 ? local : StrictUtf8.GetBytes(text);
        return true;
    }

    /// <summary>The wire's UTF-8 to local bytes (ic_recv). On failure, <paramref name="error"/> is the strerror text iconv gave.</summary>
    public bool TryFromWire(byte[] wire, out byte[] local, out string? error)
    {
        error = null;
        local = wire;
        if (_asciiCompatible && Ascii.IsValid(wire))
            return true;
        string text;
        try
        {
            text = StrictUtf8.GetString(wire);
        }
        catch (DecoderFallbackException)
        {
            error = DecodeError(StrictUtf8, wire);
            return false;
        }
        if (_localIsUtf8)
            return true;
        try
        {
            if (_refusePrivateUse && HasPrivateUse(text))
                throw new EncoderFallbackException();
            local = _local.GetBytes(text);
        }
        catch (EncoderFallbackException)
        {
            // A character the local charset lacks: iconv's EILSEQ.
            local = wire;
            error = Posix.StrError(EILSEQ);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Local text to UTF-8 for a message to the peer, as rsync's send_msg converts it: what converts
    /// is converted and every byte that does not passes unchanged (io.c, send_msg with
    /// ICB_INCLUDE_BAD | ICB_INCLUDE_INCOMPLETE).
    /// </summary>
    public byte[] MessageToWire(byte[] local) =>
        TryToWire(local, out byte[] wire, out _) ? wire : Lenient(local, _local, StrictUtf8, _refusePrivateUse);

    /// <summary>
    /// UTF-8 from the peer to local text the way rsync reads protected arguments (io.c, read_line
    /// with RL_CONVERT): what converts is converted and every other byte passes unchanged.
    /// </summary>
    public byte[] MessageFromWire(byte[] wire) =>
        TryFromWire(wire, out byte[] local, out _) ? local : Lenient(wire, StrictUtf8, _local, _refusePrivateUse);

    // Character by character: rare (text naming something that cannot be converted), so kept simple.
    private static byte[] Lenient(byte[] input, Encoding from, Encoding to, bool refusePrivateUse)
    {
        var output = new List<byte>(input.Length * 3 / 2);
        int i = 0;
        while (i < input.Length)
        {
            int used = 0;
            for (int length = 1; length <= 4 && i + length <= input.Length && used == 0; length++)
            {
                try
                {
                    string text = from.GetString(input, i, length);
                    if (refusePrivateUse && HasPrivateUse(text))
                        continue;
                    output.AddRange(to.GetBytes(text));
                    used = length;
                }
                catch (DecoderFallbackException)
                {
                }
                catch (EncoderFallbackException)
                {
                    // A whole character the other charset lacks: its bytes go as they are.
                    output.AddRange(input.AsSpan(i, length));
                    used = length;
                }
            }
            if (used == 0)
            {
                output.Add(input[i]);
                used = 1;
            }
            i += used;
        }
        return [.. output];
    }

    private static bool HasPrivateUse(string text)
    {
        foreach (char c in text)
        {
            if (c is >= '\uE000' and <= '\uF8FF')
                return true;
        }
        return false;
    }

    /// <summary>
    /// iconv stops with EINVAL when the input only ends too early (an incomplete character at the
    /// end, as "caf\xe9" read as UTF-8) and with EILSEQ when a sequence is invalid (rsync.c, iconvbufs).
    /// </summary>
    private static string DecodeError(Encoding encoding, byte[] input)
    {
        var decoder = encoding.GetDecoder();
        try
        {
            // Without flushing, a decoder holds back an incomplete tail instead of refusing it.
            decoder.GetCharCount(input, 0, input.Length, flush: false);
            return Posix.StrError(Posix.EINVAL);
        }
        catch (DecoderFallbackException)
        {
            return Posix.StrError(EILSEQ);
        }
    }

    /// <summary>
    /// nl_langinfo(CODESET) as rsync sees it after setlocale(LC_CTYPE, ""): the codeset part of
    /// LC_ALL, LC_CTYPE or LANG, and ASCII for the C locale.
    /// </summary>
    public static string LocaleCharset()
    {
        string? locale = null;
        foreach (string variable in (ReadOnlySpan<string>)["LC_ALL", "LC_CTYPE", "LANG"])
        {
            locale = Environment.GetEnvironmentVariable(variable);
            if (!string.IsNullOrEmpty(locale))
                break;
        }
        if (string.IsNullOrEmpty(locale))
            return "ANSI_X3.4-1968";
        int dot = locale.IndexOf('.');
        if (dot < 0)
            return locale is "C" or "POSIX" ? "ANSI_X3.4-1968" : "ISO-8859-1";
        string codeset = locale[(dot + 1)..];
        int at = codeset.IndexOf('@');
        return at >= 0 ? codeset[..at] : codeset;
    }

    /// <summary>The code page for an iconv charset name; case, '-' and '_' do not matter to glibc's lookup.</summary>
    private static int CodePageOf(string name)
    {
        var key = new StringBuilder(name.Length);
        foreach (char c in name)
        {
            if (c is not ('-' or '_' or ' '))
                key.Append(char.ToUpperInvariant(c));
        }
        string k = key.ToString();
        if (k.StartsWith("ISO8859", StringComparison.Ordinal) && int.TryParse(k.AsSpan(7), out int part) && part is >= 1 and <= 15)
            return 28590 + part;
        if (k.StartsWith("CP", StringComparison.Ordinal) && int.TryParse(k.AsSpan(2), out int cp) && cp > 0)
            return cp;
        if (k.StartsWith("WINDOWS", StringComparison.Ordinal) && int.TryParse(k.AsSpan(7), out int win) && win > 0)
            return win;
        return k switch
        {
            "UTF8" => 65001,
            "ASCII" or "USASCII" or "ANSIX3.41968" or "ANSIX341968" or "646" or "ISO646US" => 20127,
            "LATIN1" or "L1" or "ISO88591" or "ISO885911987" => 28591,
            "LATIN2" or "L2" => 28592,
            "LATIN9" or "L9" => 28605,
            "GBK" or "GB2312" or "EUCCN" or "MS936" => 936,
            "GB18030" => 54936,
            "BIG5" or "BIG5HKSCS" => 950,
            "SHIFTJIS" or "SJIS" or "MSKANJI" => 932,
            "EUCJP" => 51932,
            "EUCKR" => 51949,
            "UHC" => 949,
            "KOI8R" => 20866,
            "KOI8U" => 21866,
            _ => 0,
        };
    }

    private static bool IsAsciiCompatible(Encoding e)
    {
        Span<byte> ascii = stackalloc byte[128];
        for (int i = 0; i < 128; i++)
            ascii[i] = (byte)i;
        try
        {
            string text = e.GetString(ascii);
            if (text.Length != 128)
                return false;
            for (int i = 0; i < 128; i++)
            {
                if (text[i] != i)
                    return false;
            }
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static bool IsAsciiSafe(Encoding e)
    {
        try
        {
            return e.GetByteCount("/") == 1 && e.GetBytes("/")[0] == (byte)'/';
        }
        catch (EncoderFallbackException)
        {
            return false;
        }
    }
}
