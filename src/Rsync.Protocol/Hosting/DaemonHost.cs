using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.Hosting;

/// <summary>Which program runs the daemon, and how it names itself and speaks to its user.</summary>
/// <param name="Name">The name messages start with.</param>
/// <param name="ModeArguments">Arguments that put the program into daemon mode ("--daemon" for netrsync).</param>
/// <param name="Usage">The --help text.</param>
/// <param name="Version">The --version line.</param>
/// <param name="RequiresDaemonOption">
/// A client program runs the daemon only with --daemon; its other daemon options alone are an error
/// (options.c: "Daemon option(s) used without --daemon.").
/// </param>
public sealed record DaemonProgram(string Name, IReadOnlyList<string> ModeArguments, string Usage, string Version, bool RequiresDaemonOption);

/// <summary>
/// What "rsync --daemon" does from its command line on (clientserver.c, daemon_main): serve the
/// connection on stdin when started by inetd (or handed one by the listening daemon), else load the
/// config, detach unless told not to, listen, write the pid file, and serve until SIGTERM, SIGINT or
/// SIGHUP. Under a service manager it reports readiness and shutdown (sd_notify).
/// </summary>
public static class DaemonHost
{
    /// <summary>Set in the copy that a detaching daemon starts, which then leaves the terminal's session.</summary>
    private const string DetachedMarker = "NETRSYNC_DAEMON_DETACHED";

    /// <summary>RERR_SOCKETIO: the daemon could not listen.</summary>
    private const int StartFailure = 10;

