using System.Diagnostics;
using NetRsync.Protocol.Text;
using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.NameBytesTree;

namespace NetRsync.Interop.Tests;

/// <summary>File names are bytes: the <see cref="NameBytesTree"/> (Latin-1, GBK, invalid UTF-8, names
/// that differ only in an invalid byte, control characters, a newline, a 255-byte name, a directory, a
/// symlink target and a hard-link group with such names) pushed, pulled and copied by netrsync against
/// stock daemons, and pushed and pulled by stock clients against netrsyncd, at every protocol. Each
/// transfer must exit 0, land a tree identical byte for byte (names, modes, mtimes, symlink targets,
/// hard links), and leave a stock <c>rsync -ani</c> nothing to do.</summary>
[Collection(PushScenarios.Collection)]
public sealed class NameBytesTests(NameBytesDaemons names, ITestOutputHelper output) : IClassFixture<NameBytesDaemons>
{
    private async Task<ProcessResult> Run(IRsyncClient client, IEnumerable<string> args, string? workingDirectory = null)
    {
        ProcessResult r = await client.RunAsync(args, workingDirectory: workingDirectory);
        output.WriteLine(r.ToString());
        return r;
    }

    private static void AssertExitZero(ProcessResult r, Func<string> diagnostics)
    {
        if (r.ExitCode != 0)
        {
            Assert.Fail($"expected exit code 0, got {r.ExitCode}\n{r}\n{diagnostics()}");
        }
    }

