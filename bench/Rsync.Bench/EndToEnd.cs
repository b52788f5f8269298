using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace NetRsync.Bench;

/// <summary>
/// End to end, side by side on the same data: stock rsync pushing to and pulling from netrsyncd,
/// and the same stock client against stock `rsync --daemon`. Prints wall times, the ratios, and the
/// peak resident memory of each daemon's processes during each case.
/// </summary>
internal static class EndToEnd
{
    private sealed record Daemon(string Name, Process Process, int Port, string Module) : IDisposable
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
        string rsync = args.SkipWhile(a => a != "--rsync").Skip(1).FirstOrDefault() ?? "rsync";
        string netrsyncd = LocateNetrsyncd();
        string root = Directory.CreateTempSubdirectory("nr-e2e-").FullName;
        try
        {
            string src = Path.Combine(root, "src");
            MakeData(src, smallFiles, bigMiB);
            Console.WriteLine($"data: {smallFiles:N0} files of 1-8 KiB and one {bigMiB} MiB file; client: {rsync}");

            var rows = new List<(string Case, Measurement Stock, Measurement Ours)>();
            using var stock = StartDaemon("stock rsync --daemon", rsync, ["--daemon", "--no-detach"], root, "stock");
            using var ours = StartDaemon("netrsyncd", netrsyncd, ["--no-detach"], root, "ours");

            foreach (var (name, prepare, argsFor) in Cases(src, root, rsync))
            {
                prepare();
                Measurement s = Time(rsync, argsFor(stock), stock.Process.Id);
                Measurement o = Time(rsync, argsFor(ours), ours.Process.Id);
                rows.Add((name, s, o));
            }

            Console.WriteLine();
            Console.WriteLine($"{"case",-34} {"stock daemon",14} {"netrsyncd",12} {"ratio",8} {"stock peak",12} {"ours peak",11}");
            foreach (var (name, s, o) in rows)
                Console.WriteLine($"{name,-34} {s.Seconds,12:F3} s {o.Seconds,10:F3} s {o.Seconds / s.Seconds,8:F2} {s.PeakKiB / 1024.0,8:F1} MiB {o.PeakKiB / 1024.0,7:F1} MiB");
            Console.WriteLine("ratio = netrsyncd time / stock daemon time (below 1 is faster)");
            Console.WriteLine("peak = the largest VmHWM (peak resident set, /proc/PID/status) among the daemon's processes while the case ran;");
            Console.WriteLine("       rsync serves each connection in a forked child, netrsyncd in its own process, where the mark only grows");
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static IEnumerable<(string, Action, Func<Daemon, string[]>)> Cases(string src, string root, string rsync)
    {
        string Url(Daemon d) => $"rsync://127.0.0.1:{d.Port}/{d.Module}/";
        yield return ("push, fresh (-a)", () => { }, d => ["-a", src + "/", Url(d)]);
        yield return ("push, nothing changed (-a)", () => { }, d => ["-a", src + "/", Url(d)]);
        yield return ("push, 1 byte changed in big file", () => Touch(Path.Combine(src, "big.bin")), d => ["-a", "--no-W", src + "/", Url(d)]);
        yield return ("pull, fresh (-a)", () => { }, d => ["-a", Url(d), Path.Combine(root, "pull-" + d.Module + "-" + Guid.NewGuid().ToString("N")) + "/"]);
        yield return ("push, fresh, protocol 30", () => { }, d => ["-a", "--protocol=30", src + "/", Url(d) + "p30/"]);
    }

    private static void Touch(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = fs.Length / 2;
        int b = fs.ReadByte();
        fs.Position = fs.Length / 2;
        fs.WriteByte((byte)(b ^ 0xFF));
    }

    private readonly record struct Measurement(double Seconds, long PeakKiB);

    /// <summary>Runs the client to the end, sampling the daemon's process tree for its peak memory meanwhile.</summary>
    private static Measurement Time(string exe, string[] args, int daemonPid)
    {
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
            start.ArgumentList.Add(a);
        long peak = 0;
        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                foreach (int pid in ProcessTree(daemonPid))
                    peak = Math.Max(peak, PeakResidentKiB(pid));
                await Task.Delay(5, CancellationToken.None);
            }
        });
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(start)!;
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        clock.Stop();
        done.Cancel();
        sampler.Wait();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited {p.ExitCode}: {err}");
        return new Measurement(clock.Elapsed.TotalSeconds, peak);
    }

    /// <summary>A process and its descendants (from /proc/PID/task/PID/children).</summary>
    private static List<int> ProcessTree(int root)
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

    private static Daemon StartDaemon(string name, string exe, string[] baseArgs, string root, string module)
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

    private static string LocateNetrsyncd()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "artifacts", "bin", "Rsync.Daemon", "release", "netrsyncd");
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException("netrsyncd is not built: run dotnet build -c Release first");
    }

    private static int ArgValue(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
