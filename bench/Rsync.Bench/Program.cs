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

          e2e [--files N] [--big-mib M] [--rsync PATH]
              Stock rsync pushing to and pulling from netrsyncd and stock rsync --daemon on the
              same data, side by side, with the time ratios.

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
