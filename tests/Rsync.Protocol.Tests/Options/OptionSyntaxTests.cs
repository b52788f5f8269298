using FsCheck.Xunit;
using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Options;

public class OptionSyntaxTests
{
    [Theory]
    [InlineData("42", 42)]
    [InlineData("  42", 42)]
    [InlineData("+7", 7)]
    [InlineData("-0x10", -16)]
    [InlineData("0X1F", 31)]
    [InlineData("017", 15)]
    [InlineData("0", 0)]
    [InlineData("", 0)]
    [InlineData("2147483647", int.MaxValue)]
    [InlineData("-2147483648", int.MinValue)]
    public void ParseIntAccepts(string text, int expected)
    {
        Assert.Equal(OptionSyntax.NumberStatus.Ok, OptionSyntax.ParseInt(text, out int value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("abc", false)]
    [InlineData("  ", false)]
    [InlineData("+", false)]
    [InlineData("0x", false)]
    [InlineData("08", false)]
    [InlineData("5 ", false)]
    [InlineData("1.5", false)]
    [InlineData("2147483648", true)]
    [InlineData("-2147483649", true)]
    [InlineData("99999999999999999999999", true)]
    public void ParseIntRejects(string text, bool overflow)
    {
        var expected = overflow ? OptionSyntax.NumberStatus.Overflow : OptionSyntax.NumberStatus.BadNumber;
        Assert.Equal(expected, OptionSyntax.ParseInt(text, out _));
    }

    [Property]
    public bool ParseIntRoundTripsDecimal(int n) =>
        OptionSyntax.ParseInt(n.ToString(System.Globalization.CultureInfo.InvariantCulture), out int v)
            == OptionSyntax.NumberStatus.Ok && v == n;

    [Theory]
    [InlineData("u+rwx")]
    [InlineData("Dg+s,ug+w,Fo-w,+X")]
    [InlineData("a=r")]
    [InlineData("644")]
    [InlineData("D2775")]
    [InlineData("o-t")]
    [InlineData("=")]
    public void ValidChmod(string text) => Assert.True(OptionSyntax.IsValidChmod(text));

    [Theory]
    [InlineData("")]
    [InlineData("u")]
    [InlineData("u+q")]
    [InlineData("u+r,")]
    [InlineData(",u+r")]
    [InlineData("DF+r")]
    [InlineData("u644")]
    [InlineData("8")]
    [InlineData("17777")]
    [InlineData("u+r+w")]
    public void InvalidChmod(string text) => Assert.False(OptionSyntax.IsValidChmod(text));

    [Theory]
    [InlineData("a//b/./c/", "a/b/c")]
    [InlineData("./x", "x")]
    [InlineData("a/../b", "b")]
    [InlineData("a/b/../../c", "c")]
    [InlineData("../x", "../x")]
    [InlineData("../../x/../y", "../../y")]
    [InlineData("/../x", "/x")]
    [InlineData("/", "/")]
    [InlineData(".", ".")]
    [InlineData("./", ".")]
    [InlineData("a/..", ".")]
    [InlineData("//a//", "/a")]
    public void CleanFileName(string input, string expected)
    {
        Assert.Equal(expected, OptionSyntax.CleanFileName(input));
    }

    [Theory]
    [InlineData("host:path", true, "host", "path")]
    [InlineData("host::mod/path", true, "host", "mod/path")]
    [InlineData("me@host:p", true, "me@host", "p")]
    [InlineData("[fe80::1]:p", true, "fe80::1", "p")]
    [InlineData(":p", true, "", "p")]
    [InlineData("dir/file:x", false, "", "dir/file:x")]
    [InlineData("plain", false, "", "plain")]
    [InlineData("[::1]x:p", false, "", "[::1]x:p")]
    public void HostSpec(string text, bool remote, string host, string path)
    {
        Assert.Equal(remote, OptionSyntax.TrySplitHostSpec(text, out string h, out string p));
        Assert.Equal(host, h);
        Assert.Equal(path, p);
    }

    [Theory]
    [InlineData("%i %n", 'i', true)]
    [InlineData("%'-10i", 'i', true)]
    [InlineData("%n%L", 'i', false)]
    [InlineData("100%", 'i', false)]
    [InlineData("%%i", 'i', true)] // the second % is scanned again, as in log.c
    [InlineData("%o", 'o', true)]
    [InlineData(null, 'i', false)]
    public void LogFormatHas(string? format, char escape, bool expected)
    {
        Assert.Equal(expected, OptionSyntax.LogFormatHas(format, escape));
    }
}
