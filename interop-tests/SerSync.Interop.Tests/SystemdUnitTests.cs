using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using NetRsync.Interop.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>
/// deploy/systemd's units, tested without a running systemd: each unit's ExecStart is run as systemd
/// would run it (its environment, a NOTIFY_SOCKET the test owns, the run directories it declares),
/// with only the installed paths swapped for the built programs and temporary configs. The pair must
/// report READY=1, push the watched tree to the daemon, report STOPPING=1 on SIGTERM and exit 0 within
/// the unit's TimeoutStopSec. systemd-analyze verify checks the units' syntax and references.
/// </summary>
public sealed class SystemdUnitTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>The paths the units name, and what stands in for them in a test.</summary>
    private const string InstalledDaemon = "/usr/local/bin/netrsyncd";
    private const string InstalledWatcher = "/usr/local/bin/netsersync";
    private const string InstalledDaemonConfig = "/etc/rsyncd.conf";
    private const string InstalledWatcherConfig = "/etc/netsersync/confxml.xml";

    private static string UnitDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "deploy", "systemd");
                if (Directory.Exists(candidate))
                    return candidate;
            }
            Assert.Fail($"no deploy/systemd above {AppContext.BaseDirectory}");
            return "";
        }
    }

    private static UnitFile Load(string name) => UnitFile.Parse(File.ReadAllText(Path.Combine(UnitDirectory, name)));

    [Fact]
    public void The_units_run_in_the_foreground_tell_readiness_restart_and_log_to_the_journal()
    {
        foreach (string name in (string[])["netrsyncd.service", "netsersync.service"])
        {
            var unit = Load(name);
            Assert.Equal("notify", unit.Get("Service", "Type"));
            Assert.Equal("main", unit.Get("Service", "NotifyAccess"));
            Assert.Contains("--no-detach", unit.ExecStart);
            Assert.Equal("journal", unit.Get("Service", "StandardOutput"));
            Assert.Equal("journal", unit.Get("Service", "StandardError"));
            Assert.Equal("mixed", unit.Get("Service", "KillMode"));
            Assert.Equal("multi-user.target", unit.Get("Install", "WantedBy"));
        }
        Assert.Equal("on-failure", Load("netrsyncd.service").Get("Service", "Restart"));
        var watcher = Load("netsersync.service");
        Assert.Equal("always", watcher.Get("Service", "Restart"));
        Assert.Contains("netrsyncd.service", watcher.Words("Unit", "After"));
        Assert.Contains("netrsyncd.service", watcher.Words("Unit", "Wants"));
        // The stop timeout leaves the watcher time to push what is pending.
        Assert.True(UnitFile.Seconds(watcher.Get("Service", "TimeoutStopSec")!) >= 60);
        Assert.Contains("-/etc/default/netsersync", watcher.Words("Service", "EnvironmentFile"));
        string defaults = File.ReadAllText(Path.Combine(UnitDirectory, "netsersync.default"));
        Assert.Contains("\ntarget_host=", "\n" + defaults);
    }

    [Fact]
    public async Task The_pair_starts_as_systemd_starts_it_syncs_and_stops_cleanly_on_SIGTERM()
    {
        using var temp = new TempDir();
        string source = temp.Sub("syncdir");
        string target = temp.Sub("target");
        File.WriteAllText(Path.Combine(source, "there-before.txt"), "pushed by -r\n");
        int port = StockDaemon.FreePort();
        string daemonConfig = temp.File("rsyncd.conf");
        // No "log file": the daemon's log goes to stderr, as it would to the journal.
        File.WriteAllText(daemonConfig, $"use chroot = no\nuid = root\ngid = root\nreverse lookup = no\naddress = 127.0.0.1\nport = {port}\n[rsync]\npath = {target}\nread only = no\n");
        string watcherConfig = temp.File("confxml.xml");
        File.WriteAllText(watcherConfig, new WatchSetup(source, port, "rsync") { FailLog = temp.File("fail.log") }.Xml()
            .Replace("<remote ip=\"127.0.0.1\"", "<remote ip=\"{target_host}\"", StringComparison.Ordinal));
        var paths = new Dictionary<string, string>
        {
            [InstalledDaemon] = NetRsyncDaemon.AppHostPath,
            [InstalledWatcher] = WatcherProcess.AppHost,
            [InstalledDaemonConfig] = daemonConfig,
            [InstalledWatcherConfig] = watcherConfig,
        };
        // What the units' RuntimeDirectory= make (/run/netrsync, /run/netsersync), and the node's address.
        var environment = new Dictionary<string, string>
        {
            ["NETRSYNC_RUN_DIR"] = temp.Sub("run/netrsync"),
            ["NETSERSYNC_RUN_DIR"] = temp.Sub("run/netsersync"),
            ["target_host"] = "127.0.0.1",
        };

        await using var daemon = await UnitProcess.StartAsync(Load("netrsyncd.service"), paths, environment, temp.File("daemon.notify"), output);
        string ready = await daemon.Notify.WaitForAsync("READY=1", Deadline, daemon.Diagnostics);
        Assert.Contains($"STATUS=listening on port {port}", ready);

        await using var watcher = await UnitProcess.StartAsync(Load("netsersync.service"), paths, environment, temp.File("watcher.notify"), output);
        await watcher.Notify.WaitForAsync("READY=1", Deadline, watcher.Diagnostics);
        await DaemonTestKit.WaitUntilAsync(() => File.Exists(Path.Combine(target, "there-before.txt")), "the -r push through the daemon", Deadline,
            () => watcher.Diagnostics() + daemon.Diagnostics());
        Assert.Contains("netrsyncd starting, listening on port", daemon.Output);

        foreach (var unit in new[] { watcher, daemon })
        {
            unit.Terminate();
            await unit.Notify.WaitForAsync("STOPPING=1", Deadline, unit.Diagnostics);
            int code = await unit.WaitForExitAsync(TimeSpan.FromSeconds(Math.Min(unit.Unit.TimeoutStopSeconds, Deadline.TotalSeconds)));
            Assert.True(code == 0, $"{unit.Name} exited with {code} after SIGTERM\n{unit.Diagnostics()}");
        }
    }

    [Fact]
    public async Task Systemd_analyze_verify_finds_nothing_to_say()
    {
        const string Analyzer = "/usr/bin/systemd-analyze";
        Assert.True(File.Exists(Analyzer), $"{Analyzer} is missing: apt-get install systemd (it runs without a running systemd)");
        using var temp = new TempDir();
        // verify checks that ExecStart's program exists: the built ones stand in for the installed ones.
        var units = new List<string>();
        foreach (var (name, installed, built) in new[] { ("netrsyncd.service", InstalledDaemon, NetRsyncDaemon.AppHostPath), ("netsersync.service", InstalledWatcher, WatcherProcess.AppHost) })
        {
            string copy = temp.File(name);
            File.WriteAllText(copy, File.ReadAllText(Path.Combine(UnitDirectory, name)).Replace(installed, built, StringComparison.Ordinal));
            units.Add(copy);
        }
        ProcessResult r = await ProcessRunner.RunAsync(Analyzer, ["verify", .. units]);
        output.WriteLine(r.ToString());
        Assert.True(r.ExitCode == 0 && r.Stdout.Length == 0 && r.Stderr.Length == 0, $"systemd-analyze verify complained:\n{r}");
    }
}

