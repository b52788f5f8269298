using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

// netsersync end to end on loopback: close-write to complete-on-target latency at a steady change
// rate, and the sustained rate of small-file creations without loss.
//   sersync-bench [--daemon stock|netrsyncd] [--rate 100] [--seconds 10] [--burst-rates 500,1000,2000] [--settle 50] [--nodelay yes]
// Two nodes pushing to each other (TwoWayBench.cs):
//   sersync-bench two-way [--rate 100] [--seconds 30] [--settle 100] [--one-way yes|no]
if (args.Length > 0 && args[0] == "two-way")
    return await TwoWayBench.RunAsync(args[1..]);
var settings = BenchSettings.Parse(args);
string work = Directory.CreateTempSubdirectory("sersync-bench-").FullName;
try
{
    string source = Directory.CreateDirectory(Path.Combine(work, "src")).FullName;
    string target = Directory.CreateDirectory(Path.Combine(work, "dst")).FullName;
    int port = FreePort();
    using var daemon = StartDaemon(settings.Daemon, work, target, port, settings.NoDelay);
    await WaitForPortAsync(port, daemon);
    string config = Path.Combine(work, "confxml.xml");
    File.WriteAllText(config, $"""
        <head version="2.5">
            <settle ms="{settings.SettleMs}"/>
            <inotify><delete start="true"/><createFile start="false"/></inotify>
            <sersync>
                <localpath watch="{source}"><remote ip="127.0.0.1" name="mod"/></localpath>
                <rsync><commonParams params="-artu"/><userDefinedPort start="true" port="{port}"/></rsync>
                <failLog path="{Path.Combine(work, "fail.jsonl")}" timeToExecute="1"/>
            </sersync>
        </head>
        """);
    using var watcher = Start(Path.Combine(AppContext.BaseDirectory, "netsersync"), ["--no-detach", "-o", config], out var watcherLog);
    await WaitForAsync(() => watcherLog.ToString().Contains("netsersync ready"), TimeSpan.FromSeconds(30), "netsersync to be ready");

    Console.WriteLine($"daemon: {settings.Daemon}{(settings.NoDelay ? " with socket options = TCP_NODELAY" : "")}, settle window {settings.SettleMs} ms, {Environment.ProcessorCount} cores");
    var latencies = await MeasureLatencyAsync(source, target, settings.Rate, settings.Seconds);
    latencies.Sort();
    Console.WriteLine($"latency at {settings.Rate} changes/s for {settings.Seconds} s ({latencies.Count} files): " +
        $"p50 {Percentile(latencies, 0.50):F1} ms, p99 {Percentile(latencies, 0.99):F1} ms, max {latencies[^1]:F1} ms");

    foreach (int rate in settings.BurstRates)
    {
        var (lagP50, lagP99, lagMax, convergedAfter, count) = await MeasureSustainedAsync(source, target, rate, settings.Seconds);
        // Kept up when the backlog at the end is small: everything arrives shortly after the last creation.
        bool sustained = convergedAfter < TimeSpan.FromSeconds(1);
        Console.WriteLine($"creations at {rate}/s for {settings.Seconds} s ({count} files, none lost): all on the target {convergedAfter.TotalMilliseconds:F0} ms after the last, " +
            $"lag p50 {lagP50:F0} ms, p99 {lagP99:F0} ms, max {lagMax:F0} ms{(sustained ? " (sustained)" : " (falling behind)")}");
    }
    watcher.Kill();
    daemon.Kill();
    return 0;
}
finally
{
    Directory.Delete(work, recursive: true);
}

// Writes one file every 1/rate s and times how long until each is complete on the target.
static async Task<List<double>> MeasureLatencyAsync(string source, string target, int rate, int seconds)
{
    string dir = Directory.CreateDirectory(Path.Combine(source, "latency")).FullName;
    await WaitForAsync(() => Directory.Exists(Path.Combine(target, "latency")), TimeSpan.FromSeconds(30), "the latency folder on the target");
    int total = rate * seconds;
    var written = new long[total];
    var done = new double[total];
    var contents = new byte[total][];
    int issued = 0;
    var writer = Task.Run(async () =>
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < total; i++)
        {
            var due = TimeSpan.FromSeconds((double)i / rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
                await Task.Delay(wait);
            contents[i] = Encoding.ASCII.GetBytes($"change {i} {Guid.NewGuid()}\n");
            File.WriteAllBytes(Path.Combine(dir, $"c{i:D6}.txt"), contents[i]);
            written[i] = Stopwatch.GetTimestamp();
            Volatile.Write(ref issued, i + 1);
        }
    });
    int next = 0;
    var pending = new List<int>();
    var deadline = Stopwatch.StartNew();
    while (next < total || pending.Count > 0)
    {
        int upTo = Volatile.Read(ref issued);
        while (next < upTo)
            pending.Add(next++);
        for (int k = pending.Count - 1; k >= 0; k--)
        {
            int i = pending[k];
            var info = new FileInfo(Path.Combine(target, "latency", $"c{i:D6}.txt"));
            if (info.Exists && info.Length == contents[i].Length)
            {
                done[i] = Stopwatch.GetElapsedTime(written[i]).TotalMilliseconds;
                pending.RemoveAt(k);
            }
        }
        if (deadline.Elapsed > TimeSpan.FromSeconds(seconds + 120))
            throw new TimeoutException($"{pending.Count} file(s) never reached the target");
        await Task.Delay(1);
    }
    await writer;
    return [.. done];
}

