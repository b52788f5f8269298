using System.Net;
using System.Net.Sockets;
using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>"use chroot" and the module's "uid"/"gid" with netrsyncd running as root: such modules are
/// served by a process of their own that chroots and changes user as rsync's forked child does. Where
/// the outcome is "what rsync does", Debian's stock daemon serving the same module is the reference.</summary>
[Collection(PushScenarios.Collection)]
public sealed class DaemonIsolationTests(ITestOutputHelper output)
{
    private const long MiB = 1 << 20;
    private const int NobodyUid = 65534;

    private Task<ProcessResult> Run(string peer, IEnumerable<string> args, TimeSpan? timeout = null) => RunStock(output, peer, args, timeout: timeout);

    private static async Task<ProcessResult> RunOnStock(ITestOutputHelper output, string peer, DaemonModule module, Func<StockDaemon, List<string>> args)
    {
        await using StockDaemon stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, [module]);
        return await RunStock(output, peer, args(stock));
    }

    /// <summary>A chrooted module holding "rootlink -> /" and a link to a directory outside it: a pull
    /// delivers both links as they are, and a pull through them finds nothing (the chroot's "/" is the
    /// module), failing as the stock daemon's does.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Chroot_DeliversLinksAsTheyAreAndNothingOutside(string peer)
    {
        RsyncPeers.Resolve(peer);
        string[] chroot = ["use chroot = yes"];
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = chroot });
        string outside = f.Temp.Sub("outside");
        File.WriteAllText(Path.Combine(outside, "secret.txt"), "secret\n");
        File.WriteAllText(Path.Combine(f.ModuleDir, "inside.txt"), "inside\n");
        File.CreateSymbolicLink(Path.Combine(f.ModuleDir, "rootlink"), "/");
        File.CreateSymbolicLink(Path.Combine(f.ModuleDir, "outlink"), outside);
        PushFixture.StampTimes(f.ModuleDir);
        f.AgeModuleRoot();

        string pulled = f.Temp.Sub("pulled");
        Posix.SetTimes(pulled, 631_152_000, 0);
        ProcessResult all = await Run(peer, ["-a", f.Url(), pulled + "/"]);
        await AssertExit(0, all, f.Daemon);
        TreeComparer.AssertIdentical(f.ModuleDir, pulled, CompareOptionsFor(RsyncPeers.DefaultProtocol));
        Assert.Equal("/", Posix.ReadLinkText(Path.Combine(pulled, "rootlink")));

        var module = new DaemonModule(NetRsyncDaemonFixture.ModuleName, f.ModuleDir) { ExtraLines = chroot };
        foreach (string path in new[] { "rootlink/etc/hostname", "outlink/secret.txt", "rootlink" + outside + "/" })
        {
            ProcessResult expected = await RunOnStock(output, peer, module, s => ["-a", s.Url(NetRsyncDaemonFixture.ModuleName) + path, f.Temp.Sub("stock-dst") + "/"]);
            Assert.NotEqual(0, expected.ExitCode);
            string dst = f.Temp.Sub("dst");
            ProcessResult r = await Run(peer, ["-a", f.Url() + path, dst + "/"]);
            await AssertExit(expected.ExitCode, r, f.Daemon);
            AssertEmpty(dst);
        }
    }

    /// <summary>Files pushed into a module with "uid = nobody", "gid = nogroup" belong to nobody, as
    /// with the stock daemon; stock rsync then finds nothing left to change.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task UidNobody_PushedFilesBelongToNobody(string peer)
    {
        RsyncPeers.Resolve(peer);
        string[] nobody = ["uid = nobody", "gid = nogroup"];
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = nobody });
        Posix.Chmod(f.ModuleDir, Posix.Mode("777"));
        SmallTree(f.Source);
        string stockModule = f.Temp.Sub("stock-mod");
        Posix.Chmod(stockModule, Posix.Mode("777"));

        ProcessResult expected = await RunOnStock(output, peer, new DaemonModule(NetRsyncDaemonFixture.ModuleName, stockModule) { ExtraLines = nobody },
            s => ["-a", f.SourceArg, s.Url(NetRsyncDaemonFixture.ModuleName) + "sub/"]);
        Assert.Equal(0, expected.ExitCode);
        PosixStat reference = Posix.LStat(Path.Combine(stockModule, "sub", "keep.txt"));
        Assert.Equal((uint)NobodyUid, reference.Uid);

        ProcessResult push = await Run(peer, ["-a", f.SourceArg, f.Url() + "sub/"]);
        await AssertExit(expected.ExitCode, push, f.Daemon);

        string pushed = Path.Combine(f.ModuleDir, "sub");
        foreach (TreeEntry e in TreeComparer.Scan(pushed).Values)
            Assert.True((e.Stat.Uid, e.Stat.Gid) == (reference.Uid, reference.Gid),
                $"{TreeComparer.Show(e.RelativePath)} belongs to {e.Stat.Uid}:{e.Stat.Gid}, the stock daemon's files to {reference.Uid}:{reference.Gid}");
        TreeComparer.AssertIdentical(f.Source, pushed, CompareOptionsFor(RsyncPeers.DefaultProtocol) with { CompareOwnership = false });
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url() + "sub/", RsyncPeers.DefaultProtocol);
    }

    /// <summary>A module whose directory nobody cannot write: the push fails with the stock daemon's exit code and writes nothing.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task UidNobody_UnwritableModule_FailsAsTheStockDaemonDoes(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ["uid = nobody", "gid = nogroup"] });
        Posix.Chmod(f.ModuleDir, Posix.Mode("755"));
        SmallTree(f.Source);
        string stockModule = f.Temp.Sub("stock-mod");
        Posix.Chmod(stockModule, Posix.Mode("755"));

        ProcessResult expected = await RunOnStock(output, peer, new DaemonModule(NetRsyncDaemonFixture.ModuleName, stockModule) { ExtraLines = ["uid = nobody", "gid = nogroup"] },
            s => ["-a", f.SourceArg, s.Url(NetRsyncDaemonFixture.ModuleName)]);
        Assert.NotEqual(0, expected.ExitCode);

        ProcessResult push = await Run(peer, ["-a", f.SourceArg, f.Url()]);
        await AssertExit(expected.ExitCode, push, f.Daemon);
        AssertEmpty(f.ModuleDir);
    }

    /// <summary>"max connections" counts a connection served by its own process until that process ends,
    /// and the process writes its transfer lines to the daemon's log.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.DebianPeerOnly), MemberType = typeof(RsyncPeers))]
    public async Task ConnectionProcess_CountsForMaxConnectionsAndLogs(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ["use chroot = yes", "max connections = 1"] });
        SmallTree(f.Source);

        using (TcpClient holder = await DaemonTests.HoldModuleConnection(f.Daemon.Port, NetRsyncDaemonFixture.ModuleName))
        {
            ProcessResult second = await Run(peer, ["-a", f.SourceArg, f.Url()]);
            await AssertExit(5, second, f.Daemon);
            Assert.Contains("max connections (1) reached", second.Stderr, StringComparison.Ordinal);
        }
        await f.Daemon.WaitForIdleAsync();

        ProcessResult third = await Run(peer, ["-a", f.SourceArg, f.Url()]);
        await AssertExit(0, third, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, CompareOptionsFor(RsyncPeers.DefaultProtocol));
        string log = await f.Daemon.WaitForLogAsync(l => l.Contains("] sent ", StringComparison.Ordinal), "the connection process's closing line");
        string[] transferLines = log.Split('\n').Where(l => l.Contains("] recv ", StringComparison.Ordinal)).ToArray();
        Assert.True(transferLines.Length == 4, $"one transfer line per pushed file expected\n{log}");
        Assert.DoesNotContain($"[{f.Daemon.ProcessId}] recv ", log, StringComparison.Ordinal);
    }

    /// <summary>SIGTERM to netrsyncd while its connection process writes a large file into a chrooted
    /// module: both exit, and neither a temporary file nor a damaged old file is left.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.DebianPeerOnly), MemberType = typeof(RsyncPeers))]
    public async Task Sigterm_DuringAPushIntoAChrootedModule_LeavesNoPartialFile(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ["use chroot = yes"] });
        string oldFile = Path.Combine(f.ModuleDir, "big.bin");
        PushFixture.WriteRandomFile(oldFile, 16 * MiB, seed: 1, mtimeSeconds: 1_000_000_000);
        string oldHash = PushFixture.Sha256(oldFile);
        PushFixture.WriteRandomFile(Path.Combine(f.Source, "big.bin"), 16 * MiB, seed: 2, mtimeSeconds: 1_200_000_000);
        f.AgeModuleRoot();

        // 16 MiB at 2 MB/s: about 8 s, so the push is surely still running when the signal comes.
        Task<ProcessResult> push = Run(peer, ["-a", "--bwlimit=2000", f.SourceArg, f.Url()], timeout: TimeSpan.FromSeconds(60));
        string[] Others() => Directory.EnumerateFileSystemEntries(f.ModuleDir, "*", new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = true })
            .Select(p => Path.GetRelativePath(f.ModuleDir, p)).Where(n => n != "big.bin").ToArray();
        await WaitUntilAsync(
            () => push.IsCompleted || Others().Any(n => Posix.TryLStat(Path.Combine(f.ModuleDir, n), out PosixStat st, out _) && st.Size > 0),
            "the push to start writing a temporary file in the module", TimeSpan.FromSeconds(30), f.Daemon.Diagnostics);
        Assert.False(push.IsCompleted, $"the push ended before the daemon was stopped\n{f.Daemon.Diagnostics()}");

        bool stopped = await f.Daemon.StopAsync();
        ProcessResult r = await push;

        Assert.True(stopped, $"netrsyncd did not exit within {NetRsyncDaemon.StopDeadline.TotalSeconds:F0}s of SIGTERM\n{f.Daemon.Diagnostics()}");
        Assert.True(r.ExitCode != 0, $"the push must fail when the daemon is stopped under it\n{r}");
        Assert.Equal(oldHash, PushFixture.Sha256(oldFile));
        string[] left = Others();
        Assert.True(left.Length == 0, $"after SIGTERM the module must hold only big.bin, but also holds: {string.Join(", ", left.Select(TreeComparer.Show))}\n{f.Daemon.Diagnostics()}");
    }

    /// <summary>Started with a connection on stdin, as inetd starts rsync, netrsyncd serves that one
    /// client itself, chroot included, and logs it.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Inetd_ServesTheConnectionOnStdin(string peer)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string mod = temp.Sub("mod");
        File.WriteAllText(Path.Combine(mod, "inside.txt"), "inside\n");
        File.CreateSymbolicLink(Path.Combine(mod, "rootlink"), "/");
        PushFixture.StampTimes(mod);
        Posix.SetTimes(mod, 631_152_000, 0);
        string config = temp.File("rsyncd.conf");
        File.WriteAllText(config, NetRsyncDaemon.GenerateConfig([new DaemonModule("mod", mod) { ExtraLines = ["use chroot = yes"] }], temp, []));
        (string program, string[] prefix) = NetRsyncDaemon.Locate();

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        string dst = temp.Sub("dst");
        Posix.SetTimes(dst, 631_152_000, 0);
        Task<ProcessResult> pull = Run(peer, ["-a", $"rsync://127.0.0.1:{port}/mod/", dst + "/"], TimeSpan.FromSeconds(60));
        using (Socket connection = await listener.AcceptSocketAsync())
        {
            var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");
            int pid = global::NetRsync.Protocol.Native.Posix.SpawnWithSocket(program, [.. prefix, $"--config={config}"], environment, (int)connection.Handle);
            int status = await Task.Run(() => global::NetRsync.Protocol.Native.Posix.WaitForChild(pid));
            Assert.True(status == 0, $"netrsyncd serving stdin exited with {status}\n{File.ReadAllText(temp.File("rsyncd.log"))}");
        }
        ProcessResult r = await pull;

        Assert.True(r.ExitCode == 0, $"{r}\n{File.ReadAllText(temp.File("rsyncd.log"))}");
        TreeComparer.AssertIdentical(mod, dst, CompareOptionsFor(RsyncPeers.DefaultProtocol));
        Assert.Contains("rsync on mod/ from", File.ReadAllText(temp.File("rsyncd.log")), StringComparison.Ordinal);
    }

    /// <summary>pre-xfer and post-xfer exec of a chrooted module run outside the chroot, as the daemon's
    /// user, with rsync's variables, as with the stock daemon.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.DebianPeerOnly), MemberType = typeof(RsyncPeers))]
    public async Task XferExec_OfAChrootedModule_RunsOutsideTheChroot(string peer)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string[] Hooks(string tag) =>
        [
            "use chroot = yes",
            $"pre-xfer exec = (env | grep ^RSYNC_MODULE_NAME=; id -u) > {temp.File(tag + "-pre.out")}",
            $"post-xfer exec = (env | grep ^RSYNC_EXIT_STATUS=; id -u) > {temp.File(tag + "-post.out")}",
        ];
        SmallTree(temp.Sub("src"));
        await using (StockDaemon stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, [new DaemonModule("mod", temp.Sub("stock-mod")) { ExtraLines = Hooks("stock") }]))
        {
            Assert.Equal(0, (await Run(peer, ["-a", temp.Path + "/src/", stock.Url("mod")])).ExitCode);
            await WaitUntilAsync(() => File.Exists(temp.File("stock-post.out")) && File.ReadAllText(temp.File("stock-post.out")).Count(c => c == '\n') == 2,
                "the stock post-xfer command", TimeSpan.FromSeconds(20), stock.Diagnostics);
        }

        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = Hooks("ours") });
        ProcessResult push = await Run(peer, ["-a", temp.Path + "/src/", f.Url()]);
        await AssertExit(0, push, f.Daemon);
        TreeComparer.AssertIdentical(Path.Combine(temp.Path, "src"), f.ModuleDir, CompareOptionsFor(RsyncPeers.DefaultProtocol) with { CompareOwnership = false });
        await WaitUntilAsync(() => File.Exists(temp.File("ours-post.out")) && File.ReadAllText(temp.File("ours-post.out")).Count(c => c == '\n') == 2,
            "netrsyncd's post-xfer command", TimeSpan.FromSeconds(20), f.Daemon.Diagnostics);
        Assert.Equal(File.ReadAllText(temp.File("stock-pre.out")), File.ReadAllText(temp.File("ours-pre.out")));
        Assert.Equal(File.ReadAllText(temp.File("stock-post.out")), File.ReadAllText(temp.File("ours-post.out")));
    }
}
