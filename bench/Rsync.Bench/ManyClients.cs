using System.Diagnostics;
using System.Globalization;

namespace NetRsync.Bench;

/// <summary>
/// One daemon, many clients at once: what each connection costs a daemon. Stock rsync forks a
/// process per client and netrsyncd serves them all in one, so memory is the proportional set
/// size (Pss) summed over the daemon's processes, which counts pages the forks share once.
/// </summary>
internal static class ManyClients
{
    public static int Run(string[] args)
    {
        int clients = Math.Max(1, EndToEnd.ArgValue(args, "--clients", 50));
        int entries = EndToEnd.ArgValue(args, "--entries", 20_000);
        int folders = Math.Max(1, EndToEnd.ArgValue(args, "--folders", 200));
        string rsync = args.SkipWhile(a => a != "--rsync").Skip(1).FirstOrDefault() ?? "rsync";
        string netrsyncd = args.SkipWhile(a => a != "--netrsyncd").Skip(1).FirstOrDefault() ?? EndToEnd.LocateNetrsyncd();
        string root = Directory.CreateTempSubdirectory("nr-clients-").FullName;
        try
        {
            string src = Path.Combine(root, "src");
            ManyFiles.MakeTree(src, entries, folders);
            Console.WriteLine($"data: {entries:N0} empty files in {folders:N0} folders; {clients} clients at once ({rsync}); ours: {netrsyncd}");

            using var stock = EndToEnd.StartDaemon("stock rsync --daemon", rsync, ["--daemon", "--no-detach"], root, "stock");
            using var ours = EndToEnd.StartDaemon("netrsyncd", netrsyncd, ["--no-detach"], root, "ours");
            foreach (var d in new[] { stock, ours })
                ManyFiles.MakeTree(Path.Combine(root, d.Module, "tree"), entries, folders);

            string Url(EndToEnd.Daemon d) => $"rsync://127.0.0.1:{d.Port}/{d.Module}/";
            var cases = new (string Name, Func<EndToEnd.Daemon, int, string[]> ArgsFor)[]
            {
                ($"{clients} pulls at once (-a)", (d, i) => ["-a", Url(d) + "tree/", Path.Combine(root, $"pull-{d.Module}-{i}") + "/"]),
                ($"{clients} pushes at once (-a)", (d, i) => ["-a", src + "/", Url(d) + $"in-{i}/"]),
            };

            Console.WriteLine();
            Console.WriteLine($"{"case",-26} {"stock",9} {"ours",9} {"ratio",6} {"stock peak",11} {"ours peak",10} {"ratio",6} {"per client (stock/ours)",24}");
            foreach (var (name, argsFor) in cases)
            {
                var s = Together(rsync, i => argsFor(stock, i), clients, stock.Process.Id);
                var o = Together(rsync, i => argsFor(ours, i), clients, ours.Process.Id);
                string perClient = $"{(s.PeakKiB - s.IdleKiB) / 1024.0 / clients:F2} / {(o.PeakKiB - o.IdleKiB) / 1024.0 / clients:F2} MiB";
                Console.WriteLine($"{name,-26} {s.Seconds,7:F2} s {o.Seconds,7:F2} s {o.Seconds / s.Seconds,6:F2} {s.PeakKiB / 1024.0,7:F1} MiB {o.PeakKiB / 1024.0,6:F1} MiB {(double)o.PeakKiB / Math.Max(1, s.PeakKiB),6:F2} {perClient,24}");
            }
            Console.WriteLine("time = until the last client finished; peak = the largest sum of Pss over the daemon's processes while the case ran;");
            Console.WriteLine("per client = (peak - the daemon's Pss before the case) / clients; ratio = ours / stock (below 1 is faster or smaller)");
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private readonly record struct Result(double Seconds, long PeakKiB, long IdleKiB);

    /// <summary>Starts every client at once and waits for all of them, sampling the daemon meanwhile.</summary>
    private static Result Together(string exe, Func<int, string[]> argsFor, int clients, int daemonPid)
    {
        long idle = PssKiB(daemonPid);
        long peak = idle;
        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                peak = Math.Max(peak, PssKiB(daemonPid));
                await Task.Delay(20, CancellationToken.None);
            }
        });
        var clock = Stopwatch.StartNew();
        var running = new List<(Process Process, Task<string> Errors)>();
        for (int i = 0; i < clients; i++)
        {
            var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in argsFor(i))
                start.ArgumentList.Add(a);
            var p = Process.Start(start)!;
            p.StandardOutput.ReadToEndAsync();
            running.Add((p, p.StandardError.ReadToEndAsync()));
        }
        foreach (var (p, _) in running)
            p.WaitForExit();
        clock.Stop();
        done.Cancel();
        sampler.Wait();
        foreach (var (p, errors) in running)
        {
            int code = p.ExitCode;
            p.Dispose();
            if (code != 0)
                throw new InvalidOperationException($"{exe} exited {code}: {errors.Result}");
        }
        return new Result(clock.Elapsed.TotalSeconds, peak, idle);
    }

    /// <summary>Pss summed over a process and its descendants, in KiB (/proc/PID/smaps_rollup).</summary>
    private static long PssKiB(int root)
    {
        long total = 0;
        foreach (int pid in EndToEnd.ProcessTree(root))
        {
            try
            {
                foreach (string line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
                {
                    if (line.StartsWith("Pss:", StringComparison.Ordinal))
                    {
                        total += long.Parse(line[4..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile.
            }
        }
        return total;
    }
}