    private static Task AssertAll(params (string What, Func<Task> Check)[] checks) => DaemonTestKit.AssertAllAsync(diagnostics: null, checks);

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task NetrsyncPush_ToStockDaemon_LandsEveryNameAsItsBytes(string peer, string protocol)
    {
        StockDaemon daemon = await names.StockAsync(peer);
        string dst = names.NewCaseDir($"push-{protocol}") + "/dst";
        string url = NameBytesDaemons.UrlOf(daemon.Url(NameBytesDaemons.ModuleName), names.ModuleRelative(dst));

        ProcessResult r = await Run(NetRsync.Instance, [.. (string[])["-aH"], .. RsyncPeers.ProtocolArgs(protocol), names.Reference + "/", url]);

        AssertExitZero(r, daemon.Diagnostics);
        await AssertAll(
            ("tree", () => { TreeComparer.AssertIdentical(names.Reference, dst, RsyncPeers.CompareOptionsFor(protocol)); return Task.CompletedTask; }),
            ("stock dry run", () => StockClient.AssertNothingToChange(peer, names.Reference, url, protocol)));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task NetrsyncPull_FromStockDaemon_LandsEveryNameAsItsBytes(string peer, string protocol)
    {
        StockDaemon daemon = await names.StockAsync(peer);
        string dst = names.NewCaseDir($"pull-{protocol}") + "/dst";
        string url = NameBytesDaemons.UrlOf(daemon.Url(NameBytesDaemons.ModuleName), "ref");

        ProcessResult r = await Run(NetRsync.Instance, [.. (string[])["-aH"], .. RsyncPeers.ProtocolArgs(protocol), url, dst + "/"]);

        AssertExitZero(r, daemon.Diagnostics);
        await AssertAll(
            ("tree", () => { TreeComparer.AssertIdentical(names.Reference, dst, DaemonTestKit.CompareOptionsFor(protocol)); return Task.CompletedTask; }),
            ("stock dry run", () => StockClient.AssertNothingToPull(peer, url, dst, protocol)));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task NetrsyncLocalCopy_LandsEveryNameAsItsBytes(string peer)
    {
        RsyncPeers.Resolve(peer);
        string dst = names.NewCaseDir("local") + "/dst";

        ProcessResult r = await Run(NetRsync.Instance, ["-aH", names.Reference + "/", dst + "/"]);

        AssertExitZero(r, () => "");
        await AssertAll(
            ("tree", () => { TreeComparer.AssertIdentical(names.Reference, dst, DaemonTestKit.CompareOptionsFor(RsyncPeers.DefaultProtocol)); return Task.CompletedTask; }),
            ("stock dry run", () => StockClient.AssertNothingToChange(peer, names.Reference, dst + "/", RsyncPeers.DefaultProtocol)));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task StockPush_ToNetrsyncd_LandsEveryNameAsItsBytes(string peer, string protocol)
    {
        NetRsyncDaemon daemon = await names.NetRsyncdAsync();
        string dst = names.NewCaseDir($"stockpush-{protocol}") + "/dst";
        string url = NameBytesDaemons.UrlOf(daemon.Url(NameBytesDaemons.ModuleName), names.ModuleRelative(dst));

        ProcessResult r = await Run(new StockClient(RsyncPeers.Resolve(peer)), [.. (string[])["-aH"], .. RsyncPeers.ProtocolArgs(protocol), names.Reference + "/", url]);

        AssertExitZero(r, daemon.Diagnostics);
        await AssertAll(
            ("tree", () => { TreeComparer.AssertIdentical(names.Reference, dst, DaemonTestKit.CompareOptionsFor(protocol)); return Task.CompletedTask; }),
            ("stock dry run", () => StockClient.AssertNothingToChange(peer, names.Reference, url, protocol)));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task StockPull_FromNetrsyncd_LandsEveryNameAsItsBytes(string peer, string protocol)
    {
        NetRsyncDaemon daemon = await names.NetRsyncdAsync();
        string dst = names.NewCaseDir($"stockpull-{protocol}") + "/dst";
        string url = NameBytesDaemons.UrlOf(daemon.Url(NameBytesDaemons.ModuleName), "ref");

        ProcessResult r = await Run(new StockClient(RsyncPeers.Resolve(peer)), [.. (string[])["-aH"], .. RsyncPeers.ProtocolArgs(protocol), url, dst + "/"]);

        AssertExitZero(r, daemon.Diagnostics);
        await AssertAll(
            ("tree", () => { TreeComparer.AssertIdentical(names.Reference, dst, DaemonTestKit.CompareOptionsFor(protocol)); return Task.CompletedTask; }),
            ("stock dry run", () => StockClient.AssertNothingToPull(peer, url, dst, protocol)));
    }

    public static TheoryData<string> OutputRoutes => new() { "local", "push", "pull" };

    /// <summary>The same transfer of the tree by Debian's rsync and by netrsync with <c>-i</c>: the itemized
    /// lines must be the same, names escaped as rsync escapes bytes it cannot print (log.c, \#ooo).
    /// Stdout is read as UTF-8, so a raw byte that is not UTF-8 shows as U+FFFD and cannot pass for an escape.</summary>
    [Theory]
    [MemberData(nameof(OutputRoutes))]
    public async Task ItemizedOutput_ShowsNamesAsStockDoes(string route)
    {
        string peer = RsyncPeers.DebianRsync;
        var stock = new StockClient(RsyncPeers.Resolve(peer));
        StockDaemon daemon = await names.StockAsync(peer);
        string moduleUrl = daemon.Url(NameBytesDaemons.ModuleName);
        string caseDir = names.NewCaseDir($"itemize-{route}");
        // Both destinations exist beforehand (no "created directory PATH" line naming different paths);
        // no -H, so hard links, itemized at the end by rsync, do not take part.
        foreach (string who in (string[])["stock", "netrsync"])
        {
            Posix.Mkdir(caseDir + "/" + who, Posix.Mode("755"));
            Posix.SetTimes(caseDir + "/" + who, 631_152_000, 0);
        }
        (string Source, string Destination) Where(string who) => route switch
        {
            "local" => (names.Reference + "/", caseDir + "/" + who + "/"),
            "push" => (names.Reference + "/", NameBytesDaemons.UrlOf(moduleUrl, names.ModuleRelative(caseDir) + "/" + who)),
            _ => (NameBytesDaemons.UrlOf(moduleUrl, "ref"), caseDir + "/" + who + "/"),
        };

        (string s1, string d1) = Where("stock");
        ProcessResult expected = await Run(stock, ["-ai", s1, d1]);
        (string s2, string d2) = Where("netrsync");
        ProcessResult actual = await Run(NetRsync.Instance, ["-ai", s2, d2]);

        Assert.True(expected.ExitCode == 0, $"the stock run failed:\n{expected}");
        AssertExitZero(actual, daemon.Diagnostics);
        string[] want = StockClient.ItemizedLines(expected.Stdout), got = StockClient.ItemizedLines(actual.Stdout);
        Assert.True(want.SequenceEqual(got, StringComparer.Ordinal),
            $"-i output differs from stock's.\n--- stock ---\n  {string.Join("\n  ", want)}\n--- netrsync ---\n  {string.Join("\n  ", got)}");
    }

    public static TheoryData<string, bool> PeersWithEitherDaemon
    {
        get
        {
            var data = new TheoryData<string, bool>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, true);
                data.Add(peer, false);
            }
            return data;
        }
    }

    /// <summary>A module whose <c>path =</c> is not UTF-8: a stock client pushes the tree into it and pulls
    /// it back out. Against netrsyncd (the case under test) and a stock daemon (proof the case is sound).</summary>
    [Theory]
    [MemberData(nameof(PeersWithEitherDaemon))]
    public async Task ModulePathNotUtf8_StockClientPushesAndPulls(string peer, bool netrsyncd)
    {
        var client = new StockClient(RsyncPeers.Resolve(peer));
        string moduleUrl;
        Func<string> diagnostics;
        if (netrsyncd)
        {
            NetRsyncDaemon d = await names.NetRsyncdAsync();
            (moduleUrl, diagnostics) = (d.Url(NameBytesDaemons.LatinModuleName), d.Diagnostics);
        }
        else
        {
            StockDaemon d = await names.StockAsync(peer);
            (moduleUrl, diagnostics) = (d.Url(NameBytesDaemons.LatinModuleName), d.Diagnostics);
        }
        string caseName = Path.GetFileName(names.NewCaseDir($"latin-{(netrsyncd ? "netrsyncd" : "stock")}"));
        string pushed = names.LatinModuleDir + "/" + caseName;
        string pushUrl = moduleUrl + caseName + "/";
        string pullUrl = moduleUrl + "ref/";
        string dst = names.NewCaseDir("latin-pull") + "/dst";
        TreeCompareOptions options = netrsyncd ? DaemonTestKit.CompareOptionsFor(RsyncPeers.DefaultProtocol) : RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol);

        ProcessResult push = await Run(client, ["-aH", names.Reference + "/", pushUrl]);
        AssertExitZero(push, diagnostics);
        ProcessResult pull = await Run(client, ["-aH", pullUrl, dst + "/"]);
        AssertExitZero(pull, diagnostics);

        await AssertAll(
            ("pushed tree", () => { TreeComparer.AssertIdentical(names.Reference, pushed, options); return Task.CompletedTask; }),
            ("pulled tree", () => { TreeComparer.AssertIdentical(names.Reference, dst, options with { ExpectSanitizedSymlinks = false }); return Task.CompletedTask; }),
            ("stock push dry run", () => StockClient.AssertNothingToChange(peer, names.Reference, pushUrl, RsyncPeers.DefaultProtocol)),
            ("stock pull dry run", () => StockClient.AssertNothingToPull(peer, pullUrl, dst, RsyncPeers.DefaultProtocol)));
    }
}

/// <summary>Which programs move the files in a <see cref="NameBytesOptionTests"/> case.</summary>
public enum NameRoute
{
    NetrsyncPushToStockDaemon,
    NetrsyncPullFromStockDaemon,
    NetrsyncLocalCopy,
    StockPushToNetrsyncd,
    StockPullFromNetrsyncd,
}

/// <summary>Options that take names, given names that are not UTF-8: <c>--delete</c> of extraneous files
/// that differ from kept ones only in an invalid byte, <c>--files-from</c> with and without
/// <c>--from0</c>, <c>--exclude</c> patterns whose bytes are on the command line (and literal patterns
/// holding a backslash or ending in a newline), and <c>--backup</c>
/// (with and without a <c>--backup-dir</c> whose name is not UTF-8). Each case runs along every route
/// (<see cref="NameRoute"/>) and is compared with what a stock local <c>rsync</c> lands with the same
/// options from the same starting point (the twin); the case's own facts are checked on the twin too,
/// so each case is known to exercise its option. Then a stock dry run with the same options must find
/// nothing to do.</summary>
[Collection(PushScenarios.Collection)]
public sealed class NameBytesOptionTests(NameBytesDaemons names, ITestOutputHelper output) : IClassFixture<NameBytesDaemons>
{
    /// <summary>One option case. <paramref name="Args"/> gets the case directory (for list files);
    /// <paramref name="Prepare"/> makes the source (in src) and the destination's starting state (dst),
    /// given src, dst and the case directory; <paramref name="Facts"/> checks the landed tree.</summary>
    private sealed record OptionCase(
        string Name,
        Func<string, string[]> Args,
        Action<string, string, string> Prepare,
        Action<string> Facts,
        TreeCompareOptions Compare);

