using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using NetRsync.Interop.Tests;
using Xunit;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>
/// Two nodes on loopback, each as the seed deploys one: netrsyncd serving its folder as module
/// "rsync" on its own 127.0.0.1 port, and netsersync (the seed's confxml.xml, -r) pushing that
/// folder to the other node's daemon. Each node has its own NETRSYNC_RUN_DIR, so each watcher
/// talks to its own daemon over the node link.
/// </summary>
public sealed partial class TwoWayTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private static readonly string SeedConfig = Path.Combine(AppContext.BaseDirectory, "Data", "confxml.xml");

    /// <summary>Changes on each side arrive on the other, and the watchers push nothing back that their
    /// daemon wrote: not the files, not the folders, not the edits the peer made to them.</summary>
    [Fact]
    public async Task ChangesFlowBothWaysWithoutEchoes()
    {
        await using var pair = await NodePair.StartAsync();
        var (a, b) = (pair.A, pair.B);

        a.Write("a-1.txt", "made on a\n");
        a.Write("a-dir/a-2.txt", "made on a, in a folder\n");
        a.Write("a-dir/deeper/a-3.bin", new string('x', 200_000));
        File.CreateSymbolicLink(a.Full("a-link"), "a-1.txt");
        b.Write("b-1.txt", "made on b\n");
        b.Write("b-dir/b-2.txt", "made on b, in a folder\n");
        await pair.ConvergeAsync();
        await pair.FlushAsync("first");

        string[] fromA = ["a-1.txt", "a-dir", "a-dir/a-2.txt", "a-dir/deeper", "a-dir/deeper/a-3.bin", "a-link"];
        string[] fromB = ["b-1.txt", "b-dir", "b-dir/b-2.txt"];
        await AssertAllAsync(pair,
            ("a pushed its own files", () => AssertPushed(a, 0, fromA)),
            ("b pushed its own files", () => AssertPushed(b, 0, fromB)),
            ("b pushed none of a's back", () => AssertNotPushed(b, 0, fromA)),
            ("a pushed none of b's back", () => AssertNotPushed(a, 0, fromB)));

        // Each side edits what the other made; the edit goes over and does not come back.
        int aFrom = a.Watcher.Output.Length, bFrom = b.Watcher.Output.Length;
        File.AppendAllText(a.Full("b-1.txt"), "edited on a\n");
        File.AppendAllText(b.Full("a-dir/a-2.txt"), "edited on b\n");
        b.Write("a-dir/new-on-b.txt", "b adds to a's folder\n");
        await pair.ConvergeAsync();
        await pair.FlushAsync("second");
        Assert.Contains("edited on a", File.ReadAllText(b.Full("b-1.txt")), StringComparison.Ordinal);
        Assert.Contains("edited on b", File.ReadAllText(a.Full("a-dir/a-2.txt")), StringComparison.Ordinal);
        await AssertAllAsync(pair,
            ("b pushed none of a's edits back", () => AssertNotPushed(b, bFrom, ["b-1.txt"])),
            ("a pushed none of b's edits back", () => AssertNotPushed(a, aFrom, ["a-dir/a-2.txt", "a-dir/new-on-b.txt"])),
            ("a counted echoes", () => AssertEchoesCounted(a)),
            ("b counted echoes", () => AssertEchoesCounted(b)));
    }

    /// <summary>
    /// The same file edited on both sides while b's daemon is down: a's push waits in its queue, b's edit
    /// reaches a, whose version is a local change not yet delivered, so a keeps b's older version as a
    /// conflict copy. Once b's daemon is back, a's newer version and the copy reach b. Both end with
    /// the newer version and one conflict copy holding the older one.
    /// </summary>
    [Fact]
    public async Task ConcurrentEditsEndWithTheNewerVersionAndOneConflictCopy()
    {
        await using var pair = await NodePair.StartAsync();
        var (a, b) = (pair.A, pair.B);
        a.Write("shared.txt", "the first version\n");
        await pair.ConvergeAsync();

        await b.StopDaemonAsync();
        int aFrom = a.Watcher.Output.Length;
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        a.Write("shared.txt", "edited on a, later\n", mtime: now - 60);
        await a.Watcher.WaitForOutputFromAsync(aFrom, "failed", Deadline);

        int bFrom = b.Watcher.Output.Length;
        b.Write("shared.txt", "edited on b, earlier\n", mtime: now - 120);
        await WaitUntilAsync(() => PushedNames(b.Watcher.Output[bFrom..]).Contains("shared.txt"), "b's push of its edit", pair);
        await WaitUntilAsync(() => Directory.GetFiles(a.Tree, "shared.txt.conflict-*").Length == 1, "a's conflict copy of b's edit", pair);
        await b.StartDaemonAsync();
        await b.Watcher.WaitForOutputFromAsync(bFrom, "node link: connected", Deadline);

        await pair.ConvergeAsync();
        await pair.FlushAsync("after");
        AssertBothHoldOneCopy(pair, "shared.txt", winner: "edited on a, later\n", loser: "edited on b, earlier\n");
    }

    /// <summary>
    /// An older file moved over a newer one that the other node made (restored from elsewhere with its
    /// old mtime): the other node never held the moved-in version under that name, and its own newer
    /// one is no version it was sent, so it cannot tell the move from a concurrent edit. -u keeps the
    /// newer version under the name on both nodes, and the moved-in one is kept beside it as a
    /// conflict copy instead of being dropped.
    /// </summary>
    [Fact]
    public async Task AnOlderFileMovedOverTheOtherNodesNewerOneIsKeptAsAConflictCopy()
    {
        await using var pair = await NodePair.StartAsync();
        var (a, b) = (pair.A, pair.B);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        b.Write("report.txt", "the newer report, made on b\n", mtime: now - 10);
        await pair.ConvergeAsync();

        MoveInFromOutside(a, "report.txt", "an older report, restored over the newer one\n", now - 100);
        await WaitUntilAsync(() => Directory.GetFiles(b.Tree, "report.txt.conflict-*").Length == 1, "b's conflict copy of the restored report", pair);
        await pair.ConvergeAsync();
        await pair.FlushAsync("after");
        AssertBothHoldOneCopy(pair, "report.txt", winner: "the newer report, made on b\n", loser: "an older report, restored over the newer one\n");
    }

    /// <summary>Each node holds <paramref name="winner"/> under the name and one conflict copy beside it, holding <paramref name="loser"/>.</summary>
    private static void AssertBothHoldOneCopy(NodePair pair, string name, string winner, string loser)
    {
        foreach (var node in new[] { pair.A, pair.B })
        {
            Assert.Equal(winner, File.ReadAllText(node.Full(name)));
            string[] copies = Directory.GetFiles(node.Tree, name + ".conflict-*");
            Assert.True(copies.Length == 1,
                $"{node.Name} should hold one conflict copy, holds: {string.Join(", ", Directory.GetFileSystemEntries(node.Tree).Select(Path.GetFileName))}\n{pair.Diagnostics()}");
            Assert.Equal(loser, File.ReadAllText(copies[0]));
        }
    }

    /// <summary>
    /// An older file moved over a newer one that came from the same node: the receiving node holds
    /// the newer version exactly as that node sent it, unchanged since, so the move is the later
    /// change and replaces it on both nodes, mtime notwithstanding, with no conflict copy.
    /// </summary>
    [Fact]
    public async Task AnOlderFileMovedOverANewerOneFromTheSameNodeReplacesIt()
    {
        await using var pair = await NodePair.StartAsync();
        var (a, b) = (pair.A, pair.B);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        a.Write("report.txt", "the newer report\n", mtime: now - 10);
        await pair.ConvergeAsync();

        const string Restored = "an older report, restored over the newer one\n";
        MoveInFromOutside(a, "report.txt", Restored, now - 100);
        await WaitUntilAsync(() => File.ReadAllText(b.Full("report.txt")) == Restored, "the restored report on b", pair);
        await pair.ConvergeAsync();
        await pair.FlushAsync("after");
        foreach (var node in new[] { a, b })
        {
            Assert.Equal(Restored, File.ReadAllText(node.Full("report.txt")));
            Assert.Empty(Directory.GetFiles(node.Tree, "report.txt.conflict-*"));
        }
    }

    private static void MoveInFromOutside(Node node, string rel, string content, long mtime)
    {
        string outside = Path.Combine(Path.GetDirectoryName(node.Tree)!, "outside-" + Path.GetFileName(rel));
        File.WriteAllText(outside, content);
        File.SetLastWriteTimeUtc(outside, DateTime.UnixEpoch.AddSeconds(mtime));
        File.Move(outside, node.Full(rel), overwrite: true);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what, NodePair pair)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Deadline, $"no {what} within {Deadline.TotalSeconds:F0} s\n{pair.Diagnostics()}");
            await Task.Delay(20); // poll interval
        }
    }

    private static async Task AssertAllAsync(NodePair pair, params (string What, Action Check)[] checks) =>
        await DaemonTestKit.AssertAllAsync(() => Task.FromResult(pair.Diagnostics()),
            checks.Select(c => (c.What, (Func<Task>)(() => { c.Check(); return Task.CompletedTask; }))).ToArray());

    private static void AssertPushed(Node node, int from, IEnumerable<string> paths)
    {
        var pushed = PushedNames(node.Watcher.Output[from..]);
        string[] missing = paths.Where(p => !pushed.Contains(p)).ToArray();
        // A folder's files name it as their parent: it goes with them (-R) without its own entry.
        missing = missing.Where(m => !pushed.Any(p => p.StartsWith(m + "/", StringComparison.Ordinal))).ToArray();
        Assert.True(missing.Length == 0, $"{node.Name} never pushed {string.Join(", ", missing)}");
    }

    private static void AssertNotPushed(Node node, int from, IEnumerable<string> paths)
    {
        var pushed = PushedNames(node.Watcher.Output[from..]);
        string[] echoed = paths.Where(pushed.Contains).ToArray();
        Assert.True(echoed.Length == 0, $"{node.Name} pushed back what its daemon wrote: {string.Join(", ", echoed)}");
    }

    private static void AssertEchoesCounted(Node node)
    {
        var status = StatusLine().Matches(node.Watcher.Output).LastOrDefault();
        Assert.True(status is not null, $"{node.Name} logged no status line");
        Assert.True(long.Parse(status.Groups[1].Value) > 0, $"{node.Name} counted no echo: {status.Value}");
    }

    /// <summary>Every name the watcher's push lines list (the lists are short here, never cut).</summary>
    private static HashSet<string> PushedNames(string output)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in PushLine().Matches(output))
        {
            Assert.DoesNotContain("... and", m.Groups[1].Value, StringComparison.Ordinal);
            foreach (string name in m.Groups[1].Value.Split(", "))
                names.Add(name);
        }
        return names;
    }

    [GeneratedRegex(@" push \S+ -> \S+ \([a-z]+(?:, retry)?\): \d+ path\(s\) \[([^\]]*)\]")]
    private static partial Regex PushLine();

    [GeneratedRegex(@"status: .* echoes=(\d+)")]
    private static partial Regex StatusLine();

    /// <summary>Two nodes pushing to each other.</summary>
    private sealed class NodePair : IAsyncDisposable
    {
        private NodePair(Node a, Node b)
        {
            A = a;
            B = b;
        }

        public Node A { get; }

        public Node B { get; }

        public static async Task<NodePair> StartAsync()
        {
            var a = new Node("a");
            var b = new Node("b");
            var pair = new NodePair(a, b);
            try
            {
                // Each watcher starts first and finds its daemon later, as either may come up first.
                await a.StartWatcherAsync(b.Port);
                await Task.WhenAll(a.StartDaemonAsync(), b.StartDaemonAsync());
                await b.StartWatcherAsync(a.Port);
                await Task.WhenAll(
                    a.Watcher.WaitForOutputAsync("node link: connected", Deadline),
                    b.Watcher.WaitForOutputAsync("node link: connected", Deadline));
                return pair;
            }
            catch
            {
                await pair.DisposeAsync();
                throw;
            }
        }

        /// <summary>Polls until both trees are the same.</summary>
        public Task ConvergeAsync() => Convergence.WaitAsync(A.Tree, B.Tree, Deadline, Diagnostics);

        /// <summary>
        /// A file made on each side after everything else, waited for on the other side and in its
        /// watcher's push lines: whatever either watcher would push about earlier changes it has pushed by then
        /// (events are handled in order, and each batch is pushed before the next).
        /// </summary>
        public async Task FlushAsync(string tag)
        {
            foreach (var (from, to) in new[] { (A, B), (B, A) })
            {
                string marker = $"marker-{tag}-from-{from.Name}";
                from.Write(marker, "\n");
                var clock = Stopwatch.StartNew();
                while (!(File.Exists(to.Full(marker)) && PushedNames(from.Watcher.Output).Contains(marker)))
                {
                    Assert.True(clock.Elapsed < Deadline, $"{marker} did not arrive\n{Diagnostics()}");
                    await Task.Delay(20); // poll interval
                }
            }
            foreach (var node in new[] { A, B })
            {
                int from = node.Watcher.Output.Length;
                _ = Signals.Kill(node.Watcher.ProcessId, SigUsr1);
                await node.Watcher.WaitForOutputFromAsync(from, "status:", Deadline);
            }
        }

        public string Diagnostics() => string.Join("\n", new[] { A, B }.Select(n => n.Diagnostics()));

        public async ValueTask DisposeAsync()
        {
            await A.DisposeAsync();
            await B.DisposeAsync();
        }
    }

    private const int SigUsr1 = 10;

    /// <summary>One node: its folder, its run directory, its daemon and its watcher.</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly TempDir _temp = new();
        private readonly string _runDirectory;
        private readonly string _daemonConfig;
        private readonly string _passwordFile;
        private Process? _daemon;
        private StringBuilder? _daemonOutput;
        private WatcherProcess? _watcher;

        public Node(string name)
        {
            Name = name;
            Tree = _temp.Sub("syncdir");
            _runDirectory = _temp.Sub("run");
            File.SetUnixFileMode(_runDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Port = StockDaemon.FreePort();
            string secrets = _temp.File("rsync.pass");
            StockDaemon.WriteSecretFile(secrets, "rsync:rsync\n");
            _passwordFile = _temp.File("user.pass");
            StockDaemon.WriteSecretFile(_passwordFile, "rsync\n");
            // The seed's rsyncd.conf, with this node's folder and files, and symlinks stored as they are
            // (with "use chroot=no" rsync would rewrite their targets, so the two trees could never agree).
            _daemonConfig = _temp.File("rsyncd.conf");
            File.WriteAllText(_daemonConfig, $"""
                uid=root
                gid=root
                max connections=36000
                use chroot=no
                log file={_temp.File("rsyncd.log")}
                lock file={_temp.File("rsyncd.lock")}
                ignore errors = yes
                read only = no
                auth users = rsync
                secrets file = {secrets}
                [rsync]
                comment  = rsync
                path={Tree}
                hosts allow = *
                munge symlinks = no

                """);
        }

        public string Name { get; }

        public string Tree { get; }

        public int Port { get; }

        public WatcherProcess Watcher => _watcher ?? throw new InvalidOperationException("no watcher");

        public string Full(string rel) => Path.Combine(Tree, rel);

        public void Write(string rel, string text, long? mtime = null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Full(rel))!);
            File.WriteAllText(Full(rel), text);
            if (mtime is { } seconds)
                Posix.SetTimes(Full(rel), seconds, 0);
        }

        private Dictionary<string, string> Environment => new() { ["NETRSYNC_RUN_DIR"] = _runDirectory, ["target_host"] = "127.0.0.1" };

        public async Task StartDaemonAsync()
        {
            var (fileName, prefix) = NetRsyncDaemon.Locate();
            (_daemon, _daemonOutput) = ProcessRunner.StartCaptured(fileName,
                [.. prefix, "--no-detach", $"--config={_daemonConfig}", $"--port={Port}", "--address=127.0.0.1"], Environment);
            var clock = Stopwatch.StartNew();
            while (!(StockDaemon.OwnsListeningSocket(_daemon.Id, Port) && await StockDaemon.Probe(Port)))
            {
                Assert.False(_daemon.HasExited, $"netrsyncd of {Name} exited\n{Diagnostics()}");
                Assert.True(clock.Elapsed < Deadline, $"netrsyncd of {Name} did not listen\n{Diagnostics()}");
                await Task.Delay(25); // poll interval
            }
        }

        public async Task StopDaemonAsync()
        {
            if (_daemon is null)
                return;
            _ = Signals.Kill(_daemon.Id, Signals.SigTerm);
            using var deadline = new CancellationTokenSource(NetRsyncDaemon.StopDeadline);
            try
            {
                await _daemon.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                _daemon.Kill();
                Assert.Fail($"netrsyncd of {Name} did not stop on SIGTERM\n{Diagnostics()}");
            }
            _daemon.Dispose();
            _daemon = null;
        }

        public async Task StartWatcherAsync(int peerPort)
        {
            // The seed's confxml.xml with this node's paths and the peer's port, byte for byte otherwise.
            string text = Encoding.Latin1.GetString(File.ReadAllBytes(SeedConfig))
                .Replace("/syncdir", Tree)
                .Replace("/app/local/sersync/user.pass", _passwordFile)
                .Replace("/tmp/rsync_fail_log.sh", _temp.File("rsync_fail_log"))
                .Replace("<userDefinedPort start=\"false\" port=\"874\"/>", $"<userDefinedPort start=\"true\" port=\"{peerPort}\"/>");
            string config = _temp.File("confxml.xml");
            File.WriteAllBytes(config, Encoding.Latin1.GetBytes(text));
            _watcher = await WatcherProcess.StartAsync(config, ["-r"], Environment);
        }

        public string Diagnostics()
        {
            string daemonOutput = "";
            if (_daemonOutput is { } output)
            {
                lock (output)
                    daemonOutput = output.ToString();
            }
            string log = File.Exists(_temp.File("rsyncd.log")) ? File.ReadAllText(_temp.File("rsyncd.log")) : "";
            return $"=== node {Name} (port {Port}) ===\n--- netrsyncd log ---\n{Tail(log)}\n--- netrsyncd output ---\n{Tail(daemonOutput)}\n" +
                $"--- netsersync ---\n{Tail(_watcher?.Output ?? "")}";
        }

        private static string Tail(string text, int max = 15_000) => text.Length <= max ? text : "...\n" + text[^max..];

        public async ValueTask DisposeAsync()
        {
            if (_watcher is not null)
                await _watcher.DisposeAsync();
            await StopDaemonAsync();
            _temp.Dispose();
        }
    }
}

internal static class WatcherOutput
{
    /// <summary>Polls the watcher's output after character <paramref name="from"/> for <paramref name="text"/>.</summary>
    public static async Task WaitForOutputFromAsync(this WatcherProcess watcher, int from, string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (watcher.Output.IndexOf(text, from, StringComparison.Ordinal) < 0)
        {
            Assert.False(watcher.HasExited, $"netsersync exited before saying \"{text}\":\n{watcher.Output}");
            Assert.True(clock.Elapsed < timeout, $"netsersync did not say \"{text}\" within {timeout.TotalSeconds:F0}s:\n{watcher.Output}");
            await Task.Delay(20); // poll interval
        }
    }
}
