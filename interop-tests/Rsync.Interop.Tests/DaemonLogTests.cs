using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>"transfer logging", "log format" and "reverse lookup": netrsyncd's log and host checks
/// against Debian's stock daemon serving the same module, driven by every peer as client.</summary>
[Collection(PushScenarios.Collection)]
public sealed partial class DaemonLogTests(ITestOutputHelper output)
{
    /// <summary>Every escape whose value both daemons must agree on (not %p, %t, %b, %c: pid, clock and buffering).</summary>
    private const string LogFormat = "%o %h [%a] %m (%u) %f %l %i %B %M %U %G%L %C";

    private static readonly string[] ModuleLines =
    [
        $"log format = {LogFormat}",
        // The name comes from the module's own lookup; the global section says no.
        "reverse lookup = yes",
        "forward lookup = no",
        "hosts allow = localhost",
    ];

    [GeneratedRegex(@"[0-9a-f]{32}$")]
    private static partial Regex WholeFileSum();

    [GeneratedRegex(@"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\d+\] ")]
    private static partial Regex LogPrefix();

    private Task<ProcessResult> Run(string peer, IEnumerable<string> args) => RunStock(output, peer, args);

    /// <summary>Lines a transfer log wrote (the format starts with %o), without date and pid, sorted
    /// (rsync deletes a directory's entries in reverse order).</summary>
    private static string[] TransferLines(string log, bool hideChecksums) =>
        log.Split('\n')
            .Select(l => LogPrefix().Replace(l, ""))
            .Select(l => hideChecksums ? WholeFileSum().Replace(l, "<sum>") : l)
            .Where(l => l.StartsWith("recv ", StringComparison.Ordinal) || l.StartsWith("send ", StringComparison.Ordinal) || l.StartsWith("del. ", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static int Sessions(string log) => Regex.Matches(log, @"\] sent \d+ bytes  received \d+ bytes").Count;

    /// <summary>A push, a pull, a push with --delete and a dry run that must log nothing, into "sub/" of the module at <paramref name="url"/>.</summary>
    private async Task Scenario(string peer, string url, string root)
    {
        string src = Path.Combine(root, "src");
        SmallTree(src);
        File.CreateSymbolicLink(Path.Combine(src, "lnk"), "keep.txt");
        PushFixture.StampTimes(src);

        ProcessResult push = await Run(peer, ["-a", src + "/", url + "sub/"]);
        Assert.True(push.ExitCode == 0, push.ToString());
        string pulled = Path.Combine(root, "pulled");
        Directory.CreateDirectory(pulled);
        ProcessResult pull = await Run(peer, ["-a", url + "sub/", pulled + "/"]);
        Assert.True(pull.ExitCode == 0, pull.ToString());

        File.Delete(Path.Combine(src, "b.txt"));
        Directory.Delete(Path.Combine(src, "sub", "deeper"), recursive: true);
        File.WriteAllText(Path.Combine(src, "keep.txt"), "keep, changed\n");
        PushFixture.StampTimes(src, 1_400_000_000);
        ProcessResult delete = await Run(peer, ["-a", "--delete", src + "/", url + "sub/"]);
        Assert.True(delete.ExitCode == 0, delete.ToString());

        File.WriteAllText(Path.Combine(src, "new.txt"), "only in a dry run\n");
        ProcessResult dry = await Run(peer, ["-an", "--delete", src + "/", url + "sub/"]);
        Assert.True(dry.ExitCode == 0, dry.ToString());
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task TransferLog_WritesTheLinesAStockDaemonWrites(string peer)
    {
        RsyncPeers.Resolve(peer);
        // rsync 3.2 and later agree on xxh128 with a stock daemon; netrsyncd speaks protocol 31, whose sum is MD5.
        bool hideChecksums = RsyncPeers.VersionOf(peer) >= new Version(3, 2);
        using var temp = new TempDir();
        string referenceLog = temp.File("stock.log");
        string stockModule = temp.Sub("stock-mod");
        string[] reference;
        await using (StockDaemon stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync,
                         [new DaemonModule(NetRsyncDaemonFixture.ModuleName, stockModule) { ExtraLines = ModuleLines }],
                         globalLines: [$"log file = {referenceLog}"]))
        {
            await Scenario(peer, stock.Url(NetRsyncDaemonFixture.ModuleName), temp.Sub("stock-run"));
            await WaitUntilAsync(() => Sessions(File.ReadAllText(referenceLog)) >= 4, "the stock daemon's four sessions in its log", TimeSpan.FromSeconds(20), stock.Diagnostics);
            reference = TransferLines(File.ReadAllText(referenceLog), hideChecksums);
        }
        // The reference must show what is being compared, or agreeing with it proves nothing.
        string all = string.Join("\n", reference);
        Assert.Contains("recv localhost [127.0.0.1] mod () sub/keep.txt 5 >f+++++++++ rw-r--r--", all, StringComparison.Ordinal);
        Assert.Contains("send localhost [127.0.0.1] mod () sub/sub/deeper/c.bin 5 <f+++++++++", all, StringComparison.Ordinal);
        Assert.Contains("del. localhost [127.0.0.1] mod () sub/sub/deeper 0", all, StringComparison.Ordinal);
        Assert.Contains(" -> keep.txt", all, StringComparison.Ordinal);
        Assert.DoesNotContain("new.txt", all, StringComparison.Ordinal);

        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ModuleLines });
        await Scenario(peer, f.Url(), f.Temp.Sub("run"));
        await WaitUntilAsync(() => Sessions(f.Daemon.DaemonLog) >= 4, "netrsyncd's four sessions in its log", TimeSpan.FromSeconds(20), f.Daemon.Diagnostics);
        string[] ours = TransferLines(f.Daemon.DaemonLog, hideChecksums);

        Assert.True(reference.SequenceEqual(ours),
            $"netrsyncd's transfer log differs from the stock daemon's.\n--- stock ---\n{all}\n--- netrsyncd ---\n{string.Join("\n", ours)}\n{f.Daemon.Diagnostics()}");
    }

