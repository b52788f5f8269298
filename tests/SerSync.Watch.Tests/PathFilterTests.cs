using FsCheck.Xunit;
using NetRsync.SerSync.Config;
using Xunit;

namespace NetRsync.SerSync.Tests;

public class PathFilterTests
{
    private static readonly PathFilter Seed = new([@"(.*)\.php", "^data/*"]);

    [Theory]
    [InlineData("index.php", true)]
    [InlineData("a/b/index.php", true)]
    [InlineData("index.php5", false)]
    [InlineData("index.html", false)]
    [InlineData("data", true)]
    [InlineData("data/x.txt", true)]
    [InlineData("data/deep/x.txt", true)]
    [InlineData("database", false)]
    [InlineData("a/data", false)]
    [InlineData("php/file", false)]
    [InlineData("x.php/inner.txt", true)]
    public void SeedExpressionsMatchWholeRelativePathsAndTheirParents(string path, bool excluded) =>
        Assert.Equal(excluded, Seed.Excludes(N.B(path)));

    [Theory]
    [InlineData(".file.txt.swp")]
    [InlineData("dir/.file.txt.swx")]
    [InlineData("file.txt~")]
    [InlineData("4913")]
    [InlineData(".#file.txt")]
    [InlineData("#file.txt#")]
    [InlineData(".goutputstream-ABC123")]
    public void EditorScratchFilesAreIgnored(string path) => Assert.True(PathFilter.None.Excludes(N.B(path)));

    [Theory]
    [InlineData("file.swp")]
    [InlineData(".hidden")]
    [InlineData("#")]
    [InlineData("49130")]
    public void OrdinaryNamesAreKept(string path) => Assert.False(PathFilter.None.Excludes(N.B(path)));

    [Property]
    public bool AnExcludedDirectoryExcludesEverythingBelowIt(FsCheck.NonEmptyString child)
    {
        string name = child.Get.Replace('/', '_').Replace('~', '_').Replace('#', '_');
        return Seed.Excludes(N.B("data/" + name)) && Seed.Excludes(N.B("data/" + name + "/x"));
    }
}
