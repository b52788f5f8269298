using BenchmarkDotNet.Running;

namespace NetRsync.Bench;

public static class Program
{
    private const string Usage = """
        Usage: Rsync.Bench <verb> [arguments]

        Verbs:
          micro [BenchmarkDotNet arguments]
              Runs the micro-benchmarks (rolling checksum, block matching, file-list codec).
              Without arguments, asks which to run. Examples:
                micro --filter '*'                         all of them
                micro --filter '*Rolling*' --job short     a quick run of one class
                micro --list flat                          list the benchmarks
                micro --help                               every BenchmarkDotNet option

          e2e [--big-mib M] [--files N] [--empty E] [--text-mib T] [--runs R] [--protocol P]
              [--case TEXT] [--rsync PATH] [--netrsync PATH] [--netrsyncd PATH]
              A new file of M MiB (default 512) and the same with 64 scattered 4 KiB edits, N files
              of 1-8 KiB (10,000) fresh and unchanged, E empty files unchanged (200,000) and T MiB
              of text with -z (256), each pushed and pulled: the stock client against netrsyncd
              beside a stock daemon, and netrsync beside the stock client against the stock
              daemon; medians of R alternated runs (3) and their ratios, then the new-file push
              against cp of the same file. First writes to every free page once (--no-touch
              skips it): a virtual machine's first touch of a page is slow and lands at random.

          manyfiles [--entries N] [--folders F] [--rsync PATH] [--netrsync PATH] [--netrsyncd PATH]
              A tree of N empty files in F folders (default 1,000,000 in 10,000) pushed fresh,
              pushed unchanged and pulled: netrsync beside the stock client against a stock
              daemon, and the stock client against netrsyncd beside a stock daemon; time
              ratios, peak memory and when the first file arrived.

          clients [--clients N] [--entries E] [--folders F] [--rsync PATH] [--netrsyncd PATH]
              N stock clients at once (default 50) pulling and pushing a tree of E empty files
              (default 20,000 in 200 folders), against netrsyncd beside a stock daemon: time
              until all are done, the daemon's peak memory and what each connection adds.

          memory [ENTRIES]
              Builds the sender's file list over a generated tree (default 100,000 entries)
              and prints the bytes each entry keeps alive; the aim is at most about 150.

        Run it in Release:
          dotnet run -c Release --project bench/Rsync.Bench -- micro --filter '*'
        """;

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return 0;
        }

        switch (args[0])
        {
            case "micro":
                BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args[1..]);
                return 0;
            case "e2e":
                return EndToEnd.Run(args[1..]);
            case "manyfiles":
                return ManyFiles.Run(args[1..]);
            case "clients":
                return ManyClients.Run(args[1..]);
            case "memory":
                return FileListMemory.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100_000);
            default:
                Console.Error.WriteLine($"Unknown verb '{args[0]}'.");
                Console.Error.WriteLine();
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }
}
