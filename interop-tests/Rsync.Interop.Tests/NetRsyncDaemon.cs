using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>The daemon under test, <c>netrsyncd</c>, on 127.0.0.1 and a free port, in the foreground:
/// <c>netrsyncd --no-detach --config=GEN --port=P --address=127.0.0.1</c>. The generated rsyncd.conf has
/// <c>use chroot = no</c>, <c>uid = root</c>, <c>gid = root</c>, a <c>log file</c> in its temp dir, and one
/// section per <see cref="DaemonModule"/>, written exactly as <see cref="StockDaemon"/> writes it (so a
/// stock twin serves the same modules). Ready when the process holds the listening socket and greets
/// with "@RSYNCD: " (polled, with a deadline). Disposing sends SIGTERM, waits for the exit (killing
/// it after a deadline) and fails if netrsyncd did not exit on its own.
///
/// The test project references src/Rsync.Daemon, so the build copies the apphost (<c>netrsyncd</c>) and
/// <c>netrsyncd.dll</c> next to the test assembly: the apphost is run when present, else
/// <c>dotnet netrsyncd.dll</c>.</summary>
public sealed partial class NetRsyncDaemon : IAsyncDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(20);

    /// <summary>How long netrsyncd may take to exit after SIGTERM (it gives open connections up to 10 s).</summary>
    public static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(20);

    private const int SigTerm = 15;

    private readonly Process _process;
    private readonly TempDir _dir;
    private readonly StringBuilder _output;
    private bool _disposed;

    public int Port { get; }

    public string ConfigPath { get; }

    public string LogPath { get; }

    /// <summary>The daemon's node link directory (NETRSYNC_RUN_DIR): its socket is <c>netrsyncd.sock</c> there.</summary>
    public string RunDirectory => _dir.File("run");

    public int ProcessId { get; }

    /// <summary>Full paths of the modules' directories.</summary>
    public IReadOnlyList<string> ModulePaths { get; }

    private NetRsyncDaemon(int port, Process process, TempDir dir, string configPath, string logPath, StringBuilder output, IReadOnlyList<string> modulePaths)
    {
        Port = port;
        _process = process;
        ProcessId = process.Id;
        _dir = dir;
        ConfigPath = configPath;
        LogPath = logPath;
        _output = output;
        ModulePaths = modulePaths;
    }

    public static string AppHostPath => Path.Combine(AppContext.BaseDirectory, "netrsyncd");

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "netrsyncd.dll");

    /// <summary>The executable and the leading arguments that start netrsyncd. Fails the test when
    /// neither the apphost nor the dll is next to the test assembly.</summary>
    public static (string FileName, string[] Prefix) Locate()
    {
        if (File.Exists(AppHostPath))
        {
            return (AppHostPath, []);
        }
        if (File.Exists(DllPath))
        {
            string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
            return (dotnet, [DllPath]);
        }
        Assert.Fail($"netrsyncd is not built: neither {AppHostPath} nor {DllPath} exists (the test project must reference src/Rsync.Daemon)");
        throw new InvalidOperationException(); // unreachable
    }

    /// <summary>Contents of the daemon's log file (empty if not yet written).</summary>
    public string DaemonLog
    {
        get
        {
            try
            {
                using var fs = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(fs, Encoding.UTF8);
                return reader.ReadToEnd();
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return "";
            }
        }
    }

    /// <summary>Current length of the daemon log, in characters (for <see cref="WaitForLogAsync"/>'s <c>from</c>).</summary>
    public int DaemonLogLength => DaemonLog.Length;

    /// <summary>What netrsyncd wrote to stdout/stderr.</summary>
    public string ProcessOutput
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _disposed || _process.HasExited;

    /// <summary>The exit code, once exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary><c>rsync://[user@]127.0.0.1:PORT/MODULE/</c> (or the listing URL when module is null).</summary>
    public string Url(string? module, string? user = null) =>
        $"rsync://{(user is null ? "" : user + "@")}127.0.0.1:{Port}/{(module is null ? "" : module + "/")}";

    /// <summary>Path of a module's generated secrets file (see <see cref="DaemonModule.Secrets"/>).</summary>
    public string SecretsPath(string module) => _dir.File($"{module}.secrets");

    /// <summary>Starts netrsyncd. With <paramref name="port"/> null a free port is picked (and another is
    /// tried if that one is taken in the meantime). <paramref name="globalLines"/> are extra raw lines
    /// for the global section. <paramref name="configText"/>, when given, replaces the generated config
    /// (given the daemon's temp dir, whose rsyncd.log is where the log is expected).</summary>
    public static async Task<NetRsyncDaemon> StartAsync(IEnumerable<DaemonModule> modules, IEnumerable<string>? globalLines = null, int? port = null,
        Func<TempDir, string>? configText = null)
    {
        (string fileName, string[] prefix) = Locate();
        DaemonModule[] mods = modules.ToArray();
        string[] globals = globalLines?.ToArray() ?? [];
        for (int attempt = 1; ; attempt++)
        {
            int p = port ?? StockDaemon.FreePort();
            var dir = new TempDir();
            NetRsyncDaemon? daemon = null;
            try
            {
                (daemon, string? failure) = await TryStartAsync(fileName, prefix, mods, globals, p, dir, configText);
                if (failure is null)
                {
                    return daemon;
                }
                bool portRace = port is null && attempt < 5 && failure.Contains("Address already in use", StringComparison.Ordinal);
                if (!portRace)
                {
                    await daemon.KillAndCleanUpAsync();
                    Assert.Fail(failure);
                }
            }
            catch
            {
                if (daemon is not null)
                {
                    await daemon.KillAndCleanUpAsync();
                }
                else
                {
                    dir.Dispose();
                }
                throw;
            }
            await daemon.KillAndCleanUpAsync();
        }
    }

    /// <summary>The generated rsyncd.conf.</summary>
    public static string GenerateConfig(IEnumerable<DaemonModule> modules, TempDir dir, IEnumerable<string> globalLines)
    {
        var sb = new StringBuilder();
        sb.Append("# generated by NetRsync.Interop.Tests.NetRsyncDaemon\n");
        sb.Append("use chroot = no\n");
        sb.Append("uid = root\n");
        sb.Append("gid = root\n");
        sb.Append($"log file = {dir.File("rsyncd.log")}\n");
        sb.Append($"lock file = {dir.File("rsyncd.lock")}\n");
        sb.Append("reverse lookup = no\n");
        foreach (string line in globalLines)
        {
            sb.Append(line).Append('\n');
        }
        foreach (DaemonModule m in modules)
        {
            StockDaemon.AppendModuleSection(sb, m, dir);
        }
        return sb.ToString();
    }

    private static async Task<(NetRsyncDaemon Daemon, string? Failure)> TryStartAsync(string fileName, string[] prefix, DaemonModule[] modules, string[] globals, int port, TempDir dir,
        Func<TempDir, string>? configText)
    {
        string config = dir.File("rsyncd.conf");
        string log = dir.File("rsyncd.log");
        // As bytes: a module path given as a NameText string keeps bytes that are not UTF-8.
        File.WriteAllBytes(config, global::NetRsync.Protocol.Text.NameText.ToBytes(configText?.Invoke(dir) ?? GenerateConfig(modules, dir, globals)));

        // Each daemon's node link (two-way sync) in its own directory, so that daemons started side by side do not share one.
        var (process, output) = ProcessRunner.StartCaptured(fileName,
            prefix.Concat(["--no-detach", $"--config={config}", $"--port={port}", "--address=127.0.0.1"]),
            [new("NETRSYNC_RUN_DIR", dir.File("run"))]);
        var daemon = new NetRsyncDaemon(port, process, dir, config, log, output,
            modules.Select(m => Path.GetFullPath(m.Path).TrimEnd('/')).ToArray());

        Task exited = process.WaitForExitAsync();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync(); // flush redirected output
                return (daemon, $"netrsyncd exited with code {process.ExitCode} before listening on 127.0.0.1:{port}.\n{daemon.Diagnostics()}");
            }
            if (StockDaemon.OwnsListeningSocket(process.Id, port) && await StockDaemon.Probe(port))
            {
                return (daemon, null);
            }
            if (deadline.Elapsed > StartDeadline)
            {
                return (daemon, $"netrsyncd did not accept connections on 127.0.0.1:{port} within {StartDeadline.TotalSeconds:F0}s.\n{daemon.Diagnostics()}");
            }
            // Poll interval; wakes at once if the daemon dies.
            await Task.WhenAny(exited, Task.Delay(25));
        }
    }

    /// <summary>Config, log and process output, for failure messages.</summary>
    public string Diagnostics() =>
        $"--- {ConfigPath} ---\n{SafeRead(ConfigPath)}--- netrsyncd log ({LogPath}) ---\n{Tail(DaemonLog)}--- netrsyncd stdout/stderr ---\n{Tail(ProcessOutput)}--- end ---";

    /// <summary><see cref="Diagnostics"/> once no connection is being served any more (waiting at most
    /// <paramref name="timeout"/>, default 10 s), so the log holds whatever the daemon said last.</summary>
    public async Task<string> DiagnosticsWhenIdleAsync(TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(10);
        var sw = Stopwatch.StartNew();
        int busy;
        while ((busy = OpenConnections()) > 0 && sw.Elapsed < limit && !HasExited)
        {
            await Task.Delay(25); // poll interval
        }
        return (busy > 0 ? $"(netrsyncd still serves {busy} connection(s) after {limit.TotalSeconds:F0}s)\n" : "") + Diagnostics();
    }

    private static string Tail(string text, int max = 20_000) =>
        text.Length <= max ? text : $"(... {text.Length - max} characters left out ...)\n" + text[^max..];

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException e)
        {
            return $"({e.Message})\n";
        }
    }

    /// <summary>How many TCP connections to the daemon's port the daemon process still holds open
    /// (any state but LISTEN; matched through /proc/net/tcp inodes and /proc/PID/fd). netrsyncd serves
    /// every connection in its own process, so this is "connections being served".</summary>
    public int OpenConnections()
    {
        try
        {
            string local = $"0100007F:{Port:X4}";
            var inodes = new HashSet<string>();
            foreach (string line in File.ReadLines("/proc/net/tcp").Skip(1))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 9 && f[1] == local && f[3] != "0A" && f[9] != "0")
                {
                    inodes.Add($"socket:[{f[9]}]");
                }
            }
            if (inodes.Count == 0)
            {
                return 0;
            }
            int count = 0;
            foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{ProcessId}/fd"))
            {
                try
                {
                    if (new FileInfo(fd).LinkTarget is string target && inodes.Contains(target))
                    {
                        count++;
                    }
                }
                catch (IOException)
                {
                    // fd closed meanwhile
                }
            }
            return count;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0; // process gone
        }
    }

    /// <summary>Polls until the daemon serves no connection any more; fails after the deadline.</summary>
    public async Task WaitForIdleAsync(TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(30);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            int busy = OpenConnections();
            if (busy == 0)
            {
                return;
            }
            if (sw.Elapsed > limit)
            {
                Assert.Fail($"netrsyncd still serves {busy} connection(s) after {limit.TotalSeconds:F0}s.\n{Diagnostics()}");
            }
            await Task.Delay(25); // poll interval
        }
    }

    /// <summary>Polls until <see cref="OpenConnections"/> reaches at least <paramref name="count"/>; fails after the deadline.</summary>
    public async Task WaitForConnectionsAsync(int count, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(30);
        var sw = Stopwatch.StartNew();
        while (OpenConnections() < count)
        {
            if (sw.Elapsed > limit)
            {
                Assert.Fail($"netrsyncd did not serve {count} connection(s) within {limit.TotalSeconds:F0}s.\n{Diagnostics()}");
            }
            await Task.Delay(25); // poll interval
        }
    }

    /// <summary>Polls the daemon log (from character <paramref name="from"/> on) until
    /// <paramref name="predicate"/> holds; fails after the deadline.</summary>
    public async Task<string> WaitForLogAsync(Func<string, bool> predicate, string what, int from = 0, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(30);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            string full = DaemonLog;
            string log = full.Length > from ? full[from..] : "";
            if (predicate(log))
            {
                return log;
            }
            if (sw.Elapsed > limit)
            {
                Assert.Fail($"the netrsyncd log did not show {what} within {limit.TotalSeconds:F0}s.\n{Diagnostics()}");
            }
            await Task.Delay(25); // poll interval
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    /// <summary>Sends SIGTERM (as an init system stopping the service would).</summary>
    public void Terminate()
    {
        if (!_process.HasExited && KillNative(ProcessId, SigTerm) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (!_process.HasExited)
            {
                throw new IOException($"kill({ProcessId}, SIGTERM) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
            }
        }
    }

    /// <summary>Sends SIGTERM and waits up to <see cref="StopDeadline"/> for netrsyncd to exit. Returns
    /// whether it did; if not, it is killed (so nothing is left running) and false is returned.</summary>
    public async Task<bool> StopAsync()
    {
        if (_process.HasExited)
        {
            await _process.WaitForExitAsync();
            return true;
        }
        Terminate();
        using (var cts = new CancellationTokenSource(StopDeadline))
        {
            try
            {
                await _process.WaitForExitAsync(cts.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
            }
        }
        await KillAsync();
        return false;
    }

    private async Task KillAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task KillAndCleanUpAsync()
    {
        await KillAsync();
        _disposed = true;
        _process.Dispose();
        _dir.Dispose();
    }

    /// <summary>SIGTERM, wait, clean up; fails if netrsyncd had to be killed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        bool stopped = await StopAsync();
        string diagnostics = stopped ? "" : Diagnostics();
        _disposed = true;
        _process.Dispose();
        _dir.Dispose();
        if (!stopped)
        {
            Assert.Fail($"netrsyncd (pid {ProcessId}) did not exit within {StopDeadline.TotalSeconds:F0}s of SIGTERM and was killed.\n{diagnostics}");
        }
    }
}

/// <summary>Per-test setup: a temp dir with <c>src/</c> (a source tree) and <c>mod/</c> (the module's
/// directory, module "mod", writable), and netrsyncd serving it (plus whatever other modules the test
/// asks for). Disposing stops the daemon (failing if it does not stop on SIGTERM) and deletes everything.</summary>
public sealed class NetRsyncDaemonFixture : IAsyncDisposable
{
    public const string ModuleName = "mod";

    public TempDir Temp { get; }

    public string Source { get; }

    public string ModuleDir { get; }

    public NetRsyncDaemon Daemon { get; }

    private NetRsyncDaemonFixture(TempDir temp, string source, string moduleDir, NetRsyncDaemon daemon)
    {
        Temp = temp;
        Source = source;
        ModuleDir = moduleDir;
        Daemon = daemon;
    }

    /// <summary>The module URL, <c>rsync://[user@]127.0.0.1:PORT/mod/</c>.</summary>
    public string Url(string? user = null) => Daemon.Url(ModuleName, user);

    /// <summary>"src/" with the trailing slash rsync needs to copy the contents.</summary>
    public string SourceArg => Source + "/";

    /// <param name="configure">Gives the module "mod" (path set, writable) a chance to change.</param>
    /// <param name="extraModules">More modules, given the fixture's temp dir.</param>
    /// <param name="globalLines">Extra lines for the config's global section.</param>
    public static async Task<NetRsyncDaemonFixture> StartAsync(
        Func<DaemonModule, DaemonModule>? configure = null,
        Func<TempDir, IEnumerable<DaemonModule>>? extraModules = null,
        IEnumerable<string>? globalLines = null)
    {
        var temp = new TempDir();
        try
        {
            string src = temp.Sub("src");
            string mod = temp.Sub("mod");
            var module = new DaemonModule(ModuleName, mod);
            module = configure?.Invoke(module) ?? module;
            var modules = new List<DaemonModule> { module };
            modules.AddRange(extraModules?.Invoke(temp) ?? []);
            NetRsyncDaemon daemon = await NetRsyncDaemon.StartAsync(modules, globalLines);
            var fixture = new NetRsyncDaemonFixture(temp, src, mod, daemon);
            fixture.AgeModuleRoot();
            return fixture;
        }
        catch
        {
            temp.Dispose();
            throw;
        }
    }

    /// <summary>See <see cref="PushFixture.AgeModuleRoot"/>.</summary>
    public void AgeModuleRoot() => Posix.SetTimes(ModuleDir, 631_152_000, 0);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Daemon.DisposeAsync();
        }
        finally
        {
            Temp.Dispose();
        }
    }
}

