using NetRsync.Protocol.Daemon;
using Xunit;

namespace NetRsync.Protocol.Tests.Daemon;

/// <summary>util1.c, sanitize_path as a daemon without chroot applies it to what a client names.</summary>
public sealed class ModulePathTests
{
    [Theory]
    [InlineData("../outside/leak.txt", ".", "outside/leak.txt")]
    [InlineData("/abs/partial", ".", "abs/partial")]
    [InlineData("/", ".", ".")]
    [InlineData("a/../../../b", ".", "b")]
    [InlineData("./a//b/./c/", ".", "a/b/c")]
    [InlineData("..", "dest", ".")]
    [InlineData("../backup", "dest/sub", "dest/backup")]
    [InlineData("../../../../backup", "dest/sub", "backup")]
    [InlineData("/backup", "dest/sub", "backup")]
    [InlineData("", ".", ".")]
    public void NothingClimbsAboveTheModule(string path, string current, string expected) =>
        Assert.Equal(expected, ModulePath.Sanitize(path, current));
}
