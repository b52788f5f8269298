using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>"netrsync pulls from a stock rsync daemon", against every peer × protocol.</summary>
[Collection(PushScenarios.Collection)]
public sealed class PullTests(ITestOutputHelper output) : PullScenarios(output)
{
    protected override IRsyncClient ClientFor(string peer) => NetRsync.Instance;
}

/// <summary>The same pull scenarios with the stock peer itself as the client: proves that every
/// scenario passes for a correct rsync client.</summary>
[Collection(PushScenarios.Collection)]
public sealed class HarnessStockClientPullTests(ITestOutputHelper output) : PullScenarios(output)
{
    protected override IRsyncClient ClientFor(string peer) => new StockClient(RsyncPeers.Resolve(peer));
}

/// <summary>The pull scenarios, written once for any client. The daemon is always a stock rsync
/// (<see cref="StockDaemon"/>) whose module directory is the source; results are checked with
/// <see cref="TreeComparer"/> (module vs destination) and with a stock pull dry run
/// (<see cref="StockClient.AssertNothingToPull"/>), or against what the stock client makes of the
/// same pull in a twin destination.</summary>
public abstract class PullScenarios(ITestOutputHelper output) : IDisposable
{
    private const long MiB = 1 << 20;
    private const long DeltaFileSize = 64 * MiB;
    private const long FaultFileSize = 32 * MiB;

    protected ITestOutputHelper Output { get; } = output;

    /// <summary>The clients' working directory: a fresh empty one per test, which must stay empty
    /// (every path a pull writes to is DEST or relative to it).</summary>
    private readonly TempDir _cwd = new();

    protected abstract IRsyncClient ClientFor(string peer);

    public void Dispose()
    {
        _cwd.Dispose();
        GC.SuppressFinalize(this);
    }

    private async Task<ProcessResult> Run(string peer, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, TimeSpan? timeout = null)
    {
        ProcessResult r = await ClientFor(peer).RunAsync(args, env, timeout, _cwd.Path);
        Output.WriteLine(r.ToString());
        AssertWorkingDirectoryUntouched(r);
        return r;
    }

    private async Task<ProcessResult> RunStock(string peer, IEnumerable<string> args)
    {
        ProcessResult r = await new StockClient(peer).RunAsync(args, workingDirectory: _cwd.Path);
        Output.WriteLine("stock reference:\n" + r);
        AssertWorkingDirectoryUntouched(r);
        return r;
    }

    private void AssertWorkingDirectoryUntouched(ProcessResult r)
    {
        string[] written = PullFixture.RelativeNames(_cwd.Path);
        Assert.True(written.Length == 0,
            $"the client wrote into its working directory {_cwd.Path} instead of DEST: {string.Join(", ", written.Take(20).Select(TreeComparer.Show))}\n{r}");
    }

    /// <summary>Fails unless the exit code is as expected (with the daemon's config and log once its
    /// side of the connection has finished). A successful pull must also be silent on stderr, as
    /// rsync's is.</summary>
    private static async Task AssertExit(int expected, ProcessResult r, PullFixture f)
    {
        if (r.ExitCode != expected)
        {
            string daemon = await f.Daemon.DiagnosticsWhenIdleAsync();
            Assert.Fail($"expected exit code {expected}, got {r.ExitCode}\n{r}\n{daemon}");
        }
        if (expected == 0 && r.Stderr.Length > 0)
        {
            string daemon = await f.Daemon.DiagnosticsWhenIdleAsync();
            Assert.Fail($"the pull succeeded but wrote to stderr (rsync writes nothing there on success)\n{r}\n{daemon}");
        }
    }

    private static List<string> Args(params IEnumerable<string>[] parts) => parts.SelectMany(p => p).ToList();

    /// <summary>Comparison options for module → destination. The module is the source now: an
    /// unchrooted daemon's sender reads symlinks verbatim (with <c>munge symlinks = no</c>) and the
    /// receiving client stores them verbatim, so nothing is sanitized.</summary>
    private static TreeCompareOptions PullOptions(string protocol) =>
        new() { CompareNanoseconds = RsyncPeers.CarriesNanoseconds(protocol), ExpectSanitizedSymlinks = false };