/// <summary>Shared pieces of the netrsyncd tests.</summary>
public static class DaemonTestKit
{
    /// <summary>Runs a stock client (no shell), logging the result to the test output.</summary>
    public static async Task<ProcessResult> RunStock(
        ITestOutputHelper output,
        string peer,
        IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? env = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null)
    {
        ProcessResult r = await ProcessRunner.RunAsync(RsyncPeers.Resolve(peer), args, env, timeout, workingDirectory);
        output.WriteLine(r.ToString());
        return r;
    }

    /// <summary>Fails unless the exit code is as expected; the message carries the client's output and
    /// the daemon's config and log, taken once it serves no connection any more.</summary>
    public static async Task AssertExit(int expected, ProcessResult r, NetRsyncDaemon daemon)
    {
        if (r.ExitCode != expected)
        {
            string diagnostics = await daemon.DiagnosticsWhenIdleAsync();
            Assert.Fail($"expected exit code {expected}, got {r.ExitCode}\n{r}\n{diagnostics}");
        }
    }

    /// <summary>Tree comparison options for a transfer through netrsyncd at this protocol. netrsyncd
    /// stores received symlink targets verbatim when <c>munge symlinks = no</c> (the fixture's setting).</summary>
    public static TreeCompareOptions CompareOptionsFor(string protocol) =>
        new() { CompareNanoseconds = RsyncPeers.CarriesNanoseconds(protocol), ExpectSanitizedSymlinks = false };

