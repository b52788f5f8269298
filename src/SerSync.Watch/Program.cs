using System.Diagnostics;
using System.Runtime.InteropServices;
using NetRsync.Protocol;
using NetRsync.Protocol.Hosting;
using NetRsync.Protocol.Options;
using NetRsync.SerSync;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Sync;

const string DetachedMarker = "NETSERSYNC_DETACHED";
// EX_TEMPFAIL (sysexits.h): another instance runs the same job; trying later may succeed.
const int AlreadyRunning = 75;

CommandLine commandLine;
try
{
    commandLine = CommandLine.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"netsersync: {ex.Message}");
    Console.Error.WriteLine(CommandLine.Usage);
    return 1;
}
if (commandLine.Help)
{
    Console.Out.WriteLine(CommandLine.Usage);
    return 0;
}

WatchConfig config;
try
{
    config = ConfigLoader.Load(commandLine.ConfigPath);
    Log.DebugEnabled = config.Debug;
    Validate(config, commandLine);
}
catch (ConfigException ex)
{
    Console.Error.WriteLine($"netsersync: {ex.Message}");
    return 1;
}

bool detaching = commandLine.Detach && !commandLine.NoDetach && Environment.GetEnvironmentVariable(DetachedMarker) is null;

// One instance per configuration and per fail queue. A detaching start checks here too, so a
// refusal reaches the terminal and the exit code; the copy in the background then takes the locks.
List<InstanceLock> locks;
try
{
    locks = TakeInstanceLocks(config, commandLine);
}
catch (InstanceLockedException ex)
{
    Console.Error.WriteLine($"netsersync: {AlreadyRunningMessage(ex, commandLine.ConfigPath)}");
    return AlreadyRunning;
}
catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"netsersync: {ex.Message}");
    return 1;
}
if (detaching)
{
    ReleaseAll(locks);
    return Detach();
}
if (Environment.GetEnvironmentVariable(DetachedMarker) is not null)
    _ = Native.SetSid();

try
{
    if (commandLine.PidFile is not null)
    {
        try
        {
            File.WriteAllText(commandLine.PidFile, Environment.ProcessId + "\n");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"netsersync: cannot write the pid file {commandLine.PidFile}: {ex.Message}");
            return 1;
        }
    }
    using var cancel = new CancellationTokenSource();
    using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; cancel.Cancel(); });
    using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; cancel.Cancel(); });
    try
    {
        return await new WatchService(config, commandLine).RunAsync(cancel.Token);
    }
    catch (Exception ex) when (ex is ConfigException or IOException or UnauthorizedAccessException)
    {
        Log.Error(ex.Message);
        return 1;
    }
}
finally
{
    if (commandLine.PidFile is not null)
        RemovePidFile(commandLine.PidFile);
    ReleaseAll(locks);
}

// The configuration's lock (in the run directory, named by a hash of the config's real path and the
// run's mode) and the fail queue's (next to it, "<failLog path>.lock"). The kernel releases both when
// the process ends, however it ends.
static List<InstanceLock> TakeInstanceLocks(WatchConfig config, CommandLine commandLine)
{
    var locks = new List<InstanceLock>();
    try
    {
        string configPath = NetRsync.Protocol.Native.Posix.RealPath(commandLine.ConfigPath) ?? Path.GetFullPath(commandLine.ConfigPath);
        string mode = commandLine.PluginOnly is null ? "push" : $"plugin {commandLine.PluginOnly}";
        string runDirectory = RunDirectory.For("netsersync", "NETSERSYNC_RUN_DIR");
        locks.Add(InstanceLock.Acquire(RunDirectory.KeyedFile(runDirectory, "config", $"{mode}\n{configPath}"), $"config {configPath} ({mode})"));
        if (commandLine.PluginOnly is null && config.FailLogPath is { Length: > 0 } failLog)
        {
            // The queue's directory by its real path, so two spellings of one file share one lock.
            string full = Path.GetFullPath(failLog);
            string directory = Path.GetDirectoryName(full) ?? "/";
            Directory.CreateDirectory(directory);
            string realDirectory = NetRsync.Protocol.Native.Posix.RealPath(directory) ?? directory;
            string queue = Path.Combine(realDirectory, Path.GetFileName(full));
            locks.Add(InstanceLock.Acquire(queue + ".lock", $"fail queue {queue}"));
        }
        return locks;
    }
    catch
    {
        ReleaseAll(locks);
        throw;
    }
}

