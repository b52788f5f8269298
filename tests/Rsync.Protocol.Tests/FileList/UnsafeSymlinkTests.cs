using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Tests.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

public sealed class UnsafeSymlinkTests
{
    /// <summary>
    /// util1.c, unsafe_symlink (3.4): empty and absolute targets are unsafe, and so is a ".."
    /// past the leading run of them or at the very end after a slash (CVE-2024-12088). The link's
    /// own directory depth is the safety margin. Walking the target, each ".." climbs one level
    /// and any other named component descends one ("." and empty components are ignored);
    /// the link is unsafe as soon as it climbs above the transfer root.
    /// </summary>
    private static bool Reference(string target, string linkName)
    {
        if (target.Length == 0 || target[0] == '/')
            return true;
        string afterLeadingClimbs = target;
        while (afterLeadingClimbs.StartsWith("../", StringComparison.Ordinal))
            afterLeadingClimbs = afterLeadingClimbs[3..].TrimStart('/');
        if (afterLeadingClimbs.Contains("/../", StringComparison.Ordinal) || (target.Length > 3 && target.EndsWith("/..", StringComparison.Ordinal)))
            return true;
        int depth = linkName.Split('/').Length - 1;
        foreach (string part in target.Split('/'))
        {
            if (part == "..")
                depth--;
            else if (part is not ("" or "."))
                depth++;
            if (depth < 0)
                return true;
        }
        return false;
    }

    [Theory]
    [InlineData("/etc/passwd", "a", true)]
    [InlineData("/", "d/e/f", true)]
    [InlineData("", "a", true)]
    [InlineData("foo", "l", false)]
    [InlineData(".", "l", false)]
    [InlineData("./x", "l", false)]
    [InlineData("..", "l", true)]
    [InlineData("../x", "l", true)]
    [InlineData("../x", "d/l", false)]
    [InlineData("..", "d/l", false)]
    [InlineData("../../x", "d/l", true)]
    [InlineData("../..", "d/e/l", true)]
    [InlineData("x/..", "l", true)]
    [InlineData("x/../..", "l", true)]
    [InlineData("a/../../x", "l", true)]
    [InlineData("./../x", "l", true)]
    [InlineData("a//../..", "l", true)]
    [InlineData("d/../../e/f", "a/b/l", true)]
    [InlineData("../../../e", "a/b/l", true)]
    [InlineData("x/../../y", "d/l", true)]
    [InlineData("..foo", "l", false)]
    [InlineData("...", "l", false)]
    [InlineData("foo/", "l", false)]
    [InlineData("../", "l", true)]
    [InlineData("./x", "./l", false)]
    [InlineData("../../x", "d/e/l", false)]
    [InlineData("..//../x", "d/e/l", false)]
    [InlineData("d/../../x", "a/b/c/l", true)]
    public void Cases(string target, string linkName, bool expected)
    {
        Assert.Equal(expected, FileListBuilder.IsUnsafeSymlink(target, linkName));
        if (!linkName.StartsWith("./", StringComparison.Ordinal))
            Assert.Equal(expected, Reference(target, linkName));
    }

    private static Gen<string> LinkName { get; } =
        from depth in Gen.Choose(0, 4)
        from dirs in Gen.ArrayOf(Gen.Elements("a", "b", "dir", "..x", "x.."), depth)
        select string.Join('/', [.. dirs, "link"]);

    private static Gen<string> Target { get; } =
        from absolute in Gen.Frequency((1, Gen.Constant(true)), (9, Gen.Constant(false)))
        from count in Gen.Choose(0, 7)
        from parts in Gen.ArrayOf(Gen.Frequency(
            (4, Gen.Constant("..")),
            (1, Gen.Constant(".")),
            (1, Gen.Constant("")),
            (3, Gen.Elements("a", "b", "...", "..a", ".hidden"))), count)
        from trailingSlash in Gen.Elements(false, false, true)
        select (absolute ? "/" : "") + string.Join('/', parts) + (trailingSlash && count > 0 ? "/" : "");

    [Fact]
    public void AgreesWithTheReferenceOnCleanLinkNames()
    {
        var gen = from t in Target from l in LinkName select (t, l);
        Props.Check(gen, c => Assert.Equal(Reference(c.t, c.l), FileListBuilder.IsUnsafeSymlink(c.t, c.l)), maxTest: 3000);
    }
}
