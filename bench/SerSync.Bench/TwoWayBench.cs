using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

/// <summary>
/// Two nodes on loopback pushing to each other (each netrsyncd + netsersync on its own tree, node
/// links in their own run directories): files written at a steady rate on both sides at once, and
/// for each the time from its close until it is complete on the other node. Then the same with
/// only one side writing (both nodes running), for comparison. Also counts what each watcher pushed
/// against what was written on its side: more paths than files written means arrivals were pushed back.
///   sersync-bench two-way [--rate 100] [--seconds 30] [--settle 100] [--one-way yes|no] [--keep yes|no]
/// </summary>
internal static partial class TwoWayBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        int rate = 100, seconds = 30, settle = 100;
        bool oneWay = true;
        bool keep = false;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--rate": rate = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--settle": settle = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--one-way": oneWay = args[i + 1] == "yes"; break;
                case "--keep": keep = args[i + 1] == "yes"; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        Console.WriteLine($"two nodes on loopback (netrsyncd + netsersync each), settle window {settle} ms, {Environment.ProcessorCount} cores; " +
            $"{rate} files/s per writing side for {seconds} s");
        var rows = new List<(string Mode, string Direction, Result Result)>();
        var pushes = new List<string>();

        await using (var pair = await NodePair.StartAsync(settle, keep))
        {
            var (ab, ba) = await pair.MeasureAsync(rate, seconds, bothSides: true);
            rows.Add(("two-way", "A -> B", ab));
            rows.Add(("two-way", "B -> A", ba!));
            pushes.Add($"two-way: {await pair.PushSummaryAsync()}");
        }
        if (oneWay)
        {
            await using var pair = await NodePair.StartAsync(settle, keep);
            var (ab, _) = await pair.MeasureAsync(rate, seconds, bothSides: false);
            rows.Add(("one-way", "A -> B", ab));
            pushes.Add($"one-way: {await pair.PushSummaryAsync()}");
        }

        Console.WriteLine();
        Console.WriteLine("| mode | direction | files | p50 | p99 | max |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (mode, direction, r) in rows)
            Console.WriteLine($"| {mode} | {direction} | {r.Count} | {r.P50:F0} ms | {r.P99:F0} ms | {r.Max:F0} ms |");
        Console.WriteLine();
        foreach (string line in pushes)
            Console.WriteLine(line);
        return 0;
    }

    internal sealed record Result(int Count, double P50, double P99, double Max);

    private sealed class NodePair : IAsyncDisposable
    {
        private readonly string _work;
        private readonly Node _a;
        private readonly Node _b;
        private readonly bool _keep;

        private NodePair(string work, Node a, Node b, bool keep)
        {
            _work = work;
            _a = a;
            _b = b;
            _keep = keep;
        }

        public static async Task<NodePair> StartAsync(int settle, bool keep)
        {
            string work = Directory.CreateTempSubdirectory("two-way-bench-").FullName;
            var a = Node.Create(work, "A");
            var b = Node.Create(work, "B");
            a.StartDaemon();
            b.StartDaemon();
            await a.WaitForDaemonAsync();
            await b.WaitForDaemonAsync();
            await a.StartWatcherAsync(b.Port, settle);
            await b.StartWatcherAsync(a.Port, settle);
            return new NodePair(work, a, b, keep);
        }

        public async Task<(Result AB, Result? BA)> MeasureAsync(int rate, int seconds, bool bothSides)
        {
            string round = $"r{Environment.TickCount64}";
            var ab = Measure(_a, _b, $"{round}-from-a", rate, seconds);
            var ba = bothSides ? Measure(_b, _a, $"{round}-from-b", rate, seconds) : null;
            return (await ab, ba is null ? null : await ba);
        }

        public async Task<string> PushSummaryAsync()
        {
            var (a, aBack) = await _a.PushedPathsAsync(_b.Name);
            var (b, bBack) = await _b.PushedPathsAsync(_a.Name);
            return $"A pushed {a} path(s) for {_a.FilesWritten} file(s) and folder(s) written there, {aBack} of them B's; " +
                $"B pushed {b} path(s) for {_b.FilesWritten}, {bBack} of them A's ({_a.Echoes()}; {_b.Echoes()})";
        }

        public async ValueTask DisposeAsync()
        {
            await _a.StopAsync();
            await _b.StopAsync();
            if (_keep)
            {
                _a.SaveWatcherLog();
                _b.SaveWatcherLog();
                Console.WriteLine($"kept: {_work}");
            }
            else
                Directory.Delete(_work, recursive: true);
        }

        /// <summary>Writes one file every 1/rate s into a fresh folder on <paramref name="from"/> and times
        /// how long until each is complete on <paramref name="to"/>.</summary>
        private static async Task<Result> Measure(Node from, Node to, string folder, int rate, int seconds)
        {
            string dir = Directory.CreateDirectory(Path.Combine(from.Tree, folder)).FullName;
            from.FilesWritten++;
            await WaitForAsync(() => Directory.Exists(Path.Combine(to.Tree, folder)), TimeSpan.FromSeconds(30), $"{folder} on node {to.Name}");
            int total = rate * seconds;
            var written = new long[total];
            var latency = new double[total];
            var sizes = new int[total];
            int issued = 0;
            var writer = Task.Run(async () =>
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < total; i++)
                {
                    var wait = TimeSpan.FromSeconds((double)i / rate) - clock.Elapsed;
                    if (wait > TimeSpan.FromMilliseconds(1))
                        await Task.Delay(wait);
                    byte[] content = Encoding.ASCII.GetBytes($"node {from.Name} change {i} {Guid.NewGuid()}\n");
                    sizes[i] = content.Length;
                    File.WriteAllBytes(Path.Combine(dir, $"c{i:D6}.txt"), content);
                    written[i] = Stopwatch.GetTimestamp();
                    Volatile.Write(ref issued, i + 1);
                }
            });
            int next = 0;
            var pending = new List<int>();
            var deadline = Stopwatch.StartNew();
            string target = Path.Combine(to.Tree, folder);
            while (next < total || pending.Count > 0)
            {
                int upTo = Volatile.Read(ref issued);
                while (next < upTo)
                    pending.Add(next++);
                for (int k = pending.Count - 1; k >= 0; k--)
                {
                    int i = pending[k];
                    var info = new FileInfo(Path.Combine(target, $"c{i:D6}.txt"));
                    if (info.Exists && info.Length == sizes[i])
                    {
                        latency[i] = Stopwatch.GetElapsedTime(written[i]).TotalMilliseconds;
                        pending.RemoveAt(k);
                    }
                }
                if (deadline.Elapsed > TimeSpan.FromSeconds(seconds + 120))
                    throw new TimeoutException($"{pending.Count} file(s) from node {from.Name} never reached node {to.Name}");
                await Task.Delay(1);
            }
            await writer;
            from.FilesWritten += total;
            Array.Sort(latency);
            return new Result(total, Percentile(latency, 0.50), Percentile(latency, 0.99), latency[^1]);
        }
    }

    private sealed class Node(string name, string directory, int port)
    {
        private Process? _daemon;
        private Process? _watcher;
        private readonly StringBuilder _watcherLog = new();

        public string Name => name;

        public int Port => port;

        public string Tree => Path.Combine(directory, "tree");

        public int FilesWritten { get; set; }

        private string RunDirectory => Path.Combine(directory, "run");

        public static Node Create(string work, string name)
        {
            string directory = Directory.CreateDirectory(Path.Combine(work, name)).FullName;
            Directory.CreateDirectory(Path.Combine(directory, "tree"));
            return new Node(name, directory, FreePort());
        }

        public void StartDaemon()
        {
            string config = Path.Combine(directory, "rsyncd.conf");
            File.WriteAllText(config, $"use chroot = no\nuid = 0\ngid = 0\nlog file = {Path.Combine(directory, "rsyncd.log")}\n" +
                $"[rsync]\n    path = {Tree}\n    read only = no\n");
            _daemon = Start(Path.Combine(AppContext.BaseDirectory, "netrsyncd"),
                ["--no-detach", $"--config={config}", $"--port={port}", "--address=127.0.0.1"], RunDirectory, new StringBuilder());
        }

        public async Task WaitForDaemonAsync() => await WaitForAsync(() =>
        {
            if (_daemon!.HasExited)
                throw new InvalidOperationException($"node {name}: netrsyncd exited at startup");
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
        }, TimeSpan.FromSeconds(30), $"node {name}'s netrsyncd to listen");

        public async Task StartWatcherAsync(int peerPort, int settle)
        {
            string config = Path.Combine(directory, "confxml.xml");
            File.WriteAllText(config, $"""
                <head version="2.5">
                    <settle ms="{settle}"/>
                    <inotify><delete start="true"/><createFile start="false"/></inotify>
                    <sersync>
                        <localpath watch="{Tree}"><remote ip="127.0.0.1:{peerPort}" name="rsync"/></localpath>
                        <rsync><commonParams params="-artu"/></rsync>
                        <failLog path="{Path.Combine(directory, "fail.jsonl")}" timeToExecute="1"/>
                    </sersync>
                </head>
                """);
            _watcher = Start(Path.Combine(AppContext.BaseDirectory, "netsersync"), ["--no-detach", "-o", config], RunDirectory, _watcherLog);
            await WaitForAsync(() => Log.Contains("netsersync ready", StringComparison.Ordinal), TimeSpan.FromSeconds(30), $"node {name}'s netsersync to be ready");
        }

        private string Log
        {
            get
            {
                lock (_watcherLog)
                    return _watcherLog.ToString();
            }
        }

        /// <summary>The paths the watcher's pushes carried, from its push journal (the failLog file, a line
        /// with the paths before each push), and how many of them lie in a folder the other node wrote:
        /// arrivals pushed back.</summary>
        public async Task<(int Paths, int Back)> PushedPathsAsync(string otherNode)
        {
            // A status line, asked for with SIGUSR1, comes once the watcher has handled what came before.
            int before = StatusLines().Count;
            _ = Kill(_watcher!.Id, 10);
            await WaitForAsync(() => StatusLines().Count > before, TimeSpan.FromSeconds(10), $"node {name}'s status line");
            string foreign = $"-from-{otherNode.ToLowerInvariant()}";
            int paths = 0, back = 0;
            foreach (string line in File.ReadLines(Path.Combine(directory, "fail.jsonl")))
            {
                using var record = JsonDocument.Parse(line);
                if (record.RootElement.GetProperty("op").GetString() != "add")
                    continue;
                foreach (string property in new[] { "paths", "rawPaths" })
                {
                    if (!record.RootElement.TryGetProperty(property, out var set))
                        continue;
                    foreach (var path in set.EnumerateObject())
                    {
                        paths++;
                        if (path.Name.Split('/')[0].EndsWith(foreign, StringComparison.Ordinal))
                            back++;
                    }
                }
            }
            return (paths, back);
        }

        public void SaveWatcherLog() => File.WriteAllText(Path.Combine(directory, "netsersync.log"), Log);

        public string Echoes()
        {
            string status = StatusLines().LastOrDefault() ?? "";
            int at = status.IndexOf(" echoes=", StringComparison.Ordinal);
            return at < 0 ? $"{name}: no echo counter" : $"{name}: {status[(at + 1)..].Split(' ')[0]} events dropped as echoes";
        }

        private List<string> StatusLines() => [.. Log.Split('\n').Where(l => l.Contains(" status: ", StringComparison.Ordinal))];

        public async Task StopAsync()
        {
            foreach (var process in new[] { _watcher, _daemon })
            {
                if (process is null || process.HasExited)
                    continue;
                _ = Kill(process.Id, 15);
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                try
                {
                    await process.WaitForExitAsync(deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    process.Kill();
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    private static Process Start(string file, string[] arguments, string runDirectory, StringBuilder output)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments)
            psi.ArgumentList.Add(a);
        // Two nodes on one machine: each daemon and its watcher share a node link of their own.
        psi.Environment["NETRSYNC_RUN_DIR"] = runDirectory;
        var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