    /// <summary>Host names in "hosts allow" match only where a reverse lookup named the client: a
    /// module that looks names up admits localhost, one that does not refuses it (and a hidden one
    /// says it does not exist), as the stock daemon does.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task HostsAllowByName_DependsOnTheModulesReverseLookup(string peer)
    {
        RsyncPeers.Resolve(peer);
        IEnumerable<DaemonModule> Modules(TempDir t) =>
        [
            new DaemonModule("named", t.Sub("named")) { ExtraLines = ["reverse lookup = yes", "forward lookup = no", "hosts allow = localhost"] },
            new DaemonModule("unnamed", t.Sub("unnamed")) { ExtraLines = ["forward lookup = no", "hosts allow = localhost"] },
            new DaemonModule("hidden", t.Sub("hidden")) { List = false, ExtraLines = ["forward lookup = no", "hosts allow = localhost"] },
        ];
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(extraModules: Modules);
        foreach (string m in new[] { "named", "unnamed", "hidden" })
            File.WriteAllText(Path.Combine(f.Temp.Path, m, "file.txt"), m + "\n");

        await using StockDaemon stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, Modules(f.Temp));
        foreach (string m in new[] { "named", "unnamed", "hidden" })
        {
            ProcessResult expected = await Run(peer, ["-a", stock.Url(m), f.Temp.Sub($"stock-{m}") + "/"]);
            ProcessResult actual = await Run(peer, ["-a", f.Daemon.Url(m), f.Temp.Sub($"ours-{m}") + "/"]);
            await AssertExit(expected.ExitCode, actual, f.Daemon);
            string? error = expected.Stderr.Split('\n').FirstOrDefault(l => l.StartsWith("@ERROR", StringComparison.Ordinal));
            if (error is not null)
                Assert.Contains(error, actual.Stderr, StringComparison.Ordinal);
            Assert.Equal(File.Exists(Path.Combine(f.Temp.Path, $"stock-{m}", "file.txt")), File.Exists(Path.Combine(f.Temp.Path, $"ours-{m}", "file.txt")));
        }
        Assert.True(File.Exists(Path.Combine(f.Temp.Path, "ours-named", "file.txt")), "the module that looks names up must admit localhost");
        Assert.False(File.Exists(Path.Combine(f.Temp.Path, "ours-unnamed", "file.txt")), "the module that does not look names up must refuse \"localhost\"");
    }

    /// <summary>A module's own "log file" takes its lines from the transfer on, as with the stock
    /// daemon; the daemon's log keeps the connection's first lines.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.DebianPeerOnly), MemberType = typeof(RsyncPeers))]
    public async Task ModuleLogFile_TakesTheModulesTransferLines(string peer)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string stockModuleLog = temp.File("stock-module.log");
        string ourModuleLog = temp.File("our-module.log");
        SmallTree(temp.Sub("src"));

        await using (StockDaemon stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync,
                         [new DaemonModule("mod", temp.Sub("stock-mod")) { ExtraLines = [$"log file = {stockModuleLog}"] }]))
        {
            Assert.Equal(0, (await Run(peer, ["-a", temp.Path + "/src/", stock.Url("mod")])).ExitCode);
            await WaitUntilAsync(() => File.Exists(stockModuleLog) && Sessions(File.ReadAllText(stockModuleLog)) >= 1, "the stock module log's closing line", TimeSpan.FromSeconds(20), stock.Diagnostics);
            Assert.Contains("] recv ", File.ReadAllText(stockModuleLog), StringComparison.Ordinal);
            Assert.Contains("] rsync allowed access on module mod", stock.DaemonLog, StringComparison.Ordinal);
            Assert.DoesNotContain("] recv ", stock.DaemonLog, StringComparison.Ordinal);
        }

        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = [$"log file = {ourModuleLog}"] });
        ProcessResult push = await Run(peer, ["-a", temp.Path + "/src/", f.Url()]);
        await AssertExit(0, push, f.Daemon);
        await WaitUntilAsync(() => File.Exists(ourModuleLog) && Sessions(File.ReadAllText(ourModuleLog)) >= 1, "netrsyncd's module log closing line", TimeSpan.FromSeconds(20), f.Daemon.Diagnostics);
        Assert.Contains("] recv ", File.ReadAllText(ourModuleLog), StringComparison.Ordinal);
        Assert.Contains("] rsync allowed access on module mod", f.Daemon.DaemonLog, StringComparison.Ordinal);
        Assert.DoesNotContain("] recv ", f.Daemon.DaemonLog, StringComparison.Ordinal);
    }

    /// <summary>A push with --delete names the deletions in the stock daemon's order: each directory's
    /// entries last to first, a directory's contents before it.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Delete_NamesDeletionsInTheStockDaemonsOrder(string peer)
    {
        RsyncPeers.Resolve(peer);
        static void Extraneous(string mod)
        {
            foreach (string name in new[] { "a.txt", "sub.txt", "zz", "sub/b.txt", "sub/c/d.txt", "m-dir/x" })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(mod, name))!);
                File.WriteAllText(Path.Combine(mod, name), name + "\n");
            }
            File.CreateSymbolicLink(Path.Combine(mod, "lnk"), "a.txt");
        }
        static string[] Deletions(ProcessResult r) => r.Stdout.Split('\n').Where(l => l.StartsWith("deleting ", StringComparison.Ordinal)).ToArray();

        using var temp = new TempDir();
        string src = temp.Sub("src");
        File.WriteAllText(Path.Combine(src, "keep.txt"), "keep\n");
        string stockModule = temp.Sub("stock-mod");
        Extraneous(stockModule);
        ProcessResult expected;
        await using (StockDaemon stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, [new DaemonModule("mod", stockModule)]))
            expected = await Run(peer, ["-av", "--delete", src + "/", stock.Url("mod")]);
        Assert.Equal(0, expected.ExitCode);
        Assert.Equal(10, Deletions(expected).Length);

        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        Extraneous(f.ModuleDir);
        ProcessResult actual = await Run(peer, ["-av", "--delete", src + "/", f.Url()]);
        await AssertExit(0, actual, f.Daemon);
        Assert.Equal(Deletions(expected), Deletions(actual));
    }
}