/// <summary>The parts of a unit file the tests read: sections of KEY=VALUE lines, repeated keys kept in order.</summary>
internal sealed class UnitFile
{
    private readonly List<(string Section, string Key, string Value)> _entries = [];

    public static UnitFile Parse(string text)
    {
        var unit = new UnitFile();
        string section = "";
        string pending = "";
        foreach (string raw in text.Split('\n'))
        {
            string line = pending + raw.Trim();
            pending = "";
            if (line.EndsWith('\\'))
            {
                pending = line[..^1] + " ";
                continue;
            }
            if (line.Length == 0 || line[0] is '#' or ';')
                continue;
            if (line[0] == '[')
            {
                section = line.Trim('[', ']');
                continue;
            }
            int eq = line.IndexOf('=');
            Assert.True(eq > 0, $"not a KEY=VALUE line: {line}");
            unit._entries.Add((section, line[..eq].Trim(), line[(eq + 1)..].Trim()));
        }
        return unit;
    }

    public string? Get(string section, string key) => _entries.LastOrDefault(e => e.Section == section && e.Key == key).Value;

    public IEnumerable<string> Values(string section, string key) => _entries.Where(e => e.Section == section && e.Key == key).Select(e => e.Value);

    public IReadOnlyList<string> Words(string section, string key) => Values(section, key).SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();

