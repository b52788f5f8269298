using System.Globalization;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.Options;

namespace NetRsync.Protocol.Hosting;

/// <summary>A daemon command line the host cannot run: the message, without the program's name.</summary>
public sealed class DaemonUsageException(string message) : Exception(message);

/// <summary>
/// rsync --daemon's command line (options.c, long_daemon_options): where the config is, where to
/// listen, whether to stay in the foreground, --dparam overrides, and the log file; plus the host's
/// own --handoff (a connection passed on by the listening daemon) and --health (a probe for
/// container healthchecks). Each value may follow "=" or come as the next argument, as popt takes it.
/// </summary>
public sealed record DaemonCommandLine
{
    public bool DaemonOption { get; init; }
    public string ConfigPath { get; init; } = DaemonConfig.DefaultPath;
    public int? Port { get; init; }
    public string? Address { get; init; }
    public string? LogFile { get; init; }
    public bool Detach { get; init; } = true;
    public IReadOnlyList<string> DaemonParameters { get; init; } = [];
    public string? Handoff { get; init; }
    public bool Help { get; init; }
    public bool Version { get; init; }
    public bool Health { get; init; }

    /// <summary>Arguments that are no option: popt leaves them over (options.c, poptGetArgs); the host refuses them.</summary>
    public IReadOnlyList<string> Positional { get; init; } = [];

    /// <summary>The long options of rsync's main table that switch to daemon parsing (options.c, OPT_DAEMON).</summary>
    private static readonly HashSet<string> DaemonSwitches = new(StringComparer.Ordinal)
    {
        "daemon", "config", "dparam", "detach", "no-detach",
    };

    /// <summary>
    /// True when a client command line holds an option that makes rsync parse it as a daemon's
    /// (options.c, parse_arguments: OPT_DAEMON). Values of other options are skipped, so
    /// "--exclude --daemon" stays a client command line, and "--" ends the options.
    /// </summary>
    public static bool SelectsDaemonMode(IReadOnlyList<string> args)
    {
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg == "--")
                return false;
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                int eq = arg.IndexOf('=');
                string name = eq < 0 ? arg[2..] : arg[2..eq];
                if (DaemonSwitches.Contains(name))
                    return true;
                if (eq < 0 && OptionCatalog.ByLong.TryGetValue(name, out var entry) && entry.TakesValue)
                    i++;
                continue;
            }
            if (arg.Length < 2 || arg[0] != '-')
                continue;
            // A cluster of short options: the first that takes a value takes the rest, or the next argument.
            for (int c = 1; c < arg.Length; c++)
            {
                if (OptionCatalog.ByShort.TryGetValue(arg[c], out var entry) && entry.TakesValue)
                {
                    if (c == arg.Length - 1)
                        i++;
                    break;
                }
            }
        }
        return false;
    }

    /// <summary>Reads a daemon command line; throws <see cref="DaemonUsageException"/> on anything it does not know.</summary>
    public static DaemonCommandLine Parse(IReadOnlyList<string> args)
    {
        var result = new DaemonCommandLine();
        var parameters = new List<string>();
        var positional = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            int eq = arg.StartsWith("--", StringComparison.Ordinal) ? arg.IndexOf('=') : -1;
            string name = eq < 0 ? arg : arg[..eq];
            string Value()
            {
                if (eq >= 0)
                    return arg[(eq + 1)..];
                if (i + 1 >= args.Count)
                    throw new DaemonUsageException($"{arg}: missing argument");
                return args[++i];
            }
            bool flag = eq < 0;
            switch (name)
            {
                case "--daemon" when flag:
                    result = result with { DaemonOption = true };
                    break;
                case "--no-detach" when flag:
                    result = result with { Detach = false };
                    break;
                case "--detach" when flag:
                    result = result with { Detach = true };
                    break;
                case "--config":
                    result = result with { ConfigPath = Value() };
                    break;
                case "--port":
                    string port = Value();
                    result = result with
                    {
                        Port = int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p <= 65535
                            ? p
                            : throw new DaemonUsageException($"{arg}: invalid numeric value"),
                    };
                    break;
                case "--address":
                    result = result with { Address = Value() };
                    break;
                case "--log-file":
                    result = result with { LogFile = Value() };
                    break;
                case "--handoff":
                    result = result with { Handoff = Value() };
                    break;
                case "--dparam":
                    parameters.Add(Value());
                    break;
                case "--health" when flag:
                    result = result with { Health = true };
                    break;
                case "-h" or "--help" when flag:
                    result = result with { Help = true };
                    break;
                case "--version" when flag:
                    result = result with { Version = true };
                    break;
                default:
                    if (arg.StartsWith("-M", StringComparison.Ordinal))
                    {
                        if (arg.Length > 2)
                            parameters.Add(arg[2..]);
                        else if (i + 1 < args.Count)
                            parameters.Add(args[++i]);
                        else
                            throw new DaemonUsageException($"{arg}: missing argument");
                        break;
                    }
                    if (arg.Length < 2 || arg[0] != '-')
                    {
                        positional.Add(arg);
                        break;
                    }
                    throw new DaemonUsageException($"{arg}: unknown option");
            }
        }
        return result with { DaemonParameters = parameters, Positional = positional };
    }
}
