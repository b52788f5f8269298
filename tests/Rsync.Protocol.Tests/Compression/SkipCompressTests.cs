using NetRsync.Protocol.Compression;
using Xunit;

namespace NetRsync.Protocol.Tests.Compression;

public sealed class SkipCompressTests
{
    [Theory]
    [InlineData("a.gz", true)]
    [InlineData("A.GZ", true)]
    [InlineData("dir/sub/photo.JpEg", true)]
    [InlineData("x.tgz", true)]
    [InlineData("x.tbz", true)]
    [InlineData("x.tzz", false)]
    [InlineData("song.mp3", true)]
    [InlineData("film.mp4", true)]
    [InlineData("film.mp5", false)]
    [InlineData("notes.txt", false)]
    [InlineData(".gz", false)]
    [InlineData("a.gz.txt", false)]
    [InlineData("a.", false)]
    [InlineData("gz", false)]
    [InlineData("a.gz/b", false)]
    [InlineData("archive.tar.xz", true)]
    public void DefaultListOutsideADaemon(string name, bool skipped) =>
        Assert.Equal(skipped, SkipCompress.Create(null, null, inDaemonModule: false).Skips(name));

    [Theory]
    [InlineData("a.gz", true)]
    [InlineData("b.JPG", true)]
    [InlineData("c.mp4", true)]
    [InlineData("c.mp5", false)]
    [InlineData("d.zip", false)] // --skip-compress replaces the default list
    [InlineData("e.7z", true)]
    public void SkipCompressOptionReplacesTheDefaultList(string name, bool skipped) =>
        Assert.Equal(skipped, SkipCompress.Create("gz/jpg/mp[34]/7z", null, inDaemonModule: false).Skips(name));

    [Theory]
    [InlineData("x.foo", true)]
    [InlineData("data1", true)]
    [InlineData("sub/DATA.bin", true)]
    [InlineData("y.bar", true)] // the option's suffixes add to a module's list
    [InlineData("x.baz", false)]
    [InlineData("a.gz", false)] // the module's list replaces the default one
    [InlineData("a.tar.gz", true)]
    [InlineData("B.TAR.GZ", true)]
    [InlineData("a.tar.gzip", false)]
    public void ModuleListWithPatterns(string name, bool skipped) =>
        Assert.Equal(skipped, SkipCompress.Create("bar", "*.foo  data* *.tar.gz", inDaemonModule: true).Skips(name));

    [Fact]
    public void DaemonWithoutAModuleListUsesTheDefault()
    {
        var skip = SkipCompress.Create("bar", null, inDaemonModule: true);
        Assert.True(skip.Skips("a.zip"));
        Assert.True(skip.Skips("a.bar"));
        Assert.False(skip.Skips("a.txt"));
    }

    [Fact]
    public void StarSkipsEverything()
    {
        var skip = SkipCompress.Create(null, "*.foo *", inDaemonModule: true);
        Assert.True(skip.SkipsEverything);
        Assert.True(skip.Skips("anything.txt"));
        Assert.Equal(0, skip.LevelFor("x"u8, 6));
    }

    [Theory]
    [InlineData("a.[x]z", true)] // a one-character class is a literal '['
    [InlineData("a.xz", false)]
    [InlineData("a.[q", true)] // '[' without ']' is literal too
    [InlineData("a.ab", true)]
    [InlineData("a.cd", true)]
    [InlineData("a.ad", true)]
    [InlineData("a.e", false)] // "[]e" adds nothing
    [InlineData("a.]e", false)]
    public void SuffixClasses(string name, bool skipped) =>
        Assert.Equal(skipped, SkipCompress.Create("[x]z/[q/[ac][bd]/[]e", null, inDaemonModule: false).Skips(name));

    [Fact]
    public void EmptyListSkipsNothing()
    {
        var skip = SkipCompress.Create(null, "", inDaemonModule: true);
        Assert.True(skip.SkipsNothing);
        Assert.False(skip.Skips("a.gz"));
        Assert.Equal(6, skip.LevelFor("a.gz"u8, 6));
    }

    [Fact]
    public void NewerDefaultListCoversMore()
    {
        var skip = SkipCompress.Create(null, null, inDaemonModule: false, SkipCompress.Rsync34Default);
        Assert.True(skip.Skips("a.zst"));
        Assert.True(skip.Skips("a.webp"));
        Assert.True(skip.Skips("a.tbz2"));
        Assert.False(skip.Skips("a.txt"));
        Assert.False(SkipCompress.Create(null, null, inDaemonModule: false).Skips("a.zst"));
    }
}
