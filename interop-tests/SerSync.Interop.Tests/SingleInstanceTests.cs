using NetRsync.Interop.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>
/// One netsersync per configuration and per fail queue: a second start is refused with the first
/// one's pid and exit code 75, a crash never blocks the next start (the kernel drops a dead
/// process's flock), and --pid-file names the running process. No daemon is needed: nothing changes
/// in the watched directory, so nothing is pushed.
/// </summary>
public sealed class SingleInstanceTests(ITestOutputHelper output)
{
    private const int AlreadyRunning = 75;

    /// <summary>The watcher's run directory (its config locks), one per test.</summary>
    private static Dictionary<string, string> Environment(TempDir temp) => new() { ["NETSERSYNC_RUN_DIR"] = temp.Sub("run") };

    private async Task<ProcessResult> RunSecond(TempDir temp, params string[] args)
    {
        ProcessResult r = await ProcessRunner.RunAsync(WatcherProcess.AppHost, args, Environment(temp).ToDictionary(kv => kv.Key, kv => (string?)kv.Value));
        output.WriteLine(r.ToString());
        return r;
    }

    private static string Setup(TempDir temp, string name, string failLog)
    {
        string config = new WatchSetup(temp.Sub("src"), StockDaemon.FreePort()) { FailLog = failLog }.WriteTo(temp);
        string path = temp.File(name);
        if (path != config)
            File.Move(config, path);
        return path;
    }

    [Fact]
    public async Task A_second_instance_on_the_same_configuration_is_refused_with_the_first_ones_pid()
    {
        using var temp = new TempDir();
        string config = Setup(temp, "confxml.xml", temp.File("fail.log"));
        string pidFile = temp.File("netsersync.pid");
        await using var first = await WatcherProcess.StartAsync(config, ["--pid-file=" + pidFile], Environment(temp));
        Assert.Equal($"{first.ProcessId}\n", File.ReadAllText(pidFile));

        ProcessResult second = await RunSecond(temp, "--no-detach", "-o", config);
        Assert.Equal(AlreadyRunning, second.ExitCode);
        Assert.Contains($"netsersync: another netsersync (pid {first.ProcessId}) already runs with the configuration {config}", second.Stderr);
        Assert.DoesNotContain("netsersync ready", second.Stdout + second.Stderr);

        // Through a symlink the configuration is the same one.
        string link = temp.File("link.xml");
        File.CreateSymbolicLink(link, config);
        Assert.Equal(AlreadyRunning, (await RunSecond(temp, "--no-detach", "-o", link)).ExitCode);

        // A start meant for the background is refused in the foreground, where the caller sees it.
        ProcessResult background = await RunSecond(temp, "-d", "-o", config);
        Assert.Equal(AlreadyRunning, background.ExitCode);
        Assert.DoesNotContain("running in the background", background.Stdout);

        Assert.False(first.HasExited, $"the first instance stopped:\n{first.Output}");
    }

    [Fact]
    public async Task A_second_configuration_with_the_same_fail_queue_is_refused()
    {
        using var temp = new TempDir();
        string failLog = temp.File("queue/fail.log");
        string config = Setup(temp, "a.xml", failLog);
        string other = Setup(temp, "b.xml", failLog);
        await using var first = await WatcherProcess.StartAsync(config, null, Environment(temp));

        ProcessResult second = await RunSecond(temp, "--no-detach", "-o", other);
        Assert.Equal(AlreadyRunning, second.ExitCode);
        Assert.Contains($"netsersync: another netsersync (pid {first.ProcessId}) already uses the fail queue {failLog}", second.Stderr);
        Assert.Contains($"(lock file {failLog}.lock)", second.Stderr);
    }

    [Fact]
    public async Task A_crashed_instance_does_not_block_the_next_start_and_a_clean_exit_removes_the_pid_file()
    {
        using var temp = new TempDir();
        string config = Setup(temp, "confxml.xml", temp.File("fail.log"));
        string pidFile = temp.File("netsersync.pid");
        var crashed = await WatcherProcess.StartAsync(config, ["--pid-file=" + pidFile], Environment(temp));
        await crashed.KillHardAsync();
        await crashed.DisposeAsync();

        // SIGKILL left the pid file, but not the locks.
        await using (var next = await WatcherProcess.StartAsync(config, ["--pid-file=" + pidFile], Environment(temp)))
        {
            Assert.Equal($"{next.ProcessId}\n", File.ReadAllText(pidFile));
            // The new instance holds the locks again.
            Assert.Equal(AlreadyRunning, (await RunSecond(temp, "--no-detach", "-o", config)).ExitCode);
        }
        Assert.False(File.Exists(pidFile), "a clean exit left the pid file");

        // And after the clean exit the job can start again.
        await using var again = await WatcherProcess.StartAsync(config, null, Environment(temp));
        Assert.False(again.HasExited);
    }
}