// Creates small files at a fixed rate and tracks how far the target lags behind.
static async Task<(double LagP50, double LagP99, double LagMax, TimeSpan ConvergedAfter, int Count)> MeasureSustainedAsync(string source, string target, int rate, int seconds)
{
    string name = $"burst{rate}";
    string dir = Directory.CreateDirectory(Path.Combine(source, name)).FullName;
    await WaitForAsync(() => Directory.Exists(Path.Combine(target, name)), TimeSpan.FromSeconds(30), "the burst folder on the target");
    int total = rate * seconds;
    var written = new long[total];
    var lags = new List<double>(total);
    int issued = 0;
    var writer = Task.Run(async () =>
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < total; i++)
        {
            var due = TimeSpan.FromSeconds((double)i / rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(2))
                await Task.Delay(wait);
            File.WriteAllText(Path.Combine(dir, $"f{i:D7}"), "x");
            written[i] = Stopwatch.GetTimestamp();
            Volatile.Write(ref issued, i + 1);
        }
    });
    // Poll the target directory listing (cheaper than a stat per pending file at these rates).
    var seen = new bool[total];
    int arrived = 0;
    var deadline = Stopwatch.StartNew();
    while (arrived < total)
    {
        foreach (string file in Directory.EnumerateFiles(Path.Combine(target, name)))
        {
            string fileName = Path.GetFileName(file);
            if (fileName.Length != 8 || fileName[0] != 'f' || !int.TryParse(fileName.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int i) || seen[i])
                continue;
            seen[i] = true;
            arrived++;
            lags.Add(Stopwatch.GetElapsedTime(written[i]).TotalMilliseconds);
        }
        if (deadline.Elapsed > TimeSpan.FromSeconds(seconds + 300))
            throw new TimeoutException($"{total - arrived} file(s) never reached the target");
        await Task.Delay(5);
    }
    await writer;
    long lastWritten = written[total - 1];
    lags.Sort();
    return (Percentile(lags, 0.50), Percentile(lags, 0.99), lags[^1], Stopwatch.GetElapsedTime(lastWritten), total);
}

static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

static Process StartDaemon(string kind, string work, string target, int port, bool noDelay)
{
    string config = Path.Combine(work, "rsyncd.conf");
    // "socket options = TCP_NODELAY" stops the daemon's Nagle delay from meeting the client's delayed ACK.
    string socketOptions = noDelay ? "socket options = TCP_NODELAY\n" : "";
    File.WriteAllText(config, $"use chroot = no\nuid = 0\ngid = 0\n{socketOptions}log file = {Path.Combine(work, "rsyncd.log")}\npid file = {Path.Combine(work, "rsyncd.pid")}\n[mod]\n    path = {target}\n    read only = no\n");
    return kind == "stock"
        ? Start("rsync", ["--daemon", "--no-detach", $"--config={config}", $"--port={port}", "--address=127.0.0.1"], out _)
        : Start(Path.Combine(AppContext.BaseDirectory, "netrsyncd"), ["--no-detach", $"--config={config}", $"--port={port}", "--address=127.0.0.1"], out _);
}

static Process Start(string file, string[] arguments, out StringBuilder output)
{
    var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
    foreach (string a in arguments)
        psi.ArgumentList.Add(a);
    var captured = new StringBuilder();
    var process = new Process { StartInfo = psi };
    process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (captured) captured.AppendLine(e.Data); };
    process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (captured) captured.AppendLine(e.Data); };
    process.Start();
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    output = captured;
    return process;
}

static async Task WaitForPortAsync(int port, Process daemon)
{
    await WaitForAsync(() =>
    {
        if (daemon.HasExited)
            throw new InvalidOperationException("the daemon exited at startup");
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }, TimeSpan.FromSeconds(30), "the daemon to listen");
}

static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string what)
{
    var clock = Stopwatch.StartNew();
    while (!condition())
    {
        if (clock.Elapsed > timeout)
            throw new TimeoutException($"timed out waiting for {what}");
        await Task.Delay(10);
    }
}

static int FreePort()
{
    var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    int port = ((IPEndPoint)listener.LocalEndpoint).Port;
    listener.Stop();
    return port;
}

internal sealed record BenchSettings(string Daemon, int Rate, int Seconds, int[] BurstRates, int SettleMs, bool NoDelay = false)
{
    public static BenchSettings Parse(string[] args)
    {
        var s = new BenchSettings("stock", 100, 10, [500, 1000, 2000], 50);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            s = args[i] switch
            {
                "--daemon" => s with { Daemon = args[i + 1] },
                "--rate" => s with { Rate = int.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--seconds" => s with { Seconds = int.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--burst-rates" => s with { BurstRates = args[i + 1].Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray() },
                "--settle" => s with { SettleMs = int.Parse(args[i + 1], CultureInfo.InvariantCulture) },
                "--nodelay" => s with { NoDelay = args[i + 1] == "yes" },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }
        return s;
    }
}
