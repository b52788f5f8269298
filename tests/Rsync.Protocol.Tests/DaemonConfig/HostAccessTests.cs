using System.Net;
using NetRsync.Protocol.Daemon.Config;
using Xunit;

// Not named after the folder: a namespace called DaemonConfig would hide the DaemonConfig class from other tests.
namespace NetRsync.Protocol.Tests.DaemonConfiguration;

public sealed class HostAccessTests
{
    private static bool Allowed(string? allow, string? deny, string address = "127.0.0.1", string? host = "localhost", HostAccessOptions? options = null) =>
        new HostAccess(allow, deny).Check(address, host, options).Allowed;

    // Each row was also run against an rsync 3.5.0 daemon on 127.0.0.1 (reverse name "localhost",
    // forward lookups on), which admitted or refused the client the same way.
    [Theory]
    [InlineData("127.0.0.*", null, false)]                 // a wildcard is a host-name pattern, never an address
    [InlineData("127.0.0.1", null, true)]
    [InlineData("127.0.0.0/8", null, true)]
    [InlineData("127.0.0.0/255.0.0.0", null, true)]
    [InlineData("127.1", null, true)]                      // inet_aton's short form
    [InlineData("0177.0.0.1", null, true)]                 // and its octal
    [InlineData("localhost", null, true)]
    [InlineData("LOCAL*", null, true)]
    [InlineData("*", null, true)]
    [InlineData("10.0.0.0/8", null, false)]
    [InlineData("10.0.0.0/8", "127.0.0.1", false)]
    [InlineData("10.0.0.0/8", "10.0.0.1", true)]          // not allowed, not denied: admitted
    [InlineData(null, "*", false)]
    [InlineData("*", "*", true)]                           // allow is checked first
    [InlineData("127.0.0.1/0", null, true)]
    [InlineData("10.0.0.1/0", null, true)]                 // /0 matches every address of the family
    [InlineData("::/0", null, false)]                      // but not the other family
    [InlineData("127.0.0.1/33", null, false)]
    [InlineData("127.0.0.2/31", null, false)]
    [InlineData("127.0.0.0/31", null, true)]
    [InlineData("127.0.0.1/8x", null, false)]
    [InlineData("127.0.0.1/", null, false)]
    [InlineData("127.0.0.1/+8", null, true)]
    [InlineData("127.0.0.1/ 8", null, false)]
    [InlineData("10.0.0.1, 127.0.0.1", null, true)]
    [InlineData("127.0.0.1/255.255.255.255", null, true)]
    public void MatchesLikeRsync350(string? allow, string? deny, bool expected)
    {
        Assert.Equal(expected, Allowed(allow, deny));
    }

    [Fact]
    public void EmptyListsMeanNoList()
    {
        Assert.True(Allowed(null, null));
        Assert.True(Allowed("", ""));
        Assert.False(Allowed("10.0.0.1", ""));
        Assert.True(Allowed("", "10.0.0.1"));
    }

