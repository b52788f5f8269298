using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.Native;
using Xunit;
using Config = NetRsync.Protocol.Daemon.Config.DaemonConfig;

namespace NetRsync.Protocol.Tests.Daemon;

/// <summary>What a module asks of its serving process (clientserver.c, rsync_module). These run as root, as the daemon does.</summary>
public sealed class ModuleIsolationTests
{
    private static ModuleIsolation Resolve(string moduleLines, out string? error)
    {
        var module = Config.Parse($"[m]\npath = /srv/m\n{moduleLines}\n", "test.conf").Modules[0];
        var isolation = ModuleIsolation.Resolve(module, module.Path!, out error, out _);
        return isolation ?? new ModuleIsolation { ModuleDirectory = "" };
    }

    [Fact]
    public void AsRoot_AModuleWithoutUidOrGid_ChrootsAndBecomesNobody()
    {
        Assert.Equal(0, Posix.EffectiveUserId());
        var m = Resolve("", out string? error);
        Assert.Null(error);
        Assert.True(m.UseChroot);
        Assert.Equal(("/srv/m", "/"), (m.ChrootDirectory, m.ModuleDirectory));
        Assert.Equal(Posix.UserId("nobody"), m.Uid);
        Assert.Equal([Posix.GroupId(NetRsync.Protocol.Daemon.Config.DaemonModule.DefaultNobodyGroup())!.Value], m.Gids);
    }

    [Fact]
    public void RootUidAndGidWithoutChroot_NeedNothing()
    {
        var m = Resolve("use chroot = no\nuid = root\ngid = 0", out string? error);
        Assert.Null(error);
        Assert.False(m.Needed);
    }

    [Fact]
    public void AnInnerPath_ChrootsIntoTheOuterPart()
    {
        var module = Config.Parse("[m]\npath = /srv/./inner/dir/\nuid = root\ngid = root\n", "test.conf").Modules[0];
        var m = ModuleIsolation.Resolve(module, module.Path!, out _, out _)!;
        Assert.Equal(("/srv", "/inner/dir"), (m.ChrootDirectory, m.ModuleDirectory));
    }

    [Fact]
    public void GidStar_TakesEveryGroupOfTheUserPrimaryFirst()
    {
        var m = Resolve("uid = nobody\ngid = * root", out string? error);
        Assert.Null(error);
        Assert.Equal(Posix.UserPrimaryGroup("nobody"), m.Gids[0]);
        Assert.Contains(0, m.Gids);
    }

    [Fact]
    public void AnUnknownUser_IsRefusedAsRsyncRefusesIt()
    {
        Resolve("uid = no-such-user-here", out string? error);
        Assert.Equal("invalid uid no-such-user-here", error);
        Resolve("uid = root\ngid = no-such-group-here", out error);
        Assert.Equal("invalid gid setting.", error);
    }
}
