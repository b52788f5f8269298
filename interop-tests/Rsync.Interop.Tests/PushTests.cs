using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>"netrsync pushes a tree to a stock rsync daemon", against every peer × protocol.</summary>
[Collection(PushScenarios.Collection)]
public sealed class PushTests(ITestOutputHelper output) : PushScenarios(output)
{
    protected override IRsyncClient ClientFor(string peer) => NetRsync.Instance;
}

/// <summary>The same scenarios with the stock peer itself as the client: proves that every scenario
/// passes for a correct rsync client, i.e. that the expectations, fixtures and timings are sound.</summary>
[Collection(PushScenarios.Collection)]
public sealed class HarnessStockClientPushTests(ITestOutputHelper output) : PushScenarios(output)
{
    protected override IRsyncClient ClientFor(string peer) => new StockClient(RsyncPeers.Resolve(peer));
}

/// <summary>The push scenarios, written once for any client. The daemon side is always a stock rsync
/// (<see cref="StockDaemon"/>); results are checked with <see cref="TreeComparer"/> and, independently,
/// with a stock dry run (<see cref="StockClient.AssertNothingToChange"/>).</summary>
public abstract class PushScenarios(ITestOutputHelper output)
{
    /// <summary>Push tests share one collection so the heavy ones (64 MiB, 4 GiB) never run at the same
    /// time on a 2-core machine.</summary>
    public const string Collection = "Push";

    private const long MiB = 1 << 20;
    private const long DeltaFileSize = 64 * MiB;

    protected ITestOutputHelper Output { get; } = output;

    protected abstract IRsyncClient ClientFor(string peer);

    private async Task<ProcessResult> Run(string peer, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, TimeSpan? timeout = null)
    {
        IRsyncClient client = ClientFor(peer);
        ProcessResult r = await client.RunAsync(args, env, timeout);
        Output.WriteLine(r.ToString());
        return r;
    }

    /// <summary>Fails unless the exit code is as expected; the message carries the client's output and
    /// the daemon's config and log, taken once the daemon's side of the connection has finished (so
    /// its last words are in the log).</summary>
    private static async Task AssertExit(int expected, ProcessResult r, PushFixture f)
    {
        if (r.ExitCode != expected)
        {
            string daemon = await f.Daemon.DiagnosticsWhenIdleAsync();
            Assert.Fail($"expected exit code {expected}, got {r.ExitCode}\n{r}\n{daemon}");
        }
    }

    private static List<string> Args(params IEnumerable<string>[] parts) => parts.SelectMany(p => p).ToList();

