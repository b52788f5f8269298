using System.Text;
using NetRsync.Protocol.Filters;
using Xunit;

namespace NetRsync.Protocol.Tests.Filters;

/// <summary>lib/wildmatch.c semantics: '*' and '?' never match '/', "**" does, classes never match '/'.</summary>
public sealed class WildMatchTests
{
    private static bool Match(string pattern, string text) =>
        WildMatch.Match(Encoding.UTF8.GetBytes(pattern), Encoding.UTF8.GetBytes(text));

    [Theory]
    // Literals.
    [InlineData("foo", "foo", true)]
    [InlineData("foo", "fo", false)]
    [InlineData("foo", "fooo", false)]
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    // '*' matches within one component only.
    [InlineData("*", "", true)]
    [InlineData("*", "foo", true)]
    [InlineData("f*", "foo", true)]
    [InlineData("*f", "foo", false)]
    [InlineData("*", "a/b", false)]
    [InlineData("a/*", "a/b", true)]
    [InlineData("a/*", "a/b/c", false)]
    [InlineData("*/c", "a/b/c", false)]
    [InlineData("foo*bar", "foobar", true)]
    [InlineData("foo*bar", "fooxyzbar", true)]
    [InlineData("foo*bar", "foo/bar", false)]
    [InlineData("*ab", "aab", true)]
    [InlineData("*ab", "aaabababab", true)]
    [InlineData("a*b*c", "aXbYbZc", true)]
    [InlineData("a*b*c", "aXbYc/", false)]
    [InlineData("*.o", "x.o", true)]
    [InlineData("*.o", "d/x.o", false)]
    // "**" crosses slashes.
    [InlineData("**", "a/b/c", true)]
    [InlineData("a/**", "a/b/c", true)]
    [InlineData("a/**", "a", false)]
    [InlineData("a/**/c", "a/b/c", true)]
    [InlineData("a/**/c", "a/x/y/c", true)]
    [InlineData("a/**/c", "a/c", false)]
    [InlineData("**/foo", "x/y/foo", true)]
    [InlineData("**/foo", "x/yfoo", false)]
    [InlineData("**/foo", "foo", false)] // the rule matcher supplies a leading '/' for this case, not wildmatch
    [InlineData("***", "a/b", true)]
    // '?' is any one byte but '/'.
    [InlineData("?", "a", true)]
    [InlineData("?", "", false)]
    [InlineData("?", "/", false)]
    [InlineData("a?c", "abc", true)]
    [InlineData("a?c", "a c", true)]
    [InlineData("a?c", "a/c", false)]
    [InlineData("???", "ab", false)]
    // Classes.
    [InlineData("[a-z]", "q", true)]
    [InlineData("[a-z]", "Q", false)]
    [InlineData("[a-c][0-9]", "b7", true)]
    [InlineData("t[a-g]n", "ten", true)]
    [InlineData("t[!a-g]n", "ten", false)]
    [InlineData("t[!a-g]n", "ton", true)]
    [InlineData("[!x]", "y", true)]
    [InlineData("[!x]", "x", false)]
    [InlineData("[^x]", "x", false)]
    [InlineData("[^x]", "y", true)]
    [InlineData("[!x]", "/", false)]
    [InlineData("a[b/]c", "a/c", false)]
    [InlineData("[]]", "]", true)]
    [InlineData("[!]]", "]", false)]
    [InlineData("[!]]", "a", true)]
    [InlineData("[a-]", "-", true)]
    [InlineData("[ten]", "ten", false)]
    [InlineData("*[al]?", "ball", true)]
    // Backslash quotes the next character.
    [InlineData("\\*", "*", true)]
    [InlineData("\\*", "x", false)]
    [InlineData("foo\\*", "foo*", true)]
    [InlineData("foo\\*bar", "foobar", false)]
    [InlineData("\\?", "?", true)]
    [InlineData("\\?", "a", false)]
    [InlineData("\\[ab]", "[ab]", true)]
    public void Cases(string pattern, string text, bool expected) => Assert.Equal(expected, Match(pattern, text));

    [Fact]
    public void BytesAboveAsciiAreOrdinary()
    {
        Assert.True(WildMatch.Match("?"u8, [0xFF]));
        Assert.True(WildMatch.Match("*"u8, "été"u8));
        Assert.True(WildMatch.Match("??"u8, "é"u8)); // two bytes in UTF-8
        Assert.False(WildMatch.Match("?"u8, "é"u8));
    }
}