    /// <summary>RERR_FILEIO: the pid file could not be written (clientserver.c, create_pid_file).</summary>
    private const int PidFileFailure = 11;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, DaemonProgram program)
    {
        DaemonCommandLine commandLine;
        try
        {
            commandLine = DaemonCommandLine.Parse(args);
        }
        catch (DaemonUsageException ex)
        {
            return UsageError(program, ex.Message);
        }
        if (commandLine.Help)
        {
            Console.WriteLine(program.Usage);
            return 0;
        }
        if (commandLine.Version)
        {
            Console.WriteLine(program.Version);
            return 0;
        }
        if (program.RequiresDaemonOption && !commandLine.DaemonOption)
        {
            Console.Error.WriteLine("Daemon option(s) used without --daemon.");
            Console.Error.WriteLine($"(Type \"{program.Name} --daemon --help\" for assistance with daemon mode.)");
            return 1;
        }
        // rsync ignores them; a stray word is more likely a mistake than something to ignore.
        if (commandLine.Positional.Count > 0)
            return UsageError(program, $"{commandLine.Positional[0]}: unknown option");
        return await RunAsync(commandLine, program, args);
    }

    private static int UsageError(DaemonProgram program, string message)
    {
        if (program.RequiresDaemonOption)
        {
            // options.c, parse_arguments: the wording of an error in daemon mode.
            Console.Error.WriteLine($"{program.Name}: {message} (in daemon mode)");
            Console.Error.WriteLine($"(Type \"{program.Name} --daemon --help\" for assistance with daemon mode.)");
        }
        else
        {
            Console.Error.WriteLine($"{program.Name}: {message}");
        }
        return 1;
    }

    private static async Task<int> RunAsync(DaemonCommandLine commandLine, DaemonProgram program, IReadOnlyList<string> args)
    {
        string name = program.Name;
        // The detached copy: its parent already reported what there was to report, and has exited.
        bool detachedCopy = Environment.GetEnvironmentVariable(DetachedMarker) is not null;
        if (detachedCopy)
            LeaveTerminal();
        DaemonHandoff? handoff = null;
        if (commandLine.Handoff is not null)
        {
            try
            {
                handoff = DaemonHandoff.Decode(commandLine.Handoff);
            }
            catch (FormatException ex)
            {
                Console.Error.WriteLine($"{name}: {ex.Message}");
                return 1;
            }
        }

        DaemonConfig config;
        try
        {
            config = DaemonConfig.Load(commandLine.ConfigPath, new DaemonConfigOptions { DaemonParameters = commandLine.DaemonParameters });
        }
        catch (DaemonConfigException ex)
        {
            Console.Error.WriteLine($"{name}: {ex.Message}");
            return 1;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{name}: failed to open {commandLine.ConfigPath}: {ex.Message}");
            return 1;
        }
        foreach (var warning in config.Warnings)
            Console.Error.WriteLine($"{name}: {warning}");

        if (commandLine.Health)
        {
            var health = await DaemonHealth.CheckAsync(config, commandLine, CancellationToken.None);
            Console.WriteLine($"{name}: {health.Reason}");
            return health.Healthy ? 0 : 1;
        }

        // A connection on stdin: from inetd, or handed over by the listening daemon (rsync serves stdin when it is a socket).
        if (handoff is not null || StdinIsSocket())
            return ServeConnectionOnStdin(config, commandLine, handoff, name);

        if (commandLine.Detach && !detachedCopy)
            return Detach(args, name);

        return await ListenAsync(config, commandLine, program);
    }

    private static int ServeConnectionOnStdin(DaemonConfig config, DaemonCommandLine commandLine, DaemonHandoff? handoff, string name)
    {
        // Only fd 0 carries the connection; nothing may write into it through stdout.
        var connection = new Socket(new SafeSocketHandle(0, ownsHandle: true));
        Posix.RedirectToNull(1);
        DaemonLog log;
        try
        {
            log = new DaemonLog(commandLine.LogFile ?? config.Global.LogFile);
        }
        catch (IOException ex)
        {
            // The connection is served all the same, without a log (rsync falls back to syslog).
            Console.Error.WriteLine($"{name}: {ex.Message}");
            log = new DaemonLog(null);
        }
        using var logScope = log;
        using var cut = new CancellationTokenSource();
        void Cut(PosixSignalContext context)
        {
            // Ending the connection lets the transfer remove its temporary file before the process exits.
            context.Cancel = true;
            cut.Cancel();
        }
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cut);
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cut);
        try
        {
            RsyncDaemon.ServeOneConnection(config, log, connection, handoff, cut.Token);
        }
        catch (Exception ex)
        {
            // Inside a module's chroot the usual report of an unhandled exception may not work.
            log.Write($"connection failed: {ex}");
            return 1;
        }
        return 0;
    }

    /// <summary>
    /// "rsync --server --daemon .", as a remote shell starts it for a client that named a daemon
    /// address with -e (clientserver.c, daemon_main with am_server): one session over stdin and
    /// stdout, the config from --config, else /etc/rsyncd.conf for root and ./rsyncd.conf (the
    /// home directory) for anyone else, and the client's address from SSH_CONNECTION.
    /// </summary>
    public static int ServeOverShell(IReadOnlyList<string> args, DaemonProgram program)
    {
        DaemonCommandLine commandLine;
        try
        {
            commandLine = DaemonCommandLine.Parse([.. args.Where(a => a is not ("--server" or "--daemon" or ".")), "--daemon"]);
        }
        catch (DaemonUsageException ex)
        {
            Console.Error.WriteLine($"rsync: on remote machine: {ex.Message}");
            return 1;
        }
        bool configGiven = args.Any(a => a.StartsWith("--config", StringComparison.Ordinal));
        string configPath = configGiven ? commandLine.ConfigPath : Posix.EffectiveUserId() == 0 ? DaemonConfig.DefaultPath : "rsyncd.conf";
        DaemonConfig config;
        try
        {
            config = DaemonConfig.Load(configPath, new DaemonConfigOptions { DaemonParameters = commandLine.DaemonParameters });
        }
        catch (Exception ex) when (ex is DaemonConfigException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"rsync: on remote machine: failed to read {configPath}: {ex.Message}");
            return 1;
        }
        using var log = OpenLog(commandLine.LogFile ?? config.Global.LogFile, program.Name);

        // The session wants a socket; stdin and stdout are the shell's pipes, so a socket pair stands between.
        int errno = Posix.SocketPair(out int sessionEnd, out int shellEnd);
        if (errno != 0)
        {
            Console.Error.WriteLine($"rsync: on remote machine: socketpair: {Posix.StrError(errno)} ({errno})");
            return 14;
        }
        using var session = new Socket(new SafeSocketHandle(sessionEnd, ownsHandle: true));
        using var shell = new Socket(new SafeSocketHandle(shellEnd, ownsHandle: true));
        using var stdin = Console.OpenStandardInput();
        using var stdout = Console.OpenStandardOutput();
        var toSession = new Thread(() => Pump(stdin, shell, toSocket: true)) { IsBackground = true, Name = "shell-in" };
        var fromSession = new Thread(() => Pump(stdout, shell, toSocket: false)) { IsBackground = true, Name = "shell-out" };
        toSession.Start();
        fromSession.Start();
        using var cut = new CancellationTokenSource();
        try
        {
            RsyncDaemon.ServeOneConnection(config, log, session, null, cut.Token, ShellClientAddress());
        }
        catch (Exception ex)
        {
            log.Write($"connection failed: {ex}");
            return 1;
        }
        finally
        {
            session.Dispose();
            fromSession.Join(TimeSpan.FromSeconds(5));
        }
        return 0;
    }

    private static DaemonLog OpenLog(string? path, string name)
    {
        try
        {
            return new DaemonLog(path);
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"{name}: {ex.Message}");
            return new DaemonLog(null);
        }
    }

    /// <summary>Copies one way between the shell's pipe and the session's socket, passing the end on.</summary>
    private static void Pump(Stream pipe, Socket socket, bool toSocket)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = toSocket ? pipe.Read(buffer) : socket.Receive(buffer);
                if (n <= 0)
                    break;
                if (toSocket)
                    socket.Send(buffer.AsSpan(0, n));
                else
                {
                    pipe.Write(buffer, 0, n);
                    pipe.Flush();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
        }
        try
        {
            if (toSocket)
                socket.Shutdown(SocketShutdown.Send);
            else
                pipe.Dispose();
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The client's address as sshd reports it, "0.0.0.0" without (clientname.c, client_addr).</summary>
    private static IPAddress ShellClientAddress()
    {
        string? info = Environment.GetEnvironmentVariable("SSH_CONNECTION") ?? Environment.GetEnvironmentVariable("SSH_CLIENT");
        string first = info?.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return IPAddress.TryParse(first, out var address) ? address : IPAddress.Any;
    }

    /// <summary>Runs on in the background, as rsync --daemon does, by starting a copy that stays in the foreground.</summary>
    private static int Detach(IReadOnlyList<string> args, string name)
    {
        var (program, prefix) = Self();
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in prefix)
            start.ArgumentList.Add(arg);
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        start.ArgumentList.Add("--no-detach");
        start.Environment[DetachedMarker] = "1";
        try
        {
            using var child = Process.Start(start);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Console.Error.WriteLine($"{name}: cannot start in the background: {ex.Message}");
            return StartFailure;
        }
        return 0;
    }

    /// <summary>
    /// The detached copy leaves the starting terminal's session, so its hangup does not stop the
    /// daemon, and lets go of the pipes to the parent, which has exited (main.c, become_daemon).
    /// </summary>
    private static void LeaveTerminal()
    {
        _ = HostNative.SetSid();
        for (int fd = 0; fd <= 2; fd++)
            Posix.RedirectToNull(fd);
        Environment.SetEnvironmentVariable(DetachedMarker, null);
    }

    private static async Task<int> ListenAsync(DaemonConfig config, DaemonCommandLine commandLine, DaemonProgram program)
    {
        string name = program.Name;
        string? logFile = commandLine.LogFile ?? config.Global.LogFile;
        // With no log file anywhere, a foreground daemon logs to stderr: the journal under systemd,
        // the container's log under a container engine (rsync would use syslog).
        using var relay = string.IsNullOrEmpty(logFile) && !commandLine.Detach ? LogRelay.TryStart() : null;
        var options = new DaemonHostOptions
        {
            Port = commandLine.Port,
            Address = commandLine.Address,
            LogFile = commandLine.LogFile ?? relay?.Path,
            ConnectionProcess = ConnectionProcess(commandLine, program),
        };

        RsyncDaemon daemon;
        try
        {
            daemon = new RsyncDaemon(config, options);
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException)
        {
            string reason = $"failed to start: {ex.Message}";
            Console.Error.WriteLine($"{name}: {reason}");
            LogStartFailure(logFile, reason);
            SystemdNotify.Status(reason);
            return StartFailure;
        }

        string? pidFile = config.Global.PidFile;
        if (!string.IsNullOrEmpty(pidFile))
        {
            try
            {
                File.WriteAllText(pidFile, Environment.ProcessId + "\n");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                string reason = $"failed to create pid file {pidFile}: {ex.Message}";
                Console.Error.WriteLine($"{name}: {reason}");
                LogStartFailure(logFile, reason);
                daemon.Dispose();
                return PidFileFailure;
            }
        }

        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!stop.IsCancellationRequested)
                SystemdNotify.Stopping("stopping: ending open connections");
            stop.Cancel();
        }
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var onHup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);

        SystemdNotify.Ready($"listening on port {daemon.Port}");
        try
        {
            using (daemon)
                await daemon.RunAsync(stop.Token);
        }
        finally
        {
            if (!string.IsNullOrEmpty(pidFile))
                TryDelete(pidFile);
        }
        return 0;
    }

    /// <summary>The reason a daemon did not start, in its log too, where a detached daemon's user looks.</summary>
    private static void LogStartFailure(string? logFile, string reason)
    {
        if (string.IsNullOrEmpty(logFile))
            return;
        try
        {
            using var log = new DaemonLog(logFile);
            log.Write(reason);
        }
        catch (IOException)
        {
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>How to start this program again: the executable, plus the assembly when it runs under "dotnet".</summary>
    private static (string Program, IReadOnlyList<string> Prefix) Self()
    {
        string program = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this program's executable");
        // Under "dotnet", the first command-line word is the entry assembly's path (a native build has none).
        if (Path.GetFileNameWithoutExtension(program) == "dotnet" && Environment.GetCommandLineArgs() is [{ Length: > 0 } assembly, ..])
            return (program, [Path.GetFullPath(assembly)]);
        return (program, []);
    }

    /// <summary>How to start this program again to serve one handed-off connection.</summary>
    private static (string Program, IReadOnlyList<string> Arguments) ConnectionProcess(DaemonCommandLine commandLine, DaemonProgram program)
    {
        var (executable, prefix) = Self();
        var arguments = new List<string>(prefix);
        arguments.AddRange(program.ModeArguments);
        arguments.Add("--config=" + Path.GetFullPath(commandLine.ConfigPath));
        if (commandLine.LogFile is not null)
            arguments.Add("--log-file=" + Path.GetFullPath(commandLine.LogFile));
        arguments.AddRange(commandLine.DaemonParameters.Select(d => "--dparam=" + d));
        return (executable, arguments);
    }

    private static bool StdinIsSocket() =>
        Posix.TryStat("/proc/self/fd/0", out var st) == 0 && (st.Mode & Posix.S_IFMT) == Posix.S_IFSOCK;
}