    /// <summary>ExecStart split into words as systemd splits it (whitespace, double and single quotes).</summary>
    public IReadOnlyList<string> ExecStart
    {
        get
        {
            string line = Get("Service", "ExecStart") ?? throw new InvalidOperationException("no ExecStart");
            Assert.False(line.Length > 0 && "@-:+!".Contains(line[0]), $"ExecStart prefixes are not expected here: {line}");
            var words = new List<string>();
            var word = new StringBuilder();
            char? quote = null;
            bool inWord = false;
            foreach (char c in line)
            {
                if (quote is not null)
                {
                    if (c == quote)
                        quote = null;
                    else
                        word.Append(c);
                }
                else if (c is '"' or '\'')
                {
                    quote = c;
                    inWord = true;
                }
                else if (char.IsWhiteSpace(c))
                {
                    if (inWord)
                        words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
                else
                {
                    word.Append(c);
                    inWord = true;
                }
            }
            if (inWord)
                words.Add(word.ToString());
            return words;
        }
    }

    /// <summary>Environment= assignments (KEY=VALUE words).</summary>
    public IEnumerable<KeyValuePair<string, string>> Environment =>
        Words("Service", "Environment").Select(w => w.Split('=', 2)).Select(p => new KeyValuePair<string, string>(p[0], p[1]));

    public double TimeoutStopSeconds => Seconds(Get("Service", "TimeoutStopSec") ?? "90s");

    /// <summary>A systemd time span such as "30s", "2min" or "90".</summary>
    public static double Seconds(string span)
    {
        span = span.Trim();
        if (span.EndsWith("min", StringComparison.Ordinal))
            return double.Parse(span[..^3], System.Globalization.CultureInfo.InvariantCulture) * 60;
        if (span.EndsWith('s'))
            return double.Parse(span[..^1], System.Globalization.CultureInfo.InvariantCulture);
        return double.Parse(span, System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>A unit's ExecStart running under the test as systemd would run it, its output captured (the journal's stand-in).</summary>
internal sealed partial class UnitProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output;

    private UnitProcess(string name, UnitFile unit, Process process, StringBuilder output, UnitNotifySocket notify)
    {
        Name = name;
        Unit = unit;
        _process = process;
        _output = output;
        Notify = notify;
    }

    public string Name { get; }
    public UnitFile Unit { get; }
    public UnitNotifySocket Notify { get; }

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public string Diagnostics() => $"--- {Name} output ---\n{Output}--- {Name} notifications ---\n{string.Join("\n|\n", Notify.Messages)}\n--- end ---\n";

    /// <summary>Runs the unit's ExecStart with every installed path in <paramref name="paths"/> swapped; any other absolute path fails the test.</summary>
    public static Task<UnitProcess> StartAsync(UnitFile unit, IReadOnlyDictionary<string, string> paths, IReadOnlyDictionary<string, string> environment, string notifyPath, ITestOutputHelper log)
    {
        var words = unit.ExecStart.Select(word =>
        {
            foreach (var (installed, stand) in paths)
                word = word.Replace(installed, stand, StringComparison.Ordinal);
            return word;
        }).ToList();
        foreach (string word in words)
        {
            int slash = word.IndexOf('/');
            if (slash >= 0 && !paths.Values.Any(p => word[slash..].StartsWith(p, StringComparison.Ordinal)))
                Assert.Fail($"ExecStart names a path the test does not know how to stand in for: {word}");
        }
        var notify = new UnitNotifySocket(notifyPath);
        var env = new Dictionary<string, string>(unit.Environment) { ["NOTIFY_SOCKET"] = notify.Path };
        foreach (var (key, value) in environment)
            env[key] = value;
        log.WriteLine($"$ {string.Join(' ', words)}");
        var (process, output) = ProcessRunner.StartCaptured(words[0], words.Skip(1), env);
        return Task.FromResult(new UnitProcess(Path.GetFileName(words[0]), unit, process, output, notify));
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    /// <summary>systemctl stop's first step: SIGTERM to the main process.</summary>
    public void Terminate() => Assert.Equal(0, Kill(_process.Id, 15));

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{Name} did not exit within {timeout.TotalSeconds:F0}s of SIGTERM\n{Diagnostics()}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Notify.Dispose();
    }
}

/// <summary>A datagram socket standing in for systemd's NOTIFY_SOCKET; collects what arrives.</summary>
internal sealed class UnitNotifySocket : IDisposable
{
    private readonly Socket _socket;
    private readonly List<string> _messages = [];
    private readonly Task _reader;

    public UnitNotifySocket(string path)
    {
        Path = path;
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        _reader = Task.Run(async () =>
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
        });
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

    /// <summary>Polls until a message with the line <paramref name="state"/> has arrived; returns it.</summary>
    public async Task<string> WaitForAsync(string state, TimeSpan timeout, Func<string> diagnostics)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string? found = Messages.FirstOrDefault(m => m.Split('\n').Contains(state));
            if (found is not null)
                return found;
            if (clock.Elapsed > timeout)
                Assert.Fail($"no {state} on NOTIFY_SOCKET within {timeout.TotalSeconds:F0}s\n{diagnostics()}");
            await Task.Delay(20); // poll interval
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _reader.Wait(TimeSpan.FromSeconds(1));
    }
}
