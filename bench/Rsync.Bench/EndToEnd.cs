using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace NetRsync.Bench;

/// <summary>
/// End to end, side by side on the same data: stock rsync pushing to and pulling from netrsyncd,
/// and the same stock client against stock `rsync --daemon`. Prints wall times, the ratios, and the
/// peak resident memory of each daemon's processes during each case.
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

    public static int Run(string[] args)
    {
        int smallFiles = ArgValue(args, "--files", 2000);
        int bigMiB = ArgValue(args, "--big-mib", 128);
        int textMiB = ArgValue(args, "--text-mib", 32);
        string rsync = args.SkipWhile(a => a != "--rsync").Skip(1).FirstOrDefault() ?? "rsync";
        string netrsyncd = LocateNetrsyncd();
        string netrsync = LocateBuilt("Rsync.Cli", "netrsync");
        bool modernClient = ClientKnowsChoices(rsync);
        string root = Directory.CreateTempSubdirectory("nr-e2e-").FullName;
        try
        {
            string src = Path.Combine(root, "src");
            MakeData(src, smallFiles, bigMiB);
            string text = Path.Combine(root, "text");
            MakeText(text, textMiB);
            Console.WriteLine($"data: {smallFiles:N0} files of 1-8 KiB and one {bigMiB} MiB file; {textMiB} MiB of log text; client: {rsync}");

            using var stock = StartDaemon("stock rsync --daemon", rsync, ["--daemon", "--no-detach"], root, "stock");
            using var ours = StartDaemon("netrsyncd", netrsyncd, ["--no-detach"], root, "ours");

            // The daemons side by side, the same stock client against each.
            var daemonRows = new List<(string Case, Measurement Stock, Measurement Ours)>();
            foreach (var (name, prepare, argsFor) in Cases(src, text, root, modernClient))
            {
                prepare();
                Measurement s = Time(rsync, argsFor(stock), stock.Process.Id);
                Measurement o = Time(rsync, argsFor(ours), ours.Process.Id);
                daemonRows.Add((name, s, o));
            }
            Print("stock client against each daemon", "stock daemon", "netrsyncd", daemonRows);

            // The clients side by side, each against the stock daemon; the peak is the client's own.
            using var target = StartDaemon("stock rsync --daemon (clients)", rsync, ["--daemon", "--no-detach"], root, "clients");
            var clientRows = new List<(string Case, Measurement Stock, Measurement Ours)>();
            foreach (var (name, prepare, argsFor) in Cases(src, text, root, modernClient))
            {
                prepare();
                string[] stockArgs = argsFor(target with { Module = target.Module + "/stock" });
                string[] ourArgs = argsFor(target with { Module = target.Module + "/ours" });
                Measurement s = Time(rsync, stockArgs, watchPid: null);
                Measurement o = Time(netrsync, ourArgs, watchPid: null);
                clientRows.Add((name, s, o));
            }
            Print("each client against the stock daemon", "stock client", "netrsync", clientRows);
            Console.WriteLine("peak = the largest VmHWM (peak resident set, /proc/PID/status) of the daemon's processes, or of the client, while the case ran;");
            Console.WriteLine("       rsync serves each connection in a forked child, netrsyncd in its own process, where the mark only grows");
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void Print(string title, string stockName, string ourName, List<(string Case, Measurement Stock, Measurement Ours)> rows)
    {
        Console.WriteLine();
        Console.WriteLine(title);
        Console.WriteLine($"{"case",-40} {stockName,14} {ourName,12} {"ratio",8} {"stock peak",12} {"ours peak",11}");
        foreach (var (name, s, o) in rows)
            Console.WriteLine($"{name,-40} {s.Seconds,12:F3} s {o.Seconds,10:F3} s {o.Seconds / s.Seconds,8:F2} {s.PeakKiB / 1024.0,8:F1} MiB {o.PeakKiB / 1024.0,7:F1} MiB");
        Console.WriteLine($"ratio = {ourName} time / {stockName} time (below 1 is faster)");
    }

    private static IEnumerable<(string, Action, Func<Daemon, string[]>)> Cases(string src, string text, string root, bool modernClient)
    {
        string Url(Daemon d) => $"rsync://127.0.0.1:{d.Port}/{d.Module}/";
        string Fresh(Daemon d) => Path.Combine(root, "pull-" + d.Module.Replace('/', '-') + "-" + Guid.NewGuid().ToString("N")) + "/";
        yield return ("push, fresh (-a)", () => { }, d => ["-a", src + "/", Url(d)]);
        yield return ("push, nothing changed (-a)", () => { }, d => ["-a", src + "/", Url(d)]);
        yield return ("push, 1 byte changed in big file", () => Touch(Path.Combine(src, "big.bin")), d => ["-a", "--no-W", src + "/", Url(d)]);
        yield return ("pull, fresh (-a)", () => { }, d => ["-a", Url(d), Fresh(d)]);
        yield return ("push, fresh, protocol 30", () => { }, d => ["-a", "--protocol=30", src + "/", Url(d) + "p30/"]);
        yield return ("push text, fresh, -z", () => { }, d => ["-az", text + "/", Url(d) + "z/"]);
        yield return ("push text, 1 byte changed, -z", () => Touch(Path.Combine(text, "app.log")), d => ["-az", "--no-W", text + "/", Url(d) + "z/"]);
        yield return ("pull text, fresh, -z", () => { }, d => ["-az", Url(d) + "z/", Fresh(d)]);
        yield return ("push text, fresh, -z --protocol=30", () => { }, d => ["-az", "--protocol=30", text + "/", Url(d) + "z30/"]);
        if (modernClient)
        {
            yield return ("push text, fresh, --zc=zlib", () => { }, d => ["-a", "--zc=zlib", text + "/", Url(d) + "zlib/"]);
            yield return ("push text, fresh, --zc=lz4", () => { }, d => ["-a", "--zc=lz4", text + "/", Url(d) + "lz4/"]);
        }
    }

    private static void Touch(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = fs.Length / 2;
        int b = fs.ReadByte();
        fs.Position = fs.Length / 2;
        fs.WriteByte((byte)(b ^ 0xFF));
    }

    internal readonly record struct Measurement(double Seconds, long PeakKiB)
    {
        /// <summary>Seconds from the start until the first file arrived, when that was watched.</summary>
        public double FirstFileSeconds { get; init; } = double.NaN;
    }

    /// <summary>Runs the client to the end, sampling the daemon's process tree for its peak memory meanwhile.</summary>
    /// <summary>Runs the client; <paramref name="watchPid"/> is the daemon whose peak memory counts, or null for the client's own.</summary>
    internal static Measurement Time(string exe, string[] args, int? watchPid, string? firstFile = null)
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
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(start)!;
        int watched = watchPid ?? p.Id;
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                foreach (int pid in ProcessTree(watched))
                    peak = Math.Max(peak, PeakResidentKiB(pid));
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
        return new Measurement(clock.Elapsed.TotalSeconds, peak) { FirstFileSeconds = firstSeen };
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

    internal static Daemon StartDaemon(string name, string exe, string[] baseArgs, string root, string module)
    {
        string dir = Path.Combine(root, module);
        Directory.CreateDirectory(dir);
        string conf = Path.Combine(root, module + ".conf");
        File.WriteAllText(conf, $"use chroot = no\nmunge symlinks = no\nuid = 0\ngid = 0\nread only = no\nlock file = {root}/{module}.lock\n[{module}]\npath = {dir}\n");
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

    private static void MakeData(string src, int smallFiles, int bigMiB)
    {
        var rng = new Random(42);
        var buffer = new byte[8192];
        for (int i = 0; i < smallFiles; i++)
        {
            string dir = Path.Combine(src, $"d{i / 100:000}");
            Directory.CreateDirectory(dir);
            rng.NextBytes(buffer);
            File.WriteAllBytes(Path.Combine(dir, $"f{i:00000}.dat"), buffer.AsSpan(0, 1024 + rng.Next(7 * 1024)).ToArray());
        }
        using var big = new FileStream(Path.Combine(src, "big.bin"), FileMode.Create);
        var chunk = new byte[1 << 20];
        for (int i = 0; i < bigMiB; i++)
        {
            rng.NextBytes(chunk);
            big.Write(chunk);
        }
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

    /// <summary>rsync 3.2+ takes --compress-choice; 3.1.x does not.</summary>
    private static bool ClientKnowsChoices(string rsync)
    {
        var start = new ProcessStartInfo(rsync, "--version") { RedirectStandardOutput = true };
        using var p = Process.Start(start)!;
        string first = p.StandardOutput.ReadLine() ?? "";
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var m = System.Text.RegularExpressions.Regex.Match(first, @"version\s+(\d+)\.(\d+)");
        return m.Success && (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 100 + int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)) >= 302;
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

    internal static int ArgValue(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