    private static void MustExist(string root, string rel) =>
        Assert.True(Posix.TryLStat(root + "/" + rel, out _, out _), $"{TreeComparer.Show(rel)} should be in {root}: it is not. It holds:\n  "
            + string.Join("\n  ", TreeComparer.Scan(root).Keys.Select(TreeComparer.Show)));

    private static void MustNotExist(string root, string rel) =>
        Assert.False(Posix.TryLStat(root + "/" + rel, out _, out _), $"{TreeComparer.Show(rel)} should not be in {root}, but it is");

    private static void MustHold(string root, string rel, byte[] content)
    {
        MustExist(root, rel);
        using FileStream fs = Posix.OpenRead(root + "/" + rel);
        var ms = new MemoryStream();
        fs.CopyTo(ms);
        Assert.True(ms.ToArray().AsSpan().SequenceEqual(content), $"{TreeComparer.Show(rel)} in {root} does not hold {TreeComparer.Show(NameText.FromBytes(content))}");
    }

    private static readonly byte[] OldContent = "older content, to be backed up\n"u8.ToArray();

    private static void ReplaceFile(string root, string rel, byte[] content, long mtime)
    {
        string p = root + "/" + rel;
        Posix.Unlink(p);
        Posix.CreateFile(p, content);
        Posix.SetTimes(p, mtime, 0);
    }

