using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// The daemon as a service runs it: <c>netrsync --daemon</c> serving stock clients as netrsyncd does,
/// readiness and shutdown told to a service manager (a NOTIFY_SOCKET the test owns), the pid file,
/// <c>--health</c>, detaching, and the log on stderr when there is no log file.
/// </summary>
public sealed class DaemonHostingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>How to start the daemon: netrsyncd, or the client in daemon mode.</summary>
    public static TheoryData<string> Programs => new() { "netrsyncd", "netrsync --daemon" };

    private static (string FileName, string[] Prefix) Locate(string program) => program switch
    {
        "netrsyncd" => NetRsyncDaemon.Locate(),
        "netrsync" => NetRsync.Locate(),
        "netrsync --daemon" => NetRsync.Locate() is var (file, prefix) ? (file, [.. prefix, "--daemon"]) : default,
        _ => throw new ArgumentException(program),
    };

    private static string Config(TempDir temp, int port, string module, IEnumerable<string>? globals = null, bool logFile = true)
    {
        var text = new StringBuilder();
        text.Append("use chroot = no\nuid = root\ngid = root\nreverse lookup = no\n");
        text.Append($"address = 127.0.0.1\nport = {port}\npid file = {temp.File("rsyncd.pid")}\n");
        if (logFile)
            text.Append($"log file = {temp.File("rsyncd.log")}\n");
        foreach (string line in globals ?? [])
            text.Append(line).Append('\n');
        text.Append($"[mod]\npath = {module}\nread only = no\n");
        string path = temp.File("rsyncd.conf");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private async Task<ProcessResult> Run(string program, params string[] args)
    {
        var (file, prefix) = Locate(program);
        ProcessResult r = await ProcessRunner.RunAsync(file, [.. prefix, .. args]);
        output.WriteLine(r.ToString());
        return r;
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task The_daemon_tells_the_manager_it_is_ready_serves_stock_clients_and_stops_cleanly_on_SIGTERM(string program)
    {
        using var temp = new TempDir();
        string module = temp.Sub("mod");
        string source = temp.Sub("src");
        DaemonTestKit.SmallTree(source);
        int port = StockDaemon.FreePort();
        string config = Config(temp, port, module);
        using var notify = new NotifyListener(temp.File("notify"));
        var (file, prefix) = Locate(program);
        var (process, captured) = ProcessRunner.StartCaptured(file, [.. prefix, "--no-detach", $"--config={config}"],
            [new("NOTIFY_SOCKET", notify.Path)]);
        using var owned = process;
        try
        {
            string ready = await notify.WaitForAsync("READY=1", Deadline, () => $"{program} output:\n{captured}");
            // Ready means listening: a client connects at once, with no retry.
            Assert.True(StockDaemon.OwnsListeningSocket(process.Id, port), $"READY=1 came before the port was bound:\n{captured}");
            Assert.Contains($"STATUS=listening on port {port}", ready);
            Assert.Equal($"{process.Id}\n", File.ReadAllText(temp.File("rsyncd.pid")));

            ProcessResult push = await DaemonTestKit.RunStock(output, RsyncPeers.DebianRsync, ["-a", source + "/", $"rsync://127.0.0.1:{port}/mod/"]);
            Assert.True(push.ExitCode == 0, $"push failed:\n{push}\n{captured}");
            TreeComparer.AssertIdentical(source, module, new TreeCompareOptions { CompareNanoseconds = false });
            string pulled = temp.Sub("pulled");
            ProcessResult pull = await DaemonTestKit.RunStock(output, RsyncPeers.DebianRsync, ["-a", $"rsync://127.0.0.1:{port}/mod/", pulled + "/"]);
            Assert.True(pull.ExitCode == 0, $"pull failed:\n{pull}\n{captured}");
            TreeComparer.AssertIdentical(source, pulled, new TreeCompareOptions { CompareNanoseconds = false });

            Assert.Equal(0, Signals.Kill(process.Id, Signals.SigTerm));
            await notify.WaitForAsync("STOPPING=1", Deadline, () => $"{program} output:\n{captured}");
            using var stopped = new CancellationTokenSource(NetRsyncDaemon.StopDeadline);
            await process.WaitForExitAsync(stopped.Token);
            Assert.True(process.ExitCode == 0, $"{program} exited with {process.ExitCode} after SIGTERM:\n{captured}");
            Assert.False(File.Exists(temp.File("rsyncd.pid")), "the pid file was left behind");
        }
        finally
        {
            if (!process.HasExited)
                process.Kill();
        }
    }

    [Fact]
    public async Task A_daemon_started_by_the_client_hands_a_chrooted_modules_connection_to_a_process_of_its_own()
    {
        // The connection process is the client program again, in daemon mode.
        using var temp = new TempDir();
        string module = temp.Sub("mod");
        File.WriteAllText(Path.Combine(module, "inside.txt"), "inside\n");
        int port = StockDaemon.FreePort();
        string config = Config(temp, port, module);
        File.WriteAllText(config, File.ReadAllText(config).Replace("use chroot = no", "use chroot = yes"));
        using var notify = new NotifyListener(temp.File("notify"));
        var (file, prefix) = Locate("netrsync --daemon");
        var (process, captured) = ProcessRunner.StartCaptured(file, [.. prefix, "--no-detach", $"--config={config}"], [new("NOTIFY_SOCKET", notify.Path)]);
        using var owned = process;
        try
        {
            await notify.WaitForAsync("READY=1", Deadline, () => captured.ToString());
            string pulled = temp.Sub("pulled");
            ProcessResult pull = await DaemonTestKit.RunStock(output, RsyncPeers.DebianRsync, ["-a", $"rsync://127.0.0.1:{port}/mod/", pulled + "/"]);
            Assert.True(pull.ExitCode == 0, $"pull failed:\n{pull}\n{captured}\n{File.ReadAllText(temp.File("rsyncd.log"))}");
            Assert.Equal("inside\n", File.ReadAllText(Path.Combine(pulled, "inside.txt")));
        }
        finally
        {
            _ = Signals.Kill(process.Id, Signals.SigTerm);
            using var stopped = new CancellationTokenSource(NetRsyncDaemon.StopDeadline);
            try
            {
                await process.WaitForExitAsync(stopped.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
            }
        }
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task Health_is_zero_while_the_daemon_greets_and_one_when_nothing_listens(string program)
    {
        using var temp = new TempDir();
        int port = StockDaemon.FreePort();
        string config = Config(temp, port, temp.Sub("mod"));

        ProcessResult down = await Run(program, $"--config={config}", "--health");
        Assert.Equal(1, down.ExitCode);
        Assert.StartsWith($"{ProgramName(program)}: unhealthy: cannot connect to 127.0.0.1:{port}", down.Stdout);

        await using var daemon = await NetRsyncDaemon.StartAsync([new DaemonModule("mod", temp.Sub("served"))], port: port);
        ProcessResult up = await Run(program, $"--config={config}", "--health");
        Assert.True(up.ExitCode == 0, up.ToString());
        Assert.StartsWith($"{ProgramName(program)}: healthy: 127.0.0.1:{port} greets with \"@RSYNCD: 31.0", up.Stdout);
        Assert.Equal(1, up.Stdout.Count(c => c == '\n'));

        // --port wins over the config's port.
        ProcessResult elsewhere = await Run(program, $"--config={config}", $"--port={StockDaemon.FreePort()}", "--health");
        Assert.Equal(1, elsewhere.ExitCode);
    }

    [Fact]
    public async Task A_detaching_daemon_returns_at_once_and_runs_on_in_a_session_of_its_own()
    {
        using var temp = new TempDir();
        int port = StockDaemon.FreePort();
        string config = Config(temp, port, temp.Sub("mod"));
        ProcessResult start = await Run("netrsyncd", $"--config={config}");
        Assert.True(start.ExitCode == 0, start.ToString());
        string pidFile = temp.File("rsyncd.pid");
        await DaemonTestKit.WaitUntilAsync(() => File.Exists(pidFile) && File.ReadAllText(pidFile).EndsWith('\n'), "the pid file", Deadline,
            () => File.Exists(temp.File("rsyncd.log")) ? File.ReadAllText(temp.File("rsyncd.log")) : "(no log)");
        int pid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            await DaemonTestKit.WaitUntilAsync(() => StockDaemon.OwnsListeningSocket(pid, port), "the daemon to listen", Deadline);
            // Field 6 of /proc/PID/stat is the session: the daemon leads its own.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), fields[3]);
            Assert.True((await Run("netrsyncd", $"--config={config}", "--health")).ExitCode == 0);
        }
        finally
        {
            Assert.Equal(0, Signals.Kill(pid, Signals.SigTerm));
            await DaemonTestKit.WaitUntilAsync(() => !Directory.Exists($"/proc/{pid}") || File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal),
                "the detached daemon to exit", NetRsyncDaemon.StopDeadline);
        }
        Assert.False(File.Exists(pidFile), "the pid file was left behind");
    }

    [Fact]
    public async Task Without_a_log_file_a_foreground_daemon_logs_to_stderr()
    {
        using var temp = new TempDir();
        int port = StockDaemon.FreePort();
        string config = Config(temp, port, temp.Sub("mod"), logFile: false);
        using var notify = new NotifyListener(temp.File("notify"));
        var (file, prefix) = NetRsyncDaemon.Locate();
        var (process, captured) = ProcessRunner.StartCaptured(file, [.. prefix, "--no-detach", $"--config={config}"], [new("NOTIFY_SOCKET", notify.Path)]);
        using var owned = process;
        try
        {
            await notify.WaitForAsync("READY=1", Deadline, () => captured.ToString());
            ProcessResult list = await DaemonTestKit.RunStock(output, RsyncPeers.DebianRsync, [$"rsync://127.0.0.1:{port}/"]);
            Assert.Equal(0, list.ExitCode);
            await DaemonTestKit.WaitUntilAsync(() => captured.ToString().Contains("module-list request", StringComparison.Ordinal) || captured.ToString().Contains("connect from", StringComparison.Ordinal),
                "the connection in the daemon's stderr", Deadline, () => captured.ToString());
            Assert.Contains($"netrsyncd starting, listening on port {port}", captured.ToString());
        }
        finally
        {
            _ = Signals.Kill(process.Id, Signals.SigTerm);
            using var stopped = new CancellationTokenSource(NetRsyncDaemon.StopDeadline);
            await process.WaitForExitAsync(stopped.Token);
        }
    }

    [Fact]
    public async Task Daemon_options_without_daemon_are_refused_as_rsync_refuses_them()
    {
        using var temp = new TempDir();
        ProcessResult r = await Run("netrsync", "--config=/etc/rsyncd.conf", temp.Sub("a") + "/", temp.Sub("b") + "/");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("Daemon option(s) used without --daemon.\n", r.Stderr);

        ProcessResult unknown = await Run("netrsync --daemon", "--no-detach", "-z");
        Assert.Equal(1, unknown.ExitCode);
        Assert.StartsWith("netrsync: -z: unknown option (in daemon mode)\n(Type \"netrsync --daemon --help\"", unknown.Stderr);

        ProcessResult help = await Run("netrsync --daemon", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Usage: netrsync --daemon [OPTION]...", help.Stdout);
    }

    private static string ProgramName(string program) => program.Split(' ')[0];
}

internal static partial class Signals
{
    public const int SigTerm = 15;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    public static partial int Kill(int pid, int signal);
}

/// <summary>A datagram socket standing in for the service manager's NOTIFY_SOCKET; collects what arrives.</summary>
internal sealed class NotifyListener : IDisposable
{
    private readonly Socket _socket;
    private readonly List<string> _messages = [];
    private readonly Task _reader;

    public NotifyListener(string path)
    {
        Path = path;
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        _reader = Task.Run(ReadAsync);
    }

    public string Path { get; }

    public IReadOnlyList<string> Messages
    {
        get
        {
            lock (_messages)
                return [.. _messages];
        }
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                int n = await _socket.ReceiveAsync(buffer, SocketFlags.None);
                lock (_messages)
                    _messages.Add(Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Polls until a message holding the line <paramref name="state"/> has arrived; returns that message.</summary>
    public async Task<string> WaitForAsync(string state, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string? found = Messages.FirstOrDefault(m => m.Split('\n').Contains(state));
            if (found is not null)
                return found;
            if (clock.Elapsed > timeout)
                Assert.Fail($"no {state} on NOTIFY_SOCKET within {timeout.TotalSeconds:F0}s; got [{string.Join(" | ", Messages)}]\n{diagnostics?.Invoke()}");
            await Task.Delay(20); // poll interval
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _reader.Wait(TimeSpan.FromSeconds(1));
    }
}
