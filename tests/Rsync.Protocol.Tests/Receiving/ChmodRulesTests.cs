using NetRsync.Protocol.Native;
using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Receiving;

/// <summary>Modes stock rsync produced with --perms --chmod=RULES under umask 022, for a 0640 file, a 0750 file and a 0750 directory.</summary>
public sealed class ChmodRulesTests
{
    [Theory]
    [InlineData("u+x", 0x1E0, 0x1E8, 0x1E8)]
    [InlineData("go-w", 0x1A0, 0x1E8, 0x1E8)]
    [InlineData("a=rX", 0x124, 0x16D, 0x16D)]
    [InlineData("F644,D755", 0x1A4, 0x1A4, 0x1ED)]
    [InlineData("ug=rwX,o=", 0x1B0, 0x1F8, 0x1F8)]
    [InlineData("644", 0x1A4, 0x1A4, 0x1A4)]
    [InlineData("Dg+s,Fo-r", 0x1A0, 0x1E8, 0x5E8)]
    [InlineData("+x", 0x1E9, 0x1E9, 0x1E9)]
    [InlineData("u=rwx,g=rx,o=", 0x1E8, 0x1E8, 0x1E8)]
    [InlineData("a+X", 0x1A0, 0x1E9, 0x1E9)]
    [InlineData("o+t,u+s", 0xBA0, 0xBE8, 0xBE8)]
    public void MatchesStockRsync(string rules, int file, int executable, int directory)
    {
        var chmod = ChmodRules.Parse([rules], umask: 0x12)!;
        Assert.Equal(file, chmod.Apply(Posix.S_IFREG | 0x1A0) & 0xFFF);
        Assert.Equal(executable, chmod.Apply(Posix.S_IFREG | 0x1E8) & 0xFFF);
        Assert.Equal(directory, chmod.Apply(Posix.S_IFDIR | 0x1E8) & 0xFFF);
    }

    [Theory]
    [InlineData("u+q")]
    [InlineData("DF+x")]
    [InlineData("888")]
    [InlineData("u")]
    public void RejectsMalformedRules(string rules) => Assert.Null(ChmodRules.Parse([rules], umask: 0x12));

    [Fact]
    public void SymlinksAreLeftAlone() =>
        Assert.Equal(Posix.S_IFLNK | 0x1FF, ChmodRules.Parse(["a-rwx"], 0x12)!.Apply(Posix.S_IFLNK | 0x1FF));
}