    public static List<string> Args(params IEnumerable<string>[] parts) => parts.SelectMany(p => p).ToList();

    /// <summary>A small tree: two folders, four files, fixed times.</summary>
    public static void SmallTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "sub", "deeper"));
        File.WriteAllText(Path.Combine(root, "keep.txt"), "keep\n");
        File.WriteAllText(Path.Combine(root, "b.txt"), "bee\n");
        File.WriteAllText(Path.Combine(root, "sub", "keep2.txt"), "keep two\n");
        File.WriteAllBytes(Path.Combine(root, "sub", "deeper", "c.bin"), [1, 2, 3, 0, 255]);
        PushFixture.StampTimes(root);
    }

    /// <summary>Every entry below <paramref name="root"/> (not the root itself), relative, sorted.</summary>
    public static string[] Entries(string root) =>
        TreeComparer.Scan(root).Keys.Where(k => k != ".").ToArray();

    public static void AssertEmpty(string dir)
    {
        string[] entries = Entries(dir);
        Assert.True(entries.Length == 0, $"{dir} should be empty but holds:\n  {string.Join("\n  ", entries.Take(20).Select(TreeComparer.Show))}");
    }

    /// <summary>Runs every check even when an earlier one fails, then fails with all their messages and
    /// the daemon's diagnostics (so one failing check does not hide what the others would say).</summary>
    public static Task AssertAllAsync(NetRsyncDaemon daemon, params (string What, Func<Task> Check)[] checks) =>
        AssertAllAsync(() => daemon.DiagnosticsWhenIdleAsync(), checks);

    /// <summary>As above, with <paramref name="diagnostics"/> (when given) added to the failure.</summary>
    public static async Task AssertAllAsync(Func<Task<string>>? diagnostics, params (string What, Func<Task> Check)[] checks)
    {
        var failures = new List<string>();
        foreach ((string what, Func<Task> check) in checks)
        {
            try
            {
                await check();
            }
            catch (Xunit.Sdk.XunitException e)
            {
                failures.Add($"{what}:\n{e.Message}");
            }
        }
        if (failures.Count > 0)
        {
            string extra = diagnostics is null ? "" : "\n\n" + await diagnostics();
            Assert.Fail($"{failures.Count} of {checks.Length} checks failed.\n\n{string.Join("\n\n", failures)}{extra}");
        }
    }

    /// <summary>A plain stock <c>-ani ARGS SOURCE DEST</c> dry run (whole-second quick check) must exit 0
    /// and itemize nothing.</summary>
    public static async Task AssertCleanDryRun(ITestOutputHelper output, string peer, IEnumerable<string> args, string source, string destination,
        IReadOnlyDictionary<string, string?>? env = null)
    {
        ProcessResult r = await RunStock(output, peer, Args(["-ani"], args, [source, destination]), env);
        Assert.True(r.ExitCode == 0, $"the stock dry run failed:\n{r}");
        string[] pending = StockClient.ItemizedLines(r.Stdout);
        Assert.True(pending.Length == 0, $"stock rsync still finds {pending.Length} thing(s) to change:\n  {string.Join("\n  ", pending.Take(40))}\n\n{r}");
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> after the deadline.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
            {
                Assert.Fail($"timed out after {timeout.TotalSeconds:F0}s waiting for {what}\n{diagnostics?.Invoke()}");
            }
            await Task.Delay(25); // poll interval
        }
    }
}
