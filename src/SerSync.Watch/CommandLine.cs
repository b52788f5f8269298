namespace NetRsync.SerSync;

/// <summary>sersync2's command line: -r -d -o FILE -n N -m PLUGIN -h, plus --no-detach and --pid-file.</summary>
public sealed record CommandLine
{
    public bool FullSyncFirst { get; init; }
    public bool Detach { get; init; }
    public bool NoDetach { get; init; }
    public string ConfigPath { get; init; } = "confxml.xml";
    public int Workers { get; init; } = 10;
    public string? PluginOnly { get; init; }
    public bool Help { get; init; }
    public string? PidFile { get; init; }

    public const string Usage = """
        usage: netsersync [-r] [-d] [-o CONFIG] [-n THREADS] [-m PLUGIN] [--no-detach] [--pid-file=FILE] [-h]
          -r               push every watched directory in full before watching
          -d               run in the background (log to stdout as it was redirected)
          --no-detach      stay in the foreground even with -d (containers, supervisors)
          -o CONFIG        the sersync configuration (default ./confxml.xml)
          -n THREADS       how many pushes may run at once (default 10)
          -m PLUGIN        run only the plugin (command, socket or http), no pushes
          --pid-file=FILE  write the pid to FILE while running (removed on exit)
          -h               this help
        One instance runs per configuration and per fail queue: a second one is refused
        (exit code 75) with the pid of the first.
        """;

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var result = new CommandLine();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string Value()
            {
                if (i + 1 >= args.Count)
                    throw new ArgumentException($"{arg} needs a value");
                return args[++i];
            }
            result = arg switch
            {
                "-r" => result with { FullSyncFirst = true },
                "-d" => result with { Detach = true },
                "--no-detach" => result with { NoDetach = true },
                "-o" => result with { ConfigPath = Value() },
                "-n" => result with { Workers = int.TryParse(Value(), out int n) && n is > 0 and <= 1000 ? n : throw new ArgumentException($"-n {args[i]}: expected a thread count from 1 to 1000") },
                "-m" => result with { PluginOnly = Value() },
                "-h" or "--help" => result with { Help = true },
                "--pid-file" => result with { PidFile = Value() },
                _ when arg.StartsWith("--pid-file=", StringComparison.Ordinal) => result with { PidFile = arg["--pid-file=".Length..] is { Length: > 0 } file ? file : throw new ArgumentException("--pid-file= needs a file name") },
                _ when arg.StartsWith("-o", StringComparison.Ordinal) && arg.Length > 2 => result with { ConfigPath = arg[2..] },
                _ => throw new ArgumentException($"unknown option {arg}"),
            };
        }
        return result;
    }
}
