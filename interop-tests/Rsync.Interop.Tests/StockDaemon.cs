using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace NetRsync.Interop.Tests;

/// <summary>One module of a <see cref="StockDaemon"/>'s rsyncd.conf.</summary>
public sealed record DaemonModule(string Name, string Path)
{
    public bool ReadOnly { get; init; }

    public string? Comment { get; init; }

    /// <summary>Whether the module shows in a module listing (<c>list = no</c> hides it).</summary>
    public bool List { get; init; } = true;

    /// <summary><c>auth users</c>, e.g. "rsync".</summary>
    public string? AuthUsers { get; init; }

    /// <summary>user:password lines for a generated secrets file (written with mode 0600, since strict
    /// modes make rsync refuse anything more open).</summary>
    public IReadOnlyList<(string User, string Password)>? Secrets { get; init; }

    /// <summary>Extra raw "key = value" lines for the module section.</summary>
    public IReadOnlyList<string>? ExtraLines { get; init; }
}

/// <summary>A stock rsync daemon on 127.0.0.1 and a free port, run in the foreground:
/// <c>PEER --daemon --no-detach --config=GEN --port=P --address=127.0.0.1 --log-file=LOG</c>.
/// Ready when a TCP connect succeeds and the daemon greets with "@RSYNCD: " (polled, with a deadline). Disposing kills the process tree and
/// removes the generated files (not the module directories, which belong to the test).</summary>
public sealed class StockDaemon : IAsyncDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly TempDir _dir;
    private readonly StringBuilder _output;
    private bool _disposed;

    public string Peer { get; }

    public int Port { get; }

    public string ConfigPath { get; }

    public string LogPath { get; }

    public int ProcessId => _process.Id;

    /// <summary>Full paths of the modules' directories.</summary>
    public IReadOnlyList<string> ModulePaths { get; }

    private StockDaemon(string peer, int port, Process process, TempDir dir, string configPath, string logPath, StringBuilder output, IReadOnlyList<string> modulePaths)
    {
        ModulePaths = modulePaths;
        Peer = peer;
        Port = port;
        _process = process;
        _dir = dir;
        ConfigPath = configPath;
        LogPath = logPath;
        _output = output;
    }

    /// <summary>Contents of the daemon's --log-file (empty if not yet written).</summary>
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
            catch (FileNotFoundException)
            {
                return "";
            }
        }
    }

    /// <summary>What the daemon process wrote to stdout/stderr (errors before the log file opens).</summary>
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

    /// <summary><c>rsync://127.0.0.1:PORT/MODULE/</c> (or the listing URL when module is null).</summary>
    public string Url(string? module, string? user = null) =>
        $"rsync://{(user is null ? "" : user + "@")}127.0.0.1:{Port}/{(module is null ? "" : module + "/")}";

    /// <summary>The <c>127.0.0.1::MODULE/</c> form; needs <c>--port=</c><see cref="Port"/> on the command line.</summary>
    public string DoubleColon(string module, string? user = null) =>
        $"{(user is null ? "" : user + "@")}127.0.0.1::{module}/";

    /// <summary>Starts a daemon. With <paramref name="port"/> null a free port is picked (and another is
    /// tried if that one is taken in the meantime); an explicit port is used as is.</summary>
    public static async Task<StockDaemon> StartAsync(string peer, IEnumerable<DaemonModule> modules, int? port = null, IEnumerable<string>? globalLines = null)
    {
        string[] globals = globalLines?.ToArray() ?? [];
        string binary = RsyncPeers.Resolve(peer);
        DaemonModule[] mods = modules.ToArray();
        for (int attempt = 1; ; attempt++)
        {
            int p = port ?? FreePort();
            var dir = new TempDir();
            StockDaemon? daemon = null;
            try
            {
                (daemon, string? failure) = await TryStartAsync(binary, mods, p, dir, globals);
                if (failure is null)
                {
                    return daemon!;
                }
                bool portRace = port is null && attempt < 5 && failure.Contains("Address already in use", StringComparison.Ordinal);
                if (!portRace)
                {
                    Assert.Fail(failure);
                }
            }
            catch
            {
                if (daemon is not null)
                {
                    await daemon.DisposeAsync();
                }
                else
                {
                    dir.Dispose();
                }
                throw;
            }
            await daemon!.DisposeAsync();
        }
    }

    private static async Task<(StockDaemon Daemon, string? Failure)> TryStartAsync(string binary, DaemonModule[] modules, int port, TempDir dir, string[] globals)
    {
        string config = dir.File("rsyncd.conf");
        string log = dir.File("rsyncd.log");
        // As bytes: a module path given as a NameText string keeps bytes that are not UTF-8.
        File.WriteAllBytes(config, global::NetRsync.Protocol.Text.NameText.ToBytes(GenerateConfig(modules, dir, globals)));

        var (process, output) = ProcessRunner.StartCaptured(binary,
            ["--daemon", "--no-detach", $"--config={config}", $"--port={port}", "--address=127.0.0.1", $"--log-file={log}"]);
        var daemon = new StockDaemon(binary, port, process, dir, config, log, output,
            modules.Select(m => Path.GetFullPath(m.Path).TrimEnd('/')).ToArray());

        // Readiness: poll a TCP connect until it is accepted; stop early if the daemon exits.
        Task exited = process.WaitForExitAsync();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync(); // flush redirected output
                return (daemon, $"rsync daemon {binary} exited with code {process.ExitCode} before listening on 127.0.0.1:{port}.\n{daemon.Diagnostics()}");
            }
            // Both: the greeting proves an rsync daemon answers; the socket check proves it is this one
            // (another test's daemon could have taken a port picked a moment ago).
            if (OwnsListeningSocket(process.Id, port) && await Probe(port))
            {
                return (daemon, null);
            }
            if (deadline.Elapsed > StartDeadline)
            {
                return (daemon, $"rsync daemon {binary} did not accept connections on 127.0.0.1:{port} within {StartDeadline.TotalSeconds:F0}s.\n{daemon.Diagnostics()}");
            }
            // Poll interval; wakes at once if the daemon dies.
            await Task.WhenAny(exited, Task.Delay(25));
        }
    }

    /// <summary>Whether process <paramref name="pid"/> holds a TCP socket listening on 127.0.0.1:<paramref name="port"/>
    /// (matched through /proc/net/tcp inodes and /proc/PID/fd).</summary>
    public static bool OwnsListeningSocket(int pid, int port)
    {
        try
        {
            string wanted = $"0100007F:{port:X4}";
            var inodes = new HashSet<string>();
            foreach (string line in File.ReadLines("/proc/net/tcp").Skip(1))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length > 9 && f[1] == wanted && f[3] == "0A") // 0A = LISTEN
                {
                    inodes.Add($"socket:[{f[9]}]");
                }
            }
            if (inodes.Count == 0)
            {
                return false;
            }
            foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
            {
                try
                {
                    if (new FileInfo(fd).LinkTarget is string target && inodes.Contains(target))
                    {
                        return true;
                    }
                }
                catch (IOException)
                {
                    // fd closed meanwhile
                }
            }
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // process gone
        }
    }

    /// <summary>Connects and reads the daemon's "@RSYNCD: " greeting (so a foreign listener on the port
    /// does not count as ready), then asks politely for the module list so the daemon logs a clean
    /// "module-list request" rather than an error for the probe.</summary>
    public static async Task<bool> Probe(int port)
    {
        using var client = new TcpClient();
        // Short: a real daemon greets at once; if not, the caller simply probes again.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            NetworkStream stream = client.GetStream();
            var line = new List<byte>();
            byte[] one = new byte[1];
            while (line.Count < 200)
            {
                if (await stream.ReadAsync(one, cts.Token) == 0)
                {
                    return false;
                }
                if (one[0] == (byte)'\n')
                {
                    break;
                }
                line.Add(one[0]);
            }
            if (!Encoding.ASCII.GetString(line.ToArray()).StartsWith("@RSYNCD: ", StringComparison.Ordinal))
            {
                return false;
            }
            try
            {
                await stream.WriteAsync("@RSYNCD: 30.0\n#list\n"u8.ToArray(), cts.Token);
                byte[] sink = new byte[4096];
                while (await stream.ReadAsync(sink, cts.Token) > 0)
                {
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // The greeting already proved readiness.
            }
            return true;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Config, log and process output, for failure messages.</summary>
    public string Diagnostics() =>
        $"--- {ConfigPath} ---\n{SafeRead(ConfigPath)}--- daemon log ({LogPath}) ---\n{DaemonLog}--- daemon stdout/stderr ---\n{ProcessOutput}--- end ---";

    /// <summary><see cref="Diagnostics"/> once no process serves a connection any more (waiting at most
    /// <paramref name="timeout"/>, default 10 s), so the log holds whatever the daemon said last.</summary>
    public async Task<string> DiagnosticsWhenIdleAsync(TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(10);
        var sw = Stopwatch.StartNew();
        IReadOnlyList<int> busy;
        while ((busy = ConnectionProcessIds()).Count > 0 && sw.Elapsed < limit)
        {
            await Task.Delay(25); // poll interval
        }
        return (busy.Count > 0 ? $"(daemon connection processes {string.Join(",", busy)} still running after {limit.TotalSeconds:F0}s)\n" : "") + Diagnostics();
    }

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

    /// <param name="globalLines">Extra raw lines for the global section. A "log file" there takes the
    /// modules' lines (rsync reopens the log at each module's own "log file", which --log-file does not set).</param>
    public static string GenerateConfig(IEnumerable<DaemonModule> modules, TempDir dir, IEnumerable<string>? globalLines = null)
    {
        var sb = new StringBuilder();
        sb.Append("# generated by NetRsync.Interop.Tests.StockDaemon\n");
        sb.Append("use chroot = no\n");
        sb.Append("uid = 0\n");
        sb.Append("gid = 0\n");
        sb.Append($"lock file = {dir.File("rsyncd.lock")}\n");
        sb.Append("reverse lookup = no\n");
        foreach (string line in globalLines ?? [])
        {
            sb.Append(line).Append('\n');
        }
        foreach (DaemonModule m in modules)
        {
            AppendModuleSection(sb, m, dir);
        }
        return sb.ToString();
    }

    /// <summary>Appends one module's section (and writes its secrets file into <paramref name="dir"/>),
    /// as <see cref="GenerateConfig"/> does for each module.</summary>
    public static void AppendModuleSection(StringBuilder sb, DaemonModule m, TempDir dir)
    {
        if (m.Name.Length == 0 || m.Name.IndexOfAny([']', '/', '\n']) >= 0)
        {
            throw new ArgumentException($"bad module name '{m.Name}'");
        }
        sb.Append($"\n[{m.Name}]\n");
        sb.Append($"    path = {m.Path}\n");
        sb.Append($"    read only = {(m.ReadOnly ? "yes" : "no")}\n");
        sb.Append($"    list = {(m.List ? "yes" : "no")}\n");
        // With "use chroot = no" rsync munges symlinks by default ("/rsyncd-munged/" prefix);
        // these tests need them stored verbatim.
        sb.Append("    munge symlinks = no\n");
        // One log line per transferred file: shows how far a failed push got.
        sb.Append("    transfer logging = yes\n");
        if (m.Comment is not null)
        {
            sb.Append($"    comment = {m.Comment}\n");
        }
        if (m.AuthUsers is not null)
        {
            sb.Append($"    auth users = {m.AuthUsers}\n");
        }
        if (m.Secrets is not null)
        {
            string secrets = dir.File($"{m.Name}.secrets");
            WriteSecretFile(secrets, string.Concat(m.Secrets.Select(s => $"{s.User}:{s.Password}\n")));
            sb.Append($"    secrets file = {secrets}\n");
        }
        foreach (string line in m.ExtraLines ?? [])
        {
            sb.Append($"    {line}\n");
        }
    }

    /// <summary>Writes a file that is created with mode 0600 (rsync refuses group/other-readable
    /// secrets and password files).</summary>
    public static void WriteSecretFile(string path, string content)
    {
        File.Delete(path);
        using (var fs = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            fs.Write(Encoding.UTF8.GetBytes(content));
        }
        Posix.Chmod(path, Posix.Mode("600"));
    }

    /// <summary>A port that was free a moment ago.</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Pids of the daemon's live child processes (one per connection being served).</summary>
    public IReadOnlyList<int> ChildProcessIds()
    {
        var result = new List<int>();
        string taskDir = $"/proc/{_process.Id}/task";
        try
        {
            foreach (string t in Directory.EnumerateDirectories(taskDir))
            {
                string text = File.ReadAllText(Path.Combine(t, "children"));
                result.AddRange(text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // daemon gone
        }
        return result;
    }

    /// <summary>Pids of processes still serving a connection: the daemon's children, plus any process
    /// whose working directory is inside one of the modules (rsync's server-side receiver runs in the
    /// module directory and may be a grandchild of the daemon that outlives its parent).</summary>
    public IReadOnlyList<int> ConnectionProcessIds()
    {
        var result = new HashSet<int>(ChildProcessIds());
        foreach (string procDir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(procDir), out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            string? cwd;
            try
            {
                cwd = new DirectoryInfo(Path.Combine(procDir, "cwd")).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // gone, or not ours to see
            }
            if (cwd is not null && ModulePaths.Any(m => cwd == m || cwd.StartsWith(m + "/", StringComparison.Ordinal)))
            {
                result.Add(pid);
            }
        }
        return result.Order().ToArray();
    }

    /// <summary>Polls until no process serves a connection any more (see <see cref="ConnectionProcessIds"/>):
    /// then every connection's cleanup, e.g. removing its temporary file, is done. Fails after the deadline.
    /// (rsync daemons log nothing when a client connection is cut mid-transfer, so the log cannot tell.)</summary>
    public async Task WaitForIdleAsync(TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(30);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            IReadOnlyList<int> busy = ConnectionProcessIds();
            if (busy.Count == 0)
            {
                return;
            }
            if (sw.Elapsed > limit)
            {
                Assert.Fail($"the rsync daemon still has connection processes {string.Join(",", busy)} after {limit.TotalSeconds:F0}s.\n{Diagnostics()}");
            }
            await Task.Delay(25); // poll interval
        }
    }

    /// <summary>Current length of the daemon log, in characters (for <see cref="WaitForLogAsync"/>'s <c>from</c>).</summary>
    public int DaemonLogLength => DaemonLog.Length;

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
                Assert.Fail($"the rsync daemon log did not show {what} within {limit.TotalSeconds:F0}s.\n{Diagnostics()}");
            }
            await Task.Delay(25); // poll interval
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
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
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15)))
        {
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _disposed = true;
        _process.Dispose();
        _dir.Dispose();
    }
}