    // ---------------------------------------------------------------- torture tree

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task TortureTree_PulledFromRsyncUrl_IsIdentical(string peer, string protocol)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer, createDestination: false);
        TortureTree.Create(f.ModuleDir, includeHugeFile: false);

        ProcessResult r = await Run(peer, Args(["-aH"], RsyncPeers.ProtocolArgs(protocol), [f.Url(), f.DestArg]));

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, PullOptions(protocol));
        Assert.Equal("/etc/hostname", Posix.ReadLinkText(Path.Combine(f.Dest, "links", "absolute")));
        await StockClient.AssertNothingToPull(peer, f.Url(), f.Dest, protocol);
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task TortureTree_PulledFromDoubleColonForm_IsIdentical(string peer)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer, createDestination: false);
        TortureTree.Create(f.ModuleDir, includeHugeFile: false);

        ProcessResult r = await Run(peer, ["-aH", $"--port={f.Daemon.Port}", f.Daemon.DoubleColon(PullFixture.ModuleName), f.DestArg]);

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, PullOptions(RsyncPeers.DefaultProtocol));
        await StockClient.AssertNothingToPull(peer, f.Url(), f.Dest, RsyncPeers.DefaultProtocol);
    }

    /// <summary><c>rsync://HOST:PORT/mod/PATH/ DEST/</c>: a directory inside the module; its contents land in DEST.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task SubdirectoryOfTheModule_IsPulled(string peer)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer);
        TortureTree.Create(f.ModuleDir, includeHugeFile: false);
        string url = f.Url() + "a/b/";

        ProcessResult r = await Run(peer, ["-aH", url, f.DestArg]);

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(Path.Combine(f.ModuleDir, "a", "b"), f.Dest, PullOptions(RsyncPeers.DefaultProtocol));
        await StockClient.AssertNothingToPull(peer, url, f.Dest, RsyncPeers.DefaultProtocol);
    }

    /// <summary><c>rsync://HOST:PORT/mod/PATH/FILE DEST/</c> puts FILE into DEST; <c>... DEST/NEWNAME</c>
    /// (no trailing slash, not an existing directory) stores it under that name.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task SingleFile_IsPulledIntoADirectoryOrUnderANewName(string peer)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer);
        TortureTree.Create(f.ModuleDir, includeHugeFile: false);
        string source = Path.Combine(f.ModuleDir, "a", "size-700.bin");
        string url = f.Url() + "a/size-700.bin";

        ProcessResult intoDir = await Run(peer, ["-a", url, f.DestArg]);
        await AssertExit(0, intoDir, f);
        Assert.Equal(["size-700.bin"], PullFixture.RelativeNames(f.Dest));
        AssertSameFile(source, Path.Combine(f.Dest, "size-700.bin"));

        string renamed = Path.Combine(f.Dest, "renamed.bin");
        ProcessResult newName = await Run(peer, ["-a", url, renamed]);
        await AssertExit(0, newName, f);
        Assert.Equal(["renamed.bin", "size-700.bin"], PullFixture.RelativeNames(f.Dest));
        AssertSameFile(source, renamed);
    }

    private static void AssertSameFile(string expected, string actual)
    {
        Assert.True(File.Exists(actual), $"{actual} should exist");
        Assert.Equal(-1, TreeComparer.FirstDifference(expected, actual));
        PosixStat e = Posix.LStat(expected), a = Posix.LStat(actual);
        Assert.Equal((Posix.Octal(e.Permissions), e.MtimeSeconds, e.MtimeNanoseconds), (Posix.Octal(a.Permissions), a.MtimeSeconds, a.MtimeNanoseconds));
    }

    // ---------------------------------------------------------------- delta transfer

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersDefaultAnd30), MemberType = typeof(RsyncPeers))]
    public Task Delta_OneByteChangedInTheMiddle_ReceivesLittle(string peer, string protocol) =>
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
    public Task Delta_OneByteInsertedAtTheStart_ReceivesLittle(string peer, string protocol) =>
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
        await using PullFixture f = await PullFixture.StartAsync(peer);
        string file = Path.Combine(f.ModuleDir, "random-64M.bin");
        PushFixture.WriteRandomFile(file, DeltaFileSize, seed: 64, mtimeSeconds: 1_000_000_000);
        Posix.SetTimes(f.ModuleDir, 1_000_000_000, 1);

        // First pull into the empty destination: all literal data, so the proxy must see at least the file's size.
        await using (var proxy = ByteCountingProxy.Start(f.Daemon.Port))
        {
            ProcessResult first = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [proxy.Url(PullFixture.ModuleName), f.DestArg]));
            await AssertExit(0, first, f);
            Assert.True(proxy.ServerToClientBytes >= DeltaFileSize,
                $"the initial pull received only {proxy.ServerToClientBytes} bytes server→client for a {DeltaFileSize}-byte random file");
        }
        TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, PullOptions(protocol));

        // Change the module's copy; a distinct whole-second mtime so even protocol 30 sees the change.
        modify(file);
        Posix.SetTimes(file, 1_100_000_000, 0);
        Posix.SetTimes(f.ModuleDir, 1_100_000_000, 2);

        await using (var proxy = ByteCountingProxy.Start(f.Daemon.Port))
        {
            ProcessResult second = await Run(peer, Args(["-a"], RsyncPeers.ProtocolArgs(protocol), [proxy.Url(PullFixture.ModuleName), f.DestArg]));
            await AssertExit(0, second, f);
            long limit = DeltaFileSize / 100;
            Output.WriteLine($"delta pull: {proxy.ServerToClientBytes} bytes server→client, {proxy.ClientToServerBytes} bytes client→server");
            Assert.True(proxy.ServerToClientBytes < limit,
                $"the delta pull received {proxy.ServerToClientBytes} bytes server→client; a 1-byte change to a {DeltaFileSize}-byte file must cost less than {limit} (1%)");
        }
        TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, PullOptions(protocol));
        await StockClient.AssertNothingToPull(peer, f.Url(), f.Dest, protocol);
    }

    // ---------------------------------------------------------------- connection cut mid-pull

    public static TheoryData<string, long> PeersAndCuts
    {
        get
        {
            var data = new TheoryData<string, long>();
            foreach (string peer in RsyncPeers.All)
            {
                foreach (long cut in (long[])[64 * 1024, MiB, 10 * MiB, 30 * MiB])
                {
                    data.Add(peer, cut);
                }
            }
            return data;
        }
    }

    /// <summary>A tree whose first transferred file is a 32 MiB random file, then smaller ones; "old"
    /// and "new" versions differ in every file's content and time, with the same names (so DEST needs
    /// no new directory, and nothing new may appear in it before the big file is complete).</summary>
    private static void FaultTree(string root, bool newVersion)
    {
        string v = newVersion ? "new" : "old";
        Directory.CreateDirectory(Path.Combine(root, "c-dir"));
        PushFixture.WriteRandomFile(Path.Combine(root, "a-big.bin"), FaultFileSize, seed: newVersion ? 2 : 1, mtimeSeconds: 0);
        File.WriteAllText(Path.Combine(root, "b-small.txt"), $"{v} b\n" + (newVersion ? "with a second line\n" : ""));
        File.WriteAllText(Path.Combine(root, "c-dir", "inside.txt"), $"{v} inside\n");
        PushFixture.WriteRandomFile(Path.Combine(root, "d-1M.bin"), MiB, seed: newVersion ? 4 : 3, mtimeSeconds: 0);
        PushFixture.StampTimes(root, newVersion ? 1_300_000_000 : 1_100_000_000);
    }

    private sealed record FileState(string Sha256, ulong Inode, long MtimeSeconds, uint MtimeNanoseconds, ulong Size);

    private static Dictionary<string, FileState> Snapshot(string root) =>
        TreeComparer.Scan(root).Values.Where(e => e.Stat.Type == PosixFileType.Regular).ToDictionary(
            e => e.RelativePath,
            e => new FileState(PushFixture.Sha256(e.FullPath), e.Stat.Inode, e.Stat.MtimeSeconds, e.Stat.MtimeNanoseconds, e.Stat.Size));

    [Theory]
    [MemberData(nameof(PeersAndCuts))]
    public async Task ConnectionCutMidPull_FailsLeavesOldFilesAndNoTempFile_ThenARerunCompletes(string peer, long cutAfter)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer);
        FaultTree(f.Dest, newVersion: false);
        FaultTree(f.ModuleDir, newVersion: true);
        string[] namesBefore = PullFixture.RelativeNames(f.Dest);
        Dictionary<string, FileState> before = Snapshot(f.Dest);

        int logStart = f.Daemon.DaemonLogLength;
        ProcessResult r;
        await using (var proxy = ByteCountingProxy.Start(f.Daemon.Port, cutAfterServerToClientBytes: cutAfter))
        {
            r = await Run(peer, ["-a", proxy.Url(PullFixture.ModuleName), f.DestArg]);
            Assert.True(proxy.Cuts == 1, $"the proxy should have cut the connection after {cutAfter} bytes server→client (forwarded {proxy.ServerToClientBytes})\n{r}");
        }

        Assert.True(r.ExitCode is > 0 and < 128, $"a pull whose connection is cut must fail with one of rsync's exit codes (10, 12, ...), got {r.ExitCode}\n{r}");
        Assert.True(Regex.IsMatch(r.Stderr, "error|closed|reset|broken pipe|unexpected", RegexOptions.IgnoreCase), $"stderr should report the broken connection\n{r}");
        Assert.False(r.Stderr.Contains("Unhandled exception", StringComparison.Ordinal), $"the client crashed instead of reporting the error\n{r}");

        await f.Daemon.WaitForLogAsync(log => log.Contains("connect from", StringComparison.Ordinal), "the pull's connection", from: logStart);
        await f.Daemon.WaitForIdleAsync();

        string[] namesAfter = PullFixture.RelativeNames(f.Dest);
        Assert.True(namesAfter.SequenceEqual(namesBefore),
            $"after the interrupted pull DEST must hold exactly what it held before (no .NAME.XXXXXX temp file); before: {string.Join(", ", namesBefore.Select(TreeComparer.Show))}; after: {string.Join(", ", namesAfter.Select(TreeComparer.Show))}\n{r}");
        Dictionary<string, FileState> after = Snapshot(f.Dest);
        foreach ((string rel, FileState old) in before)
        {
            Assert.True(after[rel] == old, $"{TreeComparer.Show(rel)} changed although its new version never arrived whole: before {old}, after {after[rel]}\n{r}");
        }

        ProcessResult rerun = await Run(peer, ["-a", f.Url(), f.DestArg]);
        await AssertExit(0, rerun, f);
        TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, PullOptions(RsyncPeers.DefaultProtocol));
        await StockClient.AssertNothingToPull(peer, f.Url(), f.Dest, RsyncPeers.DefaultProtocol);
    }

    // ---------------------------------------------------------------- options, against the stock client

    /// <summary>The module side of the option scenarios. Times are fixed; "newer.txt" is newer in the
    /// module than in DEST, "older.txt" older.</summary>
    private static void OptionsModule(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "sub", "deeper"));
        Directory.CreateDirectory(Path.Combine(root, "new-dir"));
        File.WriteAllText(Path.Combine(root, "keep.txt"), "keep\n");
        File.WriteAllText(Path.Combine(root, "b.txt"), "bee\n");
        File.WriteAllText(Path.Combine(root, "newer.txt"), "the module's newer version\n");
        File.WriteAllText(Path.Combine(root, "older.txt"), "the module's older version\n");
        File.WriteAllText(Path.Combine(root, "only-in-module.txt"), "only here\n");
        File.WriteAllText(Path.Combine(root, "drop.tmp"), "drop\n");
        File.WriteAllText(Path.Combine(root, "sub", "keep2.txt"), "keep two\n");
        File.WriteAllText(Path.Combine(root, "sub", "deeper", "drop-too.tmp"), "drop\n");
        File.WriteAllBytes(Path.Combine(root, "sub", "deeper", "c.bin"), [1, 2, 3, 0, 255]);
        File.WriteAllText(Path.Combine(root, "new-dir", "inside.txt"), "inside\n");
        PushFixture.StampTimes(root, 1_300_000_000);
        Posix.SetTimes(Path.Combine(root, "newer.txt"), 1_500_000_000, 5);
        Posix.SetTimes(Path.Combine(root, "older.txt"), 1_000_000_000, 5);
    }

    /// <summary>The destination side: older copies of some module files, and files of its own
    /// (excluded-pattern ones among them, one inside a directory the module does not have).</summary>
    private static void OptionsDest(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "sub", "extra-dir"));
        File.WriteAllText(Path.Combine(root, "keep.txt"), "keep\n");
        File.WriteAllText(Path.Combine(root, "b.txt"), "an older bee\n");
        File.WriteAllText(Path.Combine(root, "newer.txt"), "DEST's older version\n");
        File.WriteAllText(Path.Combine(root, "older.txt"), "DEST's own version, newer than the module's\n");
        File.WriteAllText(Path.Combine(root, "extra.txt"), "extra\n");
        File.WriteAllText(Path.Combine(root, "keep.tmp"), "excluded, kept\n");
        File.WriteAllText(Path.Combine(root, "sub", "keep2.txt"), "keep two, old\n");
        File.WriteAllText(Path.Combine(root, "sub", "extra-dir", "x"), "x\n");
        File.WriteAllText(Path.Combine(root, "sub", "extra-dir", "inner.tmp"), "excluded, inside an extraneous directory\n");
        PushFixture.StampTimes(root, 1_200_000_000);
        Posix.SetTimes(Path.Combine(root, "newer.txt"), 1_400_000_000, 9);
        Posix.SetTimes(Path.Combine(root, "older.txt"), 1_100_000_000, 9);
    }

    /// <summary>How a twin pull is set up: what the module and both destinations hold, which path of
    /// the module is pulled, and the exit code the stock client gives.</summary>
    private sealed record Twin
    {
        public Action<string> Module { get; init; } = OptionsModule;

        public Action<string> Dest { get; init; } = OptionsDest;

        /// <summary>Appended to the module URL, e.g. "a/b/".</summary>
        public string Path { get; init; } = "";

        /// <summary>The stock client's exit code, which the client under test must give too; null
        /// when it depends on the daemon's version (then the codes must simply agree).</summary>
        public int? ExpectedExit { get; init; } = 0;

    }

    private static Dictionary<string, (long, uint)> DirectoryTimes(string root) =>
        TreeComparer.Scan(root).Values.Where(e => e.Stat.Type == PosixFileType.Directory)
            .ToDictionary(e => e.RelativePath, e => (e.Stat.MtimeSeconds, e.Stat.MtimeNanoseconds));

    /// <summary>The twin the stock client made and DEST must be identical: names, types, modes,
    /// owners, contents, hard-link groups, symlinks, file and symlink times. A directory's time
    /// must be identical where the stock client set it (to the module's, or left an untouched
    /// directory's as it was); where the stock client left "the time it changed" (rsync does not
    /// restore directory times with -b, nor those of a directory it could not delete), DEST's must
    /// likewise be neither the module's nor its old time, since such a time is never reproducible.</summary>
    private static void AssertSameResult(string module, string twin, string dest, Dictionary<string, (long, uint)> dirTimesBefore)
    {
        TreeComparer.AssertIdentical(twin, dest, new TreeCompareOptions { CompareDirectoryTimes = false });
        SortedDictionary<string, TreeEntry> mod = TreeComparer.Scan(module), tw = TreeComparer.Scan(twin), de = TreeComparer.Scan(dest);
        var diffs = new List<string>();
        foreach (TreeEntry e in tw.Values.Where(e => e.Stat.Type == PosixFileType.Directory))
        {
            TreeEntry d = de[e.RelativePath];
            (long, uint) stockTime = (e.Stat.MtimeSeconds, e.Stat.MtimeNanoseconds), ourTime = (d.Stat.MtimeSeconds, d.Stat.MtimeNanoseconds);
            var references = new List<(long, uint)>();
            if (mod.TryGetValue(e.RelativePath, out TreeEntry? m) && m.Stat.Type == PosixFileType.Directory)
            {
                references.Add((m.Stat.MtimeSeconds, m.Stat.MtimeNanoseconds));
            }
            if (dirTimesBefore.TryGetValue(e.RelativePath, out (long, uint) old))
            {
                references.Add(old);
            }
            if (references.Contains(stockTime) ? stockTime != ourTime : references.Contains(ourTime))
            {
                diffs.Add($"{TreeComparer.Show(e.RelativePath)}: mtime {stockTime} with the stock client, {ourTime} with the client under test (module {(m is null ? "-" : (m.Stat.MtimeSeconds, m.Stat.MtimeNanoseconds))}, before {(dirTimesBefore.TryGetValue(e.RelativePath, out var b) ? b : "-")})");
            }
        }
        Assert.True(diffs.Count == 0, $"directory times differ from what the stock client left:\n  {string.Join("\n  ", diffs)}");
    }

    /// <summary>Pulls with <paramref name="options"/> into DEST with the client under test and into a
    /// twin of DEST (built the same way) with the stock client; both must give the expected exit code
    /// and the two trees must then be the same (<see cref="AssertSameResult"/>).</summary>
    private async Task<(PullFixture F, string Twin, ProcessResult Ours, ProcessResult Stock)> TwinPull(string peer, string[] options, Twin? setup = null)
    {
        Twin t = setup ?? new Twin();
        PullFixture f = await PullFixture.StartAsync(peer);
        try
        {
            t.Module(f.ModuleDir);
            t.Dest(f.Dest);
            string twin = f.Temp.Sub("twin");
            t.Dest(twin);
            TreeComparer.AssertIdentical(twin, f.Dest); // the twins start equal
            Dictionary<string, (long, uint)> dirTimesBefore = DirectoryTimes(f.Dest);
            string url = f.Url() + t.Path;

            ProcessResult stock = await RunStock(peer, [.. options, url, twin + "/"]);
            Assert.True(t.ExpectedExit is null || stock.ExitCode == t.ExpectedExit, $"the stock reference pull should exit with {t.ExpectedExit}\n{stock}");
            ProcessResult ours = await Run(peer, [.. options, url, f.DestArg]);
            await AssertExit(stock.ExitCode, ours, f);
            AssertSameResult(f.ModuleDir, twin, f.Dest, dirTimesBefore);
            return (f, twin, ours, stock);
        }
        catch
        {
            await f.DisposeAsync();
            throw;
        }
    }

    private static void AssertContent(string root, string rel, string expected) =>
        Assert.True(File.Exists(Path.Combine(root, rel)) && File.ReadAllText(Path.Combine(root, rel)) == expected,
            $"{rel} should hold {TreeComparer.Show(expected)}, holds {(File.Exists(Path.Combine(root, rel)) ? TreeComparer.Show(File.ReadAllText(Path.Combine(root, rel))) : "nothing (missing)")}");

    private static void AssertMissing(string root, string rel) =>
        Assert.False(Posix.TryLStat(Path.Combine(root, rel), out _, out _), $"{rel} should not exist in {root}");

    /// <summary>The "deleting NAME" lines of a -v run, sorted.</summary>
    private static string[] DeletingLines(string stdout) =>
        stdout.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("deleting ", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();

    /// <summary>-v names every deleted entry, the contents of a deleted directory included
    /// (rsync's delete_dir_contents logs each one).</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Delete_RemovesExtraFilesInTheDestination(string peer)
    {
        (PullFixture f, _, ProcessResult ours, ProcessResult stock) = await TwinPull(peer, ["-av", "--delete"]);
        await using (f)
        {
            AssertMissing(f.Dest, "extra.txt");
            AssertMissing(f.Dest, "keep.tmp");
            AssertMissing(f.Dest, "sub/extra-dir");
            TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, PullOptions(RsyncPeers.DefaultProtocol));
            await StockClient.AssertNothingToPull(peer, f.Url(), f.Dest, RsyncPeers.DefaultProtocol, extraArgs: ["--delete"]);
            Assert.Contains("deleting sub/extra-dir/x", stock.Stdout, StringComparison.Ordinal);
            Assert.Equal(DeletingLines(stock.Stdout), DeletingLines(ours.Stdout));
        }
    }

    /// <summary>--max-delete=N deletes at most N entries, counting each file inside an extraneous
    /// directory, and then ends with code 25 (a directory that still holds files is left in place).</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task MaxDelete_NeverDeletesMoreThanTheLimit(string peer)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer);
        File.WriteAllText(Path.Combine(f.ModuleDir, "keep.txt"), "keep\n");
        PushFixture.StampTimes(f.ModuleDir);
        string twin = f.Temp.Sub("twin");
        foreach (string root in (string[])[f.Dest, twin])
        {
            Directory.CreateDirectory(Path.Combine(root, "gone"));
            for (int i = 1; i <= 5; i++)
            {
                File.WriteAllText(Path.Combine(root, "gone", $"f{i}"), $"{i}\n");
            }
            PushFixture.StampTimes(root, 1_200_000_000);
        }
        int before = PullFixture.RelativeNames(f.Dest).Length;

        ProcessResult stock = await RunStock(peer, ["-av", "--delete", "--max-delete=2", f.Url(), twin + "/"]);
        Assert.True(stock.ExitCode == 25, $"the stock reference should stop at the limit with code 25\n{stock}");
        Assert.Equal(before - 2, PullFixture.RelativeNames(twin).Count(n => n.StartsWith("gone", StringComparison.Ordinal)));
        ProcessResult ours = await Run(peer, ["-av", "--delete", "--max-delete=2", f.Url(), f.DestArg]);

        string[] left = PullFixture.RelativeNames(f.Dest).Where(n => n.StartsWith("gone", StringComparison.Ordinal)).ToArray();
        Assert.True(left.Length >= before - 2,
            $"--max-delete=2 may delete 2 of the {before} entries of gone/, but only {left.Length} are left: {string.Join(", ", left)}\n{ours}");
        Assert.True(ours.ExitCode == 25, $"expected exit code 25 (--max-delete limit), got {ours.ExitCode}\n{ours}");
        Assert.Contains("--max-delete", ours.Stderr, StringComparison.Ordinal);
        AssertContent(f.Dest, "keep.txt", "keep\n");
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Exclude_LeavesMatchingFilesOut(string peer)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, ["-a", "--exclude=*.tmp"]);
        await using (f)
        {
            AssertMissing(f.Dest, "drop.tmp");
            AssertMissing(f.Dest, "sub/deeper/drop-too.tmp");
            AssertContent(f.Dest, "keep.tmp", "excluded, kept\n");
            AssertContent(f.Dest, "extra.txt", "extra\n");
            Assert.Equal(-1, TreeComparer.FirstDifference(Path.Combine(f.ModuleDir, "sub", "deeper", "c.bin"), Path.Combine(f.Dest, "sub", "deeper", "c.bin")));
        }
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task ExcludeWithDelete_KeepsExcludedDestinationFiles(string peer)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, ["-a", "--delete", "--exclude=*.tmp"]);
        await using (f)
        {
            AssertMissing(f.Dest, "drop.tmp");
            AssertMissing(f.Dest, "sub/deeper/drop-too.tmp");
            AssertMissing(f.Dest, "extra.txt");
            AssertMissing(f.Dest, "sub/extra-dir/x");
            AssertContent(f.Dest, "keep.tmp", "excluded, kept\n");
            // Excluded names are protected from deletion even inside a directory that is itself
            // extraneous; that directory then stays ("cannot delete non-empty directory").
            AssertContent(f.Dest, "sub/extra-dir/inner.tmp", "excluded, inside an extraneous directory\n");
            TreeComparer.AssertIdentical(f.ModuleDir, f.Dest,
                PullOptions(RsyncPeers.DefaultProtocol) with { Exclude = rel => rel.EndsWith(".tmp", StringComparison.Ordinal) || rel == "sub/extra-dir" });
        }
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Existing_OnlyUpdatesFilesThatAreAlreadyThere(string peer)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, ["-a", "--existing"]);
        await using (f)
        {
            AssertMissing(f.Dest, "only-in-module.txt");
            AssertMissing(f.Dest, "new-dir");
            AssertMissing(f.Dest, "drop.tmp");
            AssertContent(f.Dest, "newer.txt", "the module's newer version\n");
            AssertContent(f.Dest, "older.txt", "the module's older version\n");
            AssertContent(f.Dest, "extra.txt", "extra\n");
        }
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task IgnoreExisting_OnlyAddsFilesThatAreMissing(string peer)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, ["-a", "--ignore-existing"]);
        await using (f)
        {
            AssertContent(f.Dest, "only-in-module.txt", "only here\n");
            AssertContent(f.Dest, "new-dir/inside.txt", "inside\n");
            AssertContent(f.Dest, "newer.txt", "DEST's older version\n");
            AssertContent(f.Dest, "older.txt", "DEST's own version, newer than the module's\n");
            AssertContent(f.Dest, "b.txt", "an older bee\n");
        }
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Update_SkipsFilesThatAreNewerInTheDestination(string peer)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, ["-a", "-u"]);
        await using (f)
        {
            AssertContent(f.Dest, "newer.txt", "the module's newer version\n");
            AssertContent(f.Dest, "older.txt", "DEST's own version, newer than the module's\n");
            AssertContent(f.Dest, "only-in-module.txt", "only here\n");
            AssertContent(f.Dest, "b.txt", "bee\n");
        }
    }

    /// <summary>The lines of a -v run that name files: everything but the "receiving ... file list"
    /// header, the two summary lines and blank lines.</summary>
    private static string[] NameLines(string stdout) =>
        stdout.Split('\n').Select(l => l.TrimEnd('\r'))
            .Where(l => l.Length > 0
                && !l.StartsWith("receiving ", StringComparison.Ordinal)
                && !l.StartsWith("sent ", StringComparison.Ordinal)
                && !l.StartsWith("total size ", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToArray();

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task DryRun_ListsWhatItWouldDoButChangesNothing(string peer)
    {
        (PullFixture f, string twin, ProcessResult ours, ProcessResult stock) = await TwinPull(peer, ["-anv", "--delete"]);
        await using (f)
        {
            string pristine = f.Temp.Sub("pristine");
            OptionsDest(pristine);
            TreeComparer.AssertIdentical(pristine, f.Dest);
            string[] lines = ours.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
            foreach (string name in (string[])["b.txt", "newer.txt", "only-in-module.txt", "new-dir/inside.txt", "sub/keep2.txt", "deleting extra.txt"])
            {
                Assert.True(lines.Contains(name), $"the -n -v output should list {TreeComparer.Show(name)} on a line of its own\n{ours}");
            }
            Assert.Equal(NameLines(stock.Stdout), NameLines(ours.Stdout));
            Assert.Contains("(DRY RUN)", ours.Stdout, StringComparison.Ordinal);
        }
    }

    // ---------------------------------------------------------------- more options, against the stock client

    /// <summary>DEST starts empty (with a fixed old time, like every other prepared tree).</summary>
    private static void Nothing(string root) => Posix.SetTimes(root, 1_200_000_000, 7);

    private static void TortureModule(string root) => TortureTree.Create(root, includeHugeFile: false);

    public static TheoryData<string, string, int> PeersAndTortureOptions
    {
        get
        {
            var data = new TheoryData<string, string, int>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "-aH --safe-links", 0);
                data.Add(peer, "-aH --copy-unsafe-links", -1); // 23 from rsync 3.5.0's daemon, which will not open links/absolute
                data.Add(peer, "-aHL", 23); // links/dangling: "symlink has no referent"
                data.Add(peer, "-rlt", 0);
                data.Add(peer, "-aH --numeric-ids", 0);
                data.Add(peer, "-aH --chmod=Dg+s,ug+w,Fo-w,+X", 0);
                data.Add(peer, "-aHO", 0);
                data.Add(peer, "-aH --no-perms --no-owner --no-group", 0);
            }
            return data;
        }
    }

    /// <summary>The torture tree pulled into an empty DEST with options that change what is kept
    /// or how links are treated: the result (and exit code) must be the stock client's.</summary>
    [Theory]
    [MemberData(nameof(PeersAndTortureOptions))]
    public async Task TortureTree_PulledWithOptions_MatchesTheStockClient(string peer, string options, int expectedExit)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, options.Split(' '),
            new Twin { Module = TortureModule, Dest = Nothing, ExpectedExit = expectedExit < 0 ? null : expectedExit });
        await f.DisposeAsync();
    }

    public static TheoryData<string, string, int> PeersAndTypeChangeOptions
    {
        get
        {
            var data = new TheoryData<string, string, int>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "-a", 23); // a non-empty directory in the way of a file stays without --delete/--force
                data.Add(peer, "-a --delete", 0);
                data.Add(peer, "-a --force", 0);
            }
            return data;
        }
    }

    private static void TypeChangeModule(string root)
    {
        File.WriteAllText(Path.Combine(root, "a-file-was-empty-dir"), "now a file\n");
        Directory.CreateDirectory(Path.Combine(root, "b-dir-was-file"));
        File.WriteAllText(Path.Combine(root, "b-dir-was-file", "inner.txt"), "inner\n");
        File.WriteAllText(Path.Combine(root, "c-file-was-link"), "now a file\n");
        File.CreateSymbolicLink(Path.Combine(root, "d-link-was-file"), "a-file-was-empty-dir");
        File.WriteAllText(Path.Combine(root, "e-file-was-nonempty-dir"), "now a file\n");
        Directory.CreateDirectory(Path.Combine(root, "f-dir-was-link-to-outside"));
        File.WriteAllText(Path.Combine(root, "f-dir-was-link-to-outside", "x.txt"), "must land in DEST\n");
        File.CreateSymbolicLink(Path.Combine(root, "g-link-was-dir"), "b-dir-was-file");
        PushFixture.StampTimes(root, 1_300_000_000);
    }

    /// <summary>Every name of <see cref="TypeChangeModule"/> with another type; "f-dir-was-link-to-outside"
    /// points to "../outside", a directory beside DEST that must stay empty.</summary>
    private static void TypeChangeDest(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "..", "outside"));
        Directory.CreateDirectory(Path.Combine(root, "a-file-was-empty-dir"));
        File.WriteAllText(Path.Combine(root, "b-dir-was-file"), "old file\n");
        File.CreateSymbolicLink(Path.Combine(root, "c-file-was-link"), "nowhere");
        File.WriteAllText(Path.Combine(root, "d-link-was-file"), "old file\n");
        Directory.CreateDirectory(Path.Combine(root, "e-file-was-nonempty-dir"));
        File.WriteAllText(Path.Combine(root, "e-file-was-nonempty-dir", "stuff.txt"), "stuff\n");
        File.CreateSymbolicLink(Path.Combine(root, "f-dir-was-link-to-outside"), "../outside");
        Directory.CreateDirectory(Path.Combine(root, "g-link-was-dir"));
        PushFixture.StampTimes(root, 1_200_000_000);
    }

    /// <summary>Names whose type differs between module and DEST: files, empty and non-empty
    /// directories and symlinks (one to a directory outside DEST) are replaced as the stock client
    /// replaces them, and nothing is written through the old symlink.</summary>
    [Theory]
    [MemberData(nameof(PeersAndTypeChangeOptions))]
    public async Task TypeChanges_AreReplacedLikeTheStockClient(string peer, string options, int expectedExit)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, options.Split(' '), new Twin { Module = TypeChangeModule, Dest = TypeChangeDest, ExpectedExit = expectedExit });
        await using (f)
        {
            Assert.Empty(PullFixture.RelativeNames(Path.Combine(f.Temp.Path, "outside")));
            AssertContent(f.Dest, "a-file-was-empty-dir", "now a file\n");
            AssertContent(f.Dest, "f-dir-was-link-to-outside/x.txt", "must land in DEST\n");
        }
    }

    public static TheoryData<string, string> PeersAndListings
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "");
                data.Add(peer, "-r");
                data.Add(peer, "-r a/b/");
                data.Add(peer, "a/size-700.bin");
            }
            return data;
        }
    }

    /// <summary>A pull without DEST lists the files (--list-only) exactly as the stock client prints
    /// them (modes, sizes with separators, local times, escaped odd names).</summary>
    [Theory]
    [MemberData(nameof(PeersAndListings))]
    public async Task ListOnly_PrintsWhatTheStockClientPrints(string peer, string variant)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer);
        TortureTree.Create(f.ModuleDir, includeHugeFile: false);
        string[] words = variant.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string path = words.Length > 0 && !words[^1].StartsWith('-') ? words[^1] : "";
        List<string> args = [.. words.Where(w => w.StartsWith('-')), f.Url() + path];

        ProcessResult stock = await RunStock(peer, args);
        Assert.True(stock.ExitCode == 0 && stock.Stdout.Length > 0, $"the stock listing failed\n{stock}");
        ProcessResult ours = await Run(peer, args);
        await AssertExit(0, ours, f);
        Assert.Equal(stock.Stdout, ours.Stdout);
    }

    /// <summary>The module path does not exist: rsync reports it and exits 23; DEST is left alone.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task MissingPathInTheModule_Exits23(string peer)
    {
        (PullFixture f, _, ProcessResult ours, _) = await TwinPull(peer, ["-a"], new Twin { Path = "no-such-dir/", ExpectedExit = 23 });
        await using (f)
        {
            Assert.True(ours.Stderr.Contains("no-such-dir", StringComparison.Ordinal), $"stderr should name the missing path\n{ours}");
            string pristine = f.Temp.Sub("pristine");
            OptionsDest(pristine);
            TreeComparer.AssertIdentical(pristine, f.Dest);
        }
    }

    public static TheoryData<string, string> PeersAndDeleteModes
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "--delete-before");
                data.Add(peer, "--delete-during");
                data.Add(peer, "--delete-delay");
                data.Add(peer, "--delete-after");
                data.Add(peer, "--delete --exclude=*.tmp --delete-excluded");
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(PeersAndDeleteModes))]
    public async Task DeleteModes_MatchTheStockClient(string peer, string options)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, ["-a", .. options.Split(' ')]);
        await using (f)
        {
            AssertMissing(f.Dest, "extra.txt");
            AssertMissing(f.Dest, "sub/extra-dir");
        }
    }

    public static TheoryData<string, string> PeersAndBackupOptions
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "-ab");
                data.Add(peer, "-ab --suffix=.old");
                // The file is written where it lies: its backup must be a copy taken first.
                data.Add(peer, "-ab --inplace");
            }
            // Debian's client only: rsync 3.1.1 also mirrors every new directory as an empty one under
            // --backup-dir (later versions do not), and with --delete it fails itself ("keep_backup
            // failed ... bak/keep.tmp: No such file or directory").
            data.Add(RsyncPeers.DebianRsync, "-ab --backup-dir=bak");
            data.Add(RsyncPeers.DebianRsync, "-ab --delete --backup-dir=bak");
            data.Add(RsyncPeers.DebianRsync, "-ab --inplace --backup-dir=bak");
            return data;
        }
    }

    /// <summary>-b keeps each replaced (and with --delete each deleted) file as a backup, beside it
    /// with a suffix or under --backup-dir.</summary>
    [Theory]
    [MemberData(nameof(PeersAndBackupOptions))]
    public async Task Backup_KeepsWhatIsReplaced(string peer, string options)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, options.Split(' '));
        await using (f)
        {
            string backup = options.Contains("bak", StringComparison.Ordinal) ? "bak/newer.txt"
                : options.Contains(".old", StringComparison.Ordinal) ? "newer.txt.old"
                : "newer.txt~";
            AssertContent(f.Dest, backup, "DEST's older version\n");
            AssertContent(f.Dest, "newer.txt", "the module's newer version\n");
        }
    }

    private static void SameSizeSameTimeModule(string root)
    {
        File.WriteAllText(Path.Combine(root, "same-stamp.txt"), "the module's text\n");
        File.WriteAllText(Path.Combine(root, "other.txt"), "other\n");
        PushFixture.StampTimes(root, 1_300_000_000);
    }

    private static void SameSizeSameTimeDest(string root)
    {
        File.WriteAllText(Path.Combine(root, "same-stamp.txt"), "DEST's  own  text\n");
        File.WriteAllText(Path.Combine(root, "other.txt"), "other\n");
        PushFixture.StampTimes(root, 1_300_000_000);
    }

    public static TheoryData<string, string> PeersAndQuickCheckOptions
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "-a");
                data.Add(peer, "-ac");
                data.Add(peer, "-aI");
                data.Add(peer, "-a --size-only");
            }
            return data;
        }
    }

    /// <summary>A file with the same size and mtime but other content: the quick check skips it,
    /// -c and -I transfer it.</summary>
    [Theory]
    [MemberData(nameof(PeersAndQuickCheckOptions))]
    public async Task QuickCheckOptions_MatchTheStockClient(string peer, string options)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, options.Split(' '), new Twin { Module = SameSizeSameTimeModule, Dest = SameSizeSameTimeDest });
        await using (f)
        {
            bool transferred = options is "-ac" or "-aI";
            AssertContent(f.Dest, "same-stamp.txt", transferred ? "the module's text\n" : "DEST's  own  text\n");
        }
    }

    /// <summary>Some of a hard-link group already exist in DEST, unlinked and one with other content.</summary>
    private static void PartialHardLinkDest(string root)
    {
        TortureTree.Create(root + "-model", includeHugeFile: false);
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "hard"));
            Directory.CreateDirectory(Path.Combine(root, "a", "b"));
            File.Copy(Path.Combine(root + "-model", "hard", "one.bin"), Path.Combine(root, "hard", "one.bin"));
            PosixStat st = Posix.LStat(Path.Combine(root + "-model", "hard", "one.bin"));
            Posix.SetTimes(Path.Combine(root, "hard", "one.bin"), st.MtimeSeconds, st.MtimeNanoseconds);
            File.WriteAllText(Path.Combine(root, "a", "b", "hard-two.bin"), "not linked, other content\n");
            Posix.Link(Path.Combine(root, "a", "b", "hard-two.bin"), Path.Combine(root, "hard", "pair-a.txt"));
            PushFixture.StampTimes(root, 1_200_000_000);
        }
        finally
        {
            TempDir.DeleteTree(root + "-model");
        }
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task HardLinks_PartlyPresentInTheDestination_AreRegrouped(string peer)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, ["-aH"], new Twin { Module = TortureModule, Dest = PartialHardLinkDest });
        await using (f)
        {
            TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, PullOptions(RsyncPeers.DefaultProtocol));
        }
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task FilesFrom_PullsOnlyTheListedNames(string peer)
    {
        using var lists = new TempDir();
        string list = lists.File("files-from.txt");
        File.WriteAllText(list, "a/size-700.bin\nlinks/relative\nwith space/\nGrüße – 日本語.txt\nno-such-file.txt\n");
        (PullFixture f, _, ProcessResult ours, _) = await TwinPull(peer, ["-a", $"--files-from={list}"],
            new Twin { Module = TortureModule, Dest = Nothing, ExpectedExit = 23 });
        await using (f)
        {
            Assert.True(File.Exists(Path.Combine(f.Dest, "a", "size-700.bin")), $"a/size-700.bin should have been pulled\n{ours}");
            AssertMissing(f.Dest, "a/size-0.bin");
            AssertMissing(f.Dest, "hard");
        }
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Sparse_HolesStayHoles(string peer)
    {
        (PullFixture f, _, _, _) = await TwinPull(peer, ["-aS"], new Twin
        {
            Module = root =>
            {
                TortureTree.CreateSparse(Path.Combine(root, "sparse.bin"), 16 * MiB, new Random(5));
                PushFixture.StampTimes(root);
            },
            Dest = Nothing,
        });
        await using (f)
        {
            PosixStat st = Posix.LStat(Path.Combine(f.Dest, "sparse.bin"));
            Assert.True(st.Blocks * 512 < 2 * MiB, $"sparse.bin takes {st.Blocks * 512} bytes on disk after -S; its data is 25 bytes in a 16 MiB file");
        }
    }

    // ---------------------------------------------------------------- authentication

    private static Func<DaemonModule, DaemonModule> AuthModule => m => m with
    {
        AuthUsers = "rsync",
        Secrets = [("rsync", "rsync")],
    };

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Auth_PasswordFromRsyncPasswordEnv_Works(string peer)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer, AuthModule);
        OptionsModule(f.ModuleDir);
        var env = new Dictionary<string, string?> { ["RSYNC_PASSWORD"] = "rsync" };

        ProcessResult r = await Run(peer, ["-a", f.Url("rsync"), f.DestArg], env);

        await AssertExit(0, r, f);
        TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, PullOptions(RsyncPeers.DefaultProtocol));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Auth_WrongPassword_FailsWithExit5(string peer)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer, AuthModule);
        OptionsModule(f.ModuleDir);

        ProcessResult r = await Run(peer, ["-a", f.Url("rsync"), f.DestArg], new Dictionary<string, string?> { ["RSYNC_PASSWORD"] = "wrong" });

        await AssertExit(5, r, f);
        Assert.True(r.Stderr.Contains("auth failed", StringComparison.Ordinal), $"stderr should say \"auth failed\"\n{r}");
        Assert.Empty(PullFixture.RelativeNames(f.Dest));
    }

    // ---------------------------------------------------------------- cut with --partial / --partial-dir / --inplace

    public static TheoryData<string, string> PeersAndKeepOptions
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "--partial");
                data.Add(peer, "--partial-dir=.rsync-partial");
                data.Add(peer, "--inplace");
            }
            return data;
        }
    }

    /// <summary>Whether <paramref name="prefix"/>'s bytes start <paramref name="whole"/>.</summary>
    private static bool IsPrefixOf(string prefix, string whole)
    {
        long n = new FileInfo(prefix).Length;
        using var a = new FileStream(prefix, FileMode.Open, FileAccess.Read);
        using var b = new FileStream(whole, FileMode.Open, FileAccess.Read);
        byte[] x = new byte[1 << 20], y = new byte[1 << 20];
        for (long done = 0; done < n;)
        {
            int want = (int)Math.Min(x.Length, n - done);
            a.ReadExactly(x, 0, want);
            if (b.ReadAtLeast(y, want, throwOnEndOfStream: false) < want || !x.AsSpan(0, want).SequenceEqual(y.AsSpan(0, want)))
            {
                return false;
            }
            done += want;
        }
        return true;
    }

    /// <summary>A pull cut after 10 MiB of the 32 MiB file: --partial keeps what arrived as the file
    /// itself, --partial-dir keeps it in that directory (the old file untouched), --inplace has been
    /// writing into the file; no temp file either way, and a rerun with the same option completes
    /// (and leaves no partial directory behind).</summary>
    [Theory]
    [MemberData(nameof(PeersAndKeepOptions))]
    public async Task ConnectionCutMidPull_WithPartialOrInplace_KeepsWhatArrived(string peer, string option)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer);
        FaultTree(f.Dest, newVersion: false);
        FaultTree(f.ModuleDir, newVersion: true);
        string oldCopy = f.Temp.Sub("old");
        FaultTree(oldCopy, newVersion: false);
        string[] namesBefore = PullFixture.RelativeNames(f.Dest);
        Dictionary<string, FileState> before = Snapshot(f.Dest);
        string big = Path.Combine(f.Dest, "a-big.bin");

        ProcessResult r;
        await using (var proxy = ByteCountingProxy.Start(f.Daemon.Port, cutAfterServerToClientBytes: 10 * MiB))
        {
            r = await Run(peer, ["-a", option, proxy.Url(PullFixture.ModuleName), f.DestArg]);
            Assert.True(proxy.Cuts == 1, $"the proxy should have cut the connection\n{r}");
        }
        Assert.True(r.ExitCode is > 0 and < 128, $"a pull whose connection is cut must fail with one of rsync's exit codes, got {r.ExitCode}\n{r}");
        await f.Daemon.WaitForIdleAsync();

        string[] namesAfter = PullFixture.RelativeNames(f.Dest);
        string[] expectedNames = option.StartsWith("--partial-dir", StringComparison.Ordinal)
            ? [.. namesBefore, ".rsync-partial", ".rsync-partial/a-big.bin"]
            : namesBefore;
        Assert.True(namesAfter.Order(StringComparer.Ordinal).SequenceEqual(expectedNames.Order(StringComparer.Ordinal)),
            $"DEST should hold {string.Join(", ", expectedNames.Order(StringComparer.Ordinal).Select(TreeComparer.Show))} but holds {string.Join(", ", namesAfter.Select(TreeComparer.Show))}\n{r}");
        foreach (string rel in before.Keys.Where(k => k != "a-big.bin"))
        {
            Assert.True(Snapshot(f.Dest)[rel] == before[rel], $"{rel} changed although its new version never arrived\n{r}");
        }
        string newBig = Path.Combine(f.ModuleDir, "a-big.bin");
        switch (option)
        {
            case "--partial":
                long kept = new FileInfo(big).Length;
                Assert.True(kept > 0 && kept < FaultFileSize && IsPrefixOf(big, newBig),
                    $"--partial should keep the {kept} bytes that arrived as a-big.bin, a prefix of the new version\n{r}");
                break;
            case "--inplace":
                Assert.Equal(FaultFileSize, new FileInfo(big).Length);
                Assert.True(TreeComparer.FirstDifference(big, newBig) >= MiB, $"--inplace should have written the first MiB of the new version into a-big.bin\n{r}");
                Assert.True(TreeComparer.FirstDifference(big, Path.Combine(oldCopy, "a-big.bin")) >= 0);
                break;
            default:
                Assert.True(before["a-big.bin"] == Snapshot(f.Dest)["a-big.bin"], $"with --partial-dir the old a-big.bin must stay as it was\n{r}");
                string partial = Path.Combine(f.Dest, ".rsync-partial", "a-big.bin");
                long length = new FileInfo(partial).Length;
                Assert.True(length > 0 && length < FaultFileSize && IsPrefixOf(partial, newBig),
                    $"--partial-dir should keep the {length} bytes that arrived, a prefix of the new version\n{r}");
                break;
        }

        ProcessResult rerun = await Run(peer, ["-a", option, f.Url(), f.DestArg]);
        await AssertExit(0, rerun, f);
        TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, PullOptions(RsyncPeers.DefaultProtocol));
    }
}