static string AlreadyRunningMessage(InstanceLockedException ex, string configPath)
{
    string who = ex.HolderPid is { } pid ? $"another netsersync (pid {pid})" : "another netsersync";
    string what = ex.LockPath.EndsWith(".lock", StringComparison.Ordinal) && Path.GetFileName(ex.LockPath).StartsWith("config-", StringComparison.Ordinal)
        ? $"runs with the configuration {configPath}"
        : $"uses the fail queue {ex.LockPath[..^".lock".Length]}";
    return $"{who} already {what}; refusing to start a second one (lock file {ex.LockPath})";
}

static void ReleaseAll(List<InstanceLock> locks)
{
    foreach (var held in locks)
        held.Dispose();
    locks.Clear();
}

// Removed only while it still names this process: another run may have taken the name since.
static void RemovePidFile(string path)
{
    try
    {
        if (File.ReadAllText(path).Trim() == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            File.Delete(path);
    }
    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
    {
    }
}

// Starts the same command again in a new session and leaves it running; its output goes where ours went.
static int Detach()
{
    string self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the netsersync executable");
    var psi = new ProcessStartInfo(self) { UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "netsersync.dll"));
    foreach (string arg in Environment.GetCommandLineArgs().Skip(1))
        psi.ArgumentList.Add(arg);
    psi.Environment[DetachedMarker] = "1";
    using var child = Process.Start(psi) ?? throw new InvalidOperationException("cannot start netsersync in the background");
    Console.Out.WriteLine($"netsersync: running in the background, pid {child.Id}");
    return 0;
}

// Everything that can be checked before watching starts, so bad input fails at once and clearly.
static void Validate(WatchConfig config, CommandLine commandLine)
{
    foreach (var watch in config.Watches)
    {
        if (!Directory.Exists(watch.Path))
            throw new ConfigException($"localpath watch=\"{watch.Path}\": no such directory");
        if (commandLine.PluginOnly is null && watch.Remotes.Count == 0)
            throw new ConfigException($"localpath watch=\"{watch.Path}\" has no <remote ip name> to push to");
    }
    if (commandLine.PluginOnly is not null)
        return;
    if (config.Rsync.AuthEnabled && !config.Rsync.Ssh && !File.Exists(config.Rsync.PasswordFile))
        throw new ConfigException($"<auth passwordfile=\"{config.Rsync.PasswordFile}\">: no such file");
    try
    {
        var remote = config.Watches[0].Remotes[0];
        OptionParser.Parse(RemotePusher.CommandLine([], config.Rsync, config.Watches[0].Path + "/", RemotePusher.DestinationUrl(remote, config.Rsync)), "netsersync");
    }
    catch (RsyncUsageException ex)
    {
        throw new ConfigException($"<commonParams params=\"{config.Rsync.CommonParams}\">: {ex.Message}");
    }
    if (config.RefreshCdnConfigured && config.EnabledPlugin != "refreshCDN")
        Log.Debug("the refreshCDN plugin section is ignored (not supported, and not switched on)");
    if (config.XfsFileSystem)
        Log.Debug("fileSystem xfs=\"true\": inotify behaves the same on xfs; nothing to adjust");
}

internal static partial class Native
{
    [LibraryImport("libc", EntryPoint = "setsid")]
    internal static partial int SetSid();
}
