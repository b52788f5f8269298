using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>"munge symlinks": links pushed into the module are stored behind "/rsyncd-munged/", so
/// nothing on the daemon's side can follow them, and are sent back as the client wrote them; as a
/// stock daemon with the same module does.</summary>
[Collection(PushScenarios.Collection)]
public sealed class DaemonSymlinkTests(ITestOutputHelper output)
{
    private const string Prefix = "/rsyncd-munged/";

    private static readonly string[] Munging = ["munge symlinks = yes"];

    private Task<ProcessResult> Run(string peer, IEnumerable<string> args) => RunStock(output, peer, args);

    private static void LinkTree(string src)
    {
        SmallTree(src);
        File.CreateSymbolicLink(Path.Combine(src, "abs"), "/etc");
        File.CreateSymbolicLink(Path.Combine(src, "rel"), "keep.txt");
        File.CreateSymbolicLink(Path.Combine(src, "sub", "up"), "../../../outside");
        PushFixture.StampTimes(src);
    }

    private static Dictionary<string, string> Links(string root) =>
        TreeComparer.Scan(root).Values.Where(e => e.LinkTarget is not null)
            .ToDictionary(e => e.RelativePath, e => System.Text.Encoding.UTF8.GetString(e.LinkTarget!));

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task MungedLinks_AreStoredPrefixedAndPulledBackAsSent(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = Munging });
        LinkTree(f.Source);

        // The stock daemon's module, for the reference.
        string stockModule = f.Temp.Sub("stock-mod");
        Dictionary<string, string> reference;
        await using (StockDaemon stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync,
                         [new DaemonModule(NetRsyncDaemonFixture.ModuleName, stockModule) { ExtraLines = Munging }]))
        {
            ProcessResult stockPush = await Run(peer, ["-a", f.SourceArg, stock.Url(NetRsyncDaemonFixture.ModuleName)]);
            Assert.True(stockPush.ExitCode == 0, stockPush.ToString());
            reference = Links(stockModule);
        }
        Assert.Equal(Prefix + "/etc", reference["abs"]);

        ProcessResult push = await Run(peer, ["-a", f.SourceArg, f.Url()]);
        await AssertExit(0, push, f.Daemon);
        Assert.Equal(reference, Links(f.ModuleDir));

        string pulled = f.Temp.Sub("pulled");
        Posix.SetTimes(pulled, 631_152_000, 0);
        ProcessResult pull = await Run(peer, ["-a", f.Url(), pulled + "/"]);
        await AssertExit(0, pull, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, pulled, CompareOptionsFor(RsyncPeers.DefaultProtocol));

        await AssertAllAsync(f.Daemon,
            ("nothing left to push", () => StockClient.AssertNothingToChange(peer, f.Source, f.Url(), RsyncPeers.DefaultProtocol)),
            ("nothing left to pull", () => StockClient.AssertNothingToPull(peer, f.Url(), pulled, RsyncPeers.DefaultProtocol)));
    }

    /// <summary>A pushed link to "/etc" leads nowhere on the daemon: a pull through it delivers nothing
    /// and fails as the stock daemon's does.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task MungedLink_CannotBeFollowedOutOfTheModule(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = Munging });
        LinkTree(f.Source);
        ProcessResult push = await Run(peer, ["-a", f.SourceArg, f.Url()]);
        await AssertExit(0, push, f.Daemon);

        string stockModule = f.Temp.Sub("stock-mod");
        ProcessResult expected;
        await using (StockDaemon stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync,
                         [new DaemonModule(NetRsyncDaemonFixture.ModuleName, stockModule) { ExtraLines = Munging }]))
        {
            Assert.Equal(0, (await Run(peer, ["-a", f.SourceArg, stock.Url(NetRsyncDaemonFixture.ModuleName)])).ExitCode);
            expected = await Run(peer, ["-a", stock.Url(NetRsyncDaemonFixture.ModuleName) + "abs/hostname", f.Temp.Sub("stock-dst") + "/"]);
        }
        Assert.Equal(23, expected.ExitCode);

        string dst = f.Temp.Sub("dst");
        foreach (string path in new[] { "abs/hostname", "abs/" })
        {
            ProcessResult r = await Run(peer, ["-a", f.Url() + path, dst + "/"]);
            await AssertExit(expected.ExitCode, r, f.Daemon);
            AssertEmpty(dst);
            // The client hears the path from the module's root, as from rsync (util.c, full_fname), never where the module lives.
            // "NAME/" is entered with chdir (flist.c, send_file_list), so it fails as change_dir.
            string call = path.EndsWith('/') ? "change_dir" : "link_stat";
            Assert.Contains($"{call} \"{path.TrimEnd('/')}", r.Stderr, StringComparison.Ordinal);
            Assert.Contains("(in mod) failed", r.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain(f.ModuleDir, r.Stderr, StringComparison.Ordinal);
        }
    }
}
