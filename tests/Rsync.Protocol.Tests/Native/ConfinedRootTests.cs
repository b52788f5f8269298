using System.Text;
using NetRsync.Protocol.Native;
using Xunit;

namespace NetRsync.Protocol.Tests.Native;

/// <summary>The same checks where the kernel has no openat2: each component opened with O_NOFOLLOW.</summary>
public sealed class ConfinedRootComponentWalkTests : ConfinedRootTests
{
    public ConfinedRootComponentWalkTests()
        : base(componentWalk: true)
    {
    }
}

/// <summary>A tree with a planted way out: "escape" is a symlink to a directory outside it.</summary>
public class ConfinedRootTests : IDisposable
{
    private readonly string _base = Directory.CreateTempSubdirectory("confined-").FullName;
    private readonly string _inside;
    private readonly bool _componentWalk;
    private readonly string _outside;

    public ConfinedRootTests()
        : this(componentWalk: false)
    {
    }

    protected ConfinedRootTests(bool componentWalk)
    {
        Confined.t_forceComponentWalk = componentWalk;
        _componentWalk = componentWalk;
        _inside = Path.Join(_base, "inside");
        _outside = Path.Join(_base, "outside");
        Directory.CreateDirectory(Path.Join(_inside, "dir"));
        Directory.CreateDirectory(_outside);
        File.WriteAllText(Path.Join(_outside, "secret"), "secret");
        File.WriteAllText(Path.Join(_inside, "dir", "file"), "inside");
        File.CreateSymbolicLink(Path.Join(_inside, "escape"), _outside);
        File.CreateSymbolicLink(Path.Join(_inside, "relative-escape"), "../outside");
        File.CreateSymbolicLink(Path.Join(_inside, "dirlink"), "dir");
    }

    public void Dispose()
    {
        Confined.t_forceComponentWalk = false;
        // .NET cannot name what is not UTF-8; the tree goes through the root's own calls.
        using (var root = ConfinedRoot.Open(_base))
        {
            NetRsync.Protocol.Roles.ReceivingSide.RemoveTree(root, "inside"u8);
            NetRsync.Protocol.Roles.ReceivingSide.RemoveTree(root, "outside"u8);
        }
        Directory.Delete(_base);
    }

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Theory]
    [InlineData("escape/secret")]
    [InlineData("relative-escape/secret")]
    [InlineData("../outside/secret")]
    [InlineData("dir/../../outside/secret")]
    [InlineData("/etc/hostname")]
    [InlineData("dirlink/file")]
    public void NothingIsReachedThroughALinkOrAboveTheRoot(string name)
    {
        using var root = ConfinedRoot.Open(_inside);
        Assert.NotEqual(0, root.OpenRead(B(name), out var handle));
        Assert.Null(handle);
        Assert.NotEqual(0, root.LStat(B(name), out _));
        Assert.NotEqual(0, root.Unlink(B(name)));
        Assert.NotEqual(0, root.Chmod(B(name), 0x1FF));
        Assert.NotEqual(0, root.MakeDirectory(B(name + "-new"), 0x1C0));
        Assert.True(File.Exists(Path.Join(_outside, "secret")));
        Assert.False(Directory.Exists(Path.Join(_outside, "secret-new")));
    }

    [Fact]
    public void TheLastComponentIsNeverFollowed()
    {
        using var root = ConfinedRoot.Open(_inside);
        Assert.Equal(0, root.LStat(B("escape"), out var st));
        Assert.True(st.IsSymlink);
        Assert.Equal(Posix.ELOOP, root.OpenRead(B("escape"), out _));
        int before = new DirectoryInfo(_outside).UnixFileMode is var m ? (int)m : 0;
        Assert.NotEqual(0, root.Chmod(B("escape"), 0x1FF));
        Assert.Equal(before, (int)new DirectoryInfo(_outside).UnixFileMode);
        // Removing the link removes the link only.
        Assert.Equal(0, root.Unlink(B("escape")));
        Assert.True(File.Exists(Path.Join(_outside, "secret")));
    }

    [Fact]
    public void OrdinaryOperationsWorkBeneathTheRoot()
    {
        using var root = ConfinedRoot.Open(_inside);
        Assert.Equal(0, root.MakeDirectory(B("dir/sub"), 0x1ED));
        Assert.Equal(0, root.CreateExclusive(B("dir/sub/new"), 0x180, out var handle));
        using (handle)
            RandomAccess.Write(handle!, "hello"u8, 0);
        Assert.Equal(Posix.EEXIST, root.CreateExclusive(B("dir/sub/new"), 0x180, out _));
        Assert.Equal(0, root.Rename(B("dir/sub/new"), B("dir/renamed")));
        Assert.Equal(0, root.HardLink(B("dir/renamed"), B("dir/linked")));
        Assert.Equal(0, root.Symlink(B("renamed"), B("dir/symlink")));
        Assert.Equal(0, root.ReadLink(B("dir/symlink"), out var target));
        Assert.Equal("renamed", Encoding.UTF8.GetString(target!));
        Assert.Equal(0, root.SetModTime(B("dir/renamed"), 1_000_000_000, 5));
        Assert.Equal(0, root.LStat(B("dir/renamed"), out var st));
        Assert.Equal(1_000_000_000, st.MtimeSeconds);
        Assert.Equal(2, st.LinkCount);
        var names = new List<byte[]>();
        Assert.Equal(0, root.List(B("dir"), names));
        Assert.Equal(["file", "linked", "renamed", "sub", "symlink"], names.Select(n => Encoding.UTF8.GetString(n)).Order(StringComparer.Ordinal));
        Assert.Equal("hello", File.ReadAllText(Path.Join(_inside, "dir", "linked")));
        Assert.Equal(0, root.RemoveDirectory(B("dir/sub")));
    }

    [Fact]
    public void NamesAreBytes()
    {
        using var root = ConfinedRoot.Open(_inside);
        byte[] latin1 = [(byte)'c', (byte)'a', (byte)'f', 0xE9];
        byte[] gbk = [0xD6, 0xD0, 0xCE, 0xC4];
        Assert.Equal(0, root.MakeDirectory(gbk, 0x1ED));
        Assert.Equal(0, root.CreateExclusive([.. gbk, (byte)'/', .. latin1], 0x180, out var h));
        h!.Dispose();
        var names = new List<byte[]>();
        Assert.Equal(0, root.List(gbk, names));
        Assert.Equal(latin1, Assert.Single(names));
    }

    [Fact]
    public void ASubRootFollowsOnlyLinksThatStayInside()
    {
        using var root = ConfinedRoot.Open(_inside);
        if (_componentWalk)
        {
            // Without openat2 a link is never followed, even one that stays inside.
            Assert.NotEqual(0, root.TryOpenBeneath(B("dirlink"), out _, followInside: true));
        }
        else
        {
            Assert.Equal(0, root.TryOpenBeneath(B("dirlink"), out var viaLink, followInside: true));
            using (viaLink)
                Assert.Equal(0, viaLink!.LStat(B("file"), out _));
        }
        Assert.NotEqual(0, root.TryOpenBeneath(B("dirlink"), out _));
        Assert.NotEqual(0, root.TryOpenBeneath(B("escape"), out _, followInside: true));
        Assert.NotEqual(0, root.TryOpenBeneath(B("relative-escape"), out _, followInside: true));
    }
}