/// <summary>Self-test of <see cref="FakeDaemon"/> with the stock clients: an honest list pulled from
/// the fake arrives intact, so the fake speaks the protocol well enough for the hostile tests to mean
/// something.</summary>
public sealed class HarnessFakeDaemonPullTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task FakeDaemon_HonestList_IsPulledByTheStockClient(string peer) =>
        await HostileDaemonPullTests.PullHonestList(new StockClient(RsyncPeers.Resolve(peer)), output);

    /// <summary>A current rsync (Debian's; 3.1.1 predates the fixes for this class of attack) refuses
    /// every trick too: proves each hostile list is well-formed and each expectation is rsync's.</summary>
    [Theory]
    [MemberData(nameof(HostileDaemonPullTests.Tricks), MemberType = typeof(HostileDaemonPullTests))]
    public Task FakeDaemon_HostileList_IsRefusedByDebiansRsync(string trick) =>
        HostileDaemonPullTests.PullHostileList(new StockClient(RsyncPeers.Resolve(RsyncPeers.DebianRsync)), trick, output, checkMessage: false);
}

/// <summary>A daemon that lies: file lists with names that would write outside the destination,
/// through symlinks, over the destination itself, or over files that were neither asked for nor
/// wanted. netrsync must refuse them, fail, and write nothing it should not.</summary>
[Collection(PushScenarios.Collection)]
public sealed class HostileDaemonPullTests(ITestOutputHelper output)
{
    internal static async Task PullHonestList(IRsyncClient client, ITestOutputHelper output)
    {
        using var t = new TempDir();
        string dst = t.Sub("dst");
        await using var fake = FakeDaemon.Start(
        [
            FakeEntry.File("a.txt", "alpha\n"),
            FakeEntry.Symlink("link", "a.txt"),
            FakeEntry.Directory("sub"),
            FakeEntry.File("sub/b.txt", "bravo\n"),
        ]);

        ProcessResult r = await client.RunAsync(["-rl", fake.Url(), dst + "/"]);
        output.WriteLine(r.ToString());
        Assert.True(await fake.WaitForConnectionsAsync(1, TimeSpan.FromSeconds(10)), $"the fake's connection did not end\n{fake.Transcript}");
        output.WriteLine(fake.Transcript);

        Assert.True(r.ExitCode == 0, $"expected exit code 0\n{r}\n--- fake daemon ---\n{fake.Transcript}");
        Assert.Contains("goodbye done", fake.Transcript, StringComparison.Ordinal);
        Assert.Equal(["a.txt", "sub/b.txt"], fake.TransferRequests);
        Assert.Equal("alpha\n", File.ReadAllText(Path.Combine(dst, "a.txt")));
        Assert.Equal("bravo\n", File.ReadAllText(Path.Combine(dst, "sub", "b.txt")));
        Assert.Equal("a.txt", Posix.ReadLinkText(Path.Combine(dst, "link")));
        Assert.Equal(["a.txt", "link", "sub", "sub/b.txt"], PullFixture.RelativeNames(dst));
    }

