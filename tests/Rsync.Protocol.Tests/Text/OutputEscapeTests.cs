using System.Buffers;
using System.Text;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Text;

/// <summary>Lines are written as rsync's rwrite and filtered_fwrite write them (log.c).</summary>
public sealed class OutputEscapeTests
{
    private static readonly OutputEscape Utf8 = OutputEscape.ForCharset("UTF-8");
    private static readonly OutputEscape CLocale = OutputEscape.ForCharset("ANSI_X3.4-1968");

    /// <summary>Bytes in, bytes out; "\xNN" in the strings below stands for one byte.</summary>
    private static string Run(OutputEscape escape, string line)
    {
        var output = new ArrayBufferWriter<byte>();
        escape.Write(Bytes(line), output);
        return Encoding.Latin1.GetString(output.WrittenSpan);
    }

    private static byte[] Bytes(string latin1) => Encoding.Latin1.GetBytes(latin1);

    [Theory]
    [InlineData("plain\n", "plain\n")]
    [InlineData("caf\xc3\xa9\n", "caf\xc3\xa9\n")] // valid UTF-8 passes
    [InlineData("\xe4\xb8\xad\xe6\x96\x87.txt\n", "\xe4\xb8\xad\xe6\x96\x87.txt\n")]
    [InlineData("caf\xe9\n", "caf\\#351\n")] // Latin-1
    [InlineData("\xd6\xd0\xce\xc4.txt\n", "\\#326\\#320\\#316\\#304.txt\n")] // GBK
    [InlineData("a\x01z\tb\x1b[31m\n", "a\\#001z\tb\\#033[31m\n")] // tab stays, other controls do not
    [InlineData("line\nbreak\n", "line\\#012break\n")] // only the final newline is the line's own
    [InlineData("cr\rin\n", "cr\\#015in\n")]
    [InlineData("\rprogress\r", "\rprogress\r")] // a leading and a trailing CR stay
    [InlineData("x\\#123y\n", "x\\#134#123y\n")] // a literal escape cannot pass for one
    [InlineData("x\\#12\n", "x\\#12\n")]
    [InlineData("x\\#12a\n", "x\\#12a\n")]
    [InlineData("x\\#\n", "x\\#\n")]
    [InlineData("del\x7f\n", "del\x7f\n")] // iconv accepts DEL and rwrite filters only below space
    [InlineData("\xed\xa0\x80\n", "\\#355\\#240\\#200\n")] // a UTF-16 surrogate
    [InlineData("\xc0\x80\n", "\\#300\\#200\n")] // overlong
    [InlineData("\xe4\xb8\n", "\\#344\\#270\n")] // cut short at the end
    [InlineData("\xe4\xb8" + "A\n", "\\#344\\#270A\n")]
    [InlineData("\xf8\x88\x80\x80\x80\n", "\xf8\x88\x80\x80\x80\n")] // glibc takes the old 5-byte forms
    [InlineData("\xfe\xff\n", "\\#376\\#377\n")]
    [InlineData("\\#12\xe9" + "3\n", "\\#12\\#3513\n")] // an escaped byte ends the piece the literal is looked for in
    public void Utf8Locale(string line, string expected) => Assert.Equal(expected, Run(Utf8, line));

    [Theory]
    [InlineData("plain\n", "plain\n")]
    [InlineData("caf\xc3\xa9\n", "caf\\#303\\#251\n")] // every byte above 0x7f
    [InlineData("caf\xe9\n", "caf\\#351\n")]
    [InlineData("\xd6\xd0.txt\n", "\\#326\\#320.txt\n")]
    [InlineData("a\x01\tb\n", "a\\#001\tb\n")]
    [InlineData("x\\#123\n", "x\\#134#123\n")]
    [InlineData("del\x7f\n", "del\x7f\n")]
    public void CLocaleEscapesEveryHighByte(string line, string expected) => Assert.Equal(expected, Run(CLocale, line));

    [Theory]
    [InlineData("caf\xe9\xc3\xa9\xd6\xd0\n", "caf\xe9\xc3\xa9\xd6\xd0\n")]
    [InlineData("a\x01\nb\n", "a\\#001\\#012b\n")]
    [InlineData("x\\#123\n", "x\\#134#123\n")]
    public void EightBitOutputEscapesOnlyControlBytes(string line, string expected) =>
        Assert.Equal(expected, Run(OutputEscape.EightBit, line));

    [Theory]
    [InlineData("recv caf\xc3\xa9\n", "recv caf\xc3\xa9\n")]
    [InlineData("recv caf\xe9\n", "recv caf\xe9\n")] // not a charset check
    [InlineData("recv \xc4\x80\n", "recv \xc4\\#200\n")] // C1 bytes are escaped, even inside UTF-8
    [InlineData("recv \x9b" + "31m\n", "recv \\#23331m\n")]
    [InlineData("a\nb\x1b\n", "a\\#012b\\#033\n")]
    [InlineData("\rx\n", "\\#015x\n")] // a log line keeps no leading CR
    [InlineData("x\\#123\n", "x\\#134#123\n")]
    public void LogFileLines(string line, string expected) => Assert.Equal(expected, Run(OutputEscape.LogFile, line));

