using System.Net;
using System.Net.Sockets;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>Self-tests of <see cref="StockDaemon"/> and <see cref="StockClient.AssertNothingToChange"/>.</summary>
public sealed class HarnessDaemonTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Daemon_StartsServesAndStopsCleanly(string peer)
    {
        using var t = new TempDir();
        StockDaemon daemon = await StockDaemon.StartAsync(peer,
        [
            new DaemonModule("mod", t.Sub("mod")) { Comment = "the module" },
            new DaemonModule("secret", t.Sub("secret")) { AuthUsers = "rsync", Secrets = [("rsync", "pw")] },
        ]);
        string configDir = Path.GetDirectoryName(daemon.ConfigPath)!;
        int port = daemon.Port;
        try
        {
            string config = File.ReadAllText(daemon.ConfigPath);
            output.WriteLine(config);
            foreach (string line in (string[])["use chroot = no", "uid = 0", "gid = 0", "munge symlinks = no", "auth users = rsync"])
            {
                Assert.Contains(line, config, StringComparison.Ordinal);
            }
            Assert.DoesNotContain("pid file", config, StringComparison.Ordinal);
            string secrets = Path.Combine(configDir, "secret.secrets");
            Assert.Equal("0600", Posix.Octal(Posix.LStat(secrets).Permissions));
            Assert.Equal("rsync:pw\n", File.ReadAllText(secrets));

            ProcessResult list = await new StockClient(peer).RunAsync([daemon.Url(null)]);
            output.WriteLine(list.ToString());
            Assert.True(list.ExitCode == 0, list.ToString());
            Assert.Contains("the module", list.Stdout, StringComparison.Ordinal);

            // The log is written; every connection process (including the readiness probe's) goes away.
            await daemon.WaitForLogAsync(log => log.Length > 0, "anything");
            await daemon.WaitForIdleAsync();
            Assert.Empty(daemon.ChildProcessIds());
            Assert.False(daemon.HasExited);
            Assert.True(StockDaemon.OwnsListeningSocket(daemon.ProcessId, port));
            Assert.False(StockDaemon.OwnsListeningSocket(Environment.ProcessId, port));
        }
        finally
        {
            await daemon.DisposeAsync();
        }

        Assert.True(daemon.HasExited);
        Assert.False(Directory.Exists(configDir), "the daemon's generated files should be removed on dispose");
        using var probe = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, port));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Daemon_ThatCannotListen_FailsWithItsDiagnostics(string peer)
    {
        using var t = new TempDir();
        var blocker = new TcpListener(IPAddress.Parse("127.0.0.1"), 0);
        blocker.Start();
        try
        {
            int port = ((IPEndPoint)blocker.LocalEndpoint).Port;
            Assert.True(StockDaemon.OwnsListeningSocket(Environment.ProcessId, port), "our own blocking listener should be seen as ours");
            var ex = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(async () =>
            {
                await using StockDaemon unexpected = await StockDaemon.StartAsync(peer, [new DaemonModule("mod", t.Sub("mod"))], port);
            });
            output.WriteLine(ex.Message);
            Assert.Contains("exited with code", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Address already in use", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            blocker.Stop();
        }
    }

    [Fact]
    public async Task Daemon_ForAMissingPeer_Fails()
    {
        using var t = new TempDir();
        var ex = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(async () =>
        {
            await using StockDaemon unexpected = await StockDaemon.StartAsync("/nonexistent/rsync-9.9.9", [new DaemonModule("mod", t.Sub("mod"))]);
        });
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>AssertNothingToChange must pass after a faithful stock push and fail when the source
    /// then changes; and it must use the push's protocol: at 30 a nanosecond-only change is invisible.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task AssertNothingToChange_PassesAfterPush_FailsAfterChange(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        TortureTree.Create(f.Source, includeHugeFile: false);
        ProcessResult push = await new StockClient(peer).RunAsync(["-aH", f.SourceArg, f.Url()]);
        output.WriteLine(push.ToString());
        Assert.True(push.ExitCode == 0, push.ToString());

        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), RsyncPeers.DefaultProtocol);

        string changed = Path.Combine(f.Source, "a", "b", "small.txt");
        PosixStat st = Posix.LStat(changed);
        Posix.SetTimes(changed, st.MtimeSeconds + 10, st.MtimeNanoseconds);
        var ex = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(() =>
            StockClient.AssertNothingToChange(peer, f.Source, f.Url(), RsyncPeers.DefaultProtocol));
        output.WriteLine(ex.Message);
        Assert.Contains("a/b/small.txt", ex.Message, StringComparison.Ordinal);
        Assert.Contains("1 thing(s) to change", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>With Debian's rsync (3.2+, where --modify-window=-1 compares nanoseconds) a
    /// nanosecond-only difference is found at the default protocol; and a protocol-30 dry run insists
    /// on whole-second destination times, i.e. it must be run at the protocol of the push.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.DebianPeerOnly), MemberType = typeof(RsyncPeers))]
    public async Task AssertNothingToChange_SeesNanoseconds_AndNeedsThePushProtocol(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        string file = Path.Combine(f.Source, "f.txt");
        File.WriteAllText(file, "f\n");
        PushFixture.StampTimes(f.Source);
        ProcessResult push = await new StockClient(peer).RunAsync(["-a", f.SourceArg, f.Url()]);
        Assert.True(push.ExitCode == 0, push.ToString());
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), RsyncPeers.DefaultProtocol);
        var wrongProtocol = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(() =>
            StockClient.AssertNothingToChange(peer, f.Source, f.Url(), "30"));
        output.WriteLine(wrongProtocol.Message);

        PosixStat st = Posix.LStat(file);
        Posix.SetTimes(file, st.MtimeSeconds, st.MtimeNanoseconds + 1);

        var ex = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(() =>
            StockClient.AssertNothingToChange(peer, f.Source, f.Url(), RsyncPeers.DefaultProtocol));
        output.WriteLine(ex.Message);
        Assert.Contains("f.txt", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>After a protocol-30 push the destination has whole-second times and the protocol-30
    /// dry run is clean.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task AssertNothingToChange_IsCleanAfterAProtocol30Push(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        TortureTree.Create(f.Source, includeHugeFile: false);
        ProcessResult push = await new StockClient(peer).RunAsync(["-aH", "--protocol=30", f.SourceArg, f.Url()]);
        Assert.True(push.ExitCode == 0, push.ToString());
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), "30");
        Assert.All(TreeComparer.Scan(f.ModuleDir).Values.Where(e => e.RelativePath != "."),
            e => Assert.True(e.Stat.MtimeNanoseconds == 0, $"{TreeComparer.Show(e.RelativePath)} has nanoseconds after a protocol-30 push"));
    }

    public static TheoryData<string, string, string> SanitizeCases => new()
    {
        { "links/absolute", "/etc/hostname", "etc/hostname" },
        { "links/rel", "../a/b", "../a/b" },
        { "top", "../x", "x" },
        { "a/b/l", "../../../x", "../../x" },
        { "a/l", "x/../y", "y" },
        { "a/l", "./x//y", "x/y" },
        { "l", "/", "." },
        { "a/b/l", "../x/../../y", "../../y" },
    };

    [Theory]
    [MemberData(nameof(SanitizeCases))]
    public void SanitizeSymlinkTarget_Examples(string link, string target, string expected) =>
        Assert.Equal(expected, TreeComparer.SanitizeSymlinkTarget(link, target));

    /// <summary>Checks <see cref="TreeComparer.SanitizeSymlinkTarget"/> against what a real unchrooted
    /// daemon stores, for every example above.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task SanitizeSymlinkTarget_MatchesAnUnchrootedDaemon(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        var cases = SanitizeCases.Select(c => ((string)c[0], (string)c[1], (string)c[2])).ToArray();
        int i = 0;
        var links = new List<(string Rel, string Target)>();
        foreach ((string link, string target, string _) in cases)
        {
            string rel = $"case{i++}/{link}";
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(f.Source, rel))!);
            File.CreateSymbolicLink(Path.Combine(f.Source, rel), target);
            links.Add((rel, target));
        }
        ProcessResult push = await new StockClient(peer).RunAsync(["-a", f.SourceArg, f.Url()]);
        output.WriteLine(push.ToString());
        Assert.True(push.ExitCode == 0, push.ToString());
        foreach ((string rel, string target) in links)
        {
            // The module root is one level above "caseN", so the link's depth inside the transfer is rel's.
            string stored = Posix.ReadLinkText(Path.Combine(f.ModuleDir, rel));
            Assert.True(stored == TreeComparer.SanitizeSymlinkTarget(rel, target),
                $"{rel} -> {target}: daemon stored {TreeComparer.Show(stored)}, model says {TreeComparer.Show(TreeComparer.SanitizeSymlinkTarget(rel, target))}");
        }
    }
}