    [Fact]
    public Task FakeDaemon_HonestList_IsPulledByNetrsync() => PullHonestList(NetRsync.Instance, output);

    /// <summary>A hostile file list and how it is pulled. <see cref="Precious"/> are files DEST holds
    /// before the pull that must be left exactly as they are; <see cref="UnsafeName"/> is what the
    /// client's error must name (null: any error will do).</summary>
    internal sealed record HostileTrick(FakeEntry[] Entries, string[] Options, string? UnsafeName)
    {
        public bool WithRoot { get; init; } = true;

        /// <summary>Appended to the module URL, e.g. "readme.txt" to ask for one file.</summary>
        public string RequestPath { get; init; } = "";

        public IReadOnlyDictionary<string, string> Precious { get; init; } = new Dictionary<string, string>();
    }

    /// <summary>One trick per case.</summary>
    public static TheoryData<string> Tricks => new()
    {
        "leading-dotdot",
        "inner-dotdot",
        "absolute-etc",
        "absolute-outside",
        "symlink-then-file",
        "relative-symlink-then-file",
        "symlink-then-dir",
        "dot-as-file",
        "unrequested-name",
        "excluded-name",
    };

    /// <param name="outside">A directory beside DEST that must stay empty.</param>
    internal static HostileTrick Trick(string trick, string outside) => trick switch
    {
        "leading-dotdot" => new([FakeEntry.File("../outside/pwned.txt", "pwned\n")], ["-r"], "../outside/pwned.txt"),
        "inner-dotdot" => new([FakeEntry.Directory("sub"), FakeEntry.File("sub/../../outside/pwned.txt", "pwned\n")], ["-r"], "sub/../../outside/pwned.txt"),
        "absolute-etc" => new([FakeEntry.File("/etc/evil", "pwned\n")], ["-r"], "/etc/evil"),
        "absolute-outside" => new([FakeEntry.File(outside + "/pwned.txt", "pwned\n")], ["-r"], outside + "/pwned.txt"),
        "symlink-then-file" => new([FakeEntry.Symlink("link", outside), FakeEntry.File("link/pwned.txt", "pwned\n")], ["-rl"], "link/pwned.txt"),
        "relative-symlink-then-file" => new([FakeEntry.Symlink("up", "../outside"), FakeEntry.File("up/pwned.txt", "pwned\n")], ["-rl"], "up/pwned.txt"),
        "symlink-then-dir" => new(
            [FakeEntry.Symlink("link", outside), FakeEntry.Directory("link/made-through-link"), FakeEntry.File("link/made-through-link/pwned.txt", "pwned\n")],
            ["-rl"], "link/made-through-link"),
        // The transfer root sent as a regular file: replacing "the directory in the way" would
        // remove DEST itself (--force and --delete allow removing non-empty directories).
        "dot-as-file" => new([FakeEntry.File(".", "pwned\n")], ["-r", "--delete", "--force"], null)
        {
            WithRoot = false,
            Precious = new Dictionary<string, string> { ["precious.txt"] = "keep me\n" },
        },
        // One file asked for, a second one sent: it would overwrite a file DEST already has.
        "unrequested-name" => new([FakeEntry.File(".bashrc", "pwned\n"), FakeEntry.File("readme.txt", "readme\n")], [], ".bashrc")
        {
            WithRoot = false,
            RequestPath = "readme.txt",
            Precious = new Dictionary<string, string> { [".bashrc"] = "original\n" },
        },
        // The client excluded *.tmp; the list has one anyway.
        "excluded-name" => new([FakeEntry.File("a.txt", "alpha\n"), FakeEntry.File("evil.tmp", "pwned\n")], ["-r", "--exclude=*.tmp"], "evil.tmp")
        {
            Precious = new Dictionary<string, string> { ["evil.tmp"] = "original\n" },
        },
        _ => throw new ArgumentException(trick),
    };