    [Fact]
    public void LiteralIsOnlySeenWithinOneConvertedPiece()
    {
        // iconv gives rwrite 1023 bytes at a time; "\#123" across that boundary is not escaped.
        string across = new string('a', 1020) + "\\#123\n";
        Assert.Equal(across, Run(Utf8, across));
        string within = new string('a', 1000) + "\\#123\n";
        Assert.Equal(new string('a', 1000) + "\\#134#123\n", Run(Utf8, within));
        // A character that would not fit whole starts the next piece.
        string split = new string('a', 1022) + "\xc3\xa9\\#123\n";
        Assert.Equal(new string('a', 1022) + "\xc3\xa9\\#134#123\n", Run(Utf8, split));
    }

    [Fact]
    public void NameTextLinesGiveBackTheirBytes()
    {
        byte[] raw = Bytes("deleting caf\xe9/\xd6\xd0\x01\n");
        string line = NameText.FromBytes(raw);
        Assert.Equal("deleting caf\\#351/\\#326\\#320\\#001\n", Encoding.Latin1.GetString(Utf8.Escape(line)));
        Assert.Equal("deleting caf\xe9/\xd6\xd0\\#001\n", Encoding.Latin1.GetString(OutputEscape.EightBit.Escape(line)));
    }

    [Theory]
    [InlineData("UTF-8")]
    [InlineData("ANSI_X3.4-1968")]
    public void ManagedCheckMatchesLibcIconv(string charset)
    {
        // The managed check must refuse exactly what glibc's iconv refuses, piece boundaries included.
        var managed = OutputEscape.ForCharset(charset);
        var libc = OutputEscape.ThroughIconv(charset);
        var random = new Random(13);
        byte[] pool = Bytes("\x00\x01\t\n\r\x1b\\#0123456789az\x7f\x80\x9f\xa0\xbf\xc0\xc1\xc2\xc3\xdf\xe0\xe4\xed\xef\xf0\xf4\xf5\xf7\xf8\xfb\xfc\xfd\xfe\xff");
        for (int round = 0; round < 20000; round++)
        {
            int length = round % 100 == 0 ? random.Next(1000, 3000) : random.Next(0, 24);
            var line = new byte[length];
            for (int i = 0; i < length; i++)
                line[i] = random.Next(3) == 0 ? (byte)random.Next(256) : pool[random.Next(pool.Length)];
            var a = new ArrayBufferWriter<byte>();
            var b = new ArrayBufferWriter<byte>();
            managed.Write(line, a);
            libc.Write(line, b);
            Assert.True(a.WrittenSpan.SequenceEqual(b.WrittenSpan), $"{charset}: {Convert.ToHexString(line)}");
        }
    }

    [Fact]
    public void OtherCharsetsAreCheckedByIconv()
    {
        var gbk = OutputEscape.ForCharset("GBK");
        Assert.Equal("\xd6\xd0\xce\xc4.txt\n", Run(gbk, "\xd6\xd0\xce\xc4.txt\n"));
        Assert.Equal("\xd6\xd0\\#377\x01\n".Replace("\x01", "\\#001"), Run(gbk, "\xd6\xd0\xff\x01\n"));
        var latin1 = OutputEscape.ForCharset("ISO-8859-1");
        Assert.Equal("caf\xe9\xc3\xa9\x85\n", Run(latin1, "caf\xe9\xc3\xa9\x85\n"));
    }

    [Fact]
    public void DaemonLogLinesAreEscaped()
    {
        string line = NameText.FromBytes(Bytes("recv x\x1b[2J\xe9\x9b\n"));
        Assert.Equal("recv x\\#033[2J\xe9\\#233\n", Encoding.Latin1.GetString(DaemonLog.Escape(line)));
    }

    [Fact]
    public void FormatKeepsNamesRawAndPadsByBytes()
    {
        // The sink escapes; escaping while formatting too would show "\#134#012" for a newline.
        var file = new FileEntry(Bytes("a\nb\xe9"), 0x81A4, 1, 0);
        string formatted = LogFormat.Format("%n|%-6n|%6n|", file, ItemFlags.None, null, sender: false, preserveTimes: true, receiverSymlinkTimes: true, bytes: 0);
        Assert.Equal("a\nb\xe9|a\nb\xe9  |  a\nb\xe9|", Encoding.Latin1.GetString(NameText.ToBytes(formatted)));
        var utf8 = new FileEntry(Bytes("\xc3\xa9"), 0x81A4, 1, 0);
        string padded = LogFormat.Format("%-4n|", utf8, ItemFlags.None, null, sender: false, preserveTimes: true, receiverSymlinkTimes: true, bytes: 0);
        Assert.Equal("\xc3\xa9  |", Encoding.Latin1.GetString(NameText.ToBytes(padded)));
    }
}