    private static readonly string[] FilesFromNames =
        [Latin1E9, Gbk, Tab, Dir + "/" + Inner, Long255, Link, InvalidFfFe];

    private static readonly string[] FilesFrom0Names =
        [Latin1E8, Newline, Control, Overlong, Truncated, Dir + "/" + Sub + "/" + Deep, Hard1, Hard2];

    private static readonly string BackupDir = B("bak\u00e9\u00ff");

    /// <summary>With --files-from the transfer root is not in the list, so the receiver makes the
    /// destination directory with its own mode and time: it is left out of the comparison.</summary>
    private static readonly TreeCompareOptions FilesFromCompare = TreeCompareOptions.Default with { CompareRoot = false };

    private static readonly Dictionary<string, OptionCase> Cases = new OptionCase[]
    {
        new("delete",
            _ => ["-aH", "--delete"],
            (reference, src, dst) =>
            {
                CopyTree(reference, src);
                CopyTree(reference, dst);
                // Extraneous names that differ from kept ones only in an invalid byte, and a directory.
                Posix.CreateFile(dst + "/" + Latin1E7, "stale\n"u8);
                Posix.CreateFile(dst + "/" + Dir + "/" + B("inner\u00e7"), "stale\n"u8);
                Posix.Mkdir(dst + "/" + B("old\u00ff"), Posix.Mode("755"));
                Posix.CreateFile(dst + "/" + B("old\u00ff") + "/" + B("x\u00fe"), "stale\n"u8);
            },
            dst =>
            {
                MustNotExist(dst, Latin1E7);
                MustNotExist(dst, Dir + "/" + B("inner\u00e7"));
                MustNotExist(dst, B("old\u00ff"));
                MustHold(dst, Latin1E9, ContentOf(Latin1E9));
                MustHold(dst, Latin1E8, ContentOf(Latin1E8));
                MustHold(dst, Dir + "/" + Inner, ContentOf(Dir + "/" + Inner));
            },
            TreeCompareOptions.Default),
        new("files-from",
            dir => ["-aH", $"--files-from={dir}/list"],
            (reference, src, dst) =>
            {
                CopyTree(reference, src);
                File.WriteAllBytes(Path.GetDirectoryName(src) + "/list", FilesFromNames.SelectMany(n => NameText.ToBytes(n).Append((byte)'\n')).ToArray());
            },
            dst =>
            {
                foreach (string n in FilesFromNames)
                {
                    MustExist(dst, n);
                }
                MustHold(dst, Latin1E9, ContentOf(Latin1E9));
                MustNotExist(dst, Latin1E8);
                MustNotExist(dst, Newline);
                MustNotExist(dst, Dir + "/" + Sub);
            },
            FilesFromCompare),
        new("files-from0",
            dir => ["-aH", "--from0", $"--files-from={dir}/list"],
            (reference, src, dst) =>
            {
                CopyTree(reference, src);
                File.WriteAllBytes(Path.GetDirectoryName(src) + "/list", FilesFrom0Names.SelectMany(n => NameText.ToBytes(n).Append((byte)0)).ToArray());
            },
            dst =>
            {
                foreach (string n in FilesFrom0Names)
                {
                    MustExist(dst, n);
                }
                MustHold(dst, Newline, ContentOf(Newline));
                MustNotExist(dst, Latin1E9);
                MustNotExist(dst, Dir + "/" + Inner);
            },
            FilesFromCompare),
        new("exclude",
            // The patterns' bytes are in the process arguments themselves (see ProcessRunner.WithByteArguments).
            _ => ["-aH", $"--exclude={Latin1E9}", $"--exclude=*{B("\u00d6\u00d0")}*", $"--exclude={Dir}/{Sub}/"],
            (reference, src, dst) => CopyTree(reference, src),
            dst =>
            {
                MustNotExist(dst, Latin1E9);
                MustHold(dst, Latin1E8, ContentOf(Latin1E8));
                MustHold(dst, Utf8Cafe, ContentOf(Utf8Cafe));
                MustNotExist(dst, Gbk);
                MustNotExist(dst, Dir + "/" + Gbk);
                MustNotExist(dst, Dir + "/" + Sub);
                MustHold(dst, Dir + "/" + Inner, ContentOf(Dir + "/" + Inner));
            },
            TreeCompareOptions.Default),
        // A pattern without '*', '?' or '[' is compared as it is (exclude.c, rule_matches: strcmp), so a
        // backslash in it is just a byte; and a pattern given as an argument keeps a trailing newline.
        new("exclude-literal",
            _ => ["-aH", "--exclude=back\\slash", "--exclude=tnl\n"],
            (reference, src, dst) =>
            {
                CopyTree(reference, src);
                foreach (string n in (string[])["back\\slash", "backslash", "tnl\n", "tnl"])
                {
                    Posix.CreateFile(src + "/" + n, ContentOf(n));
                    Posix.SetTimes(src + "/" + n, 1_200_000_000, 0);
                }
                Posix.SetTimes(src, 1_200_000_000, 0);
            },
            dst =>
            {
                MustNotExist(dst, "back\\slash");
                MustHold(dst, "backslash", ContentOf("backslash"));
                MustNotExist(dst, "tnl\n");
                MustHold(dst, "tnl", ContentOf("tnl"));
            },
            TreeCompareOptions.Default),
        // rsync does not restore directory times after -b without --backup-dir (options.c), so a
        // directory that got a backup keeps "now": directory times are not compared.
        new("backup",
            _ => ["-aH", "-b"],
            (reference, src, dst) =>
            {
                CopyTree(reference, src);
                CopyTree(reference, dst);
                foreach (string rel in (string[])[Latin1E9, Dir + "/" + Inner, Gbk])
                {
                    ReplaceFile(dst, rel, OldContent, 1_000_000_000);
                }
            },
            dst =>
            {
                MustHold(dst, Latin1E9, ContentOf(Latin1E9));
                MustHold(dst, Latin1E9 + "~", OldContent);
                MustHold(dst, Dir + "/" + Inner + "~", OldContent);
                MustHold(dst, Gbk + "~", OldContent);
                MustNotExist(dst, Latin1E8 + "~");
            },
            TreeCompareOptions.Default with { CompareDirectoryTimes = false }),
        new("backup-dir",
            _ => ["-aH", "-b", $"--backup-dir={BackupDir}"],
            (reference, src, dst) =>
            {
                CopyTree(reference, src);
                CopyTree(reference, dst);
                foreach (string rel in (string[])[Latin1E9, Dir + "/" + Inner])
                {
                    ReplaceFile(dst, rel, OldContent, 1_000_000_000);
                }
            },
            dst =>
            {
                MustHold(dst, Latin1E9, ContentOf(Latin1E9));
                MustHold(dst, BackupDir + "/" + Latin1E9, OldContent);
                MustHold(dst, BackupDir + "/" + Dir + "/" + Inner, OldContent);
                MustNotExist(dst, Latin1E9 + "~");
            },
            // The backup directory (and its copy of dir...) is made "now" by the receiver.
            TreeCompareOptions.Default with { CompareDirectoryTimes = false }),
    }.ToDictionary(c => c.Name, StringComparer.Ordinal);

