using System.Text;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// Compressed transfers and negotiated checksums, both ways: a stock client against netrsyncd and
/// netrsync against a stock daemon, pushing and pulling, for every compression mode the peer knows
/// × protocol 30, 31 and none. Each cell copies a fresh tree, then moves a delta of an edited file
/// with 100,000-byte blocks (so zlib's matched data crosses the 0xffff-byte step that differs
/// between protocols 30 and 31), and checks the trees byte for byte and with a stock dry run.
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed partial class CompressionTests(ITestOutputHelper output)
{
    private const int BlockSize = 100_000;
    private const string DeltaFile = "log.txt";

    /// <summary>Peer × mode × protocol. rsync before 3.2 knows only -z and -zz.</summary>
    public static TheoryData<string, string, string> Cells
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (string peer in RsyncPeers.All)
            {
                bool modern = !File.Exists(peer) || RsyncPeers.VersionOf(peer) >= new Version(3, 2, 0);
                string[] modes = modern ? ["none", "-z", "-zz", "zlib", "zlibx", "zstd", "lz4"] : ["none", "-z", "-zz"];
                foreach (string mode in modes)
                    foreach (string protocol in RsyncPeers.Protocols)
                        data.Add(peer, mode, protocol);
            }
            return data;
        }
    }

    private static string[] ModeArgs(string mode) => mode switch
    {
        "none" => [],
        "-z" or "-zz" => [mode],
        _ => [$"--compress-choice={mode}"],
    };

    private static List<string> Args(params IEnumerable<string>[] parts) => parts.SelectMany(p => p).ToList();

    /// <summary>Text that compresses well, with a fixed mtime: a few small files and one larger log.</summary>
    private static void MakeTree(string root, bool withNoise = true)
    {
        Directory.CreateDirectory(Path.Combine(root, "docs"));
        var sb = new StringBuilder();
        for (int i = 0; i < 24_000; i++)
            sb.Append("2026-11-26 12:").Append((i / 60 % 60).ToString("00")).Append(':').Append((i % 60).ToString("00"))
              .Append(" worker-").Append(i % 7).Append(" handled request ").Append(i * 7919 % 100_003).Append(" in ").Append(i % 97).Append(" ms\n");
        File.WriteAllText(Path.Combine(root, DeltaFile), sb.ToString());
        File.WriteAllText(Path.Combine(root, "docs", "readme.md"), string.Concat(Enumerable.Repeat("# Title\nSome words, then more words.\n", 300)));
        File.WriteAllBytes(Path.Combine(root, "docs", "empty"), []);
        if (withNoise)
        {
            var noise = new byte[70_000];
            new Random(7).NextBytes(noise);
            File.WriteAllBytes(Path.Combine(root, "noise.bin"), noise);
        }
        File.CreateSymbolicLink(Path.Combine(root, "docs", "link"), "../log.txt");
        PushFixture.StampTimes(root);
    }

    /// <summary>Edits the log in three places (an overwrite, an insertion, an append) and gives it a new mtime.</summary>
    private static void EditTree(string root)
    {
        string path = Path.Combine(root, DeltaFile);
        byte[] data = File.ReadAllBytes(path);
        Encoding.ASCII.GetBytes("OVERWRITTEN").CopyTo(data, 300_000);
        byte[] edited = [.. data[..700_000], .. "inserted line\n"u8.ToArray(), .. data[700_000..], .. "appended line\n"u8.ToArray()];
        File.WriteAllBytes(path, edited);
        Posix.SetTimes(path, 1_500_000_000, 5);
        Posix.SetTimes(root, 1_500_000_000, 6);
    }

    private void AssertDeltaWasUsed(ProcessResult r)
    {
        // --stats: most of the edited log must come from the basis.
        Match matched = MatchedData().Match(r.Stdout);
        Assert.True(matched.Success, $"no matched-data line in the stats:\n{r}");
        long bytes = long.Parse(matched.Groups[1].Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(bytes >= 400_000, $"only {bytes} bytes matched; the delta was not used:\n{r}");
    }

    [GeneratedRegex(@"Matched data: ([\d,]+) bytes")]
    private static partial Regex MatchedData();

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task StockClient_PushesToNetrsyncd(string peer, string mode, string protocol)
    {
        await using var f = await NetRsyncDaemonFixture.StartAsync();
        MakeTree(f.Source);
        var common = Args(["-a"], ModeArgs(mode), RsyncPeers.ProtocolArgs(protocol));

        ProcessResult fresh = await DaemonTestKit.RunStock(output, peer, Args(common, [f.SourceArg, f.Url()]));
        await DaemonTestKit.AssertExit(0, fresh, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, DaemonTestKit.CompareOptionsFor(protocol));

        EditTree(f.Source);
        ProcessResult delta = await DaemonTestKit.RunStock(output, peer, Args(common, ["--stats", $"-B{BlockSize}", f.SourceArg, f.Url()]));
        await DaemonTestKit.AssertExit(0, delta, f.Daemon);
        AssertDeltaWasUsed(delta);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, DaemonTestKit.CompareOptionsFor(protocol));
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), protocol, extraArgs: ModeArgs(mode));
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task StockClient_PullsFromNetrsyncd(string peer, string mode, string protocol)
    {
        await using var f = await NetRsyncDaemonFixture.StartAsync();
        MakeTree(f.ModuleDir);
        string dest = f.Temp.Sub("dst");
        var common = Args(["-a"], ModeArgs(mode), RsyncPeers.ProtocolArgs(protocol));

        ProcessResult fresh = await DaemonTestKit.RunStock(output, peer, Args(common, [f.Url(), dest + "/"]));
        await DaemonTestKit.AssertExit(0, fresh, f.Daemon);
        TreeComparer.AssertIdentical(f.ModuleDir, dest, DaemonTestKit.CompareOptionsFor(protocol));

        EditTree(f.ModuleDir);
        ProcessResult delta = await DaemonTestKit.RunStock(output, peer, Args(common, ["--stats", $"-B{BlockSize}", f.Url(), dest + "/"]));
        await DaemonTestKit.AssertExit(0, delta, f.Daemon);
        AssertDeltaWasUsed(delta);
        TreeComparer.AssertIdentical(f.ModuleDir, dest, DaemonTestKit.CompareOptionsFor(protocol));
        await StockClient.AssertNothingToPull(peer, f.Url(), dest, protocol, extraArgs: ModeArgs(mode));
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Netrsync_PushesToStockDaemon(string peer, string mode, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        MakeTree(f.Source);
        var common = Args(["-a"], ModeArgs(mode), RsyncPeers.ProtocolArgs(protocol));

        ProcessResult fresh = await Run(Args(common, [f.SourceArg, f.Url()]));
        await AssertExit(0, fresh, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(protocol));

        EditTree(f.Source);
        ProcessResult delta = await Run(Args(common, ["--stats", $"-B{BlockSize}", f.SourceArg, f.Url()]));
        await AssertExit(0, delta, f.Daemon);
        AssertDeltaWasUsed(delta);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(protocol));
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), protocol, extraArgs: ModeArgs(mode));
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Netrsync_PullsFromStockDaemon(string peer, string mode, string protocol)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer);
        MakeTree(f.ModuleDir);
        var common = Args(["-a"], ModeArgs(mode), RsyncPeers.ProtocolArgs(protocol));

        ProcessResult fresh = await Run(Args(common, [f.Url(), f.DestArg]));
        await AssertExit(0, fresh, f.Daemon);
        TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, RsyncPeers.CompareOptionsFor(protocol));

        EditTree(f.ModuleDir);
        ProcessResult delta = await Run(Args(common, ["--stats", $"-B{BlockSize}", f.Url(), f.DestArg]));
        await AssertExit(0, delta, f.Daemon);
        AssertDeltaWasUsed(delta);
        TreeComparer.AssertIdentical(f.ModuleDir, f.Dest, RsyncPeers.CompareOptionsFor(protocol));
        await StockClient.AssertNothingToPull(peer, f.Url(), f.Dest, protocol, extraArgs: ModeArgs(mode));
    }

    /// <summary>Every checksum a 3.2+ peer can be told to use, for block sums, whole-file sums and
    /// --checksum's file sums (split "XFER,FILE" too), pushed both ways with a delta.</summary>
    public static TheoryData<string, string> ChecksumCells
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in RsyncPeers.All.Where(p => !File.Exists(p) || RsyncPeers.VersionOf(p) >= new Version(3, 2, 0)))
                foreach (string cc in (string[])["xxh128", "xxh3", "xxh64", "md5", "sha1", "xxh64,md5"])
                    data.Add(peer, cc);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(ChecksumCells))]
    public async Task ChecksumChoice_BothWays(string peer, string cc)
    {
        var common = Args(["-ac", $"--cc={cc}"]);
        await using (var f = await NetRsyncDaemonFixture.StartAsync())
        {
            MakeTree(f.Source);
            await DaemonTestKit.AssertExit(0, await DaemonTestKit.RunStock(output, peer, Args(common, [f.SourceArg, f.Url()])), f.Daemon);
            EditTree(f.Source);
            ProcessResult delta = await DaemonTestKit.RunStock(output, peer, Args(common, ["--no-W", "--stats", f.SourceArg, f.Url()]));
            await DaemonTestKit.AssertExit(0, delta, f.Daemon);
            AssertDeltaWasUsed(delta);
            TreeComparer.AssertIdentical(f.Source, f.ModuleDir, DaemonTestKit.CompareOptionsFor(RsyncPeers.DefaultProtocol));
        }
        await using (PushFixture f = await PushFixture.StartAsync(peer))
        {
            MakeTree(f.Source);
            await AssertExit(0, await Run(Args(common, [f.SourceArg, f.Url()])), f.Daemon);
            EditTree(f.Source);
            ProcessResult delta = await Run(Args(common, ["--no-W", "--stats", f.SourceArg, f.Url()]));
            await AssertExit(0, delta, f.Daemon);
            AssertDeltaWasUsed(delta);
            TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol));
            await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), RsyncPeers.DefaultProtocol, extraArgs: ["-c", $"--cc={cc}"]);
        }
    }

    /// <summary>-z must pay off on text: at least 3× fewer bytes on the wire than without it, both ways.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Compression_MovesTextAtLeastThreeTimesSmaller(string peer)
    {
        // netrsync → stock daemon.
        await using (PushFixture f = await PushFixture.StartAsync(peer))
        {
            var (plain, compressed) = await PlainThenCompressed(f.Source, f.ModuleDir, f.AgeModuleRoot, f.Daemon.Port, stock: null);
            TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol));
            output.WriteLine($"netrsync → {peer}: {plain} bytes plain, {compressed} with -z");
            Assert.True(compressed * 3 <= plain, $"netrsync -z sent {compressed} bytes against {plain} without it");
        }

        // stock client → netrsyncd.
        await using (var f = await NetRsyncDaemonFixture.StartAsync())
        {
            var (plain, compressed) = await PlainThenCompressed(f.Source, f.ModuleDir, f.AgeModuleRoot, f.Daemon.Port, stock: peer);
            TreeComparer.AssertIdentical(f.Source, f.ModuleDir, DaemonTestKit.CompareOptionsFor(RsyncPeers.DefaultProtocol));
            output.WriteLine($"{peer} → netrsyncd: {plain} bytes plain, {compressed} with -z");
            Assert.True(compressed * 3 <= plain, $"{peer} -z into netrsyncd sent {compressed} bytes against {plain} without it");
        }
    }

    /// <summary>Pushes the text tree without -z, empties the module, pushes it again with -z; returns both byte counts.</summary>
    private async Task<(long Plain, long Compressed)> PlainThenCompressed(string source, string moduleDir, Action ageModuleRoot, int port, string? stock)
    {
        MakeTree(source, withNoise: false);
        long plain = await CountedPush(port, ["-a", source + "/"], p => p.ClientToServerBytes, stock);
        Directory.Delete(moduleDir, recursive: true);
        Directory.CreateDirectory(moduleDir);
        ageModuleRoot();
        long compressed = await CountedPush(port, ["-az", source + "/"], p => p.ClientToServerBytes, stock);
        return (plain, compressed);
    }

    /// <summary>
    /// A module's "dont compress" list decides what netrsyncd sends at level 0: the same pull of
    /// text moves several times more bytes when the list names its suffix. Also the client's
    /// --skip-compress for a push.
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task DontCompress_SendsListedSuffixesAtLevelZero(string peer)
    {
        // zlib, where levels apply: plain -z for 3.1.x, named for 3.2+ (which would pick zstd).
        string[] zlib = RsyncPeers.VersionOf(peer) >= new Version(3, 2, 0) ? ["-a", "--zc=zlib"] : ["-az"];
        long compressed, skipped;
        await using (var f = await NetRsyncDaemonFixture.StartAsync(
            extraModules: t => [new DaemonModule("logs", t.Sub("logs")) { ExtraLines = ["dont compress = *.txt *.gz"] }]))
        {
            MakeTree(f.ModuleDir);
            MakeTree(Path.Combine(f.Temp.Path, "logs"));
            compressed = await CountedPull(f.Daemon.Port, "mod", f.Temp.Sub("a"), zlib, peer);
            skipped = await CountedPull(f.Daemon.Port, "logs", f.Temp.Sub("b"), zlib, peer);
            TreeComparer.AssertIdentical(f.ModuleDir, f.Temp.Sub("a"), DaemonTestKit.CompareOptionsFor(RsyncPeers.DefaultProtocol));
            TreeComparer.AssertIdentical(Path.Combine(f.Temp.Path, "logs"), f.Temp.Sub("b"), DaemonTestKit.CompareOptionsFor(RsyncPeers.DefaultProtocol));
        }
        output.WriteLine($"pull from netrsyncd: {compressed} bytes compressed, {skipped} with *.txt in dont compress");
        Assert.True(skipped > compressed * 3, $"dont compress = *.txt: {skipped} bytes, against {compressed} compressed");

        await using (PushFixture f = await PushFixture.StartAsync(peer))
        {
            MakeTree(f.Source);
            long plain = await CountedPush(f.Daemon.Port, [.. zlib, f.SourceArg], p => p.ClientToServerBytes, stock: null);
            Directory.Delete(f.ModuleDir, recursive: true);
            Directory.CreateDirectory(f.ModuleDir);
            f.AgeModuleRoot();
            long skip = await CountedPush(f.Daemon.Port, [.. zlib, "--skip-compress=txt", f.SourceArg], p => p.ClientToServerBytes, stock: null);
            TreeComparer.AssertIdentical(f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol));
            output.WriteLine($"netrsync push: {plain} bytes compressed, {skip} with --skip-compress=txt");
            Assert.True(skip > plain * 3, $"--skip-compress=txt: {skip} bytes, against {plain} compressed");
        }
    }

    private async Task<long> CountedPull(int daemonPort, string module, string dest, string[] args, string peer)
    {
        await using var proxy = ByteCountingProxy.Start(daemonPort);
        ProcessResult r = await DaemonTestKit.RunStock(output, peer, Args(args, [proxy.Url(module), dest + "/"]));
        Assert.True(r.ExitCode == 0, $"pull failed:\n{r}");
        return proxy.ServerToClientBytes;
    }

    private async Task<long> CountedPush(int daemonPort, string[] args, Func<ByteCountingProxy, long> count, string? stock)
    {
        await using var proxy = ByteCountingProxy.Start(daemonPort);
        var all = Args(args, [proxy.Url("mod")]);
        ProcessResult r = stock is null ? await Run(all) : await DaemonTestKit.RunStock(output, stock, all);
        Assert.True(r.ExitCode == 0, $"push failed:\n{r}");
        return count(proxy);
    }

    private async Task<ProcessResult> Run(IEnumerable<string> args)
    {
        ProcessResult r = await NetRsync.Instance.RunAsync(args);
        output.WriteLine(r.ToString());
        return r;
    }

    private static async Task AssertExit(int expected, ProcessResult r, StockDaemon daemon)
    {
        if (r.ExitCode != expected)
            Assert.Fail($"expected exit code {expected}, got {r.ExitCode}\n{r}\n{await daemon.DiagnosticsWhenIdleAsync()}");
    }
}
