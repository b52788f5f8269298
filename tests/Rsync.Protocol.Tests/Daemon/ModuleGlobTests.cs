using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Roles;
using Xunit;

namespace NetRsync.Protocol.Tests.Daemon;

/// <summary>Wildcards in a requested path, expanded in the module as rsync's daemon does (util.c, glob_expand).</summary>
public sealed class ModuleGlobTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("netrsync-glob-").FullName;
    private readonly string _module;
    private readonly string _outside;

    public ModuleGlobTests()
    {
        _module = Path.Combine(_dir, "module");
        _outside = Path.Combine(_dir, "outside");
        foreach (string d in new[] { "foo", "bar/baz", "fig.d" })
            Directory.CreateDirectory(Path.Combine(_module, d));
        File.WriteAllText(Path.Combine(_module, "foo", "one"), "1");
        File.WriteAllText(Path.Combine(_module, "bar", "two"), "2");
        File.WriteAllText(Path.Combine(_module, "fig.d", "x.secret"), "s");
        File.WriteAllText(Path.Combine(_module, "file"), "f");
        Directory.CreateDirectory(_outside);
        File.WriteAllText(Path.Combine(_outside, "loot"), "l");
        File.CreateSymbolicLink(Path.Combine(_module, "fout"), _outside);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private List<string> Expand(string requested, params string[] excludes)
    {
        using var root = ConfinedRoot.Open(_module);
        var filters = FilterList.Parse(excludes.Select(e => "- " + e));
        return ModuleGlob.Expand(root, requested, filters).Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public void AComponentMatchesTheNamesInItsDirectory()
    {
        Assert.Equal(["fig.d", "file", "foo"], Expand("f*", "fout"));
        Assert.Equal(["bar/two"], Expand("b?r/t*"));
        Assert.Equal(["bar/baz", "bar/two"], Expand("bar/[bt]*"));
    }

    [Fact]
    public void ComponentsBeforeTheLastMustBeDirectoriesAndATrailingSlashStays()
    {
        Assert.Equal(["fig.d/x.secret", "foo/one"], Expand("f*/*", "fout"));
        Assert.Equal(["fig.d/", "foo/"], Expand("f*/", "fout"));
    }

    [Fact]
    public void NothingMatchedLeavesTheRequestAsItWas()
    {
        Assert.Equal(["nothing*"], Expand("nothing*"));
        Assert.Equal(["plain/path"], Expand("plain/path"));
    }

    [Fact]
    public void TheModulesExcludesAreNotMatched()
    {
        Assert.Equal(["fig.d", "file"], Expand("f*", "foo", "fout"));
        Assert.Equal(["foo/one"], Expand("f*/*", "*.secret", "fout"));
    }

    [Fact]
    public void NeitherDotDotNorASymlinkLeadsOutside()
    {
        Assert.DoesNotContain(Expand("../*"), p => p.Contains("outside", StringComparison.Ordinal) || p.Contains("module", StringComparison.Ordinal));
        Assert.Equal(["bar", "fig.d", "file", "foo", "fout"], Expand("../../*"));
        // The link's target is outside the module: it is no directory to descend into.
        Assert.Equal(["fig.d/x.secret", "foo/one"], Expand("f*/*"));
    }

    [Fact]
    public void AReceiverAcceptsWhatAWildcardRequestMatches()
    {
        var files = new List<FileEntry> { Entry("foo", directory: true), Entry("foo/one", directory: false) };
        ReceivingSide.ValidateRequested(files, ["f*"], relative: false, new FilterList());
        var stray = new List<FileEntry> { Entry("bar", directory: true) };
        var ex = Assert.Throws<RsyncProtocolException>(() => ReceivingSide.ValidateRequested(stray, ["f*"], relative: false, new FilterList()));
        Assert.Contains("rejecting unrequested file-list name: bar", ex.Message);
    }

    private static FileEntry Entry(string name, bool directory) =>
        new(System.Text.Encoding.UTF8.GetBytes(name), directory ? Posix.S_IFDIR | 0x1ED : Posix.S_IFREG | 0x1A4, 0, 1);
}