    [Theory]
    [MemberData(nameof(Tricks))]
    public Task UnsafeFileList_IsRefused_AndNothingIsWrittenOutsideDest(string trick) =>
        PullHostileList(NetRsync.Instance, trick, output, checkMessage: true);

    /// <summary>Pulls a trick's list with <paramref name="client"/> and checks that nothing was written
    /// outside DEST (nor into the working directory, nor over DEST's precious files), that the client
    /// failed, and (with <paramref name="checkMessage"/>) that its error names the unsafe entry.</summary>
    internal static async Task PullHostileList(IRsyncClient client, string trick, ITestOutputHelper output, bool checkMessage)
    {
        using var t = new TempDir();
        string dst = t.Sub("dst");
        string outside = t.Sub("outside");
        string cwd = t.Sub("cwd");
        bool etcEvilBefore = File.Exists("/etc/evil");
        Assert.False(etcEvilBefore, "/etc/evil exists before the test; remove it (a previous run of a broken client may have left it)");
        HostileTrick h = Trick(trick, outside);
        foreach ((string name, string content) in h.Precious)
        {
            File.WriteAllText(Path.Combine(dst, name), content);
        }
        await using var fake = FakeDaemon.Start(h.Entries, h.WithRoot);
        try
        {
            ProcessResult r = await client.RunAsync([.. h.Options, fake.Url() + h.RequestPath, dst + "/"], workingDirectory: cwd);
            output.WriteLine(r.ToString());
            await fake.WaitForConnectionsAsync(1, TimeSpan.FromSeconds(10));
            output.WriteLine(fake.Transcript);
            string context = $"{r}\n--- fake daemon ---\n{fake.Transcript}";

            Assert.True(fake.FileListsSent >= 1, $"the fake never got to send its file list, so the trick was not tried\n{context}");
            string[] outsideNames = PullFixture.RelativeNames(outside);
            Assert.True(outsideNames.Length == 0, $"the client wrote outside DEST, into {outside}: {string.Join(", ", outsideNames.Select(TreeComparer.Show))}\n{context}");
            Assert.False(File.Exists("/etc/evil"), $"the client wrote /etc/evil\n{context}");
            string[] top = Directory.EnumerateFileSystemEntries(t.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
            Assert.True(top.SequenceEqual(["cwd", "dst", "outside"]), $"the client wrote beside DEST, into {t.Path}: {string.Join(", ", top.Select(n => TreeComparer.Show(n!)))}\n{context}");
            Assert.True(PullFixture.RelativeNames(cwd).Length == 0, $"the client wrote into its working directory {cwd}: {string.Join(", ", PullFixture.RelativeNames(cwd).Select(TreeComparer.Show))}\n{context}");
            Assert.True(Posix.LStat(dst).Type == PosixFileType.Directory, $"DEST is no longer a directory\n{context}");
            foreach ((string name, string content) in h.Precious)
            {
                string path = Path.Combine(dst, name);
                Assert.True(File.Exists(path) && File.ReadAllText(path) == content, $"DEST's {TreeComparer.Show(name)} was replaced or removed by the hostile list\n{context}");
            }
            Assert.True(r.ExitCode != 0, $"a pull of an unsafe file list must fail\n{context}");
            Assert.False(r.Stderr.Contains("Unhandled exception", StringComparison.Ordinal), $"the client crashed instead of reporting the error\n{context}");
            if (checkMessage && h.UnsafeName is string unsafeName)
            {
                Assert.True(r.Stderr.Contains(unsafeName, StringComparison.Ordinal), $"stderr should name the unsafe entry {TreeComparer.Show(unsafeName)}\n{context}");
            }
        }
        finally
        {
            if (!etcEvilBefore && File.Exists("/etc/evil"))
            {
                File.Delete("/etc/evil");
            }
        }
    }
}
