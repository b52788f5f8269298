using System.Diagnostics;
using System.Runtime.InteropServices;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.Daemon.Config;

// netrsyncd: rsync --daemon's command line (options.c, daemon_usage), serving rsyncd.conf as rsync reads it.
string configPath = DaemonConfig.DefaultPath;
int? port = null;
string? address = null;
string? logFile = null;
bool detach = true;
var dparams = new List<string>();
DaemonHandoff? handoff = null;

foreach (string arg in NetRsync.Protocol.Text.RawArguments.Recover(args))
{
    string Value() => arg[(arg.IndexOf('=') + 1)..];
    if (arg is "--daemon")
        continue;
    if (arg is "--no-detach")
        detach = false;
    else if (arg is "--detach")
        detach = true;
    else if (arg.StartsWith("--config=", StringComparison.Ordinal))
        configPath = Value();
    else if (arg.StartsWith("--port=", StringComparison.Ordinal) && int.TryParse(Value(), out int p))
        port = p;
    else if (arg.StartsWith("--address=", StringComparison.Ordinal))
        address = Value();
    else if (arg.StartsWith("--log-file=", StringComparison.Ordinal))
        logFile = Value();
    else if (arg.StartsWith("--handoff=", StringComparison.Ordinal))
    {
        try
        {
            handoff = DaemonHandoff.Decode(Value());
        }
        catch (FormatException ex)
        {
            Console.Error.WriteLine($"netrsyncd: {ex.Message}");
            return 1;
        }
    }
    else if (arg.StartsWith("--dparam=", StringComparison.Ordinal) || arg.StartsWith("-M", StringComparison.Ordinal))
        dparams.Add(arg.StartsWith("-M", StringComparison.Ordinal) ? arg[2..] : Value());
    else if (arg is "-h" or "--help")
    {
        Console.WriteLine("""
            Usage: netrsyncd [--config=FILE] [--port=PORT] [--address=ADDRESS] [--no-detach]
                             [--log-file=FILE] [--dparam=OVERRIDE]
            A drop-in rsync daemon: serves the modules of rsyncd.conf (default /etc/rsyncd.conf)
            to rsync clients speaking protocol 30 or newer.
            """);
        return 0;
    }
    else if (arg is "--version")
    {
        Console.WriteLine("netrsyncd  version 0.1.0  protocol version 31");
        return 0;
    }
    else
    {
        Console.Error.WriteLine($"netrsyncd: {arg}: unknown option");
        return 1;
    }
}

DaemonConfig config;
try
{
    config = DaemonConfig.Load(configPath, new DaemonConfigOptions { DaemonParameters = dparams });
}
catch (DaemonConfigException ex)
{
    Console.Error.WriteLine($"netrsyncd: {ex.Message}");
    return 1;
}
catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"netrsyncd: failed to open {configPath}: {ex.Message}");
    return 1;
}
foreach (var warning in config.Warnings)
    Console.Error.WriteLine($"netrsyncd: {warning}");

// A connection on stdin: from inetd, or handed over by the listening daemon (rsync serves stdin when it is a socket).
if (handoff is not null || StdinIsSocket())
{
    // Only fd 0 carries the connection; nothing may write into it through stdout.
    var connection = new System.Net.Sockets.Socket(new System.Net.Sockets.SafeSocketHandle(0, ownsHandle: true));
    NetRsync.Protocol.Native.Posix.RedirectToNull(1);
    DaemonLog log;
    try
    {
        log = new DaemonLog(logFile ?? config.Global.LogFile);
    }
    catch (IOException ex)
    {
        // The connection is served all the same, without a log (rsync falls back to syslog).
        Console.Error.WriteLine($"netrsyncd: {ex.Message}");
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
    using var onTermOne = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cut);
    using var onIntOne = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cut);
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

if (detach)
{
    // Run on in the background, as rsync --daemon does, by starting a copy that stays in the foreground.
    var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (string arg in args)
        start.ArgumentList.Add(arg);
    start.ArgumentList.Add("--no-detach");
    Process.Start(start);
    return 0;
}

RsyncDaemon daemon;
try
{
    daemon = new RsyncDaemon(config, new DaemonHostOptions { Port = port, Address = address, LogFile = logFile, ConnectionProcess = ConnectionProcess() });
}
catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"netrsyncd: failed to start: {ex.Message}");
    return 10;
}

string? pidFile = config.Global.PidFile;
if (!string.IsNullOrEmpty(pidFile))
    File.WriteAllText(pidFile, Environment.ProcessId + "\n");

using var stop = new CancellationTokenSource();
void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onHup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);

using (daemon)
    await daemon.RunAsync(stop.Token);
if (!string.IsNullOrEmpty(pidFile))
    File.Delete(pidFile);
return 0;


// How to start this program again to serve one handed-off connection.
(string Program, IReadOnlyList<string> Arguments) ConnectionProcess()
{
    string program = Environment.ProcessPath!;
    var arguments = new List<string>();
    if (Path.GetFileNameWithoutExtension(program) == "dotnet")
        arguments.Add(Path.Combine(AppContext.BaseDirectory, "netrsyncd.dll"));
    arguments.Add("--config=" + Path.GetFullPath(configPath));
    if (logFile is not null)
        arguments.Add("--log-file=" + Path.GetFullPath(logFile));
    arguments.AddRange(dparams.Select(d => "--dparam=" + d));
    return (program, arguments);
}

static bool StdinIsSocket() =>
    NetRsync.Protocol.Native.Posix.TryStat("/proc/self/fd/0", out var st) == 0 && (st.Mode & NetRsync.Protocol.Native.Posix.S_IFMT) == NetRsync.Protocol.Native.Posix.S_IFSOCK;