    // ---------------------------------------------------------------- torture tree

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task TortureTree_PushedToRsyncUrl_IsIdentical(string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        TortureTree.Create(f.Source, includeHugeFile: false);

        ProcessResult r = await Run(peer, Args(["-aH"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url()]));

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(protocol));
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), protocol);
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task TortureTree_PushedToDoubleColonForm_IsIdentical(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        TortureTree.Create(f.Source, includeHugeFile: false);

        ProcessResult r = await Run(peer, ["-aH", $"--port={f.Daemon.Port}", f.SourceArg, f.Daemon.DoubleColon(PushFixture.ModuleName)]);

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol));
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), RsyncPeers.DefaultProtocol);
    }

    /// <summary>Unchrooted modules sanitize symlink targets (so "/etc/hostname" arrives as "etc/hostname"
    /// whatever the client sends); a chrooted module stores them verbatim, which checks that the
    /// client sends absolute and relative targets unchanged. Debian's rsync only: rsync 3.1.1 cannot
    /// set directory permissions inside a chroot without /proc ("failed to set permissions ...
    /// Operation not supported (95)", exit 23) whatever the client does.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.DebianPeerOnly), MemberType = typeof(RsyncPeers))]
    public async Task TortureTree_PushedToChrootedModule_KeepsSymlinkTargetsVerbatim(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer, m => m with { ExtraLines = ["use chroot = yes"] });
        TortureTree.Create(f.Source, includeHugeFile: false);

        ProcessResult r = await Run(peer, ["-aH", f.SourceArg, f.Url()]);

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol) with { ExpectSanitizedSymlinks = false });
        Assert.Equal("/etc/hostname", Posix.ReadLinkText(Path.Combine(f.ModuleDir, "links", "absolute")));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.DebianPeerOnly), MemberType = typeof(RsyncPeers))]
    public async Task TortureTree_WithHugeSparseFile_IsIdentical(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        TortureTreeInfo tree = TortureTree.Create(f.Source, includeHugeFile: true);

        ProcessResult r = await Run(peer, ["-aH", f.SourceArg, f.Url()], timeout: TimeSpan.FromMinutes(5));

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol));
        Assert.NotNull(tree.HugeFile);
        Assert.Equal((ulong)TortureTree.HugeFileLength, Posix.LStat(Path.Combine(f.ModuleDir, TortureTree.HugeFileName)).Size);
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), RsyncPeers.DefaultProtocol);
    }

    // ---------------------------------------------------------------- delta transfer

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersDefaultAnd30), MemberType = typeof(RsyncPeers))]
    public Task Delta_OneByteChangedInTheMiddle_SendsLittle(string peer, string protocol) =>
        DeltaScenario(peer, protocol, path =>
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
            fs.Position = DeltaFileSize / 2;
            int b = fs.ReadByte();
            fs.Position = DeltaFileSize / 2;
            fs.WriteByte((byte)(b ^ 0xFF));
        });

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersDefaultAnd30), MemberType = typeof(RsyncPeers))]
    public Task Delta_OneByteInsertedAtTheStart_SendsLittle(string peer, string protocol) =>
        DeltaScenario(peer, protocol, path =>
        {
            string tmp = path + ".new";
            using (var dst = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            using (var src = new FileStream(path, FileMode.Open, FileAccess.Read))
            {
                dst.WriteByte(0x42);
                src.CopyTo(dst, 1 << 20);
            }
            File.Move(tmp, path, overwrite: true);
        });

    private async Task DeltaScenario(string peer, string protocol, Action<string> modify)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        string file = Path.Combine(f.Source, "random-64M.bin");
        PushFixture.WriteRandomFile(file, DeltaFileSize, seed: 64, mtimeSeconds: 1_000_000_000);
        Posix.SetTimes(f.Source, 1_000_000_000, 1);

        // First push: everything is literal data, so the proxy must see at least the file's size.
        await using (var proxy = ByteCountingProxy.Start(f.Daemon.Port))
        {
            ProcessResult first = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, proxy.Url(PushFixture.ModuleName)]));
            await AssertExit(0, first, f);
            Assert.True(proxy.ClientToServerBytes >= DeltaFileSize,
                $"the initial push sent only {proxy.ClientToServerBytes} bytes client→server for a {DeltaFileSize}-byte random file");
        }
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(protocol));

        // Change the source; give it a distinct whole-second mtime so even protocol 30 sees the change.
        modify(file);
        Posix.SetTimes(file, 1_100_000_000, 0);
        Posix.SetTimes(f.Source, 1_100_000_000, 2);

        await using (var proxy = ByteCountingProxy.Start(f.Daemon.Port))
        {
            ProcessResult second = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, proxy.Url(PushFixture.ModuleName)]));
            await AssertExit(0, second, f);
            long limit = DeltaFileSize / 100;
            Output.WriteLine($"delta push: {proxy.ClientToServerBytes} bytes client→server, {proxy.ServerToClientBytes} bytes server→client");
            Assert.True(proxy.ClientToServerBytes < limit,
                $"the delta push sent {proxy.ClientToServerBytes} bytes client→server; a 1-byte change to a {DeltaFileSize}-byte file must cost less than {limit} (1%)");
        }
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(protocol));
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), protocol);
    }

    // ---------------------------------------------------------------- authentication

    private static Func<DaemonModule, DaemonModule> AuthModule => m => m with
    {
        AuthUsers = "rsync",
        Secrets = [("rsync", "rsync")],
    };

    private static void SmallTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "sub", "deeper"));
        File.WriteAllText(Path.Combine(root, "keep.txt"), "keep\n");
        File.WriteAllText(Path.Combine(root, "b.txt"), "bee\n");
        File.WriteAllText(Path.Combine(root, "sub", "keep2.txt"), "keep two\n");
        File.WriteAllBytes(Path.Combine(root, "sub", "deeper", "c.bin"), [1, 2, 3, 0, 255]);
        PushFixture.StampTimes(root);
    }

    private static void AssertModuleEmpty(PushFixture f)
    {
        string[] entries = Directory.EnumerateFileSystemEntries(f.ModuleDir, "*", new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = true }).ToArray();
        Assert.True(entries.Length == 0, $"the module should be empty but holds:\n  {string.Join("\n  ", entries.Take(20))}");
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task Auth_PasswordFromRsyncPasswordEnv_Works(string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer, AuthModule);
        SmallTree(f.Source);
        var env = new Dictionary<string, string?> { ["RSYNC_PASSWORD"] = "rsync" };

        ProcessResult r = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url("rsync")]), env);

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(protocol));
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url("rsync"), protocol, env);
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task Auth_PasswordFile_Works(string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer, AuthModule);
        SmallTree(f.Source);
        string passwordFile = f.Temp.File("password");
        StockDaemon.WriteSecretFile(passwordFile, "rsync\n");

        ProcessResult r = await Run(peer, Args(["-a", $"--password-file={passwordFile}"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url("rsync")]));

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(protocol));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task Auth_WrongPassword_FailsWithExit5(string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer, AuthModule);
        SmallTree(f.Source);

        ProcessResult r = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url("rsync")]),
            new Dictionary<string, string?> { ["RSYNC_PASSWORD"] = "not-the-password" });

        await AssertExit(5, r, f);
        Assert.True(r.Stderr.Contains("auth failed", StringComparison.Ordinal), $"stderr should say \"auth failed\" (rsync: \"@ERROR: auth failed on module mod\")\n{r}");
        AssertModuleEmpty(f);
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task UnknownModule_FailsWithExit5(string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        SmallTree(f.Source);

        ProcessResult r = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Daemon.Url("no-such-module")]));

        await AssertExit(5, r, f);
        Assert.True(r.Stderr.Contains("Unknown module", StringComparison.Ordinal), $"stderr should say \"Unknown module\" (rsync: \"@ERROR: Unknown module 'no-such-module'\")\n{r}");
        AssertModuleEmpty(f);
    }

    // ---------------------------------------------------------------- module listing

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task ModuleListing_MatchesStockRsync(string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer, m => m with { Comment = "Main module" }, t =>
        [
            new DaemonModule("pub", t.Sub("pub")) { Comment = "Public stuff, with  spaces" },
            new DaemonModule("bare", t.Sub("bare")),
            new DaemonModule("a-much-longer-module-name", t.Sub("long")) { Comment = "long name" },
            new DaemonModule("hidden", t.Sub("hidden")) { List = false, Comment = "must not be listed" },
        ]);
        string url = f.Daemon.Url(null);
        List<string> args = Args(RsyncPeers.ProtocolArgs(protocol), [url]);

        ProcessResult stock = await new StockClient(peer).RunAsync(args);
        Output.WriteLine("stock listing:\n" + stock);
        await AssertExit(0, stock, f);
        // The reference itself must show what we configured, or comparing with it proves nothing.
        Assert.Contains("Main module", stock.Stdout, StringComparison.Ordinal);
        Assert.Contains("Public stuff, with  spaces", stock.Stdout, StringComparison.Ordinal);
        Assert.Contains("a-much-longer-module-name", stock.Stdout, StringComparison.Ordinal);
        Assert.Matches(new Regex("^bare\\s*$", RegexOptions.Multiline), stock.Stdout);
        Assert.DoesNotContain("hidden", stock.Stdout, StringComparison.Ordinal);

        ProcessResult ours = await Run(peer, args);

        await AssertExit(0, ours, f);
        Assert.Equal(stock.Stdout, ours.Stdout);
    }

    // ---------------------------------------------------------------- daemon goes away

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task DaemonClosesMidTransfer_FailsAndLeavesOldFileAndNoTempFile(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        string oldFile = Path.Combine(f.ModuleDir, "big.bin");
        PushFixture.WriteRandomFile(oldFile, 32 * MiB, seed: 1, mtimeSeconds: 1_000_000_000);
        string oldHash = PushFixture.Sha256(oldFile);
        PosixStat oldStat = Posix.LStat(oldFile);
        PushFixture.WriteRandomFile(Path.Combine(f.Source, "big.bin"), 32 * MiB, seed: 2, mtimeSeconds: 1_200_000_000);
        f.AgeModuleRoot();

        int logStart = f.Daemon.DaemonLogLength;
        ProcessResult r;
        await using (var proxy = ByteCountingProxy.Start(f.Daemon.Port, cutAfterClientToServerBytes: MiB))
        {
            r = await Run(peer, ["-a", f.SourceArg, proxy.Url(PushFixture.ModuleName)]);
            Assert.Equal(1, proxy.Cuts);
        }

        Assert.True(r.ExitCode is 12 or 10, $"expected exit code 12 (protocol data stream) or 10 (socket I/O), got {r.ExitCode}\n{r}");
        Assert.True(Regex.IsMatch(r.Stderr, "error|closed|reset|broken pipe", RegexOptions.IgnoreCase), $"stderr should report the broken connection\n{r}");

        // The daemon's side sees the cut too. rsync daemons log nothing when a connection dies like
        // this, so "the connection has ended" is: no process serves it any more (see WaitForIdleAsync).
        await f.Daemon.WaitForLogAsync(log => log.Contains("connect from", StringComparison.Ordinal), "the push's connection", from: logStart);
        await f.Daemon.WaitForIdleAsync();

        Assert.Equal(oldHash, PushFixture.Sha256(oldFile));
        PosixStat nowStat = Posix.LStat(oldFile);
        Assert.Equal((oldStat.Inode, oldStat.MtimeSeconds, oldStat.Size), (nowStat.Inode, nowStat.MtimeSeconds, nowStat.Size));
        string[] names = Directory.EnumerateFileSystemEntries(f.ModuleDir, "*", new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = true })
            .Select(p => Path.GetRelativePath(f.ModuleDir, p)).ToArray();
        Assert.True(names.SequenceEqual(["big.bin"]),
            $"after the interrupted push the module must hold only big.bin (no .big.bin.XXXXXX temp file), but holds: {string.Join(", ", names.Select(TreeComparer.Show))}\n{f.Daemon.Diagnostics()}");
    }

    // ---------------------------------------------------------------- partial transfer

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task FilesFromNamesMissingFile_Exits23AndSendsTheRest(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        SmallTree(f.Source);
        string list = f.Temp.File("files-from.txt");
        File.WriteAllText(list, "keep.txt\nmissing.txt\nsub/keep2.txt\nsub/deeper/c.bin\n");

        ProcessResult r = await Run(peer, ["-a", $"--files-from={list}", f.SourceArg, f.Url()]);

        await AssertExit(23, r, f);
        Assert.True(r.Stderr.Contains("missing.txt", StringComparison.Ordinal), $"stderr should name the missing file (rsync: link_stat \".../missing.txt\" failed: No such file or directory (2))\n{r}");
        foreach (string rel in (string[])["keep.txt", "sub/keep2.txt", "sub/deeper/c.bin"])
        {
            string dst = Path.Combine(f.ModuleDir, rel);
            Assert.True(File.Exists(dst), $"{rel} should have been transferred despite the missing file\n{r}");
            Assert.Equal(-1, TreeComparer.FirstDifference(Path.Combine(f.Source, rel), dst));
        }
        Assert.False(File.Exists(Path.Combine(f.ModuleDir, "b.txt")), "b.txt is not in --files-from and must not be sent");
        Assert.False(File.Exists(Path.Combine(f.ModuleDir, "missing.txt")));
    }

    // ---------------------------------------------------------------- options

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task DryRun_ListsWhatItWouldSendButPushesNothing(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        SmallTree(f.Source);

        ProcessResult r = await Run(peer, ["-anv", f.SourceArg, f.Url()]);

        await AssertExit(0, r, f);
        // A client that does nothing must not pass: the dry run has to walk the transfer and name the files.
        string[] lines = r.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        foreach (string name in (string[])["keep.txt", "sub/keep2.txt", "sub/deeper/c.bin"])
        {
            Assert.True(lines.Contains(name), $"the -n -v output should list {name} on a line of its own\n{r}");
        }
        AssertModuleEmpty(f);
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Delete_RemovesExtraFilesInTheDestination(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        SmallTree(f.Source);
        File.WriteAllText(Path.Combine(f.ModuleDir, "extra.txt"), "extra\n");
        Directory.CreateDirectory(Path.Combine(f.ModuleDir, "sub", "extra-dir"));
        File.WriteAllText(Path.Combine(f.ModuleDir, "sub", "extra-dir", "x"), "x\n");
        f.AgeModuleRoot();

        ProcessResult r = await Run(peer, ["-a", "--delete", f.SourceArg, f.Url()]);

        await AssertExit(0, r, f);
        Assert.False(File.Exists(Path.Combine(f.ModuleDir, "extra.txt")), $"extra.txt should be deleted\n{r}");
        Assert.False(Directory.Exists(Path.Combine(f.ModuleDir, "sub", "extra-dir")), $"sub/extra-dir should be deleted\n{r}");
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Exclude_LeavesMatchingFilesOut(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        SmallTree(f.Source);
        File.WriteAllText(Path.Combine(f.Source, "drop.tmp"), "drop\n");
        File.WriteAllText(Path.Combine(f.Source, "sub", "deeper", "drop-too.tmp"), "drop\n");
        PushFixture.StampTimes(f.Source);

        ProcessResult r = await Run(peer, ["-a", "--exclude=*.tmp", f.SourceArg, f.Url()]);

        await AssertExit(0, r, f);
        Assert.False(File.Exists(Path.Combine(f.ModuleDir, "drop.tmp")), $"drop.tmp must be excluded\n{r}");
        Assert.False(File.Exists(Path.Combine(f.ModuleDir, "sub", "deeper", "drop-too.tmp")), $"sub/deeper/drop-too.tmp must be excluded\n{r}");
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir,
            RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol) with { Exclude = rel => rel.EndsWith(".tmp", StringComparison.Ordinal) });
    }

    private static readonly Regex SummaryLine = new(@"^sent [\d,.]+ bytes\s+received [\d,.]+ bytes", RegexOptions.Multiline);

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Verbose_PrintsFileNamesAndSummary(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        SmallTree(f.Source);

        ProcessResult r = await Run(peer, ["-av", f.SourceArg, f.Url()]);

        await AssertExit(0, r, f);
        string[] lines = r.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        foreach (string name in (string[])["keep.txt", "b.txt", "sub/keep2.txt", "sub/deeper/c.bin"])
        {
            Assert.True(lines.Contains(name), $"-v output should list {name} on a line of its own\n{r}");
        }
        Assert.True(SummaryLine.IsMatch(r.Stdout), $"-v output should end with \"sent N bytes  received N bytes ...\"\n{r}");
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Stats_PrintsTransferStatistics(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        SmallTree(f.Source);

        ProcessResult r = await Run(peer, ["-a", "--stats", f.SourceArg, f.Url()]);

        await AssertExit(0, r, f);
        foreach (string label in (string[])["Number of files:", "Literal data:", "Matched data:"])
        {
            Assert.True(r.Stdout.Contains(label, StringComparison.Ordinal), $"--stats output should contain \"{label}\"\n{r}");
        }
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol));
    }
}
