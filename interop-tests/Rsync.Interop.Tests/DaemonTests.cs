using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>"Stock rsync clients against netrsyncd": pushes, pulls, options, auth, listing, access
/// control, delta transfers and shutdown, against every peer (× protocol where it matters). Where a
/// behaviour is "what rsync does", a stock daemon serving the same module config is the reference.</summary>
[Collection(PushScenarios.Collection)]
public sealed class DaemonTests(ITestOutputHelper output)
{
    private const long MiB = 1 << 20;
    private const long DeltaFileSize = 64 * MiB;

    private Task<ProcessResult> Run(string peer, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, TimeSpan? timeout = null) =>
        RunStock(output, peer, args, env, timeout);

    // ---------------------------------------------------------------- torture tree, both ways

    /// <summary>Push the torture tree, check it, pull the module back into a fresh directory, check that;
    /// then stock dry runs both ways must find nothing to do: a plain <c>-aniH</c> (whole seconds) and
    /// the harness's <see cref="StockClient.AssertNothingToChange"/>/<see cref="StockClient.AssertNothingToPull"/>
    /// (which add <c>--modify-window=-1</c>, nanoseconds, with rsync 3.2 and later).</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task TortureTree_PushedThenPulledBack_IsIdentical(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        TortureTree.Create(f.Source, includeHugeFile: false);
        TreeCompareOptions options = CompareOptionsFor(protocol);

        ProcessResult push = await Run(peer, Args(["-aH"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url()]));

        await AssertExit(0, push, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, options);

        string pulled = f.Temp.Sub("pulled");
        Posix.SetTimes(pulled, 631_152_000, 0);
        ProcessResult pull = await Run(peer, Args(["-aH"], RsyncPeers.ProtocolArgs(protocol), [f.Url(), pulled + "/"]));

        await AssertExit(0, pull, f.Daemon);
        TreeComparer.AssertIdentical(f.ModuleDir, pulled, options);
        TreeComparer.AssertIdentical(f.Source, pulled, options);

