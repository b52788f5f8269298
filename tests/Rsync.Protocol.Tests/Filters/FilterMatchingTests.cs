using System.Text;
using NetRsync.Protocol.Filters;
using Xunit;

namespace NetRsync.Protocol.Tests.Filters;

/// <summary>
/// Rule matching as exclude.c's rule_matches does it. The expectations agree with what rsync
/// itself leaves out of <c>rsync -r --list-only</c> for the same rule and tree.
/// </summary>
public sealed class FilterMatchingTests
{
    private static bool Matches(string rule, string path, bool isDirectory) =>
        FilterRule.Parse(rule).Matches(Encoding.UTF8.GetBytes(path), isDirectory);

    [Theory]
    // No slash: the pattern is matched against the last component only.
    [InlineData("- *.o", "x.o", false, true)]
    [InlineData("- *.o", "d/e/x.o", false, true)]
    [InlineData("- *.o", "x.oo", false, false)]
    [InlineData("- *.o", "x.o/y", false, false)]
    [InlineData("- foo", "foo", false, true)]
    [InlineData("- foo", "d/foo", true, true)]
    [InlineData("- foo", "d/xfoo", false, false)]
    [InlineData("- foo", "foo/x", false, false)]
    [InlineData("- a?b", "a b", true, true)]
    [InlineData("- [a-b]*", "B", false, false)]
    [InlineData("- [a-b]*", "b.txt", false, true)]
    // A leading slash anchors the pattern at the transfer root.
    [InlineData("- /foo", "foo", false, true)]
    [InlineData("- /foo", "d/foo", false, false)]
    [InlineData("- /a*", "a.txt", false, true)]
    [InlineData("- /a*", "d/a.txt", false, false)]
    [InlineData("- /a*", "ab/c", false, false)]
    [InlineData("- /a/b", "a/b", false, true)]
    [InlineData("- /a/b", "x/a/b", false, false)]
    // A trailing slash matches directories only.
    [InlineData("- foo/", "foo", true, true)]
    [InlineData("- foo/", "foo", false, false)]
    [InlineData("- foo/", "d/foo", true, true)]
    [InlineData("- /foo/", "foo", true, true)]
    [InlineData("- /foo/", "d/foo", true, false)]
    [InlineData("- */", "anything", true, true)]
    [InlineData("- */", "anything", false, false)]
    // An inner slash without "**": the pattern must match that many trailing components.
    [InlineData("- a/b", "a/b", false, true)]
    [InlineData("- a/b", "x/a/b", true, true)]
    [InlineData("- a/b", "xa/b", false, false)]
    [InlineData("- a/b", "a/b/c", false, false)]
    [InlineData("- b/c", "a/b/c", false, true)]
    [InlineData("- a/*", "x/a/b", false, true)]
    [InlineData("- a/*", "a/b/c", false, false)]
    // "**" may match slashes, and an unanchored pattern with one may start after any slash.
    [InlineData("- **/c", "a/b/c", false, true)]
    [InlineData("- a/**/c", "a/b/c", false, true)]
    [InlineData("- a/**/c", "x/a/b/c", false, true)]
    [InlineData("- a/**/c", "a/c", false, false)]
    [InlineData("- foo/**", "foo/f", false, true)]
    [InlineData("- foo/**", "foo/sub/g", false, true)]
    [InlineData("- foo/**", "foo", true, false)]
    [InlineData("- foo/**", "x/foo/f", false, true)]
    // "dir/***" is the directory itself and everything below it.
    [InlineData("- sub/***", "sub", true, true)]
    [InlineData("- sub/***", "sub", false, false)]
    [InlineData("- sub/***", "sub/0", false, true)]
    [InlineData("- sub/***", "sub/x/y", false, true)]
    [InlineData("- sub/***", "q/sub/x", false, true)]
    [InlineData("- sub/***", "subx", true, false)]
    [InlineData("- /sub/***", "q/sub/x", false, false)]
    // '!' negates the match.
    [InlineData("-! *.c", "a.c", false, false)]
    [InlineData("-! *.c", "a.h", false, true)]
    [InlineData("-! *.c", "a", true, true)]
    public void RuleMatches(string rule, string path, bool isDirectory, bool expected) =>
        Assert.Equal(expected, Matches(rule, path, isDirectory));

    private static bool Excluded(string[] rules, string path, bool isDirectory) =>
        FilterList.Parse(rules).IsExcludedBySender(Encoding.UTF8.GetBytes(path), isDirectory);

    [Fact]
    public void FirstMatchingRuleWins()
    {
        string[] includeFirst = ["+ a.txt", "- a*"];
        Assert.False(Excluded(includeFirst, "a.txt", false));
        Assert.True(Excluded(includeFirst, "a.c", false));
        Assert.False(Excluded(includeFirst, "b", false));

        string[] excludeFirst = ["- a*", "+ a.txt"];
        Assert.True(Excluded(excludeFirst, "a.txt", false));
    }

    [Fact]
    public void DirectoriesOnly()
    {
        string[] rules = ["+ */", "- *"];
        Assert.False(Excluded(rules, "a", true));
        Assert.False(Excluded(rules, "a/b", true));
        Assert.True(Excluded(rules, "a/c", false));
        Assert.True(Excluded(rules, "x", false));
    }

    [Fact]
    public void LongFormsAndShortFormsAgree()
    {
        string[] rules = ["include keep.o", "exclude *.o"];
        Assert.False(Excluded(rules, "d/keep.o", false));
        Assert.True(Excluded(rules, "d/other.o", false));
        Assert.False(Excluded(rules, "d/other.c", false));
    }

    [Fact]
    public void ClearEmptiesTheList()
    {
        Assert.False(Excluded(["- *.c", "!"], "a.c", false));
        Assert.True(Excluded(["- *.h", "!", "- *.c"], "a.c", false));
        Assert.False(Excluded(["- *.h", "!", "- *.c"], "a.h", false));
    }

    [Fact]
    public void ReceiverSideRulesDoNotHideFilesFromTheSender()
    {
        Assert.False(Excluded(["-r a"], "a", true));
        Assert.False(Excluded(["P a"], "a", true));
        Assert.True(Excluded(["P a", "- a"], "a", true));
        Assert.False(Excluded(["R a", "+ a", "- *"], "a", true));
        // hide is a sender-side exclude, show a sender-side include.
        Assert.True(Excluded(["H a"], "x/a", true));
        Assert.False(Excluded(["S a", "H *"], "a", false));
        Assert.True(Excluded(["S a", "H *"], "b", false));
    }

    [Fact]
    public void NothingIsExcludedByAnEmptyList()
    {
        var list = new FilterList();
        Assert.True(list.IsEmpty);
        Assert.False(list.IsExcludedBySender("anything"u8, false));
    }
}
