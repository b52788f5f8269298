namespace NetRsync.Bench;

/// <summary>
/// A million entries, side by side with stock rsync on the same tree: what the file list costs
/// in memory and in time, and how soon the first file arrives (incremental recursion lets it
/// move before the whole tree is listed).
/// </summary>
internal static class ManyFiles
{
    public static int Run(string[] args)
    {
        int entries = EndToEnd.ArgValue(args, "--entries", 1_000_000);
        int folders = Math.Max(1, EndToEnd.ArgValue(args, "--folders", 10_000));
        string rsync = args.SkipWhile(a => a != "--rsync").Skip(1).FirstOrDefault() ?? "rsync";
        string netrsyncd = args.SkipWhile(a => a != "--netrsyncd").Skip(1).FirstOrDefault() ?? EndToEnd.LocateNetrsyncd();
        string netrsync = args.SkipWhile(a => a != "--netrsync").Skip(1).FirstOrDefault() ?? EndToEnd.LocateBuilt("Rsync.Cli", "netrsync");
        string root = Directory.CreateTempSubdirectory("nr-many-").FullName;
        try
        {
            string src = Path.Combine(root, "src");
            var made = System.Diagnostics.Stopwatch.StartNew();
            MakeTree(src, entries, folders);
            Console.WriteLine($"data: {entries:N0} empty files in {folders:N0} folders (made in {made.Elapsed.TotalSeconds:F0} s); client: {rsync}; ours: {netrsync}, {netrsyncd}");
            // The first file in list order, in the first folder: where the first data lands.
            string first = Path.Combine(FolderName(0), FileName(0));

            using var stock = EndToEnd.StartDaemon("stock rsync --daemon", rsync, ["--daemon", "--no-detach"], root, "stock");
            using var ours = EndToEnd.StartDaemon("netrsyncd", netrsyncd, ["--no-detach"], root, "ours");
            var daemonRows = new List<(string, EndToEnd.Measurement, EndToEnd.Measurement)>();
            foreach (var (name, argsFor, landing) in Cases(src, root))
            {
                var s = EndToEnd.Time(rsync, argsFor(stock), stock.Process.Id, landing(stock) is { } l1 ? Path.Combine(l1, first) : null);
                var o = EndToEnd.Time(rsync, argsFor(ours), ours.Process.Id, landing(ours) is { } l2 ? Path.Combine(l2, first) : null);
                daemonRows.Add((name, s, o));
            }
            Print("stock client against each daemon (peak: the daemon's processes)", "stock daemon", "netrsyncd", daemonRows);

            using var target = EndToEnd.StartDaemon("stock rsync --daemon (clients)", rsync, ["--daemon", "--no-detach"], root, "clients");
            var clientRows = new List<(string, EndToEnd.Measurement, EndToEnd.Measurement)>();
            foreach (var (name, argsFor, landing) in Cases(src, root))
            {
                var forStock = target with { Module = target.Module + "/stock" };
                var forOurs = target with { Module = target.Module + "/ours" };
                var s = EndToEnd.Time(rsync, argsFor(forStock), null, landing(forStock) is { } l1 ? Path.Combine(l1, first) : null);
                var o = EndToEnd.Time(netrsync, argsFor(forOurs), null, landing(forOurs) is { } l2 ? Path.Combine(l2, first) : null);
                clientRows.Add((name, s, o));
            }
            Print("each client against the stock daemon (peak: the client)", "stock client", "netrsync", clientRows);
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string FolderName(int i) => $"d{i:D5}";

    private static string FileName(int i) => $"f{i:D7}";

    internal static void MakeTree(string src, int entries, int folders)
    {
        int perFolder = (entries + folders - 1) / folders;
        for (int d = 0; d < folders; d++)
        {
            string dir = Path.Combine(src, FolderName(d));
            Directory.CreateDirectory(dir);
            for (int f = 0; f < perFolder && d * perFolder + f < entries; f++)
                File.Create(Path.Combine(dir, FileName(f))).Dispose();
        }
    }

    /// <summary>Each case: its arguments for a daemon, and the directory its files land in (null when the push lands nothing new).</summary>
    private static IEnumerable<(string, Func<EndToEnd.Daemon, string[]>, Func<EndToEnd.Daemon, string?>)> Cases(string src, string root)
    {
        string Url(EndToEnd.Daemon d) => $"rsync://127.0.0.1:{d.Port}/{d.Module}/";
        string Module(EndToEnd.Daemon d) => Path.Combine(root, d.Module);
        string Pulled(EndToEnd.Daemon d) => Path.Combine(root, "pull-" + d.Module.Replace('/', '-'));
        yield return ("push, fresh (-a)", d => ["-a", src + "/", Url(d)], d => Module(d));
        yield return ("push, nothing changed (-a)", d => ["-a", src + "/", Url(d)], _ => null);
        yield return ("pull, fresh (-a)", d => ["-a", Url(d), Pulled(d) + "/"], d => Pulled(d));
    }

    private static void Print(string title, string stockName, string ourName, List<(string Case, EndToEnd.Measurement Stock, EndToEnd.Measurement Ours)> rows)
    {
        Console.WriteLine();
        Console.WriteLine(title);
        Console.WriteLine($"{"case",-28} {stockName,13} {ourName,11} {"ratio",6} {"stock peak",11} {"ours peak",10} {"peak ratio",10} {"first file (stock/ours)",24}");
        foreach (var (name, s, o) in rows)
        {
            string first = double.IsNaN(s.FirstFileSeconds) && double.IsNaN(o.FirstFileSeconds) ? "-" : $"{s.FirstFileSeconds:F2} s / {o.FirstFileSeconds:F2} s";
            Console.WriteLine($"{name,-28} {s.Seconds,11:F2} s {o.Seconds,9:F2} s {o.Seconds / s.Seconds,6:F2} {s.PeakKiB / 1024.0,7:F1} MiB {o.PeakKiB / 1024.0,6:F1} MiB {(double)o.PeakKiB / Math.Max(1, s.PeakKiB),10:F2} {first,24}");
        }
        Console.WriteLine($"ratio = {ourName} / {stockName} (below 1 is faster or smaller); first file = seconds until the first file of the first folder appeared");
    }
}
