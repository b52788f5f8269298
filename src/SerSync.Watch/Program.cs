using System.Diagnostics;
using System.Runtime.InteropServices;
using NetRsync.Protocol;
using NetRsync.Protocol.Options;
using NetRsync.SerSync;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Sync;

const string DetachedMarker = "NETSERSYNC_DETACHED";

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

if (commandLine.Detach && !commandLine.NoDetach && Environment.GetEnvironmentVariable(DetachedMarker) is null)
    return Detach();
if (Environment.GetEnvironmentVariable(DetachedMarker) is not null)
    _ = Native.SetSid();

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
    if (config.Rsync.Ssh)
        throw new ConfigException("<ssh start=\"true\">: pushing over ssh is not supported yet; push to an rsync daemon (ssh start=\"false\")");
    if (config.Rsync.AuthEnabled && !File.Exists(config.Rsync.PasswordFile))
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
