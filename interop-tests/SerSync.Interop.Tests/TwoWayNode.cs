using System.Diagnostics;
using System.Text;
using NetRsync.Interop.Tests;
using Xunit;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>
/// One node of a two-way pair, as the deployment runs it: netrsyncd receiving into the node's tree
/// (the seed's rsyncd.conf with path, log file and secrets moved into the node's directory) and
/// netsersync watching the same tree and pushing to the other node's daemon (the seed's
/// confxml.xml, {target_host} = 127.0.0.1:PEER_PORT, as start.sh fills it). Both processes get
/// NETRSYNC_RUN_DIR of their own, so the two nodes on one machine have separate node links.
/// Start the daemons of both nodes first, then the watchers (whose -r push needs the peer up).
/// </summary>
public sealed class TwoWayNode : IAsyncDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(40);

    private readonly StringBuilder _daemonOutput;
    private readonly Process _daemon;
    private WatcherProcess? _watcher;

    private TwoWayNode(string name, string directory, int port, Process daemon, StringBuilder daemonOutput)
    {
        Name = name;
        Directory = directory;
        Port = port;
        _daemon = daemon;
        _daemonOutput = daemonOutput;
    }

    public string Name { get; }

    public string Directory { get; }

    /// <summary>The synced tree (the module's path and the watched directory).</summary>
    public string Tree => Path.Combine(Directory, "syncdir");

    public string RunDirectory => Path.Combine(Directory, "run");

    public int Port { get; }

    public string DaemonLogPath => Path.Combine(Directory, "rsyncd.log");

    public string FailLogPath => Path.Combine(Directory, "rsync_fail_log.sh");

    public int DaemonProcessId => _daemon.Id;

    public WatcherProcess Watcher => _watcher ?? throw new InvalidOperationException("the watcher is not started");

    public string WatcherOutput => _watcher?.Output ?? "";

    public string DaemonLog => ReadShared(DaemonLogPath);

    /// <summary>The deployment's files as the repository keeps them (tests/fixtures/seed).</summary>
    public static string SeedFile(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "seed", name);
            if (File.Exists(candidate))
                return candidate;
        }
        Assert.Fail($"tests/fixtures/seed/{name} not found above {AppContext.BaseDirectory}");
        throw new InvalidOperationException(); // unreachable
    }

    /// <summary>The seed's rsyncd.conf for a daemon whose files live in <paramref name="directory"/>,
    /// byte for byte otherwise, with <paramref name="extraGlobals"/> added to the global section.</summary>
    public static string DaemonConfig(string directory, IEnumerable<string> extraGlobals)
    {
        string text = Encoding.Latin1.GetString(File.ReadAllBytes(SeedFile("rsyncd.conf")));
        string Replace(string s, string from, string to) =>
            s.Contains(from, StringComparison.Ordinal) ? s.Replace(from, to, StringComparison.Ordinal) : throw new InvalidOperationException($"the seed's rsyncd.conf has no \"{from}\"");
        text = Replace(text, "log file=/var/log/rsyncd.log", "log file=" + Path.Combine(directory, "rsyncd.log"));
        text = Replace(text, "secrets file = /etc/rsync.pass", "secrets file = " + Path.Combine(directory, "rsync.pass"));
        text = Replace(text, "path=/syncdir", "path=" + Path.Combine(directory, "syncdir"));
        return string.Concat(extraGlobals.Select(g => g + "\n")) + text;
    }

    /// <summary>The seed's confxml.xml for a watcher whose files live in <paramref name="directory"/>,
    /// with deletions on or off.</summary>
    public static string WatcherConfig(string directory, bool delete)
    {
        string text = Encoding.Latin1.GetString(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Data", "confxml.xml")));
        string Replace(string s, string from, string to) =>
            s.Contains(from, StringComparison.Ordinal) ? s.Replace(from, to, StringComparison.Ordinal) : throw new InvalidOperationException($"the seed's confxml.xml has no \"{from}\"");
        text = Replace(text, "watch=\"/syncdir\"", $"watch=\"{Path.Combine(directory, "syncdir")}\"");
        text = Replace(text, "/app/local/sersync/user.pass", Path.Combine(directory, "user.pass"));
        text = Replace(text, "/tmp/rsync_fail_log.sh", Path.Combine(directory, "rsync_fail_log.sh"));
        if (delete)
            text = Replace(text, "<delete start=\"false\"/>", "<delete start=\"true\"/>");
        return text;
    }

    /// <summary>Writes the node's configs and secrets under <paramref name="directory"/> and starts its
    /// netrsyncd on 127.0.0.1 and a free port.</summary>
    public static async Task<TwoWayNode> StartDaemonAsync(string name, string directory, IEnumerable<string>? extraGlobals = null)
    {
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "syncdir"));
        StockDaemon.WriteSecretFile(Path.Combine(directory, "rsync.pass"), "rsync:rsync\n");
        StockDaemon.WriteSecretFile(Path.Combine(directory, "user.pass"), "rsync\n");
        string config = Path.Combine(directory, "rsyncd.conf");
        File.WriteAllBytes(config, Encoding.Latin1.GetBytes(DaemonConfig(directory, extraGlobals ?? [])));
        (string fileName, string[] prefix) = NetRsyncDaemon.Locate();
        for (int attempt = 1; ; attempt++)
        {
            int port = StockDaemon.FreePort();
            var (process, output) = ProcessRunner.StartCaptured(fileName,
                [.. prefix, "--no-detach", $"--config={config}", $"--port={port}", "--address=127.0.0.1"],
                new Dictionary<string, string> { ["NETRSYNC_RUN_DIR"] = Path.Combine(directory, "run") });
            var clock = Stopwatch.StartNew();
            while (true)
            {
                if (process.HasExited)
                {
                    await process.WaitForExitAsync();
                    string said;
                    lock (output)
                        said = output.ToString();
                    if (attempt < 5 && said.Contains("in use", StringComparison.Ordinal))
                        break;
                    Assert.Fail($"node {name}: netrsyncd exited with {process.ExitCode} at startup:\n{said}");
                }
                if (StockDaemon.OwnsListeningSocket(process.Id, port) && await StockDaemon.Probe(port))
                    return new TwoWayNode(name, directory, port, process, output);
                if (clock.Elapsed > StartDeadline)
                {
                    process.Kill();
                    Assert.Fail($"node {name}: netrsyncd did not listen on 127.0.0.1:{port} within {StartDeadline.TotalSeconds:F0}s");
                }
                await Task.Delay(25); // poll interval
            }
        }
    }

    /// <summary>Starts the node's netsersync with -r, as start.sh does, pushing to <paramref name="peer"/>.</summary>
    public async Task StartWatcherAsync(TwoWayNode peer, bool delete)
    {
        string config = Path.Combine(Directory, "confxml.xml");
        File.WriteAllBytes(config, Encoding.Latin1.GetBytes(WatcherConfig(Directory, delete)));
        _watcher = await WatcherProcess.StartAsync(config, ["-r"], new Dictionary<string, string>
        {
            ["target_host"] = $"127.0.0.1:{peer.Port}",
            ["NETRSYNC_RUN_DIR"] = RunDirectory,
        });
    }

    /// <summary>The watcher's newest status line, asked for with SIGUSR1 (polled until it is written).</summary>
    public async Task<string> StatusAsync()
    {
        int before = CountStatusLines();
        _ = Signals.Kill(Watcher.ProcessId, SigUsr1);
        var clock = Stopwatch.StartNew();
        while (CountStatusLines() <= before)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
                Assert.Fail($"node {Name}: netsersync wrote no status line within 10 s of SIGUSR1");
            await Task.Delay(20); // poll interval
        }
        return WatcherOutput.Split('\n').Last(l => l.Contains(" status: ", StringComparison.Ordinal));
    }

    private const int SigUsr1 = 10;

    private int CountStatusLines() => WatcherOutput.Split('\n').Count(l => l.Contains(" status: ", StringComparison.Ordinal));

    /// <summary>SIGTERM to the watcher, then to the daemon, waiting for each; their exit codes.</summary>
    public async Task<(int Watcher, int Daemon)> StopAsync()
    {
        int watcherCode = -1;
        if (_watcher is not null)
        {
            if (!_watcher.HasExited)
                _ = Signals.Kill(_watcher.ProcessId, Signals.SigTerm);
            watcherCode = await WaitForExitAsync(() => _watcher.HasExited, () => _watcher.ExitCode, "netsersync");
        }
        if (!_daemon.HasExited)
            _ = Signals.Kill(_daemon.Id, Signals.SigTerm);
        int daemonCode = await WaitForExitAsync(() => _daemon.HasExited, () => _daemon.ExitCode, "netrsyncd");
        return (watcherCode, daemonCode);
    }

    private async Task<int> WaitForExitAsync(Func<bool> exited, Func<int> code, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!exited())
        {
            if (clock.Elapsed > StopDeadline)
                Assert.Fail($"node {Name}: {what} did not exit within {StopDeadline.TotalSeconds:F0}s of SIGTERM");
            await Task.Delay(20); // poll interval
        }
        return code();
    }

    public string DaemonProcessOutput
    {
        get
        {
            lock (_daemonOutput)
                return _daemonOutput.ToString();
        }
    }

    private static string ReadShared(string path)
    {
        try
        {
            // Names in logs are bytes: decoded so that each byte that is not UTF-8 survives.
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var bytes = new MemoryStream();
            fs.CopyTo(bytes);
            return NetRsync.Protocol.Text.NameText.FromBytes(bytes.GetBuffer().AsSpan(0, (int)bytes.Length));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return "";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_watcher is not null)
            await _watcher.DisposeAsync();
        if (!_daemon.HasExited)
        {
            _ = Signals.Kill(_daemon.Id, Signals.SigTerm);
            using var deadline = new CancellationTokenSource(StopDeadline);
            try
            {
                await _daemon.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                _daemon.Kill();
            }
        }
        _daemon.Dispose();
    }
}
