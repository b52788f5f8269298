using System.Globalization;
using System.Runtime.InteropServices;
using NetRsync.Protocol;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.Hosting;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Wire;

namespace NetRsync.Cli;

/// <summary>netrsync's main: rsync's command line, output and exit codes.</summary>
internal static class CommandLine
{
    private const string ProgramName = "netrsync";
    private const string Version = "0.1.0";

    public static async Task<int> RunAsync(string[] args)
    {
        // A file name argument keeps its bytes, whatever the locale.
        args = Protocol.Text.RawArguments.Recover(args);
        // --daemon (or --config, --dparam, --detach, --no-detach) reads the whole line as a daemon's (options.c, OPT_DAEMON).
        // A remote shell runs "rsync --server ..." for a client at the other end: stdin and stdout are
        // the connection. --rsync-path may put options of its own before --server.
        if (args.Contains("--server"))
        {
            if (args.Contains("--daemon"))
                return DaemonHost.ServeOverShell(args, Daemon);
            using var stdin = Console.OpenStandardInput();
            using var stdout = Console.OpenStandardOutput();
            return ShellServer.Run(args, stdin, stdout, line => ConsoleOutput.Instance.Error(line));
        }
        if (DaemonCommandLine.SelectsDaemonMode(args))
            return await DaemonHost.RunAsync(args, Daemon);
        RsyncOptions options;
        try
        {
            options = OptionParser.Parse(args, ProgramName);
        }
        catch (RsyncUsageException ex)
        {
            // The message may quote an argument: its bytes are escaped as rsync escapes them.
            ConsoleOutput.Instance.Error(ex.Message);
            return Fail(ex.ExitCode, "syntax or usage error");
        }
        catch (RsyncException ex)
        {
            ConsoleOutput.Instance.Error(ex.Message);
            return Fail(ex.ExitCode);
        }

        if (options.OutputHelp is { } outputHelp)
        {
            Console.Write(outputHelp);
            return 0;
        }
        if (options.ShowHelp)
        {
            Console.WriteLine(Usage);
            return 0;
        }
        if (options.ShowVersion)
        {
            Console.WriteLine($"{ProgramName}  version {Version}  protocol version {ProtocolLimits.MaxProtocol}");
            Console.WriteLine("A managed implementation of the rsync protocol (30 and 31).");
            // The capabilities block scripts read, in rsync's words (rsync.c, print_rsync_version):
            // what this build does, and "no ..." for what it does not.
            Console.WriteLine("Capabilities:");
            Console.WriteLine("    64-bit files, 64-bit inums, 64-bit timestamps, 64-bit long ints,");
            Console.WriteLine("    socketpairs, hardlinks, symlinks, IPv6, no batchfiles, inplace,");
            Console.WriteLine("    append, no ACLs, no xattrs, iconv, symtimes, no prealloc");
            return 0;
        }

        var positional = options.Positional;
        if (positional.Count == 0)
        {
            Console.Error.WriteLine(Usage);
            return Fail(ExitCodes.Syntax);
        }

        // SIGINT, SIGTERM and SIGHUP stop the transfer cleanly: temporary files go, old files stay (cleanup.c, sig_int).
        using var cancel = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            cancel.Cancel();
        }
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var onHup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);

        var output = new ConsoleOutput(options.EightBitOutput);
        var client = new RsyncClient(options, output);
        try
        {
            if (positional.Count == 1)
            {
                var only = DaemonUrl.TryParse(positional[0]);
                if (only is { Module.Length: 0 })
                {
                    foreach (string line in await client.ListModulesAsync(positional[0], cancel.Token))
                        output.Info(line);
                    return 0;
                }
                if (only is not null)
                {
                    // One remote argument lists it, as --list-only does (options.c: list_only when no destination).
                    var listed = await client.PullAsync(positional[0], "", cancel.Token);
                    return Finish(listed.ExitCode);
                }
                if (RemoteShellPath.TryParse(positional[0]) is not null)
                {
                    var listed = await client.PullOverShellAsync(positional[0], "", cancel.Token);
                    return Finish(listed.ExitCode);
                }
                Console.Error.WriteLine("netrsync: a local source needs a destination");
                return Fail(ExitCodes.Syntax, "syntax or usage error");
            }

            string destination = positional[^1];
            var sources = positional.Take(positional.Count - 1).ToList();
            bool IsRemote(string p) => DaemonUrl.TryParse(p) is not null || RemoteShellPath.TryParse(p) is not null;
            if (RemoteShellPath.TryParse(destination) is not null)
            {
                if (sources.Any(IsRemote))
                {
                    Console.Error.WriteLine("The source and destination cannot both be remote.");
                    return Fail(ExitCodes.Syntax, "syntax or usage error");
                }
                var pushed = await client.PushOverShellAsync(sources, destination, cancel.Token);
                PrintSummary(options, pushed.Stats);
                return Finish(pushed.ExitCode);
            }
            if (RemoteShellPath.TryParse(sources[0]) is not null)
            {
                if (IsRemote(destination))
                {
                    Console.Error.WriteLine("The source and destination cannot both be remote.");
                    return Fail(ExitCodes.Syntax, "syntax or usage error");
                }
                var fetched = await client.PullOverShellAsync(sources, destination, cancel.Token);
                PrintSummary(options, fetched.Stats);
                return Finish(fetched.ExitCode);
            }
            if (DaemonUrl.TryParse(destination) is not null)
            {
                if (sources.Any(s => DaemonUrl.TryParse(s) is not null))
                {
                    Console.Error.WriteLine("The source and destination cannot both be remote.");
                    return Fail(ExitCodes.Syntax, "syntax or usage error");
                }
                var result = await client.PushAsync(sources, destination, cancel.Token);
                PrintSummary(options, result.Stats);
                return Finish(result.ExitCode);
            }

            if (sources.All(s => DaemonUrl.TryParse(s) is not null))
            {
                if (sources.Count != 1)
                {
                    Console.Error.WriteLine("netrsync: pulling more than one remote source at once is not supported yet");
                    return Fail(ExitCodes.Unsupported);
                }
                var pulled = await client.PullAsync(sources[0], destination, cancel.Token);
                PrintSummary(options, pulled.Stats);
                return Finish(pulled.ExitCode);
            }
            if (sources.Any(s => DaemonUrl.TryParse(s) is not null))
            {
                Console.Error.WriteLine("netrsync: sources must be all local or all remote");
                return Fail(ExitCodes.Syntax, "syntax or usage error");
            }
            var copied = await client.CopyAsync(sources, destination, cancel.Token);
            PrintSummary(options, copied.Stats);
            return Finish(copied.ExitCode);
        }
        catch (RsyncException ex) when (!cancel.IsCancellationRequested)
        {
            Console.Out.Flush();
            string message = ex.Message;
            if (ex is RsyncProtocolException && !message.StartsWith("rsync", StringComparison.Ordinal))
                message = "rsync: " + message;
            output.Error(message);
            return Fail(ex.ExitCode);
        }
        catch (Exception) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("rsync error: received SIGINT, SIGTERM, or SIGHUP (code 20)");
            return ExitCodes.Signal;
        }
    }

    private static int Finish(int code) => code == 0 ? 0 : Fail(code);

    /// <summary>rsync's closing error line (log.c, log_exit).</summary>
    private static int Fail(int code, string? text = null)
    {
        text ??= Describe(code);
        Console.Error.WriteLine($"rsync error: {text} (code {code}) [sender={Version}]");
        return code;
    }

    /// <summary>The wording of each exit code (log.c, rerr_names).</summary>
    private static string Describe(int code) => code switch
    {
        ExitCodes.Syntax => "syntax or usage error",
        ExitCodes.Protocol => "protocol incompatibility",
        ExitCodes.FileSelect => "errors selecting input/output files, dirs",
        ExitCodes.Unsupported => "requested action not supported",
        ExitCodes.StartClient => "error starting client-server protocol",
        ExitCodes.SocketIo => "error in socket IO",
        ExitCodes.FileIo => "error in file IO",
        ExitCodes.StreamIo => "error in rsync protocol data stream",
        ExitCodes.MessageIo => "errors with program diagnostics",
        ExitCodes.Ipc => "error in IPC code",
        ExitCodes.Signal => "received SIGINT, SIGTERM, or SIGHUP",
        ExitCodes.Malloc => "error allocating core memory buffers",
        ExitCodes.Partial => "some files/attrs were not transferred (see previous errors)",
        ExitCodes.Vanished => "some files vanished before they could be transferred",
        ExitCodes.DeleteLimit => "the --max-delete limit stopped deletions",
        ExitCodes.Timeout => "timeout in data send/receive",
        ExitCodes.ConnectTimeout => "timeout waiting for daemon connection",
        _ => "unexplained error",
    };

    /// <summary>The end-of-run report (main.c, output_summary).</summary>
    private static void PrintSummary(RsyncOptions options, TransferStats s)
    {
        if (options.Quiet > 0)
            return;
        bool human = options.HumanReadable > 0;
        string N(long v) => human ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString(CultureInfo.InvariantCulture);
        var o = Console.Out;
        if (options.Output[InfoFlag.Stats] > 1)
        {
            o.WriteLine();
            o.WriteLine(Counts("Number of files", s.NumFiles, s.NumDirs, s.NumSymlinks, s.NumDevices, s.NumSpecials, N));
            o.WriteLine(Counts("Number of created files", s.CreatedFiles, s.CreatedDirs, s.CreatedSymlinks, s.CreatedDevices, s.CreatedSpecials, N));
            o.WriteLine(Counts("Number of deleted files", s.DeletedFiles, s.DeletedDirs, s.DeletedSymlinks, s.DeletedDevices, s.DeletedSpecials, N));
            o.WriteLine($"Number of regular files transferred: {N(s.TransferredFiles)}");
            o.WriteLine($"Total file size: {N(s.TotalSize)} bytes");
            o.WriteLine($"Total transferred file size: {N(s.TotalTransferredSize)} bytes");
            o.WriteLine($"Literal data: {N(s.LiteralData)} bytes");
            o.WriteLine($"Matched data: {N(s.MatchedData)} bytes");
            o.WriteLine($"File list size: {N(s.FileListSize)}");
            o.WriteLine($"File list generation time: {s.FileListBuildMilliseconds / 1000.0:0.000} seconds");
            o.WriteLine($"File list transfer time: {s.FileListTransferMilliseconds / 1000.0:0.000} seconds");
            o.WriteLine($"Total bytes sent: {N(s.BytesSent)}");
            o.WriteLine($"Total bytes received: {N(s.BytesReceived)}");
        }
        if (options.Output[InfoFlag.Stats] > 0)
        {
            double seconds = 0.5 + s.Elapsed.TotalSeconds;
            double rate = (s.BytesSent + s.BytesReceived) / seconds;
            long moved = Math.Max(1, s.BytesSent + s.BytesReceived);
            o.WriteLine();
            o.WriteLine($"sent {N(s.BytesSent)} bytes  received {N(s.BytesReceived)} bytes  {rate.ToString(human ? "N2" : "F2", CultureInfo.InvariantCulture)} bytes/sec");
            o.WriteLine($"total size is {N(s.TotalSize)}  speedup is {((double)s.TotalSize / moved).ToString("N2", CultureInfo.InvariantCulture)}{(options.DryRun ? " (DRY RUN)" : "")}");
        }
        o.Flush();
    }

    private static string Counts(string prefix, int total, int dirs, int links, int devices, int specials, Func<long, string> n)
    {
        if (total == 0)
            return $"{prefix}: 0";
        int regular = total - dirs - links - devices - specials;
        var parts = new List<string>();
        if (regular != 0) parts.Add($"reg: {n(regular)}");
        if (dirs != 0) parts.Add($"dir: {n(dirs)}");
        if (links != 0) parts.Add($"link: {n(links)}");
        if (devices != 0) parts.Add($"dev: {n(devices)}");
        if (specials != 0) parts.Add($"special: {n(specials)}");
        return $"{prefix}: {n(total)} ({string.Join(", ", parts)})";
    }

    /// <summary>netrsync --daemon: the same daemon as netrsyncd, started as rsync users start theirs.</summary>
    private static readonly DaemonProgram Daemon = new(
        Name: ProgramName,
        ModeArguments: ["--daemon"],
        Usage: $"""
            {ProgramName}  version {Version}  protocol version {ProtocolLimits.MaxProtocol}

            Usage: {ProgramName} --daemon [OPTION]...
                 --address=ADDRESS       bind to the specified address
                 --config=FILE           specify alternate rsyncd.conf file
             -M, --dparam=OVERRIDE       override global daemon config parameter
                 --no-detach             do not detach from the parent
                 --port=PORT             listen on alternate port number
                 --log-file=FILE         override the "log file" setting
                 --health                check that the configured daemon answers (exit 0 or 1)
                 --help                  show this help screen

            If you were not trying to invoke {ProgramName} as a daemon, avoid using any of the
            daemon-specific options.  See also the rsyncd.conf(5) man page.
            """,
        Version: $"{ProgramName}  version {Version}  protocol version {ProtocolLimits.MaxProtocol}",
        RequiresDaemonOption: true);

    private const string Usage = """
        netrsync: a managed rsync client (protocols 30 and 31)

        Usage: netrsync [OPTION]... SRC [SRC]... rsync://[USER@]HOST[:PORT]/MODULE[/DEST]
          or   netrsync [OPTION]... SRC [SRC]... [USER@]HOST::MODULE[/DEST]
          or   netrsync rsync://[USER@]HOST[:PORT]/     (list the daemon's modules)
          or   netrsync --daemon [--config=FILE] [--port=PORT] [--no-detach] ...  (run a daemon)

        Options are rsync's: -a -r -l -p -t -g -o -D -H -R -u -c -v -q -i -n -W, --delete and its
        variants, --exclude, --include, --exclude-from, --include-from, --filter, --files-from,
        --from0, --numeric-ids, --port, --timeout, --contimeout, --password-file, --progress,
        --stats, --size-only, --ignore-times, --existing, --ignore-existing, --protocol,
        --checksum-seed, --bwlimit. See rsync(1).
        """;
}
