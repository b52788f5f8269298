using System.Runtime.InteropServices;
using System.Text;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Text;

public sealed class NameCharsetTests
{
    private const string Eilseq = "Invalid or incomplete multibyte or wide character";
    private const string Einval = "Invalid argument";

    private static readonly byte[] GbkChinese = [0xD6, 0xD0, 0xCE, 0xC4, (byte)'.', (byte)'t', (byte)'x', (byte)'t'];

    [Theory]
    [InlineData("GBK", 936)]
    [InlineData("gbk", 936)]
    [InlineData("CP936", 936)]
    [InlineData("GB2312", 936)]
    [InlineData("GB18030", 54936)]
    [InlineData("UTF-8", 65001)]
    [InlineData("utf8", 65001)]
    [InlineData("LATIN1", 28591)]
    [InlineData("ISO-8859-1", 28591)]
    [InlineData("iso_8859-15", 28605)]
    [InlineData("BIG5", 950)]
    [InlineData("ANSI_X3.4-1968", 20127)]
    [InlineData("SHIFT_JIS", 932)]
    public void IconvNamesResolve(string name, int codePage)
    {
        NameCharset? charset = NameCharset.TryResolve(name);
        Assert.NotNull(charset);
        Assert.Equal(codePage, CodePage(charset));
    }