        string[] dryRunArgs = ["-H", .. RsyncPeers.ProtocolArgs(protocol)];
        await AssertAllAsync(f.Daemon,
            ("stock -aniH push dry run", () => AssertCleanDryRun(output, peer, dryRunArgs, f.SourceArg, f.Url())),
            ("stock -aniH pull dry run", () => AssertCleanDryRun(output, peer, dryRunArgs, f.Url(), pulled + "/")),
            ("StockClient.AssertNothingToChange (push)", () => StockClient.AssertNothingToChange(peer, f.Source, f.Url(), protocol)),
            ("StockClient.AssertNothingToPull (pull)", () => StockClient.AssertNothingToPull(peer, f.Url(), pulled, protocol)));
    }

    /// <summary>rsync 3.2 and later send <c>--modify-window=-1</c> to the receiving server as "-@-1"; a
    /// stock 3.5 daemon accepts it.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Push_WithNegativeModifyWindow_IsAccepted(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        SmallTree(f.Source);

        ProcessResult r = await Run(peer, ["-a", "--modify-window=-1", f.SourceArg, f.Url()]);

        await AssertExit(0, r, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, CompareOptionsFor(RsyncPeers.DefaultProtocol));
    }

    /// <summary>A trailing slash on a source that is a symlink to a directory inside the module means
    /// that directory's contents (rsync stats "NAME/." and so follows the link), as with a stock daemon.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Pull_OfASymlinkToADirectoryWithTrailingSlash_CopiesTheDirectoryContents(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string real = Path.Combine(f.ModuleDir, "realdir");
        SmallTree(real);
        File.CreateSymbolicLink(Path.Combine(f.ModuleDir, "inner"), "realdir");
        string pulled = f.Temp.Sub("pulled");

        ProcessResult r = await Run(peer, ["-a", f.Url() + "inner/", pulled + "/"], timeout: TimeSpan.FromSeconds(20));

        await AssertExit(0, r, f.Daemon);
        TreeComparer.AssertIdentical(real, pulled, CompareOptionsFor(RsyncPeers.DefaultProtocol));
    }

    /// <summary>A client that gives up during a pull (here: it cannot create the destination) tells the
    /// daemon and waits for it to hang up; a stock daemon does at once, so the client exits with its
    /// error (11, file I/O) in well under a second.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Pull_ThatTheClientAbandons_EndsPromptlyWithTheClientsError(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        SmallTree(f.ModuleDir);
        string impossible = Path.Combine(f.Temp.Path, "missing", "a", "b") + "/";

        ProcessResult r;
        try
        {
            r = await Run(peer, ["-a", f.Url() + "keep.txt", impossible], timeout: TimeSpan.FromSeconds(10));
        }
        catch (Xunit.Sdk.XunitException e)
        {
            Assert.Fail($"the client, which had already failed, was kept waiting by netrsyncd:\n{e.Message}\n{await f.Daemon.DiagnosticsWhenIdleAsync(TimeSpan.FromSeconds(1))}");
            throw;
        }

        await AssertExit(11, r, f.Daemon);
        Assert.Contains("mkdir", r.Stderr, StringComparison.Ordinal);
        await f.Daemon.WaitForIdleAsync(TimeSpan.FromSeconds(10));
    }

    // ---------------------------------------------------------------- options, against a stock twin

    /// <summary>One push with options: the source tree, the module's contents before the push (with fixed times), the
    /// arguments (given "SRC" without a trailing slash and the module URL), and what the stock
    /// daemon's result must show (so the reference is known to exercise the option).
    /// <see cref="ReceiverMadeDirs"/>: directories the receiver makes or changes without being sent
    /// their times (so their mtime is "now" on either side and is not compared).</summary>
    private sealed record OptionScenario(
        Action<string> MakeSource,
        Action<string> MakeModule,
        Func<string, string, List<string>> Args,
        Action<string> CheckReference)
    {
        public string[] ReceiverMadeDirs { get; init; } = [];
    }

    private static readonly Dictionary<string, OptionScenario> OptionScenarios = new()
    {
        ["delete"] = new(
            SmallTree,
            mod =>
            {
                SmallTree(mod);
                File.WriteAllText(Path.Combine(mod, "b.txt"), "old bee, longer\n");
                File.WriteAllText(Path.Combine(mod, "extra.txt"), "extra\n");
                Directory.CreateDirectory(Path.Combine(mod, "sub", "extra-dir"));
                File.WriteAllText(Path.Combine(mod, "sub", "extra-dir", "x"), "x\n");
                PushFixture.StampTimes(mod, 1_250_000_000);
            },
            (src, url) => ["-ai", "--delete", src + "/", url],
            mod =>
            {
                Assert.False(File.Exists(Path.Combine(mod, "extra.txt")));
                Assert.False(Directory.Exists(Path.Combine(mod, "sub", "extra-dir")));
                Assert.Equal("bee\n", File.ReadAllText(Path.Combine(mod, "b.txt")));
            }),
        ["delete-keeps-excluded"] = new(
            src =>
            {
                SmallTree(src);
                File.WriteAllText(Path.Combine(src, "drop.tmp"), "drop\n");
                PushFixture.StampTimes(src);
            },
            mod =>
            {
                Directory.CreateDirectory(Path.Combine(mod, "sub"));
                File.WriteAllText(Path.Combine(mod, "extra.txt"), "extra\n");
                File.WriteAllText(Path.Combine(mod, "old.tmp"), "old tmp\n");
                File.WriteAllText(Path.Combine(mod, "sub", "old2.tmp"), "old tmp 2\n");
                PushFixture.StampTimes(mod, 1_250_000_000);
            },
            (src, url) => ["-ai", "--delete", "--exclude=*.tmp", src + "/", url],
            mod =>
            {
                Assert.False(File.Exists(Path.Combine(mod, "extra.txt")));
                Assert.False(File.Exists(Path.Combine(mod, "drop.tmp")));
                Assert.True(File.Exists(Path.Combine(mod, "old.tmp")));
                Assert.True(File.Exists(Path.Combine(mod, "sub", "old2.tmp")));
            }),
        ["relative"] = new(
            SmallTree,
            _ => { },
            (src, url) => ["-aiR", src + "/./sub/deeper/c.bin", src + "/./b.txt", url],
            mod =>
            {
                Assert.True(File.Exists(Path.Combine(mod, "sub", "deeper", "c.bin")));
                Assert.True(File.Exists(Path.Combine(mod, "b.txt")));
                Assert.False(File.Exists(Path.Combine(mod, "keep.txt")));
            })
        {
            ReceiverMadeDirs = ["."],
        },
        ["relative-into-subdir"] = new(
            SmallTree,
            _ => { },
            (src, url) => ["-aiR", src + "/./sub/keep2.txt", url + "into/"],
            mod => Assert.True(File.Exists(Path.Combine(mod, "into", "sub", "keep2.txt"))))
        {
            ReceiverMadeDirs = [".", "into"],
        },
        ["relative-no-implied-dirs"] = new(
            SmallTree,
            mod =>
            {
                Directory.CreateDirectory(Path.Combine(mod, "sub", "deeper"));
                PushFixture.StampTimes(mod, 1_250_000_000);
            },
            (src, url) => ["-aiR", "--no-implied-dirs", src + "/./sub/deeper/c.bin", url],
            mod => Assert.True(File.Exists(Path.Combine(mod, "sub", "deeper", "c.bin"))))
        {
            ReceiverMadeDirs = ["sub/deeper"],
        },
        ["update"] = new(
            SmallTree,
            mod =>
            {
                File.WriteAllText(Path.Combine(mod, "keep.txt"), "newer keep in the module\n");
                File.WriteAllText(Path.Combine(mod, "b.txt"), "older bee in the module\n");
                PushFixture.StampTimes(mod, 1_000_000_000);
                Posix.SetTimes(Path.Combine(mod, "keep.txt"), 1_900_000_000, 5);
            },
            (src, url) => ["-aiu", src + "/", url],
            mod =>
            {
                Assert.Equal("newer keep in the module\n", File.ReadAllText(Path.Combine(mod, "keep.txt")));
                Assert.Equal("bee\n", File.ReadAllText(Path.Combine(mod, "b.txt")));
            }),
        ["exclude"] = new(
            src =>
            {
                SmallTree(src);
                File.WriteAllText(Path.Combine(src, "drop.tmp"), "drop\n");
                File.WriteAllText(Path.Combine(src, "sub", "deeper", "drop-too.tmp"), "drop\n");
                Directory.CreateDirectory(Path.Combine(src, "skipdir"));
                File.WriteAllText(Path.Combine(src, "skipdir", "x"), "x\n");
                PushFixture.StampTimes(src);
            },
            _ => { },
            (src, url) => ["-ai", "--exclude=*.tmp", "--exclude=/skipdir/", src + "/", url],
            mod =>
            {
                Assert.False(File.Exists(Path.Combine(mod, "drop.tmp")));
                Assert.False(File.Exists(Path.Combine(mod, "sub", "deeper", "drop-too.tmp")));
                Assert.False(Directory.Exists(Path.Combine(mod, "skipdir")));
                Assert.True(File.Exists(Path.Combine(mod, "sub", "deeper", "c.bin")));
            }),
    };

    /// <summary>
    /// A module's own exclude rules hold for what a client pushes: each excluded name is refused
    /// with an error (exit 23), a refused directory's contents with it, as a stock daemon does
    /// (generator.c, recv_generator: "daemon refused to receive").
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task ModuleExcludes_RefuseWhatAPushWouldWrite(string peer)
    {
        string[] rules = ["exclude = *.secret hidden/"];
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(
            extraModules: t => [new DaemonModule("guarded", t.Sub("guarded")) { ExtraLines = rules }]);
        SmallTree(f.Source);
        File.WriteAllText(Path.Combine(f.Source, "key.secret"), "no\n");
        File.WriteAllText(Path.Combine(f.Source, "sub", "deeper", "also.secret"), "no\n");
        Directory.CreateDirectory(Path.Combine(f.Source, "hidden", "inner"));
        File.WriteAllText(Path.Combine(f.Source, "hidden", "inner", "x"), "x\n");
        PushFixture.StampTimes(f.Source);

        string stockMod = f.Temp.Sub("stock-guarded");
        ProcessResult reference;
        await using (StockDaemon stock = await StockDaemon.StartAsync(peer, [new DaemonModule("guarded", stockMod) { ExtraLines = rules }]))
            reference = await Run(peer, ["-a", f.SourceArg, stock.Url("guarded")]);
        string ourMod = Path.Combine(f.Temp.Path, "guarded");
        ProcessResult ours = await Run(peer, ["-a", f.SourceArg, f.Daemon.Url("guarded")]);

        Assert.Equal(23, reference.ExitCode);
        await AssertExit(23, ours, f.Daemon);
        // rsync 3.2 and later make a refused directory early, empty, when recursing incrementally; 3.1 does not, nor do we.
        TreeComparer.AssertIdentical(stockMod, ourMod, CompareOptionsFor(RsyncPeers.DefaultProtocol) with
        {
            CompareRoot = false,
            Exclude = path => path == "hidden" || path.StartsWith("hidden/", StringComparison.Ordinal),
        });
        Assert.False(File.Exists(Path.Combine(ourMod, "key.secret")));
        Assert.False(Directory.Exists(Path.Combine(ourMod, "hidden")));
        Assert.True(File.Exists(Path.Combine(ourMod, "sub", "deeper", "c.bin")));
        foreach (string refused in new[] { "file \"key.secret\"", "file \"sub/deeper/also.secret\"", "directory \"hidden\"" })
        {
            Assert.Contains("daemon refused to receive " + refused, reference.Stderr);
            Assert.Contains("daemon refused to receive " + refused, ours.Stderr);
        }
    }

    /// <summary>
    /// Wildcards in a pulled path are the daemon's to expand, within the module (util.c,
    /// glob_expand): a stock client gets what it gets from a stock daemon.
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task WildcardPull_GetsWhatAStockDaemonSends(string peer)
    {
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string stockMod = f.Temp.Sub("stock-mod");
        foreach (string mod in new[] { f.ModuleDir, stockMod })
        {
            foreach (string d in new[] { "foo", "fig", "bar/baz" })
                Directory.CreateDirectory(Path.Combine(mod, d));
            File.WriteAllText(Path.Combine(mod, "foo", "one"), "one\n");
            File.WriteAllText(Path.Combine(mod, "fig", "two"), "two\n");
            File.WriteAllText(Path.Combine(mod, "bar", "baz", "three"), "three\n");
            File.WriteAllText(Path.Combine(mod, "file.txt"), "four\n");
            PushFixture.StampTimes(mod);
        }
        foreach (string pattern in new[] { "f*", "b?r/*/t*", "f*/", "none*" })
        {
            string stockDest = f.Temp.Sub("from-stock-" + pattern.Replace('/', '_').Replace('*', 'S').Replace('?', 'Q'));
            string ourDest = f.Temp.Sub("from-ours-" + pattern.Replace('/', '_').Replace('*', 'S').Replace('?', 'Q'));
            ProcessResult reference;
            await using (StockDaemon stock = await StockDaemon.StartAsync(peer, [new DaemonModule(NetRsyncDaemonFixture.ModuleName, stockMod)]))
                reference = await Run(peer, ["-a", stock.Url(NetRsyncDaemonFixture.ModuleName) + pattern, stockDest + "/"]);
            ProcessResult ours = await Run(peer, ["-a", f.Url() + pattern, ourDest + "/"]);
            await AssertExit(reference.ExitCode, ours, f.Daemon);
            TreeComparer.AssertIdentical(stockDest, ourDest, CompareOptionsFor(RsyncPeers.DefaultProtocol) with { CompareRoot = false });
        }
        Assert.True(File.Exists(Path.Combine(f.Temp.Path, "from-ours-fS", "foo", "one")));
        Assert.True(File.Exists(Path.Combine(f.Temp.Path, "from-ours-fS", "file.txt")));
    }

    /// <summary>
    /// -y: a file new to the destination is sent against the most similar file beside it, whichever
    /// end generates: netrsyncd for a stock client's push, netrsync pulling from a stock daemon, and
    /// a stock daemon's generator for netrsync's push (generator.c, find_fuzzy).
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Fuzzy_SendsANewFileAgainstASimilarOne(string peer)
    {
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        byte[] data = new byte[1 << 20];
        new Random(5).NextBytes(data);
        File.WriteAllBytes(Path.Combine(f.Source, "report-v2.dat"), [.. data, 1, 2, 3]);
        string stockMod = f.Temp.Sub("stock-mod");
        string pulled = f.Temp.Sub("pulled");
        foreach (string dir in new[] { f.ModuleDir, stockMod, pulled })
            File.WriteAllBytes(Path.Combine(dir, "report-v1.dat"), data);
        File.WriteAllBytes(Path.Combine(stockMod, "report-v2.dat"), [.. data, 1, 2, 3]);

        long Matched(ProcessResult r)
        {
            var m = Regex.Match(r.Stdout, @"Matched data: ([\d,]+) bytes");
            Assert.True(m.Success, r.ToString());
            return long.Parse(m.Groups[1].Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);
        }

        ProcessResult push = await Run(peer, ["-ay", "--no-W", "--stats", f.SourceArg, f.Url()]);
        await AssertExit(0, push, f.Daemon);
        Assert.True(Matched(push) >= data.Length - 2048, $"netrsyncd found no fuzzy basis:\n{push}");
        Assert.Equal(File.ReadAllBytes(Path.Combine(f.Source, "report-v2.dat")), File.ReadAllBytes(Path.Combine(f.ModuleDir, "report-v2.dat")));

        await using StockDaemon stock = await StockDaemon.StartAsync(peer, [new DaemonModule("stock", stockMod)]);
        ProcessResult pull = await NetRsync.Instance.RunAsync(["-ay", "--no-W", "--stats", stock.Url("stock") + "report-v2.dat", pulled + "/"]);
        output.WriteLine(pull.ToString());
        Assert.Equal(0, pull.ExitCode);
        Assert.True(Matched(pull) >= data.Length - 2048, $"netrsync found no fuzzy basis:\n{pull}");
        Assert.Equal(File.ReadAllBytes(Path.Combine(stockMod, "report-v2.dat")), File.ReadAllBytes(Path.Combine(pulled, "report-v2.dat")));

        File.Delete(Path.Combine(stockMod, "report-v2.dat"));
        ProcessResult ourPush = await NetRsync.Instance.RunAsync(["-ay", "--no-W", "--stats", f.SourceArg, stock.Url("stock")]);
        output.WriteLine(ourPush.ToString());
        Assert.Equal(0, ourPush.ExitCode);
        Assert.True(Matched(ourPush) >= data.Length - 2048, $"the stock daemon found no fuzzy basis:\n{ourPush}");
        Assert.Equal(File.ReadAllBytes(Path.Combine(f.Source, "report-v2.dat")), File.ReadAllBytes(Path.Combine(stockMod, "report-v2.dat")));
    }

    public static TheoryData<string, string> PeersAndOptionScenarios
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in RsyncPeers.All)
            {
                foreach (string name in OptionScenarios.Keys)
                {
                    data.Add(peer, name);
                }
            }
            return data;
        }
    }

    /// <summary>Runs the scenario against a stock daemon (the reference) and netrsyncd, each serving a
    /// module that starts with the same contents. Returns both clients' results and both module dirs.</summary>
    private async Task<(ProcessResult Reference, ProcessResult Ours)> RunOptionScenario(string peer, OptionScenario s, NetRsyncDaemonFixture f, string stockMod)
    {
        foreach (string mod in (string[])[f.ModuleDir, stockMod])
        {
            s.MakeModule(mod);
            Posix.SetTimes(mod, 631_152_000, 0);
        }
        s.MakeSource(f.Source);
        TreeComparer.AssertIdentical(stockMod, f.ModuleDir, CompareOptionsFor(RsyncPeers.DefaultProtocol));

        ProcessResult reference;
        await using (StockDaemon stock = await StockDaemon.StartAsync(peer, [new DaemonModule(NetRsyncDaemonFixture.ModuleName, stockMod)]))
        {
            reference = await Run(peer, s.Args(f.Source, stock.Url(NetRsyncDaemonFixture.ModuleName)));
            if (reference.ExitCode != 0)
            {
                Assert.Fail($"the reference push to a stock daemon failed\n{reference}\n{await stock.DiagnosticsWhenIdleAsync()}");
            }
        }
        s.CheckReference(stockMod);

        ProcessResult ours = await Run(peer, s.Args(f.Source, f.Url()));

        await AssertExit(0, ours, f.Daemon);
        return (reference, ours);
    }

    [Theory]
    [MemberData(nameof(PeersAndOptionScenarios))]
    public async Task OptionPush_LeavesTheModuleAsAStockDaemonDoes(string peer, string scenario)
    {
        RsyncPeers.Resolve(peer);
        OptionScenario s = OptionScenarios[scenario];
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string stockMod = f.Temp.Sub("stock-mod");

        await RunOptionScenario(peer, s, f, stockMod);

        foreach (string dir in s.ReceiverMadeDirs)
        {
            foreach (string mod in (string[])[f.ModuleDir, stockMod])
            {
                Posix.SetTimes(Path.Combine(mod, dir), 631_152_000, 0);
            }
        }
        TreeComparer.AssertIdentical(stockMod, f.ModuleDir, CompareOptionsFor(RsyncPeers.DefaultProtocol));
    }

    /// <summary>With <c>-i</c> the client prints what the receiving side's generator reports: changed
    /// and created entries (flags included) and deletions; a stock daemon's report is the reference.</summary>
    [Theory]
    [MemberData(nameof(PeersAndOptionScenarios))]
    public async Task OptionPush_ItemizesAsAStockDaemonDoes(string peer, string scenario)
    {
        RsyncPeers.Resolve(peer);
        OptionScenario s = OptionScenarios[scenario];
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string stockMod = f.Temp.Sub("stock-mod");

        (ProcessResult reference, ProcessResult ours) = await RunOptionScenario(peer, s, f, stockMod);

        string[] expected = SortedLines(reference.Stdout);
        string[] actual = SortedLines(ours.Stdout);
        Assert.True(expected.SequenceEqual(actual),
            $"the itemized output differs from a stock daemon's (lines sorted).\n--- stock daemon ---\n{string.Join("\n", expected)}\n--- netrsyncd ---\n{string.Join("\n", actual)}\n--- only with the stock daemon ---\n{string.Join("\n", expected.Except(actual))}\n--- only with netrsyncd ---\n{string.Join("\n", actual.Except(expected))}");
    }

    /// <summary>The output lines, sorted. "created directory NAME" is left out: only rsync 3.2 and later
    /// daemons send that notice (a 3.1 daemon, like netrsyncd speaking protocol 31, does not).</summary>
    private static string[] SortedLines(string text) =>
        StockClient.ItemizedLines(text).Where(l => !l.StartsWith("created directory ", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();

    // ---------------------------------------------------------------- authentication

    private static Func<DaemonModule, DaemonModule> AuthModule => m => m with
    {
        AuthUsers = "rsync",
        Secrets = [("rsync", "rsync")],
        ExtraLines = ["strict modes = yes"],
    };

    private static readonly Dictionary<string, string?> GoodPassword = new() { ["RSYNC_PASSWORD"] = "rsync" };

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task Auth_RsyncPasswordEnv_PushAndPullWork(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(AuthModule);
        SmallTree(f.Source);

        ProcessResult push = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url("rsync")]), GoodPassword);

        await AssertExit(0, push, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, CompareOptionsFor(protocol));

        string pulled = f.Temp.Sub("pulled");
        ProcessResult pull = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.Url("rsync"), pulled + "/"]), GoodPassword);

        await AssertExit(0, pull, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, pulled, CompareOptionsFor(protocol));
        await AssertAllAsync(f.Daemon,
            ("stock -ani push dry run", () => AssertCleanDryRun(output, peer, RsyncPeers.ProtocolArgs(protocol), f.SourceArg, f.Url("rsync"), GoodPassword)),
            ("StockClient.AssertNothingToChange (push)", () => StockClient.AssertNothingToChange(peer, f.Source, f.Url("rsync"), protocol, GoodPassword)));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task Auth_WrongPassword_FailsWithExit5(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(AuthModule);
        SmallTree(f.Source);

        ProcessResult r = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url("rsync")]),
            new Dictionary<string, string?> { ["RSYNC_PASSWORD"] = "not-the-password" });

        await AssertExit(5, r, f.Daemon);
        Assert.True(r.Stderr.Contains("auth failed", StringComparison.Ordinal), $"stderr should say \"auth failed\" (rsync: \"@ERROR: auth failed on module mod\")\n{r}");
        AssertEmpty(f.ModuleDir);
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Auth_UnknownUser_FailsWithExit5(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(AuthModule);
        SmallTree(f.Source);

        ProcessResult r = await Run(peer, ["-a", f.SourceArg, f.Url("intruder")], GoodPassword);

        await AssertExit(5, r, f.Daemon);
        Assert.True(r.Stderr.Contains("auth failed", StringComparison.Ordinal), $"stderr should say \"auth failed\"\n{r}");
        AssertEmpty(f.ModuleDir);
    }

    /// <summary>With <c>strict modes = yes</c> (the default, set explicitly here) rsync refuses a secrets
    /// file that others can read, whatever the password.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Auth_SecretsFileReadableByOthers_IsRefused(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(AuthModule);
        SmallTree(f.Source);
        Posix.Chmod(f.Daemon.SecretsPath(NetRsyncDaemonFixture.ModuleName), Posix.Mode("644"));

        ProcessResult r = await Run(peer, ["-a", f.SourceArg, f.Url("rsync")], GoodPassword);

        await AssertExit(5, r, f.Daemon);
        Assert.True(r.Stderr.Contains("auth failed", StringComparison.Ordinal), $"stderr should say \"auth failed\"\n{r}");
        AssertEmpty(f.ModuleDir);
    }

    // ---------------------------------------------------------------- module listing

    private static IEnumerable<DaemonModule> ListingModules(TempDir t) =>
    [
        new DaemonModule("pub", t.Sub("pub")) { Comment = "Public stuff, with  spaces" },
        new DaemonModule("bare", t.Sub("bare")),
        new DaemonModule("a-much-longer-module-name", t.Sub("long")) { Comment = "long name" },
        new DaemonModule("hidden", t.Sub("hidden")) { List = false, Comment = "must not be listed" },
    ];

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task ModuleListing_MatchesAStockDaemon(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        Func<DaemonModule, DaemonModule> main = m => m with { Comment = "Main module" };
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(main, ListingModules);
        File.WriteAllText(Path.Combine(f.Temp.Path, "hidden", "inside.txt"), "hidden but reachable\n");

        ProcessResult reference;
        await using (StockDaemon stock = await StockDaemon.StartAsync(peer,
                         ListingModules(f.Temp).Prepend(main(new DaemonModule(NetRsyncDaemonFixture.ModuleName, f.ModuleDir)))))
        {
            reference = await Run(peer, Args(RsyncPeers.ProtocolArgs(protocol), [stock.Url(null)]));
            Assert.True(reference.ExitCode == 0, $"the stock daemon's listing failed\n{reference}");
        }
        // The reference must show what was configured, or comparing with it proves nothing.
        Assert.Contains("Main module", reference.Stdout, StringComparison.Ordinal);
        Assert.Contains("Public stuff, with  spaces", reference.Stdout, StringComparison.Ordinal);
        Assert.Matches(new Regex("^bare\\s*$", RegexOptions.Multiline), reference.Stdout);
        Assert.DoesNotContain("hidden", reference.Stdout, StringComparison.Ordinal);

        ProcessResult ours = await Run(peer, Args(RsyncPeers.ProtocolArgs(protocol), [f.Daemon.Url(null)]));

        await AssertExit(0, ours, f.Daemon);
        Assert.Equal(reference.Stdout, ours.Stdout);

        // "list = no" only hides the module.
        string pulled = f.Temp.Sub("pulled");
        ProcessResult pull = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.Daemon.Url("hidden"), pulled + "/"]));
        await AssertExit(0, pull, f.Daemon);
        Assert.Equal("hidden but reachable\n", File.ReadAllText(Path.Combine(pulled, "inside.txt")));
    }

    // ---------------------------------------------------------------- access control

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersDefaultAnd30), MemberType = typeof(RsyncPeers))]
    public async Task ReadOnlyModule_RefusesAPush(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ReadOnly = true });
        SmallTree(f.Source);

        ProcessResult r = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url()]));

        Assert.True(r.ExitCode != 0, $"a push into a read-only module must fail\n{r}\n{await f.Daemon.DiagnosticsWhenIdleAsync()}");
        Assert.True(r.Stderr.Contains("read only", StringComparison.Ordinal), $"stderr should say the module is read only (rsync: \"ERROR: module is read only\")\n{r}");
        AssertEmpty(f.ModuleDir);
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersDefaultAnd30), MemberType = typeof(RsyncPeers))]
    public async Task HostsDeny_RefusesWithExit5(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ["hosts deny = 127.0.0.1"] },
            t => [new DaemonModule("open", t.Sub("open"))]);
        SmallTree(f.Source);

        ProcessResult push = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url()]));

        await AssertExit(5, push, f.Daemon);
        Assert.True(push.Stderr.Contains("access denied", StringComparison.Ordinal), $"stderr should say \"access denied\" (rsync: \"@ERROR: access denied to mod from ...\")\n{push}");
        AssertEmpty(f.ModuleDir);

        ProcessResult pull = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.Url(), f.Temp.Sub("pulled") + "/"]));
        await AssertExit(5, pull, f.Daemon);
        Assert.True(pull.Stderr.Contains("access denied", StringComparison.Ordinal), $"stderr should say \"access denied\"\n{pull}");

        // Listed all the same, as a stock daemon lists it (clientserver.c, send_listing): only
        // "list = no" hides a module.
        ProcessResult list = await Run(peer, Args(RsyncPeers.ProtocolArgs(protocol), [f.Daemon.Url(null)]));
        await AssertExit(0, list, f.Daemon);
        Assert.Matches(new Regex("^open\\s", RegexOptions.Multiline), list.Stdout);
        Assert.Matches(new Regex("^mod\\s", RegexOptions.Multiline), list.Stdout);
    }

    /// <summary>Opens a raw connection and completes the module handshake up to "@RSYNCD: OK" (the
    /// daemon then waits for the client's arguments), which holds one of the module's connections.</summary>
    internal static async Task<TcpClient> HoldModuleConnection(int port, string module)
    {
        var client = new TcpClient();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            NetworkStream stream = client.GetStream();
            string greeting = await ReadLine(stream, cts.Token);
            Assert.StartsWith("@RSYNCD: ", greeting, StringComparison.Ordinal);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"@RSYNCD: 30.0\n{module}\n"), cts.Token);
            while (true)
            {
                string line = await ReadLine(stream, cts.Token);
                if (line == "@RSYNCD: OK")
                {
                    return client;
                }
                Assert.False(line.StartsWith("@ERROR", StringComparison.Ordinal) || line.StartsWith("@RSYNCD: EXIT", StringComparison.Ordinal),
                    $"the daemon refused the holding connection: {line}");
            }
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static async Task<string> ReadLine(NetworkStream stream, CancellationToken token)
    {
        var line = new List<byte>();
        byte[] one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one, token) == 0)
            {
                Assert.Fail($"the daemon closed the connection (read so far: \"{Encoding.ASCII.GetString(line.ToArray())}\")");
            }
            if (one[0] == (byte)'\n')
            {
                return Encoding.ASCII.GetString(line.ToArray());
            }
            line.Add(one[0]);
        }
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersDefaultAnd30), MemberType = typeof(RsyncPeers))]
    public async Task MaxConnections_RefusesASecondClientWithExit5_AndFreesTheSlot(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ["max connections = 1"] });
        SmallTree(f.Source);

        using (TcpClient holder = await HoldModuleConnection(f.Daemon.Port, NetRsyncDaemonFixture.ModuleName))
        {
            ProcessResult second = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url()]));

            await AssertExit(5, second, f.Daemon);
            Assert.True(second.Stderr.Contains("max connections", StringComparison.Ordinal),
                $"stderr should say \"max connections\" (rsync: \"@ERROR: max connections (1) reached -- try again later\")\n{second}");
            AssertEmpty(f.ModuleDir);
        }

        // Once the holder is gone its place is free again.
        await f.Daemon.WaitForIdleAsync();
        ProcessResult third = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url()]));
        await AssertExit(0, third, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, CompareOptionsFor(protocol));
    }

    // ---------------------------------------------------------------- delta transfer

    private static void FlipMiddleByte(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = fs.Length / 2;
        int b = fs.ReadByte();
        fs.Position = fs.Length / 2;
        fs.WriteByte((byte)(b ^ 0xFF));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersDefaultAnd30), MemberType = typeof(RsyncPeers))]
    public async Task Delta_PushOfAOneByteChange_SendsLittle(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string old = Path.Combine(f.ModuleDir, "random-64M.bin");
        string changed = Path.Combine(f.Source, "random-64M.bin");
        PushFixture.WriteRandomFile(old, DeltaFileSize, seed: 64, mtimeSeconds: 1_000_000_000);
        File.Copy(old, changed);
        FlipMiddleByte(changed);
        Posix.SetTimes(changed, 1_100_000_000, 0);
        Posix.SetTimes(f.Source, 1_100_000_000, 2);
        f.AgeModuleRoot();
        Assert.NotEqual(PushFixture.Sha256(old), PushFixture.Sha256(changed));

        await using (var proxy = ByteCountingProxy.Start(f.Daemon.Port))
        {
            ProcessResult r = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, proxy.Url(NetRsyncDaemonFixture.ModuleName)]));
            await AssertExit(0, r, f.Daemon);
            long limit = DeltaFileSize / 100;
            output.WriteLine($"delta push: {proxy.ClientToServerBytes} bytes client→server, {proxy.ServerToClientBytes} bytes server→client");
            Assert.True(proxy.ClientToServerBytes < limit,
                $"the delta push sent {proxy.ClientToServerBytes} bytes client→server; a 1-byte change to a {DeltaFileSize}-byte file must cost less than {limit} (1%)");
        }
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, CompareOptionsFor(protocol));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersDefaultAnd30), MemberType = typeof(RsyncPeers))]
    public async Task Delta_PullOfAOneByteChange_SendsLittle(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string dest = f.Temp.Sub("pulled");
        string old = Path.Combine(dest, "random-64M.bin");
        string changed = Path.Combine(f.ModuleDir, "random-64M.bin");
        PushFixture.WriteRandomFile(old, DeltaFileSize, seed: 65, mtimeSeconds: 1_000_000_000);
        File.Copy(old, changed);
        FlipMiddleByte(changed);
        Posix.SetTimes(changed, 1_100_000_000, 0);
        Posix.SetTimes(f.ModuleDir, 1_100_000_000, 2);
        Posix.SetTimes(dest, 631_152_000, 0);
        Assert.NotEqual(PushFixture.Sha256(old), PushFixture.Sha256(changed));

        await using (var proxy = ByteCountingProxy.Start(f.Daemon.Port))
        {
            ProcessResult r = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [proxy.Url(NetRsyncDaemonFixture.ModuleName), dest + "/"]));
            await AssertExit(0, r, f.Daemon);
            long limit = DeltaFileSize / 100;
            output.WriteLine($"delta pull: {proxy.ClientToServerBytes} bytes client→server, {proxy.ServerToClientBytes} bytes server→client");
            Assert.True(proxy.ServerToClientBytes < limit,
                $"the delta pull sent {proxy.ServerToClientBytes} bytes server→client; a 1-byte change to a {DeltaFileSize}-byte file must cost less than {limit} (1%)");
        }
        TreeComparer.AssertIdentical(f.ModuleDir, dest, CompareOptionsFor(protocol));
    }

    // ---------------------------------------------------------------- shutdown

    /// <summary>SIGTERM while a push is writing its temporary file: netrsyncd exits, the temporary file
    /// (rsync's ".NAME.XXXXXX") is removed and the old version of the file is untouched.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Sigterm_DuringALargePush_ExitsAndLeavesTheOldFileAndNoTempFile(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string oldFile = Path.Combine(f.ModuleDir, "big.bin");
        PushFixture.WriteRandomFile(oldFile, 32 * MiB, seed: 1, mtimeSeconds: 1_000_000_000);
        string oldHash = PushFixture.Sha256(oldFile);
        PosixStat oldStat = Posix.LStat(oldFile);
        PushFixture.WriteRandomFile(Path.Combine(f.Source, "big.bin"), 32 * MiB, seed: 2, mtimeSeconds: 1_200_000_000);
        f.AgeModuleRoot();

        // 32 MiB at 2 MB/s: about 16 s, so the push is surely still running when the signal comes.
        Task<ProcessResult> push = Run(peer, ["-a", "--bwlimit=2000", f.SourceArg, f.Url()], timeout: TimeSpan.FromSeconds(90));
        string[] TempFiles() => Directory.EnumerateFileSystemEntries(f.ModuleDir, "*", new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = true })
            .Select(p => Path.GetRelativePath(f.ModuleDir, p)).Where(n => n != "big.bin").ToArray();
        await WaitUntilAsync(
            () => push.IsCompleted || TempFiles().Any(n => Posix.TryLStat(Path.Combine(f.ModuleDir, n), out PosixStat st, out _) && st.Size > 0),
            "the push to start writing a temporary file in the module", TimeSpan.FromSeconds(30), f.Daemon.Diagnostics);
        if (push.IsCompleted)
        {
            Assert.Fail($"the push ended before the daemon was stopped\n{await push}\n{f.Daemon.Diagnostics()}");
        }
        output.WriteLine($"in the module during the push: {string.Join(", ", TempFiles().Select(TreeComparer.Show))}");

        bool stopped = await f.Daemon.StopAsync();
        ProcessResult r = await push;

        Assert.True(stopped, $"netrsyncd did not exit within {NetRsyncDaemon.StopDeadline.TotalSeconds:F0}s of SIGTERM during a push\n{f.Daemon.Diagnostics()}");
        Assert.True(r.ExitCode != 0, $"the push must fail when the daemon is stopped under it\n{r}");
        Assert.Equal(oldHash, PushFixture.Sha256(oldFile));
        PosixStat nowStat = Posix.LStat(oldFile);
        Assert.Equal((oldStat.Inode, oldStat.MtimeSeconds, oldStat.Size), (nowStat.Inode, nowStat.MtimeSeconds, nowStat.Size));
        string[] left = TempFiles();
        Assert.True(left.Length == 0,
            $"after SIGTERM the module must hold only big.bin (no .big.bin.XXXXXX temp file), but also holds: {string.Join(", ", left.Select(TreeComparer.Show))}\n{r}\n{f.Daemon.Diagnostics()}");
    }
}
