using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace NetRsync.Bench;

/// <summary>
/// End to end, side by side on the same data, each case pushed and pulled: the stock client against
/// netrsyncd beside a stock `rsync --daemon`, and netrsync beside the stock client against that stock
/// daemon. Runs alternate between the two sides; each row is the median of its runs, with the ratio
/// and the peak resident memory of the daemon's processes or of the client.
/// </summary>
internal static partial class EndToEnd
{
    internal sealed record Daemon(string Name, Process Process, int Port, string Module) : IDisposable
    {
        public void Dispose()
        {
            try
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
            Process.Dispose();
        }
    }

    /// <summary>One dataset moved one way; <see cref="Basis"/> is hard-linked into the destination before each run.</summary>
    private sealed record Case(string Name, string Data, string[] Options, bool Fresh, string? Basis = null);

    public static int Run(string[] args)
    {
        int smallFiles = ArgValue(args, "--files", 10_000);
        int emptyFiles = ArgValue(args, "--empty", 200_000);
        int bigMiB = ArgValue(args, "--big-mib", 512);
        int textMiB = ArgValue(args, "--text-mib", 256);
        int runs = Math.Max(1, ArgValue(args, "--runs", 3));
        string rsync = ArgText(args, "--rsync") ?? "rsync";
        string netrsyncd = ArgText(args, "--netrsyncd") ?? LocateNetrsyncd();
        string netrsync = ArgText(args, "--netrsync") ?? LocateBuilt("Rsync.Cli", "netrsync");
        string[] protocol = ArgText(args, "--protocol") is { } p ? [$"--protocol={p}"] : [];
        string? only = ArgText(args, "--case");
        string root = Directory.CreateTempSubdirectory("nr-e2e-").FullName;
        try
        {
            if (!args.Contains("--no-touch"))
                TouchFreeMemory();
            string data = Path.Combine(root, "data");
            var made = Stopwatch.StartNew();
            MakeBig(Path.Combine(data, "big", "big.bin"), bigMiB, Path.Combine(data, "edited", "big.bin"), edits: 64);
            MakeSmall(Path.Combine(data, "small"), smallFiles);
            ManyFiles.MakeTree(Path.Combine(data, "empty"), emptyFiles, Math.Max(1, emptyFiles / 100));
            MakeText(Path.Combine(data, "text"), textMiB);
            Console.WriteLine($"data (made in {made.Elapsed.TotalSeconds:F0} s): a {bigMiB} MiB file and a copy with 64 scattered 4 KiB edits; {smallFiles:N0} files of 1-8 KiB; {emptyFiles:N0} empty files; {textMiB} MiB of log text");
            Console.WriteLine($"stock: {rsync} {string.Join(' ', protocol)}; ours: {netrsync}, {netrsyncd}; median of {runs} alternated runs");

            var cases = new List<Case>
            {
                new($"{bigMiB} MiB new file", "big", [], Fresh: true),
                new($"{bigMiB} MiB, 64 edits of 4 KiB", "edited", [], Fresh: true, Basis: Path.Combine(data, "big", "big.bin")),
                new($"{smallFiles:N0} files of 1-8 KiB", "small", [], Fresh: true),
                new($"{smallFiles:N0} files, unchanged", "small", [], Fresh: false),
                new($"{emptyFiles:N0} empty files, unchanged", "empty", [], Fresh: false),
                new($"{textMiB} MiB of text, -z", "text", ["-z"], Fresh: true),
            };
            cases.RemoveAll(c => only is not null && !c.Name.Contains(only, StringComparison.OrdinalIgnoreCase));

            using var stock = StartDaemon("stock rsync --daemon", rsync, ["--daemon", "--no-detach"], root, "stock", DataModule(data));
            using var ours = StartDaemon("netrsyncd", netrsyncd, ["--no-detach"], root, "ours", DataModule(data));

            // The daemons side by side: the same stock client against each; the peak is the daemon's.
            var daemonRows = new List<(string, Measurement, Measurement)>();
            foreach (var c in cases)
            {
                foreach (bool push in new[] { true, false })
                {
                    var side = (Daemon d) => new Side(rsync, d, d.Module, d.Process.Id, PeerIsClient: true);
                    daemonRows.Add(Alternate(c, push, runs, root, protocol, side(stock), side(ours)));
                }
            }
            Print("stock client against each daemon (peak: the daemon's processes)", "stock daemon", "netrsyncd", daemonRows);

            // The clients side by side against one stock daemon; the peak is the client's.
            var clientRows = new List<(string, Measurement, Measurement)>();
            foreach (var c in cases)
            {
                foreach (bool push in new[] { true, false })
                    clientRows.Add(Alternate(c, push, runs, root, protocol, new Side(rsync, stock, "stock-client", null, PeerIsClient: false), new Side(netrsync, stock, "netrsync", null, PeerIsClient: false)));
            }
            Print("each client against the stock daemon (peak: the client)", "stock client", "netrsync", clientRows);

            if (cases.Any(c => c.Data == "big" && c.Fresh))
            {
                string big = Path.Combine(data, "big", "big.bin");
                string copied = Path.Combine(root, "cp", "big.bin");
                var cp = Median(runs, () =>
                {
                    Reset(Path.GetDirectoryName(copied)!, fresh: true, basis: null);
                    return Time("cp", [big, copied], watchPid: null);
                });
                Console.WriteLine();
                Console.WriteLine($"cp of the {bigMiB} MiB file to the same disk: {cp.Seconds:F3} s; a new-file push takes");
                foreach (var (title, rows, ourName) in new[] { ("netrsyncd receiving", daemonRows, "netrsyncd"), ("netrsync sending", clientRows, "netrsync") })
                {
                    var row = rows.First(r => r.Item1.StartsWith(cases[0].Name + ", push", StringComparison.Ordinal));
                    Console.WriteLine($"  {title}: {row.Item3.Seconds / cp.Seconds:F2}x cp's time (stock: {row.Item2.Seconds / cp.Seconds:F2}x)");
                }
            }
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// Writes to every free page once. A virtual machine may back its memory only when a page is
    /// first touched, and then a run that happens to get fresh pages for its page cache takes two
    /// or three times as long as the same run on pages used before; touched once, they all cost the same.
    /// </summary>
    internal static unsafe void TouchFreeMemory()
    {
        long availableKiB = File.ReadLines("/proc/meminfo")
            .Where(line => line.StartsWith("MemAvailable:", StringComparison.Ordinal))
            .Select(line => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture))
            .FirstOrDefault();
        const long chunk = 256L << 20;
        long chunks = Math.Max(0, (availableKiB * 1024 - (1L << 30)) / chunk);
        var clock = Stopwatch.StartNew();
        var held = new List<nint>();
        try
        {
            for (long c = 0; c < chunks; c++)
            {
                byte* p = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)chunk);
                held.Add((nint)p);
                for (long at = 0; at < chunk; at += 4096)
                    p[at] = 1;
            }
        }
        finally
        {
            foreach (nint p in held)
                System.Runtime.InteropServices.NativeMemory.Free((void*)p);
        }
        Console.WriteLine($"touched {chunks * chunk >> 30} GiB of free memory in {clock.Elapsed.TotalSeconds:F0} s (--no-touch skips this)");
    }

    /// <summary>
    /// Who runs a case: the client program, the daemon it talks to, the folder its pushes and pulls
    /// land in, whose memory counts, and whether the stock program both sides share is the client
    /// (daemons compared) or the daemon (clients compared).
    /// </summary>
    private sealed record Side(string Client, Daemon Daemon, string Tag, int? WatchPid, bool PeerIsClient);

    private static string DataModule(string data) => $"[data]\npath = {data}\nread only = yes\n";

    /// <summary>Runs a case for both sides in turn, once to warm up and then <paramref name="runs"/> times, and keeps each side's median run.</summary>
    private static (string, Measurement, Measurement) Alternate(Case c, bool push, int runs, string root, string[] protocol, Side stock, Side ours)
    {
        var times = (Stock: new List<Measurement>(), Ours: new List<Measurement>());
        // A run of each side first, not counted: the first writes of a case land on blocks the
        // disk has not handed out yet, and on this machine that alone can triple a run's time.
        Once(c, push, root, protocol, stock);
        Once(c, push, root, protocol, ours);
        for (int run = 0; run < runs; run++)
        {
            times.Stock.Add(Once(c, push, root, protocol, stock));
            times.Ours.Add(Once(c, push, root, protocol, ours));
        }
        string name = $"{c.Name}, {(push ? "push" : "pull")}";
        // Every run as it ends, so a slow or noisy one shows before the table does.
        Console.Error.WriteLine($"  {name} ({ours.Tag}): stock {string.Join(' ', times.Stock.Select(m => m.Seconds.ToString("F3", CultureInfo.InvariantCulture)))}; ours {string.Join(' ', times.Ours.Select(m => m.Seconds.ToString("F3", CultureInfo.InvariantCulture)))}");
        return (name, MedianOf(times.Stock), MedianOf(times.Ours));
    }

    private static Measurement Once(Case c, bool push, string root, string[] protocol, Side side)
    {
        string source = Path.Combine(root, "data", c.Data);
        string landing = push
            ? Path.Combine(root, side.Daemon.Module, side.Tag, c.Data)
            : Path.Combine(root, "pulled", side.Tag, c.Data);
        if (!c.Fresh && !Directory.Exists(landing))
            Prime(source, landing);
        Reset(landing, c.Fresh, c.Basis);
        string url = $"rsync://127.0.0.1:{side.Daemon.Port}/";
        string[] args = push
            ? ["-a", .. c.Options, .. protocol, source + "/", $"{url}{side.Daemon.Module}/{side.Tag}/{c.Data}/"]
            : ["-a", .. c.Options, .. protocol, $"{url}data/{c.Data}/", landing + "/"];
        return Time(side.Client, args, side.WatchPid, peerDaemon: side.PeerIsClient ? null : side.Daemon.Process.Id);
    }

    /// <summary>An up-to-date copy for the unchanged cases, made once and not timed.</summary>
    private static void Prime(string source, string landing)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(landing)!);
        Time("cp", ["-a", source, landing], watchPid: null);
    }

    /// <summary>Empties a fresh case's destination and links the basis in; then writes back what is dirty so no run pays for the one before.</summary>
    private static void Reset(string landing, bool fresh, string? basis)
    {
        if (fresh && Directory.Exists(landing))
            Directory.Delete(landing, recursive: true);
        Directory.CreateDirectory(landing);
        if (basis is not null)
            Time("ln", [basis, Path.Combine(landing, Path.GetFileName(basis))], watchPid: null);
        Time("sync", [], watchPid: null);
    }

    private static Measurement Median(int runs, Func<Measurement> once) => MedianOf(Enumerable.Range(0, runs).Select(_ => once()).ToList());

    private static Measurement MedianOf(List<Measurement> runs)
    {
        var byTime = runs.OrderBy(m => m.Seconds).ToList();
        return byTime[byTime.Count / 2] with { PeakKiB = runs.Max(m => m.PeakKiB) };
    }

    private static void Print(string title, string stockName, string ourName, List<(string Case, Measurement Stock, Measurement Ours)> rows)
    {
        Console.WriteLine();
        Console.WriteLine(title);
        Console.WriteLine($"{"case",-40} {stockName,14} {ourName,12} {"ratio",8} {"floor",6} {"stock peak",12} {"ours peak",11}");
        foreach (var (name, s, o) in rows)
            Console.WriteLine($"{name,-40} {s.Seconds,12:F3} s {o.Seconds,10:F3} s {o.Seconds / s.Seconds,8:F2} {o.PeerCpuSeconds / s.Seconds,6:F2} {s.PeakKiB / 1024.0,8:F1} MiB {o.PeakKiB / 1024.0,7:F1} MiB");
        Console.WriteLine($"ratio = {ourName} time / {stockName} time (below 1 is faster); times are medians, peaks the largest of the runs");
        Console.WriteLine($"floor = CPU time of the stock program on the other end during {ourName}'s median run / {stockName} time: the ratio no speed of ours can go below");
    }

    private static void MakeBig(string path, int mib, string editedPath, int edits)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Directory.CreateDirectory(Path.GetDirectoryName(editedPath)!);
        var rng = new Random(42);
        var chunk = new byte[1 << 20];
        using (var big = new FileStream(path, FileMode.Create))
        {
            for (int i = 0; i < mib; i++)
            {
                rng.NextBytes(chunk);
                big.Write(chunk);
            }
        }
        File.Copy(path, editedPath, overwrite: true);
        long length = (long)mib << 20;
        var edit = new byte[4096];
        using (var edited = new FileStream(editedPath, FileMode.Open, FileAccess.Write))
        {
            for (int i = 0; i < edits; i++)
            {
                // Spread evenly with some jitter, each edit inside its own stretch of the file.
                long stretch = length / edits;
                edited.Position = i * stretch + rng.NextInt64(Math.Max(1, stretch - edit.Length));
                rng.NextBytes(edit);
                edited.Write(edit);
            }
        }
        File.SetLastWriteTimeUtc(editedPath, File.GetLastWriteTimeUtc(path).AddMinutes(1));
    }

    private static void MakeSmall(string dir, int files)
    {
        var rng = new Random(42);
        var buffer = new byte[8192];
        for (int i = 0; i < files; i++)
        {
            string folder = Path.Combine(dir, $"d{i / 100:000}");
            Directory.CreateDirectory(folder);
            rng.NextBytes(buffer);
            File.WriteAllBytes(Path.Combine(folder, $"f{i:00000}.dat"), buffer.AsSpan(0, 1024 + rng.Next(7 * 1024)).ToArray());
        }
    }

    internal readonly record struct Measurement(double Seconds, long PeakKiB)
    {
        /// <summary>CPU seconds of the other end's processes, when they were watched.</summary>
        public double PeerCpuSeconds { get; init; } = double.NaN;

        /// <summary>Seconds from the start until the first file arrived, when that was watched.</summary>
        public double FirstFileSeconds { get; init; } = double.NaN;
    }

    /// <summary>
    /// Runs the client; <paramref name="watchPid"/> is the daemon whose peak memory counts, or null
    /// for the client's own. The CPU time of the other end is measured too: of
    /// <paramref name="peerDaemon"/>'s processes when given, else of the client's.
    /// </summary>
    internal static Measurement Time(string exe, string[] args, int? watchPid, string? firstFile = null, int? peerDaemon = null)
    {
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
            start.ArgumentList.Add(a);
        long peak = 0;
        double firstSeen = double.NaN;
        using var done = new CancellationTokenSource();
        // A daemon serves every case: its peak so far is reset, so each case counts only its own.
        if (watchPid is { } daemon)
        {
            foreach (int pid in ProcessTree(daemon))
                ResetPeak(pid);
        }
        var cpuBefore = new Dictionary<int, long>();
        var cpuLast = new Dictionary<int, long>();
        if (peerDaemon is { } peerRoot)
        {
            foreach (int pid in ProcessTree(peerRoot))
                cpuBefore[pid] = CpuNanoseconds(pid);
        }
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(start)!;
        int watched = watchPid ?? p.Id;
        int peer = peerDaemon ?? p.Id;
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                foreach (int pid in ProcessTree(watched))
                    peak = Math.Max(peak, PeakResidentKiB(pid));
                foreach (int pid in ProcessTree(peer))
                {
                    long ns = CpuNanoseconds(pid);
                    if (ns > 0)
                        cpuLast[pid] = ns;
                }
                if (firstFile is not null && double.IsNaN(firstSeen) && File.Exists(firstFile))
                    firstSeen = clock.Elapsed.TotalSeconds;
                await Task.Delay(5, CancellationToken.None);
            }
        });
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        clock.Stop();
        done.Cancel();
        sampler.Wait();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited {p.ExitCode}: {err}");
        long peerNs = cpuLast.Sum(kv => kv.Value - cpuBefore.GetValueOrDefault(kv.Key));
        return new Measurement(clock.Elapsed.TotalSeconds, peak) { FirstFileSeconds = firstSeen, PeerCpuSeconds = peerNs / 1e9 };
    }

    /// <summary>
    /// Time the process's main thread has run, in nanoseconds, or 0 once it is gone (proc(5),
    /// /proc/PID/schedstat). Stock rsync runs one thread per process, so that is all of it; up to
    /// one sampling interval at the end of a process is missed.
    /// </summary>
    private static long CpuNanoseconds(int pid)
    {
        try
        {
            string text = File.ReadAllText($"/proc/{pid}/schedstat");
            return long.Parse(text.AsSpan(0, text.IndexOf(' ')), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
        {
            return 0;
        }
    }

    /// <summary>A process and its descendants (from /proc/PID/task/PID/children).</summary>
    internal static List<int> ProcessTree(int root)
    {
        var all = new List<int>();
        var pending = new Stack<int>([root]);
        while (pending.Count > 0)
        {
            int pid = pending.Pop();
            all.Add(pid);
            try
            {
                foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
                {
                    foreach (string child in File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                        pending.Push(int.Parse(child, CultureInfo.InvariantCulture));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile.
            }
        }
        return all;
    }

    /// <summary>Sets VmHWM back to the process's present resident size (proc(5), clear_refs: 5).</summary>
    private static void ResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>VmHWM from /proc/PID/status in KiB, or 0 once the process is gone.</summary>
    private static long PeakResidentKiB(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return 0;
    }

    internal static Daemon StartDaemon(string name, string exe, string[] baseArgs, string root, string module, string moreModules = "")
    {
        string dir = Path.Combine(root, module);
        Directory.CreateDirectory(dir);
        string conf = Path.Combine(root, module + ".conf");
        File.WriteAllText(conf, $"use chroot = no\nmunge symlinks = no\nuid = 0\ngid = 0\nread only = no\nlock file = {root}/{module}.lock\n[{module}]\npath = {dir}\n{moreModules}");
        int port = FreePort();
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in baseArgs)
            start.ArgumentList.Add(a);
        start.ArgumentList.Add($"--config={conf}");
        start.ArgumentList.Add($"--port={port}");
        start.ArgumentList.Add("--address=127.0.0.1");
        var process = Process.Start(start)!;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                probe.Connect("127.0.0.1", port);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                Thread.Yield();
            }
        }
        return new Daemon(name, process, port, module);
    }

    private static int FreePort()
    {
        var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    internal static string LocateNetrsyncd() => LocateBuilt("Rsync.Daemon", "netrsyncd");

    internal static string LocateBuilt(string project, string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "artifacts", "bin", project, "release", name);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException($"{name} is not built: run dotnet build -c Release first");
    }

    /// <summary>Log-like text (compresses about 5:1 with zlib), in 4 MiB files plus one app.log for deltas.</summary>
    private static void MakeText(string dir, int mib)
    {
        Directory.CreateDirectory(dir);
        var rng = new Random(7);
        string[] words = ["GET", "POST", "/api/items", "/login", "200", "404", "500", "user", "session", "cache", "miss", "hit", "ms"];
        var sb = new System.Text.StringBuilder();
        int files = Math.Max(1, mib / 4);
        for (int f = 0; f <= files; f++)
        {
            sb.Clear();
            long target = f == files ? 4L << 20 : (long)mib * (1 << 20) / files;
            for (int line = 0; sb.Length < target; line++)
            {
                sb.Append("2026-11-26T12:").Append((line / 60 % 60).ToString("00", CultureInfo.InvariantCulture)).Append(':')
                  .Append((line % 60).ToString("00", CultureInfo.InvariantCulture)).Append(" host-").Append(rng.Next(8));
                for (int w = 0; w < 6; w++)
                    sb.Append(' ').Append(words[rng.Next(words.Length)]);
                sb.Append(' ').Append(rng.Next(100_000)).Append('\n');
            }
            File.WriteAllText(Path.Combine(dir, f == files ? "app.log" : $"part{f:00}.log"), sb.ToString());
        }
    }

    internal static string? ArgText(string[] args, string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();

    internal static int ArgValue(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