    private static int CodePage(NameCharset charset)
    {
        var field = typeof(NameCharset).GetField("_local", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        return ((Encoding)field.GetValue(charset)!).CodePage;
    }

    [Fact]
    public void UnknownCharsetFailsAsIconvOpenDoes()
    {
        Assert.Null(NameCharset.TryResolve("NO-SUCH-CHARSET"));
        var ex = Assert.Throws<RsyncException>(() => NameCharset.Resolve("NO-SUCH-CHARSET"));
        Assert.Equal("iconv_open(\"UTF-8\", \"NO-SUCH-CHARSET\") failed", ex.Message);
        Assert.Equal(ExitCodes.Unsupported, ex.ExitCode);
    }

    [Fact]
    public void ClientTakesThePartBeforeTheCommaAndServerThePartAfter()
    {
        Assert.Equal("GBK", NameCharset.ForOption("GBK,UTF-8", amServer: false)!.Name);
        Assert.Equal("UTF-8", NameCharset.ForOption("GBK,UTF-8", amServer: true)!.Name);
        Assert.Equal("LATIN1", NameCharset.ForOption("LATIN1", amServer: true)!.Name);
        Assert.Null(NameCharset.ForOption(null, amServer: false));
    }

    [Fact]
    public void DotIsTheLocaleCharset()
    {
        Assert.Equal(NameCharset.LocaleCharset(), NameCharset.Resolve(".").Name);
        Assert.Equal(NameCharset.LocaleCharset(), NameCharset.Resolve("").Name);
    }

    [Fact]
    public void GbkNamesRoundTripThroughUtf8()
    {
        var gbk = NameCharset.Resolve("GBK");
        Assert.True(gbk.TryToWire(GbkChinese, out byte[] wire, out string? error), error);
        Assert.Equal("中文.txt"u8.ToArray(), wire);
        Assert.True(gbk.TryFromWire(wire, out byte[] back, out error), error);
        Assert.Equal(GbkChinese, back);
    }

    [Fact]
    public void AsciiPassesUnchanged()
    {
        var gbk = NameCharset.Resolve("GBK");
        byte[] plain = "dir/plain.txt"u8.ToArray();
        Assert.True(gbk.TryToWire(plain, out byte[] wire, out _));
        Assert.Same(plain, wire);
    }

    [Fact]
    public void IncompleteTailIsEinvalAndBadSequenceIsEilseq()
    {
        var utf8 = NameCharset.Resolve("UTF-8");
        // "caf\xe9": a lead byte with nothing after it.
        Assert.False(utf8.TryToWire([(byte)'c', (byte)'a', (byte)'f', 0xE9], out _, out string? error));
        Assert.Equal(Einval, error);
        // GBK's "中文" read as UTF-8: 0xD6 must be followed by a continuation byte.
        Assert.False(utf8.TryToWire(GbkChinese, out _, out error));
        Assert.Equal(Eilseq, error);
        Assert.False(utf8.TryFromWire([0xC3, 0x28], out _, out error));
        Assert.Equal(Eilseq, error);
    }

    [Fact]
    public void CharacterMissingFromTheLocalCharsetIsEilseq()
    {
        var latin1 = NameCharset.Resolve("LATIN1");
        Assert.False(latin1.TryFromWire("中文"u8.ToArray(), out _, out string? error));
        Assert.Equal(Eilseq, error);
        Assert.True(latin1.TryFromWire("café"u8.ToArray(), out byte[] local, out _));
        Assert.Equal([(byte)'c', (byte)'a', (byte)'f', 0xE9], local);

        var gbk = NameCharset.Resolve("GBK");
        Assert.False(gbk.TryFromWire("smile🙂"u8.ToArray(), out _, out error));
        Assert.Equal(Eilseq, error);
    }

    [Fact]
    public void MessagesConvertWhatConvertsAndPassTheRestUnchanged()
    {
        var gbk = NameCharset.Resolve("GBK");
        // "deleting 中文.txt" then a byte that is not GBK, then an incomplete character at the end.
        byte[] local = [.. "deleting "u8, .. GbkChinese, (byte)' ', 0xFF, (byte)'x', (byte)' ', 0xD6];
        Assert.Equal([.. "deleting 中文.txt "u8, 0xFF, (byte)'x', (byte)' ', 0xD6], gbk.MessageToWire(local));
        Assert.Equal("plain"u8.ToArray(), gbk.MessageToWire("plain"u8.ToArray()));

        // Back: "中文" converts, U+1F642 has no GBK form and stays as sent, as does an invalid byte.
        byte[] wire = [.. "m/中文/🙂"u8, 0xFF];
        Assert.Equal([(byte)'m', (byte)'/', .. GbkChinese[..4], (byte)'/', .. "🙂"u8, 0xFF], gbk.MessageFromWire(wire));
    }

    /// <summary>
    /// Every one- and two-byte GBK sequence converts to UTF-8 exactly when glibc's iconv (what stock
    /// rsync uses) converts it, and to the same bytes.
    /// </summary>
    [Fact]
    public void GbkAgreesWithGlibcIconvOnEveryOneAndTwoByteSequence() => AgreesWithGlibc("GBK", twoByte: true);

    [Fact]
    public void Latin1AgreesWithGlibcIconv() => AgreesWithGlibc("ISO-8859-1", twoByte: false);

    [Fact]
    public void Utf8AgreesWithGlibcIconvOnShortSequences() => AgreesWithGlibc("UTF-8", twoByte: true);

    private static void AgreesWithGlibc(string charsetName, bool twoByte)
    {
        var charset = NameCharset.Resolve(charsetName);
        using var glibc = new GlibcIconv("UTF-8", charsetName);
        var mismatches = new List<string>();
        var input = new List<byte[]>();
        for (int a = 0x80; a <= 0xFF; a++)
        {
            input.Add([(byte)a, (byte)'x']);
            if (twoByte)
            {
                for (int b = 0x30; b <= 0xFF; b++)
                    input.Add([(byte)a, (byte)b]);
            }
        }
        foreach (byte[] bytes in input)
        {
            bool ours = charset.TryToWire(bytes, out byte[] wire, out _);
            byte[]? theirs = glibc.Convert(bytes);
            if (ours != theirs is not null || (ours && !wire.AsSpan().SequenceEqual(theirs)))
                mismatches.Add($"{Convert.ToHexString(bytes)}: ours {(ours ? Convert.ToHexString(wire) : "refused")}, glibc {(theirs is null ? "refused" : Convert.ToHexString(theirs))}");
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {input.Count} differ:\n" + string.Join("\n", mismatches.Take(40)));
    }

    /// <summary>glibc's iconv, for comparison.</summary>
    private sealed class GlibcIconv : IDisposable
    {
        private readonly nint _cd;

        public GlibcIconv(string to, string from)
        {
            _cd = IconvOpen(to, from);
            Assert.NotEqual(-1, _cd);
        }

        public byte[]? Convert(byte[] input)
        {
            nint inBuf = Marshal.AllocHGlobal(input.Length);
            nint outBuf = Marshal.AllocHGlobal(64);
            try
            {
                Marshal.Copy(input, 0, inBuf, input.Length);
                nint inPtr = inBuf, outPtr = outBuf;
                nuint inLeft = (nuint)input.Length, outLeft = 64;
                Iconv(_cd, 0, 0, 0, 0);
                if (Iconv(_cd, ref inPtr, ref inLeft, ref outPtr, ref outLeft) == unchecked((nuint)(-1)) || inLeft != 0)
                    return null;
                var result = new byte[64 - (int)outLeft];
                Marshal.Copy(outBuf, result, 0, result.Length);
                return result;
            }
            finally
            {
                Marshal.FreeHGlobal(inBuf);
                Marshal.FreeHGlobal(outBuf);
            }
        }

        public void Dispose() => IconvClose(_cd);

        [DllImport("libc", EntryPoint = "iconv_open")]
        private static extern nint IconvOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string to, [MarshalAs(UnmanagedType.LPUTF8Str)] string from);

        [DllImport("libc", EntryPoint = "iconv")]
        private static extern nuint Iconv(nint cd, ref nint inBuf, ref nuint inLeft, ref nint outBuf, ref nuint outLeft);

        [DllImport("libc", EntryPoint = "iconv")]
        private static extern nuint Iconv(nint cd, nint inBuf, nint inLeft, nint outBuf, nint outLeft);

        [DllImport("libc", EntryPoint = "iconv_close")]
        private static extern int IconvClose(nint cd);
    }
}
