using System.Diagnostics;
using NetRsync.Interop.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>netsersync with real inotify, pushing to stock rsync --daemon and to netrsyncd on loopback.</summary>
public sealed class EndToEndTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    public static TheoryData<string> Daemons => new() { RemoteDaemon.Stock, RemoteDaemon.Net };

    private static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Theory]
    [MemberData(nameof(Daemons))]
    public async Task EveryKindOfChangeReachesTheTarget(string kind)
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        Prepare(source);
        await using var daemon = await RemoteDaemon.StartAsync(kind, new DaemonModule("mod", target));
        var setup = new WatchSetup(source, daemon.Port) { Excludes = [@"(.*)\.php"] };
        await using var watcher = await WatcherProcess.StartAsync(setup.WriteTo(temp), ["-r"]);
        await EveryKindOfChange(temp, source, target, watcher, daemon.Compare);
    }

    /// <summary>
    /// &lt;ssh start="true"/&gt;: the same changes pushed over a real sshd on loopback (the remote's
    /// name is the target path there), with stock rsync as the far end, as sersync ran rsync -e ssh.
    /// </summary>
    [Fact]
    public async Task EveryKindOfChangeReachesTheTargetOverSsh()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        Prepare(source);
        await using var sshd = await SshServer.StartAsync();
        var setup = new WatchSetup(source, 873, Module: target) { Excludes = [@"(.*)\.php"], Ssh = true };
        await using var watcher = await WatcherProcess.StartAsync(setup.WriteTo(temp), ["-r"],
            new Dictionary<string, string> { ["RSYNC_RSH"] = sshd.Rsh });
        await EveryKindOfChange(temp, source, target, watcher, Convergence.Compare with { ExpectSanitizedSymlinks = false, CompareRoot = false });
        Assert.Contains($"-> 127.0.0.1:{target}/", watcher.Output, StringComparison.Ordinal);
    }

    private static void Prepare(string source)
    {
        Write(Path.Combine(source, "existing/old.txt"), "old\n");
        Write(Path.Combine(source, "r/rename-me.txt"), "rename\n");
    }

    private async Task EveryKindOfChange(TempDir temp, string source, string target, WatcherProcess watcher, TreeCompareOptions daemonCompare)
    {
        string outside = temp.Sub("outside");
        var compare = daemonCompare with { Exclude = p => p.EndsWith(".php", StringComparison.Ordinal) };

        // Phase one: creations, writes, appends, renames, deep trees, folders filled at once, moves in.
        Write(Path.Combine(source, "hello.txt"), "hello\n");
        File.AppendAllText(Path.Combine(source, "hello.txt"), "appended\n");
        File.AppendAllText(Path.Combine(source, "existing/old.txt"), "more\n");
        Directory.CreateDirectory(Path.Combine(source, "deep/a/b/c/d/e/f"));
        Write(Path.Combine(source, "deep/a/b/c/d/e/f/leaf.txt"), "leaf\n");
        for (int i = 0; i < 30; i++)
            Write(Path.Combine(source, $"fresh/sub{i % 3}/file{i}.txt"), $"content {i}\n");
        File.Move(Path.Combine(source, "r/rename-me.txt"), Path.Combine(source, "r/renamed.txt"));
        Write(Path.Combine(outside, "incoming/inner/in.txt"), "moved in\n");
        Directory.Move(Path.Combine(outside, "incoming"), Path.Combine(source, "incoming"));
        File.CreateSymbolicLink(Path.Combine(source, "link"), "hello.txt");
        Write(Path.Combine(source, "skip.php"), "<?php excluded ?>\n");
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, compare);
        Assert.False(File.Exists(Path.Combine(target, "skip.php")), "an excluded file reached the target");

        // Phase two: rm -rf, moves out, renames across folders, truncation, single deletes.
        TempDir.DeleteTree(Path.Combine(source, "deep"));
        Directory.Move(Path.Combine(source, "incoming"), Path.Combine(outside, "gone-out"));
        File.Move(Path.Combine(source, "r/renamed.txt"), Path.Combine(source, "existing/across.txt"));
        Directory.Move(Path.Combine(source, "fresh/sub1"), Path.Combine(source, "existing/sub1-moved"));
        File.WriteAllText(Path.Combine(source, "hello.txt"), "short\n");
        File.Delete(Path.Combine(source, "existing/old.txt"));
        File.Delete(Path.Combine(source, "link"));
        // A directory replaced by a file of the same name, and a file by a directory.
        TempDir.DeleteTree(Path.Combine(source, "fresh/sub2"));
        Write(Path.Combine(source, "fresh/sub2"), "now a file\n");
        File.Delete(Path.Combine(source, "fresh/sub0/file0.txt"));
        Write(Path.Combine(source, "fresh/sub0/file0.txt/inner.txt"), "now a folder\n");
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, compare);
        output.WriteLine(watcher.Output);
    }

    [Theory]
    [MemberData(nameof(Daemons))]
    public async Task TenThousandSmallFilesInABurst(string kind)
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        Directory.CreateDirectory(Path.Combine(source, "many"));
        await using var daemon = await RemoteDaemon.StartAsync(kind, new DaemonModule("mod", target));
        var setup = new WatchSetup(source, daemon.Port);
        await using var watcher = await WatcherProcess.StartAsync(setup.WriteTo(temp), ["-r"]);
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, daemon.Compare);

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 10_000; i++)
            File.WriteAllText(Path.Combine(source, "many", $"f{i:D5}.txt"), $"small file {i}\n");
        // And a new folder created and filled at once.
        for (int i = 0; i < 500; i++)
            Write(Path.Combine(source, "new-folder", $"g{i}.txt"), $"g {i}\n");
        TimeSpan written = clock.Elapsed;
        await Convergence.WaitAsync(source, target, TimeSpan.FromSeconds(120), () => watcher.Output, daemon.Compare);
        output.WriteLine($"{kind}: 10,500 files written in {written.TotalMilliseconds:F0} ms, on the target after {clock.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task ARemoteDownDuringChangesGetsEverythingOnceUp()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        int port = StockDaemon.FreePort();
        var setup = new WatchSetup(source, port) { FailLog = temp.File("fail.jsonl") };
        await using var watcher = await WatcherProcess.StartAsync(setup.WriteTo(temp));

        Write(Path.Combine(source, "a/one.txt"), "one\n");
        Write(Path.Combine(source, "b/two.txt"), "two\n");
        await watcher.WaitForOutputAsync("queued, retry in", Deadline);
        Write(Path.Combine(source, "a/three.txt"), "three\n");
        File.Move(Path.Combine(source, "b/two.txt"), Path.Combine(source, "a/two.txt"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(target));

        await using var daemon = await RemoteDaemon.StartAsync(RemoteDaemon.Stock, new DaemonModule("mod", target), port);
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, daemon.Compare);
    }

    [Fact]
    public async Task AWatcherKilledMidQueueConvergesAfterARestart()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        int port = StockDaemon.FreePort();
        var setup = new WatchSetup(source, port) { FailLog = temp.File("fail.jsonl") };
        string config = setup.WriteTo(temp);
        var first = await WatcherProcess.StartAsync(config);
        for (int i = 0; i < 20; i++)
            Write(Path.Combine(source, $"d{i % 4}/f{i}.txt"), $"file {i}\n");
        // Every file is in the durable queue (pushes to the absent remote failed).
        await DaemonTestKit.WaitUntilAsync(
            () => File.Exists(setup.FailLog) && Enumerable.Range(0, 20).All(i => File.ReadAllText(setup.FailLog!).Contains($"/f{i}.txt\"", StringComparison.Ordinal)),
            "every change in the fail queue", Deadline, () => first.Output);
        await first.KillHardAsync();
        await first.DisposeAsync();

        await using var daemon = await RemoteDaemon.StartAsync(RemoteDaemon.Stock, new DaemonModule("mod", target), port);
        // No -r: only the durable queue knows what changed.
        await using var second = await WatcherProcess.StartAsync(config);
        Assert.Contains("fail queue: resuming", second.Output);
        await Convergence.WaitAsync(source, target, Deadline, () => second.Output, daemon.Compare);
    }

    [Fact]
    public async Task EveryLocalpathReachesEveryRemoteInParallel()
    {
        using var temp = new TempDir();
        string web = temp.Sub("web");
        string logs = temp.Sub("logs");
        string webCopyA = temp.Sub("web-a");
        string webCopyB = temp.Sub("web-b");
        string logsCopy = temp.Sub("logs-copy");
        await using var stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, [new DaemonModule("weba", webCopyA), new DaemonModule("logs", logsCopy)]);
        await using var net = await NetRsyncDaemon.StartAsync([new DaemonModule("webb", webCopyB)]);
        // The two daemons listen on different ports, so each <remote ip> carries its own port.
        string config = temp.File("confxml.xml");
        File.WriteAllText(config, $"""
            <head version="2.5">
                <settle ms="50"/>
                <inotify><delete start="true"/></inotify>
                <sersync>
                    <localpath watch="{web}">
                        <remote ip="127.0.0.1:{stock.Port}" name="weba"/>
                        <remote ip="127.0.0.1:{net.Port}" name="webb"/>
                    </localpath>
                    <localpath watch="{logs}">
                        <remote ip="127.0.0.1:{stock.Port}" name="logs"/>
                    </localpath>
                    <rsync><commonParams params="-artu"/></rsync>
                </sersync>
            </head>
            """);
        await using var watcher = await WatcherProcess.StartAsync(config);
        Write(Path.Combine(web, "index.html"), "<html/>\n");
        Write(Path.Combine(web, "img/logo.txt"), "logo\n");
        Write(Path.Combine(logs, "today.log"), "line\n");
        var stockCompare = Convergence.Compare with { CompareDirectoryTimes = false };
        await Convergence.WaitAsync(web, webCopyA, Deadline, () => watcher.Output, stockCompare);
        await Convergence.WaitAsync(web, webCopyB, Deadline, () => watcher.Output);
        await Convergence.WaitAsync(logs, logsCopy, Deadline, () => watcher.Output, stockCompare);
    }

    /// <summary>A stopped watcher misses more events than inotify queues (16384 by default): the
    /// overflow triggers a rescan that pushes what was created and removes what was deleted.</summary>
    [Fact]
    public async Task AQueueOverflowIsCoveredByARescan()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        for (int i = 0; i < 50; i++)
            Write(Path.Combine(source, $"old/f{i}.txt"), $"old {i}\n");
        Directory.CreateDirectory(Path.Combine(source, "flood"));
        await using var daemon = await RemoteDaemon.StartAsync(RemoteDaemon.Stock, new DaemonModule("mod", target));
        var setup = new WatchSetup(source, daemon.Port);
        await using var watcher = await WatcherProcess.StartAsync(setup.WriteTo(temp), ["-r"]);
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, daemon.Compare);

        int limit = int.Parse(File.ReadAllText("/proc/sys/fs/inotify/max_queued_events").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, Signals.Kill(watcher.ProcessId, Signals.SigStop));
        try
        {
            TempDir.DeleteTree(Path.Combine(source, "old"));
            // Each file is a create and a close-write: more events than the queue holds.
            for (int i = 0; i < limit / 2 + 500; i++)
                File.WriteAllText(Path.Combine(source, "flood", $"f{i}"), "x");
        }
        finally
        {
            Assert.Equal(0, Signals.Kill(watcher.ProcessId, Signals.SigCont));
        }
        await watcher.WaitForOutputAsync("inotify queue overflowed", Deadline);
        await Convergence.WaitAsync(source, target, TimeSpan.FromSeconds(120), () => watcher.Output, daemon.Compare);
    }

    [Theory]
    [MemberData(nameof(Daemons))]
    public async Task AuthUsersLogInWithThePasswordFile(string kind)
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        string passwordFile = temp.File("user.pass");
        StockDaemon.WriteSecretFile(passwordFile, "wrong\n");
        var module = new DaemonModule("mod", target) { AuthUsers = "backup", Secrets = [("backup", "s3cret")] };
        await using var daemon = await RemoteDaemon.StartAsync(kind, module);
        var setup = new WatchSetup(source, daemon.Port) { Auth = ("backup", passwordFile), FailLog = temp.File("fail.jsonl") };
        await using var watcher = await WatcherProcess.StartAsync(setup.WriteTo(temp));

        // A wrong password fails the push; the change waits in the queue.
        Write(Path.Combine(source, "secret/file.txt"), "for authorised eyes\n");
        await watcher.WaitForOutputAsync("queued, retry in", Deadline);
        Assert.Empty(Directory.EnumerateFileSystemEntries(target));

        // Fixed, the retry gets through.
        StockDaemon.WriteSecretFile(passwordFile, "s3cret\n");
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, daemon.Compare);
    }

    /// <summary>attrib on: a chmod alone is pushed. modify on, closeWrite off: writes to a file still
    /// open are pushed as they happen.</summary>
    [Fact]
    public async Task AttribAndModifySwitches()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        Write(Path.Combine(source, "script.sh"), "echo hi\n");
        await using var daemon = await RemoteDaemon.StartAsync(RemoteDaemon.Stock, new DaemonModule("mod", target));
        var setup = new WatchSetup(source, daemon.Port) { CreateFile = false, CloseWrite = false, Attrib = true, Modify = true };
        await using var watcher = await WatcherProcess.StartAsync(setup.WriteTo(temp), ["-r"]);
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, daemon.Compare);

        File.SetUnixFileMode(Path.Combine(source, "script.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, daemon.Compare);

        await using (var log = new FileStream(Path.Combine(source, "growing.log"), FileMode.Create, FileAccess.Write, FileShare.Read))
        {
            log.Write("first line\n"u8);
            log.Flush();
            await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, daemon.Compare);
            log.Write("second line\n"u8);
            log.Flush();
            await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output, daemon.Compare);
        }
    }
}