    [Theory]
    [InlineData("192.168.1.0/24", "192.168.1.77", true)]
    [InlineData("192.168.1.0/24", "192.168.2.77", false)]
    [InlineData("192.168.1.0/255.255.255.0", "192.168.1.200", true)]
    [InlineData("192.168.1.0/255.255.0.255", "192.168.77.0", true)]   // a netmask need not be contiguous
    [InlineData("192.168.1.0/255.255.0.255", "192.168.77.1", false)]
    [InlineData("10.0.0.0/8", "10.255.255.255", true)]
    [InlineData("10.0.0.0/8", "11.0.0.0", false)]
    [InlineData("10.1.2.3/32", "10.1.2.3", true)]
    [InlineData("10.1.2.3/32", "10.1.2.4", false)]
    [InlineData("10.1.2.3/-1", "10.1.2.3", false)]
    [InlineData("10.1.2.3/00", "99.1.2.3", true)]
    [InlineData("010.1.2.3/255.0.0.0", "8.7.7.7", true)]                // octal address
    [InlineData("10.1.2.3/010.0.0.0", "10.9.9.9", false)]               // octal netmask is not a netmask and not a number
    [InlineData("10.1.2.3.4", "10.1.2.3", false)]
    [InlineData("10.1", "10.0.0.1", true)]
    [InlineData("10.1.2", "10.1.0.2", true)]
    [InlineData("167772161", "10.0.0.1", true)]
    [InlineData("2001:db8::/32", "2001:db8:1::5", true)]
    [InlineData("2001:db8::/32", "2001:db9::5", false)]
    [InlineData("2001:db8::/ffff:ffff::", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/ffff:ffff::", "2001:db7::1", false)]
    [InlineData("::1", "::1", true)]
    [InlineData("::1/128", "::2", false)]
    [InlineData("2001:DB8::1", "2001:db8::1", true)]                   // lists are lower-cased
    [InlineData("2001:db8::/129", "2001:db8::1", false)]
    [InlineData("fe80::%1/64", "fe80::1%1", true)]
    [InlineData("fe80::%1/64", "fe80::1%2", false)]
    [InlineData("fe80::/64", "fe80::1%2", true)]                      // no scope in the item: any scope
    [InlineData("127.0.0.1", "::ffff:127.0.0.1", true)]                // IPv4-mapped clients are IPv4
    [InlineData("::ffff:127.0.0.1", "127.0.0.1", false)]
    public void AddressesAndMasks(string allow, string address, bool expected)
    {
        Assert.Equal(expected, Allowed(allow, null, address, HostAccess.UnknownHostName));
    }

    [Theory]
    [InlineData("*.example.com", "host.example.com", true)]
    [InlineData("*.example.com", "HOST.Example.COM", true)]
    [InlineData("*.EXAMPLE.com", "host.example.com", true)]
    [InlineData("*.example.com", "example.com", false)]
    [InlineData("host?.example.com", "host7.example.com", true)]
    [InlineData("host[0-4].example.com", "host5.example.com", false)]
    [InlineData("host[0-4].example.com", "host3.example.com", true)]
    [InlineData("unknown", HostAccess.UnknownHostName, true)]           // the placeholder names can be listed
    [InlineData("UNDETERMINED", HostAccess.UndeterminedHostName, true)]
    [InlineData("*", "", false)]                                       // no name at all matches no pattern
    [InlineData("*", null, false)]
    public void HostNamePatterns(string allow, string? host, bool expected)
    {
        Assert.Equal(expected, Allowed(allow, null, "198.51.100.7", host));
    }

    [Fact]
    public void WildcardAddressLooksMatchTheReverseName()
    {
        // "192.168.1.*" only ever matches a host whose reverse name looks like that, never the address.
        Assert.False(Allowed("192.168.1.*", null, "192.168.1.5", HostAccess.UnknownHostName));
        Assert.False(Allowed("192.168.1.*", null, "192.168.1.5", "gw.example.com"));
        Assert.True(Allowed("192.168.1.*", null, "10.0.0.1", "192.168.1.host"));
    }

    [Fact]
    public void AllowThenDenyCombinations()
    {
        const string allow = "10.0.0.0/8 trusted.example.com";
        const string deny = "10.9.0.0/16, *.evil.example.com";
        var access = new HostAccess(allow, deny);

        Assert.True(access.IsAllowed("10.9.1.1", HostAccess.UnknownHostName));           // allowed wins over denied
        Assert.True(access.IsAllowed("192.0.2.1", "trusted.example.com"));
        Assert.False(access.IsAllowed("192.0.2.1", "x.evil.example.com"));
        Assert.True(access.IsAllowed("192.0.2.1", "neutral.example.org"));              // neither: admitted

        var allowOnly = new HostAccess(allow, null);
        Assert.False(allowOnly.IsAllowed("192.0.2.1", "neutral.example.org"));
        var denyOnly = new HostAccess(null, deny);
        Assert.False(denyOnly.IsAllowed("10.9.0.1", "x"));
        Assert.True(denyOnly.IsAllowed("10.8.0.1", "x"));
    }

    [Fact]
    public void ForModuleUsesItsLists()
    {
        var config = NetRsync.Protocol.Daemon.Config.DaemonConfig.Parse(
            "hosts deny = *\n[open]\npath=/o\nhosts allow = 10.0.0.0/8\n[closed]\npath=/c\n", "t.conf");
        Assert.True(HostAccess.For(config.FindModule("open")!).IsAllowed("10.1.1.1", "x"));
        Assert.False(HostAccess.For(config.FindModule("open")!).IsAllowed("11.1.1.1", "x"));
        Assert.False(HostAccess.For(config.FindModule("closed")!).IsAllowed("10.1.1.1", "x"));
    }

    [Fact]
    public void ForwardLookupMatchesTheListedNamesAddresses()
    {
        var lookups = new List<string>();
        var options = new HostAccessOptions
        {
            ResolveHostName = name =>
            {
                lookups.Add(name);
                return name == "backup.example.com" ? [IPAddress.Parse("192.0.2.10"), IPAddress.Parse("2001:db8::10")] : [];
            },
        };

        Assert.True(Allowed("Backup.Example.COM", null, "192.0.2.10", HostAccess.UnknownHostName, options));
        Assert.Equal(["backup.example.com"], lookups);
        Assert.False(Allowed("backup.example.com", null, "192.0.2.11", HostAccess.UnknownHostName, options));
        // Only IPv4 answers count, as with gethostbyname.
        Assert.False(Allowed("backup.example.com", null, "2001:db8::10", HostAccess.UnknownHostName, options));

        // Addresses, patterns and masks are never looked up.
        lookups.Clear();
        Allowed("10.0.0.1 *.example.com host?.x ::1 a/24 [ab].x", null, "192.0.2.10", HostAccess.UnknownHostName, options);
        Assert.Empty(lookups);

        // "forward lookup = no" turns it off.
        Assert.False(Allowed("backup.example.com", null, "192.0.2.10", HostAccess.UnknownHostName,
            new HostAccessOptions { ForwardLookup = false, ResolveHostName = options.ResolveHostName }));
    }

    [Fact]
    public void ForwardMatchNamesAnUndeterminedHost()
    {
        var options = new HostAccessOptions { ResolveHostName = _ => [IPAddress.Parse("192.0.2.10")] };
        HostAccessResult r = new HostAccess("gw.example.com", null).Check("192.0.2.10", HostAccess.UndeterminedHostName, options);
        Assert.True(r.Allowed);
        Assert.Equal("gw.example.com", r.HostName);

        r = new HostAccess("gw.example.com", null).Check("192.0.2.10", HostAccess.UnknownHostName, options);
        Assert.Equal(HostAccess.UnknownHostName, r.HostName);
    }

    [Fact]
    public void UnresolvableDenyNameRefusesButUnresolvableAllowNameDoesNotAdmit()
    {
        // rsync 3.5.0 refused 127.0.0.1 for "hosts deny = no-such-host.invalid"; 3.1.1 admitted it.
        var options = new HostAccessOptions { ResolveHostName = _ => null };
        Assert.False(Allowed(null, "no-such-host.invalid", options: options));
        Assert.False(Allowed("no-such-host.invalid", null, options: options));
        Assert.True(Allowed("no-such-host.invalid", "10.0.0.0/8", options: options));
        // Without a resolver nothing is looked up, so nothing fails closed.
        Assert.True(Allowed(null, "no-such-host.invalid"));
    }

    [Fact]
    public void NetgroupsUseTheGivenMembershipTest()
    {
        var options = new HostAccessOptions { InNetgroup = (group, host) => group == "admins" && host == "ws1.example.com" };
        Assert.True(Allowed("@admins", null, "192.0.2.1", "ws1.example.com", options));
        Assert.False(Allowed("@admins", null, "192.0.2.1", "ws2.example.com", options));
        Assert.False(Allowed("@admins", null, "192.0.2.1", "ws1.example.com"));
    }

    [Fact]
    public void MalformedItemsAreLogged()
    {
        var log = new List<string>();
        var options = new HostAccessOptions { Log = log.Add };
        Assert.False(Allowed("127.0.0.1/33 127.0.0.1/x 1.2.3.4.5 ::1::2", null, options: options));
        Assert.Equal(
            ["malformed mask in 127.0.0.1/33", "malformed mask in 127.0.0.1/x", "error matching address 1.2.3.4.5: Name or service not known",
             "error matching address ::1::2: Name or service not known"],
            log);
    }

    [Fact]
    public void AcceptsIPAddressObjects()
    {
        var access = new HostAccess("10.0.0.0/8", null);
        Assert.True(access.Check(IPAddress.Parse("::ffff:10.2.3.4"), HostAccess.UnknownHostName).Allowed);
        Assert.False(access.Check(IPAddress.Parse("11.2.3.4"), HostAccess.UnknownHostName).Allowed);
    }

    [Theory]
    [InlineData("1", 0x00000001u)]
    [InlineData("1.2", 0x01000002u)]
    [InlineData("1.2.3", 0x01020003u)]
    [InlineData("1.2.3.4", 0x01020304u)]
    [InlineData("0x7f.1", 0x7F000001u)]
    [InlineData("0177.0.0.1", 0x7F000001u)]
    [InlineData("4294967295", 0xFFFFFFFFu)]
    public void InetAtonForms(string text, uint expected)
    {
        Assert.True(HostAccess.TryInetAton(text, out uint v));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1.2.3.4.")]
    [InlineData("1..2")]
    [InlineData("256.1.1.1")]
    [InlineData("1.2.3.256")]
    [InlineData("1.16777216")]
    [InlineData("08.1.1.1")]
    [InlineData("4294967296")]
    public void InetAtonRejects(string text)
    {
        Assert.False(HostAccess.TryInetAton(text, out _));
    }
}