    public static TheoryData<string, NameRoute, string> CasesRoutesAndPeers
    {
        get
        {
            var data = new TheoryData<string, NameRoute, string>();
            foreach (string c in Cases.Keys)
            {
                foreach (NameRoute route in Enum.GetValues<NameRoute>())
                {
                    foreach (string peer in RsyncPeers.All)
                    {
                        data.Add(c, route, peer);
                    }
                }
            }
            return data;
        }
    }

    private async Task<ProcessResult> Run(IRsyncClient client, IEnumerable<string> args)
    {
        ProcessResult r = await client.RunAsync(args);
        output.WriteLine(r.ToString());
        return r;
    }

    [Theory]
    [MemberData(nameof(CasesRoutesAndPeers))]
    public async Task Option_WithNamesThatAreNotUtf8_LandsWhatStockRsyncLands(string caseName, NameRoute route, string peer)
    {
        OptionCase c = Cases[caseName];
        string stock = RsyncPeers.Resolve(peer);
        string dir = names.NewCaseDir($"{caseName}-{route}");
        string src = dir + "/src", dst = dir + "/dst", twin = dir + "/twin";
        c.Prepare(names.Reference, src, dst);
        c.Prepare(names.Reference, dir + "/twin-src", twin);
        string[] args = c.Args(dir);

        // The reference result: stock rsync, local, same options, same starting point.
        ProcessResult reference = await Run(new StockClient(stock), [.. args, dir + "/twin-src/", twin + "/"]);
        Assert.True(reference.ExitCode == 0, $"the stock twin run failed:\n{reference}");
        c.Facts(twin);

        string? moduleUrl = route switch
        {
            NameRoute.NetrsyncPushToStockDaemon or NameRoute.NetrsyncPullFromStockDaemon => (await names.StockAsync(peer)).Url(NameBytesDaemons.ModuleName),
            NameRoute.StockPushToNetrsyncd or NameRoute.StockPullFromNetrsyncd => (await names.NetRsyncdAsync()).Url(NameBytesDaemons.ModuleName),
            _ => null,
        };
        Func<string> diagnostics = route switch
        {
            NameRoute.NetrsyncPushToStockDaemon or NameRoute.NetrsyncPullFromStockDaemon => (await names.StockAsync(peer)).Diagnostics,
            NameRoute.StockPushToNetrsyncd or NameRoute.StockPullFromNetrsyncd => (await names.NetRsyncdAsync()).Diagnostics,
            _ => () => "",
        };
        (string source, string destination) = route switch
        {
            NameRoute.NetrsyncPushToStockDaemon or NameRoute.StockPushToNetrsyncd => (src + "/", NameBytesDaemons.UrlOf(moduleUrl!, names.ModuleRelative(dst))),
            NameRoute.NetrsyncPullFromStockDaemon or NameRoute.StockPullFromNetrsyncd => (NameBytesDaemons.UrlOf(moduleUrl!, names.ModuleRelative(src)), dst + "/"),
            _ => (src + "/", dst + "/"),
        };
        IRsyncClient client = route is NameRoute.StockPushToNetrsyncd or NameRoute.StockPullFromNetrsyncd ? new StockClient(stock) : NetRsync.Instance;

        // Through a stock daemon, the same transfer with the stock client as well: where the daemon
        // itself cannot do it (Debian's rsync 3.5.0 daemon reports every file of a --files-from pull
        // as vanished, exit 24, whoever the client), netrsync must end as the stock client does.
        ProcessResult? stockRoute = null;
        string stockRouteDst = dir + "/stock-route";
        if (route is NameRoute.NetrsyncPushToStockDaemon or NameRoute.NetrsyncPullFromStockDaemon)
        {
            string stockRouteSrc = dir + "/stock-route-src";
            c.Prepare(names.Reference, stockRouteSrc, stockRouteDst);
            (string s2, string d2) = route == NameRoute.NetrsyncPushToStockDaemon
                ? (stockRouteSrc + "/", NameBytesDaemons.UrlOf(moduleUrl!, names.ModuleRelative(stockRouteDst)))
                : (NameBytesDaemons.UrlOf(moduleUrl!, names.ModuleRelative(stockRouteSrc)), stockRouteDst + "/");
            stockRoute = await Run(new StockClient(stock), [.. args, s2, d2]);
        }

        ProcessResult r = await Run(client, [.. args, source, destination]);

        if (stockRoute is { ExitCode: not 0 })
        {
            output.WriteLine($"the stock client fails this transfer through this daemon too (exit {stockRoute.ExitCode}): netrsync must do as it does");
            Assert.True(r.ExitCode == stockRoute.ExitCode, $"expected exit code {stockRoute.ExitCode} as the stock client's, got {r.ExitCode}\n{r}\n{stockRoute}\n{diagnostics()}");
            TreeComparer.AssertIdentical(stockRouteDst, dst, c.Compare);
            return;
        }
        if (r.ExitCode != 0)
        {
            Assert.Fail($"expected exit code 0, got {r.ExitCode}\n{r}\n{diagnostics()}");
        }
        var failures = new List<string>();
        void Check(string what, Action check)
        {
            try
            {
                check();
            }
            catch (Xunit.Sdk.XunitException e)
            {
                failures.Add($"{what}:\n{e.Message}");
            }
        }
        Check("what the option must do", () => c.Facts(dst));
        Check("same tree as stock rsync lands", () => TreeComparer.AssertIdentical(twin, dst, c.Compare));
        ProcessResult dry = await Run(new StockClient(stock), [.. args, "-ni", source, destination]);
        Check("stock dry run with the same options", () =>
        {
            Assert.True(dry.ExitCode == 0, $"the stock dry run failed:\n{dry}");
            string[] pending = StockClient.ItemizedLines(dry.Stdout);
            Assert.True(pending.Length == 0, $"stock rsync still finds {pending.Length} thing(s) to change:\n  {string.Join("\n  ", pending.Take(40))}\n\n{dry}");
        });
        Assert.True(failures.Count == 0, $"{failures.Count} check(s) failed.\n\n{string.Join("\n\n", failures)}\n\n{r}\n{diagnostics()}");
    }
}

/// <summary>The name-bytes harness can fail: the tree really holds the bytes (read back with
/// <c>find -print0</c>, independent of our readdir), the comparer tells apart names that differ only in
/// an invalid byte, and a byte argument reaches a child process unchanged.</summary>
public sealed class HarnessNameBytesTests(ITestOutputHelper output)
{
    private static byte[] RunForBytes(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        var ms = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(ms);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return ms.ToArray();
    }

