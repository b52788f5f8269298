using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// netrsync over a real OpenSSH server on loopback, with stock rsync (Debian's, and every peer in
/// RSYNC_PEERS through --rsync-path) as the far end: pushes and pulls of the torture tree compared
/// byte for byte and confirmed by a stock dry run over the same ssh, deltas that stay small on the
/// wire, -s, and the exit codes of a shell that fails.
/// </summary>
[Collection("ssh")]
public sealed partial class RemoteShellTests(SshFixture ssh, ITestOutputHelper output) : IClassFixture<SshFixture>, IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Every peer at its own protocol, and Debian's held to 30 as well.</summary>
    public static TheoryData<string, string> PeersAndProtocols()
    {
        var data = new TheoryData<string, string>();
        foreach (string peer in RsyncPeers.All)
            data.Add(peer, "default");
        data.Add(RsyncPeers.DebianRsync, "30");
        return data;
    }

    private IReadOnlyDictionary<string, string?> Environment => new Dictionary<string, string?> { ["RSYNC_RSH"] = ssh.Server.Rsh };

    private static string Far(string path) => "127.0.0.1:" + path;

    private async Task<ProcessResult> Ours(params string[] args)
    {
        ProcessResult r = await NetRsync.Instance.RunAsync(args, Environment, TimeSpan.FromSeconds(120));
        output.WriteLine(r.ToString());
        return r;
    }

    private static string[] PeerArgs(string peer, string protocol) =>
        [$"--rsync-path={peer}", .. RsyncPeers.ProtocolArgs(protocol)];

    [Theory]
    [MemberData(nameof(PeersAndProtocols))]
    public async Task A_push_over_ssh_lands_the_torture_tree_byte_for_byte(string peer, string protocol)
    {
        string source = _temp.Sub("src");
        string target = _temp.Sub("dst");
        TortureTree.Create(source, includeHugeFile: false);

        ProcessResult r = await Ours(["-aH", .. PeerArgs(peer, protocol), source + "/", Far(target + "/")]);

        Assert.True(r.ExitCode == 0, $"push failed:\n{r}\n{ssh.Server.Log}");
        TreeComparer.AssertIdentical(source, target, RsyncPeers.CompareOptionsFor(protocol) with { ExpectSanitizedSymlinks = false });
        // The peer checks itself at both ends: an older one at the far end would refuse a newer client's --modify-window=-1.
        await StockClient.AssertNothingToChange(peer, source, Far(target), protocol, Environment, [$"--rsync-path={peer}"]);
    }

    [Theory]
    [MemberData(nameof(PeersAndProtocols))]
    public async Task A_pull_over_ssh_lands_the_torture_tree_byte_for_byte(string peer, string protocol)
    {
        string source = _temp.Sub("src");
        string target = _temp.Sub("dst");
        TortureTree.Create(source, includeHugeFile: false);

        ProcessResult r = await Ours(["-aH", .. PeerArgs(peer, protocol), Far(source + "/"), target + "/"]);

        Assert.True(r.ExitCode == 0, $"pull failed:\n{r}\n{ssh.Server.Log}");
        TreeComparer.AssertIdentical(source, target, RsyncPeers.CompareOptionsFor(protocol) with { ExpectSanitizedSymlinks = false });
        await StockClient.AssertNothingToPull(peer, Far(source + "/"), target, protocol, Environment, [$"--rsync-path={peer}"]);
    }

    /// <summary>Each stock client at its own protocol, to keep the suite short; protocol 30 over ssh runs in the netrsync-client cases.</summary>
    public static TheoryData<string, string> StockClientsAndProtocols()
    {
        var data = new TheoryData<string, string>();
        foreach (string peer in RsyncPeers.All)
            data.Add(peer, "default");
        return data;
    }

    /// <summary>netrsync at the far end, as stock rsync -e ssh --rsync-path=netrsync starts it.</summary>
    private static string FarNetrsync => $"--rsync-path={NetRsync.AppHostPath}";

    private async Task<ProcessResult> Stock(string peer, params string[] args)
    {
        ProcessResult r = await new StockClient(peer).RunAsync(args, Environment, TimeSpan.FromSeconds(120));
        output.WriteLine(r.ToString());
        return r;
    }

    [Theory]
    [MemberData(nameof(StockClientsAndProtocols))]
    public async Task Stock_rsync_pushes_to_netrsync_at_the_far_end(string peer, string protocol)
    {
        string source = _temp.Sub("src");
        string target = _temp.Sub("dst");
        TortureTree.Create(source, includeHugeFile: false);

        ProcessResult r = await Stock(peer, ["-aH", FarNetrsync, .. RsyncPeers.ProtocolArgs(protocol), source + "/", Far(target + "/")]);

        Assert.True(r.ExitCode == 0, $"push failed:\n{r}\n{ssh.Server.Log}");
        TreeComparer.AssertIdentical(source, target, RsyncPeers.CompareOptionsFor(protocol) with { ExpectSanitizedSymlinks = false });
        await StockClient.AssertNothingToChange(peer, source, Far(target), protocol, Environment, [$"--rsync-path={peer}"]);
    }

    [Theory]
    [MemberData(nameof(StockClientsAndProtocols))]
    public async Task Stock_rsync_pulls_from_netrsync_at_the_far_end(string peer, string protocol)
    {
        string source = _temp.Sub("src");
        string target = _temp.Sub("dst");
        TortureTree.Create(source, includeHugeFile: false);

        ProcessResult r = await Stock(peer, ["-aH", FarNetrsync, .. RsyncPeers.ProtocolArgs(protocol), Far(source + "/"), target + "/"]);

        Assert.True(r.ExitCode == 0, $"pull failed:\n{r}\n{ssh.Server.Log}");
        TreeComparer.AssertIdentical(source, target, RsyncPeers.CompareOptionsFor(protocol) with { ExpectSanitizedSymlinks = false });
        await StockClient.AssertNothingToPull(peer, Far(source + "/"), target, protocol, Environment, [$"--rsync-path={peer}"]);
    }

    [Theory]
    [InlineData("push")]
    [InlineData("pull")]
    public async Task Netrsync_at_both_ends_over_ssh_with_protected_args(string direction)
    {
        string source = _temp.Sub("src");
        string target = _temp.Sub("dst; $(far shell) 'x'");
        TortureTree.Create(source, includeHugeFile: false);
        string[] ends = direction == "push" ? [source + "/", Far(target + "/")] : [Far(source + "/"), target + "/"];

        ProcessResult r = await Ours(["-aHs", FarNetrsync, .. ends]);

        Assert.True(r.ExitCode == 0, $"{direction} failed:\n{r}");
        TreeComparer.AssertIdentical(source, target, RsyncPeers.CompareOptionsFor("default") with { ExpectSanitizedSymlinks = false });
    }

    /// <summary>An rsyncd.conf for a daemon the shell starts: module "mod" at <paramref name="path"/>, served as the shell's user.</summary>
    private string DaemonConfig(string path)
    {
        string conf = _temp.File("rsyncd.conf");
        File.WriteAllText(conf, $"use chroot = no\nuid = root\ngid = root\n[mod]\npath = {path}\nread only = no\nmunge symlinks = no\n");
        return conf;
    }

    public static TheoryData<string, string> DaemonEnds() => new()
    {
        { "netrsync", "stock" },
        { "stock", "netrsync" },
        { "netrsync", "netrsync" },
        { "stock", "netrsyncd" },
    };

    /// <summary>
    /// A daemon address with -e: the shell starts "rsync --server --daemon ." at the far end, which
    /// reads the config --rsync-path names, and the two speak the daemon protocol over the shell's pipes.
    /// </summary>
    [Theory]
    [MemberData(nameof(DaemonEnds))]
    public async Task A_daemon_over_ssh_takes_a_push_and_a_pull(string client, string far)
    {
        string source = _temp.Sub("src");
        string module = _temp.Sub("module");
        string back = _temp.Sub("back");
        // The torture tree goes over ssh in the cases above; here the daemon's side of the shell is what is new.
        DaemonTestKit.SmallTree(source);
        File.CreateSymbolicLink(Path.Join(source, "link"), "/etc/hostname");
        File.CreateSymbolicLink(Path.Join(source, "relative-link"), "keep.txt");
        Posix.Link(Path.Join(source, "keep.txt"), Path.Join(source, "hard-link"));
        string conf = DaemonConfig(module);
        string program = far switch
        {
            "stock" => RsyncPeers.DebianRsync,
            "netrsyncd" => NetRsyncDaemon.AppHostPath,
            _ => NetRsync.AppHostPath,
        };
        string[] common = ["-aH", "-e", ssh.Server.Rsh, $"--rsync-path={program} --config={conf}"];
        Func<string[], Task<ProcessResult>> run = client == "stock" ? args => Stock(RsyncPeers.DebianRsync, args) : args => Ours(args);

        // An unchrooted stock daemon strips symlink targets (flist.c, recv_file_entry: sanitize_path);
        // netrsyncd keeps them as sent when "munge symlinks = no".
        var compare = RsyncPeers.CompareOptionsFor("default") with { ExpectSanitizedSymlinks = far == "stock" };
        ProcessResult push = await run([.. common, source + "/", "127.0.0.1::mod/"]);
        Assert.True(push.ExitCode == 0, $"push failed:\n{push}\n{ssh.Server.Log}");
        TreeComparer.AssertIdentical(source, module, compare);

        ProcessResult pull = await run([.. common, "127.0.0.1::mod/", back + "/"]);
        Assert.True(pull.ExitCode == 0, $"pull failed:\n{pull}\n{ssh.Server.Log}");
        TreeComparer.AssertIdentical(source, back, compare);
    }

    [Theory]
    [InlineData("push")]
    [InlineData("pull")]
    public async Task A_one_byte_edit_of_64_MiB_costs_under_one_percent_on_the_wire(string direction)
    {
        const int Size = 64 << 20;
        string source = _temp.Sub("src");
        string target = _temp.Sub("dst");
        var data = new byte[Size];
        new Random(6401).NextBytes(data);
        File.WriteAllBytes(Path.Join(source, "big"), data);
        File.WriteAllBytes(Path.Join(target, "big"), data);
        File.SetLastWriteTimeUtc(Path.Join(target, "big"), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        data[Size / 2] ^= 0x5A;
        File.WriteAllBytes(Path.Join(source, "big"), data);

        string[] ends = direction == "push" ? [source + "/", Far(target + "/")] : [Far(source + "/"), target + "/"];
        ProcessResult r = await Ours(["-a", "--no-W", "--stats", .. ends]);

        Assert.True(r.ExitCode == 0, $"{direction} failed:\n{r}");
        Assert.Equal(data, File.ReadAllBytes(Path.Join(target, "big")));
        long sent = Stat(r.Stdout, "Total bytes sent"), received = Stat(r.Stdout, "Total bytes received");
        Assert.True(sent + received < Size / 100, $"{sent} bytes sent and {received} received for a 1-byte edit of {Size} bytes:\n{r.Stdout}");
    }

    [Fact]
    public async Task Several_remote_sources_come_in_one_session_as_stock_takes_them()
    {
        string source = _temp.Sub("src");
        foreach (string dir in new[] { "a", "b", "c", "not-asked" })
        {
            Directory.CreateDirectory(Path.Join(source, dir, "inner"));
            File.WriteAllText(Path.Join(source, dir, "inner", "f.txt"), dir + "\n");
        }
        string[] remotes = [Far(Path.Join(source, "a")), Far(Path.Join(source, "b") + "/"), ":" + Path.Join(source, "c")];

        ProcessResult ours = await Ours(["-a", .. remotes, _temp.Sub("ours") + "/"]);
        ProcessResult stock = await Stock(RsyncPeers.DebianRsync, ["-a", .. remotes, _temp.Sub("stock") + "/"]);

        Assert.True(stock.ExitCode == 0, $"stock failed:\n{stock}");
        Assert.True(ours.ExitCode == 0, $"ours failed:\n{ours}");
        TreeComparer.AssertIdentical(Path.Join(_temp.Path, "stock"), Path.Join(_temp.Path, "ours"), new TreeCompareOptions { CompareRoot = false });
        Assert.False(Directory.Exists(Path.Join(_temp.Path, "ours", "not-asked")));
    }

    [Fact]
    public async Task Protected_args_carry_names_the_far_shell_would_split()
    {
        string source = _temp.Sub("src");
        string target = _temp.Sub("dst with spaces; and $(a shell) 'quote'");
        File.WriteAllText(Path.Join(source, "f"), "protected\n");

        ProcessResult r = await Ours(["-a", "-s", source + "/", Far(target + "/")]);

        Assert.True(r.ExitCode == 0, $"push failed:\n{r}");
        Assert.Equal("protected\n", File.ReadAllText(Path.Join(target, "f")));
    }

    /// <summary>
    /// The shell killed mid-file: the run ends with rsync's code for a broken stream (or the shell's
    /// own), and the receiving side's old file is intact, with no temporary file left beside it:
    /// stock's receiver at the far end for a push, netrsync's own for a pull.
    /// </summary>
    [Theory]
    [InlineData("push")]
    [InlineData("pull")]
    public async Task A_shell_killed_mid_transfer_leaves_the_old_file_intact(string direction)
    {
        string source = _temp.Sub("src");
        string target = _temp.Sub("dst");
        var data = new byte[16 << 20];
        new Random(1601).NextBytes(data);
        File.WriteAllBytes(Path.Join(source, "big"), data);
        File.WriteAllText(Path.Join(target, "big"), "the old version\n");
        File.SetLastWriteTimeUtc(Path.Join(target, "big"), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        // The shell says its pid, then becomes ssh.
        string pidFile = _temp.File("shell.pid");
        string wrapper = _temp.File("shell.sh");
        File.WriteAllText(wrapper, $"#!/bin/sh\necho $$ > {pidFile}\nexec {ssh.Server.Rsh} \"$@\"\n");
        Posix.Chmod(wrapper, Posix.Mode("755"));

        // --bwlimit keeps the file in flight long enough to cut it off in the middle.
        string[] ends = direction == "push" ? [source + "/", Far(target + "/")] : [Far(source + "/"), target + "/"];
        var run = NetRsync.Instance.RunAsync(["-a", "--bwlimit=1000", "-e", wrapper, .. ends], timeout: TimeSpan.FromSeconds(120));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!Directory.EnumerateFiles(target, ".big.*").Any())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60) && !run.IsCompleted, "no temporary file appeared at the far end");
            await Task.Delay(20); // poll interval
        }
        int pid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        ProcessResult r = await run;
        output.WriteLine(r.ToString());

        Assert.True(r.ExitCode is ExitStream or 255 or 16, $"ended with {r.ExitCode}:\n{r}");
        Assert.Equal("the old version\n", File.ReadAllText(Path.Join(target, "big")));
        clock.Restart();
        while (Directory.EnumerateFiles(target, ".big.*").Any())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the far end left its temporary file");
            await Task.Delay(50); // poll interval: the far end cleans up once it sees the end of its input
        }
    }

    [Fact]
    public async Task A_far_end_with_no_rsync_ends_as_stock_does()
    {
        string source = _temp.Sub("src");
        File.WriteAllText(Path.Join(source, "f"), "x");
        string[] args = ["-a", "--rsync-path=/nonexistent/rsync", source + "/", Far(_temp.Sub("dst") + "/")];

        ProcessResult ours = await Ours(args);
        ProcessResult stock = await new StockClient(RsyncPeers.DebianRsync).RunAsync(args, Environment);

        // The far shell's 127 counts if it has exited when the end of the stream is seen (cleanup.c,
        // _exit_cleanup with WNOHANG), else the stream's 12: either, in both.
        Assert.True(stock.ExitCode is ExitStream or 127, $"stock rsync ended with {stock.ExitCode}:\n{stock}");
        Assert.True(ours.ExitCode is ExitStream or 127, $"ours ended with {ours.ExitCode}, stock with {stock.ExitCode}\n{ours}\n{stock}");
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Join(_temp.Path, "dst")));
    }

    [Fact]
    public async Task A_shell_that_cannot_connect_ends_with_its_own_code_as_stock_does()
    {
        string source = _temp.Sub("src");
        File.WriteAllText(Path.Join(source, "f"), "x");
        var env = new Dictionary<string, string?> { ["RSYNC_RSH"] = $"ssh -p {StockDaemon.FreePort()} -o BatchMode=yes -o ConnectTimeout=5" };
        string[] args = ["-a", source + "/", "127.0.0.1:" + _temp.Sub("dst") + "/"];

        ProcessResult ours = await NetRsync.Instance.RunAsync(args, env);
        ProcessResult stock = await new StockClient(RsyncPeers.DebianRsync).RunAsync(args, env);
        output.WriteLine(ours.ToString());
        output.WriteLine(stock.ToString());

        // ssh's own 255, or the stream's 12 when ssh has not been reaped yet (cleanup.c, _exit_cleanup).
        Assert.True(stock.ExitCode is ExitStream or 255, $"stock rsync ended with {stock.ExitCode}:\n{stock}");
        Assert.True(ours.ExitCode is ExitStream or 255, $"ours ended with {ours.ExitCode}:\n{ours}");
        Assert.Contains("rsync: connection unexpectedly closed (0 bytes received so far) [sender]", ours.Stderr, StringComparison.Ordinal);
    }

    private const int ExitStream = 12;

    private static long Stat(string stdout, string label)
    {
        var m = Regex.Match(stdout, Regex.Escape(label) + @": ([0-9,]+)");
        Assert.True(m.Success, $"no \"{label}\" in:\n{stdout}");
        return long.Parse(m.Groups[1].Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>One sshd for the remote-shell tests.</summary>
public sealed class SshFixture : IAsyncLifetime
{
    public SshServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await SshServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
