using NetRsync.Protocol.Daemon.Config;
using Xunit;

namespace NetRsync.Protocol.Tests.DaemonConfiguration;

/// <summary>"@netgroup" items in hosts allow / hosts deny (access.c, match_hostname): innetgr on the client's host name.</summary>
public sealed class HostAccessNetgroupTests
{
    private readonly List<(string Group, string Host)> _asked = [];

    private HostAccessOptions Netgroups(params (string Group, string Host)[] members) => new()
    {
        InNetgroup = (group, host) =>
        {
            _asked.Add((group, host));
            return members.Contains((group, host));
        },
    };

    [Fact]
    public void DenyNetgroupRefusesAMember()
    {
        var options = Netgroups(("badhosts", "evil.example.com"));
        Assert.False(new HostAccess(null, "@badhosts").IsAllowed("192.0.2.7", "evil.example.com", options));
        Assert.True(new HostAccess(null, "@badhosts").IsAllowed("192.0.2.8", "good.example.com", options));
    }

    [Fact]
    public void AllowNetgroupAdmitsOnlyMembers()
    {
        var options = Netgroups(("trusted", "ws1.example.com"));
        Assert.True(new HostAccess("@trusted", null).IsAllowed("192.0.2.1", "ws1.example.com", options));
        Assert.False(new HostAccess("@trusted", null).IsAllowed("192.0.2.2", "ws2.example.com", options));
    }

    [Fact]
    public void OnlyTheHostNameIsAsked()
    {
        // rsync passes the name, never the address, and no user or domain.
        var options = Netgroups(("badhosts", "127.0.0.1"));
        Assert.True(new HostAccess(null, "@badhosts").IsAllowed("127.0.0.1", "localhost", options));
        Assert.Equal([("badhosts", "localhost")], _asked);
    }

    [Fact]
    public void NetgroupNameIsLowerCasedButTheHostIsNot()
    {
        // The whole list is lower-cased (access.c, access_match); the host name goes as determined.
        var options = Netgroups(("badhosts", "WS1.Example.COM"));
        Assert.False(new HostAccess(null, "@BadHosts").IsAllowed("192.0.2.1", "WS1.Example.COM", options));
        Assert.Equal([("badhosts", "WS1.Example.COM")], _asked);
    }

    [Fact]
    public void UnresolvedNamesAreAskedAsTheyAre()
    {
        var options = Netgroups(("odd", HostAccess.UndeterminedHostName));
        Assert.False(new HostAccess(null, "@odd").IsAllowed("192.0.2.1", HostAccess.UndeterminedHostName, options));
        Assert.True(new HostAccess(null, "@odd").IsAllowed("192.0.2.1", HostAccess.UnknownHostName, options));
    }

    [Fact]
    public void NoHostNameMeansNoLookup()
    {
        var options = Netgroups(("badhosts", ""));
        Assert.True(new HostAccess(null, "@badhosts").IsAllowed("192.0.2.1", null, options));
        Assert.True(new HostAccess(null, "@badhosts").IsAllowed("192.0.2.1", "", options));
        Assert.Empty(_asked);
    }

    [Fact]
    public void NetgroupItemIsNotAPattern()
    {
        // With netgroups available, "@ws*" names a netgroup and is not matched against the name.
        var options = Netgroups();
        Assert.True(new HostAccess(null, "@ws*").IsAllowed("192.0.2.1", "@ws1", options));
        Assert.Equal([("ws*", "@ws1")], _asked);
    }

    [Fact]
    public void LoneAtSignIsNotANetgroup()
    {
        var options = Netgroups(("", "localhost"));
        Assert.True(new HostAccess(null, "@").IsAllowed("127.0.0.1", "localhost", options));
        Assert.Empty(_asked);
    }

    [Fact]
    public void LaterItemsStillCountAfterANetgroupMiss()
    {
        var options = Netgroups();
        Assert.False(new HostAccess(null, "@badhosts, 127.0.0.1").IsAllowed("127.0.0.1", "localhost", options));
        Assert.Equal([("badhosts", "localhost")], _asked);
    }

    [Fact]
    public void SystemLookupFindsNoUnknownNetgroup()
    {
        Assert.False(NetRsync.Protocol.Native.Posix.InNetgroup("no-such-netgroup-" + Guid.NewGuid().ToString("N")[..12], "localhost"));
        Assert.False(NetRsync.Protocol.Native.Posix.InNetgroup("", "localhost"));
    }
}