    [Fact]
    public void Tree_HoldsEveryNameAsItsBytes()
    {
        using var t = new TempDir();
        string root = t.Path + "/tree";
        Create(root);

        byte[] listing = RunForBytes("find", root, "-mindepth", "1", "-printf", "%P\\0");
        string[] found = listing.AsSpan().ToArray().Aggregate(new List<List<byte>> { new() }, (acc, b) =>
        {
            if (b == 0)
            {
                acc.Add([]);
            }
            else
            {
                acc[^1].Add(b);
            }
            return acc;
        }).Where(l => l.Count > 0).Select(l => NameText.FromBytes(l.ToArray())).Order(StringComparer.Ordinal).ToArray();
        string[] expected = AllEntries.Order(StringComparer.Ordinal).ToArray();
        output.WriteLine(string.Join("\n", found.Select(TreeComparer.Show)));
        Assert.Equal(expected, found);
        Assert.Equal(255, NameText.ToBytes(Long255).Length);
        Assert.Equal(expected, TreeComparer.Scan(root).Keys.Where(k => k != ".").Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(NameText.ToBytes(Latin1E9), Posix.ReadLink(root + "/" + Link));
    }

    [Fact]
    public void Comparer_TellsApartNamesThatDifferOnlyInAnInvalidByte()
    {
        using var t = new TempDir();
        string one = t.Sub("one"), two = t.Sub("two");
        Posix.CreateFile(one + "/" + Latin1E9, "same\n"u8);
        Posix.CreateFile(two + "/" + Latin1E8, "same\n"u8);
        foreach (string p in (string[])[one + "/" + Latin1E9, two + "/" + Latin1E8, one, two])
        {
            Posix.SetTimes(p, 1_300_000_000, 0);
        }

        IReadOnlyList<string> diffs = TreeComparer.FindDifferences(one, two);

        output.WriteLine(string.Join("\n", diffs));
        Assert.Equal(["\"caf\\xe8\": unexpected (file of 5 bytes)", "\"caf\\xe9\": missing (file of 5 bytes expected)"], diffs.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Comparer_SeesASymlinkTargetThatDiffersOnlyInAnInvalidByte()
    {
        using var t = new TempDir();
        string one = t.Sub("one"), two = t.Sub("two");
        Posix.Symlink(NameText.ToBytes(Latin1E9), one + "/l");
        Posix.Symlink(NameText.ToBytes(Latin1E8), two + "/l");
        foreach (string p in (string[])[one + "/l", two + "/l", one, two])
        {
            Posix.SetTimes(p, 1_300_000_000, 0);
        }

        IReadOnlyList<string> diffs = TreeComparer.FindDifferences(one, two, new TreeCompareOptions { ExpectSanitizedSymlinks = true });

        Assert.Equal(["\"l\": symlink target \"caf\\xe9\" expected, \"caf\\xe8\" found (source target \"caf\\xe9\", sanitized as an unchrooted daemon does)"], diffs);
    }

    [Fact]
    public async Task Runner_PassesArgumentBytesUnchanged()
    {
        string[] args = [Latin1E9, Newline + "\n", Gbk, "back\\slash 'quote' %s", Control, InvalidFfFe];
        foreach (string a in args)
        {
            ProcessResult r = await ProcessRunner.RunAsync("/bin/sh", ["-c", "printf %s \"$1\" | od -An -v -tx1", "sh", a]);
            string hex = string.Concat(r.Stdout.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
            output.WriteLine($"{r.CommandLine} -> {hex}");
            Assert.Equal(0, r.ExitCode);
            Assert.Equal(Convert.ToHexStringLower(NameText.ToBytes(a)), hex);
        }
    }
}
