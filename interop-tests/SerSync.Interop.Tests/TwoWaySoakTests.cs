using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using NetRsync.Interop.Tests;
using NetRsync.Protocol.Text;
using NetRsync.SerSync;
using NetRsync.SerSync.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>
/// Two-way soak: nodes A and B (each netrsyncd + netsersync on its own tree, pushing to each other,
/// the deployment's configs with <c>&lt;delete start="true"/&gt;</c>) are changed at random on both
/// sides at once for a bounded time: creates, rewrites, appends, renames, deletes and mkdir -p, on
/// names that are and are not UTF-8. Then, once both trees have stopped changing, the outcome is
/// checked against the two-way rules (newer modification time wins on both nodes, unless the older
/// version replaced the newer one where it was already held; a losing version is kept as
/// NAME.conflict-HOST-TIME; a deletion does not remove a file changed locally since the last sync):
/// <list type="number">
/// <item>the trees are identical (names, types, modes, sizes, bytes, file and directory mtimes);</item>
/// <item>every file is a version the test wrote, at a path it wrote it to, with its mtime;</item>
/// <item>nothing newer was lost: for every path, each side's last version of it (if its last action
/// there was a write) is the final file or older than it, or was replaced by the other side after
/// that side had it, or is kept in a conflict copy; a path gone
/// on both had, for each side's last version, a later deletion on the other side;</item>
/// <item>a path both sides deleted last stays deleted;</item>
/// <item>every conflict copy holds a version the test wrote to its base name (one whose mtime or
/// name TIME is another version's is listed in the report: a sender that lists a file and then
/// reads it after it was replaced sends the new bytes with the old mtime), and no version of a
/// path is kept twice;</item>
/// <item>no echo: each side also changes an area of its own (only-a/, only-b/) that the other never
/// touches; a push by A of anything under only-b/ (or by B under only-a/) can only be an arrival
/// sent back. Every push is in the watchers' push journal (the failLog file), which is checked.</item>
/// </list>
/// Length: NETRSYNC_SOAK_SECONDS (default 90), rate NETRSYNC_SOAK_RATE operations per second per side
/// (default 20), NETRSYNC_SOAK_SEED to repeat a run's choices. A long run:
/// <c>NETRSYNC_SOAK_SECONDS=900 dotnet test interop-tests/SerSync.Interop.Tests -c Release --no-build --filter TwoWaySoak</c>.
/// </summary>
public sealed class TwoWaySoakTests(ITestOutputHelper output)
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan QuietDeadline = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan QuietFor = TimeSpan.FromSeconds(3);

    private const string Shared = "shared";

    private static string OwnArea(Side side) => side == Side.A ? "only-a" : "only-b";

    [Fact]
    [Trait("Category", "Soak")]
    public async Task TwoWaySoakBothNodesChangedAtOnceEndIdenticalWithNothingLostAndNoEcho()
    {
        int seconds = EnvInt("NETRSYNC_SOAK_SECONDS", 90);
        int rate = EnvInt("NETRSYNC_SOAK_RATE", 20);
        int seed = EnvInt("NETRSYNC_SOAK_SEED", Random.Shared.Next());
        output.WriteLine($"two-way soak: {seconds} s, {rate} operations/s per side, seed {seed} (NETRSYNC_SOAK_SEED={seed} repeats the choices)");

        using var temp = new TempDir();
        // Transfer logging (rsync's default format) names each received file: the daemon logs then trace a path's history.
        string[] logging = ["transfer logging = yes"];
        await using var a = await TwoWayNode.StartDaemonAsync("A", temp.Sub("A"), logging);
        await using var b = await TwoWayNode.StartDaemonAsync("B", temp.Sub("B"), logging);
        await a.StartWatcherAsync(b, delete: true);
        await b.StartWatcherAsync(a, delete: true);
        await a.Watcher.WaitForOutputAsync(": push ", StartDeadline);
        await b.Watcher.WaitForOutputAsync(": push ", StartDeadline);

        var sides = new[]
        {
            new SoakSide(Side.A, a.Tree, temp.Sub("stage-A"), new Random(seed), rate),
            new SoakSide(Side.B, b.Tree, temp.Sub("stage-B"), new Random(seed ^ 0x5EED), rate),
        };
        var clock = Stopwatch.StartNew();
        TimeSpan duration = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(sides.Select(s => Task.Run(() => s.RunAsync(duration))));
        TimeSpan busy = clock.Elapsed;

        string quiet = await WaitForQuietAsync(a, b);
        TimeSpan settled = clock.Elapsed - busy;

        var problems = new List<string>();
        var report = new StringBuilder();
        foreach (var side in sides)
            report.AppendLine($"side {side.Side}: {side.Summary()}");
        report.AppendLine($"changing for {busy.TotalSeconds:F0} s; both trees still for {QuietFor.TotalSeconds:F0} s after {settled.TotalSeconds:F1} s more ({quiet})");

        // 1. Identical trees. Directory mtimes are not compared: both nodes change a directory's entries at
        // once, each push sets the other's directory time to the pusher's, and no push follows the
        // daemon's own writes, so the last two pushes that crossed leave each side the other's time.
        var compare = new TreeCompareOptions { CompareRoot = false, CompareDirectoryTimes = false, MaxDifferences = 40 };
        foreach (string difference in TreeComparer.FindDifferences(a.Tree, b.Tree, compare))
            problems.Add($"A and B differ: {difference}");
        int directoryTimes = TreeComparer.FindDifferences(a.Tree, b.Tree, new TreeCompareOptions { CompareRoot = false, MaxDifferences = 10_000 })
            .Count(d => d.Contains(": mtime ", StringComparison.Ordinal));
        report.AppendLine($"directories (or files) whose mtimes differ between A and B: {directoryTimes}");

        // 2-5. Versions, losses, deletions and conflict copies, on each tree (identical or not).
        var model = new SoakModel(sides);
        foreach (var node in new[] { a, b })
            model.Check(node.Name, node.Tree, problems, report);

        // 6. No echo, from the push journals.
        foreach (var (node, foreign) in new[] { (a, OwnArea(Side.B)), (b, OwnArea(Side.A)) })
        {
            var journal = PushJournal.Read(node.FailLogPath);
            report.AppendLine($"node {node.Name}: {journal.Pushes} pushes journalled ({journal.Paths} paths), {journal.Outstanding} outstanding");
            if (journal.Gaps.Count > 0)
                problems.Add($"node {node.Name}: the push journal lacks ids {string.Join(", ", journal.Gaps.Take(10))}: it was compacted, so the echo check did not see every push");
            // A push its own daemon asked for (a peer's older version refused under -u) is no echo.
            const string PushBackLine = " is newer here than a peer's version netrsyncd refused: pushing it back";
            var pushedBack = node.WatcherOutput.Split('\n')
                .Where(l => l.EndsWith(PushBackLine, StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..^PushBackLine.Length])
                .ToHashSet(StringComparer.Ordinal);
            report.AppendLine($"node {node.Name}: {pushedBack.Count} path(s) pushed back at its daemon's request");
            // A conflict copy its own daemon made is a new file here, not an arrival sent back.
            const string KeptAs = " is kept as ";
            var copiesMade = node.DaemonLog.Split('\n')
                .Where(l => l.Contains(" conflict on ", StringComparison.Ordinal) && l.Contains(KeptAs, StringComparison.Ordinal))
                .Select(l => Names.Display(NameText.ToBytes(l[(l.LastIndexOf(KeptAs, StringComparison.Ordinal) + KeptAs.Length)..].TrimEnd('\r'))))
                .ToHashSet(StringComparer.Ordinal);
            report.AppendLine($"node {node.Name}: {copiesMade.Count} conflict cop(ies) made by its daemon");
            foreach (string path in journal.PathsUnder(foreign)
                .Where(p => !pushedBack.Contains(Names.Display(NameText.ToBytes(node.Tree + "/" + p))) && !copiesMade.Contains(Names.Display(NameText.ToBytes(p))))
                .Take(20))
                problems.Add($"echo: node {node.Name} pushed {TreeComparer.Show(path)}, which only the other node ever changes");
        }

        foreach (var node in new[] { a, b })
        {
            string status = await node.StatusAsync();
            report.AppendLine($"node {node.Name} netsersync {status[status.IndexOf("status:", StringComparison.Ordinal)..]}");
            int kept = node.DaemonLog.Split('\n').Count(l => l.Contains(" kept ", StringComparison.Ordinal));
            report.AppendLine($"node {node.Name} netrsyncd: {kept} deletion(s) refused for a file changed here");
            if (!status.Contains(" echoes=", StringComparison.Ordinal))
                problems.Add($"node {node.Name}: netsersync's status line counts no echoes (\"echoes=\"): {status}");
            foreach (string line in node.WatcherOutput.Split('\n').Where(l => l.Contains(" ERROR: ", StringComparison.Ordinal)).Take(10))
                report.AppendLine($"node {node.Name} netsersync: {line}");
        }

        foreach (var node in new[] { a, b })
        {
            var (watcherCode, daemonCode) = await node.StopAsync();
            report.AppendLine($"node {node.Name}: SIGTERM, netsersync exit {watcherCode}, netrsyncd exit {daemonCode}");
            if (watcherCode != 0 || daemonCode != 0)
                problems.Add($"node {node.Name}: stopped with exit codes netsersync {watcherCode}, netrsyncd {daemonCode}");
        }

        output.WriteLine(report.ToString());
        if (problems.Count > 0)
        {
            var message = new StringBuilder();
            message.AppendLine($"two-way soak (seed {seed}): {problems.Count} problem(s):");
            foreach (string p in problems.Take(60))
                message.AppendLine("  " + p);
            message.AppendLine(report.ToString());
            foreach (var node in new[] { a, b })
            {
                message.AppendLine($"--- node {node.Name} netsersync (tail) ---").AppendLine(Tail(node.WatcherOutput, 15_000));
                message.AppendLine($"--- node {node.Name} netrsyncd log (tail) ---").AppendLine(Tail(node.DaemonLog, 15_000));
            }
            // NETRSYNC_SOAK_KEEP=DIR keeps both nodes' trees, configs and logs of a failed run there.
            if (Environment.GetEnvironmentVariable("NETRSYNC_SOAK_KEEP") is { Length: > 0 } keep)
            {
                Directory.CreateDirectory(keep);
                foreach (var node in new[] { a, b })
                    File.WriteAllText(Path.Combine(node.Directory, "netsersync.log"), node.WatcherOutput);
                await ProcessRunner.RunAsync("cp", ["-a", temp.Path, keep]);
                message.AppendLine($"(kept in {keep}/{Path.GetFileName(temp.Path)})");
            }
            Assert.Fail(message.ToString());
        }
    }

    private static string Tail(string text, int max) => text.Length <= max ? text : "...\n" + text[^max..];

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : fallback;

    /// <summary>Polls until neither tree has changed for <see cref="QuietFor"/> and neither watcher has a push
    /// outstanding in its journal; fails after <see cref="QuietDeadline"/>.</summary>
    private static async Task<string> WaitForQuietAsync(TwoWayNode a, TwoWayNode b)
    {
        var clock = Stopwatch.StartNew();
        string last = "";
        var stillSince = Stopwatch.StartNew();
        while (true)
        {
            string now = Signature(a.Tree) + "\n--\n" + Signature(b.Tree);
            int outstanding = PushJournal.Read(a.FailLogPath).Outstanding + PushJournal.Read(b.FailLogPath).Outstanding;
            if (now != last || outstanding > 0)
            {
                last = now;
                stillSince.Restart();
            }
            else if (stillSince.Elapsed >= QuietFor)
            {
                return $"{(TreeComparer.FindDifferences(a.Tree, b.Tree, new TreeCompareOptions { CompareRoot = false, CompareDirectoryTimes = false }).Count == 0 ? "identical" : "different")}, no push outstanding";
            }
            if (clock.Elapsed > QuietDeadline)
                Assert.Fail($"the trees kept changing (or pushes stayed outstanding: {outstanding}) for {QuietDeadline.TotalSeconds:F0} s after the changes stopped\n--- A ---\n{Tail(a.WatcherOutput, 8000)}\n--- B ---\n{Tail(b.WatcherOutput, 8000)}");
            await Task.Delay(250); // poll interval
        }
    }

    /// <summary>Every entry with its type, size, mtime and inode, or the scan's error while files move.</summary>
    private static string Signature(string root)
    {
        try
        {
            var sb = new StringBuilder();
            foreach (var (rel, entry) in TreeComparer.Scan(root))
                sb.Append(rel).Append('\t').Append(entry.Stat.Type).Append(' ').Append(entry.Stat.Size).Append(' ')
                  .Append(entry.Stat.MtimeSeconds).Append('.').Append(entry.Stat.MtimeNanoseconds).Append(' ').Append(entry.Stat.Inode).Append('\n');
            return sb.ToString();
        }
        catch (IOException ex)
        {
            return "(scan: " + ex.Message + ")" + Guid.NewGuid();
        }
    }

    internal enum Side { A, B }

    /// <summary>A version of a file the test put at a path: written, appended to or renamed there.</summary>
    internal sealed record Placement(string Path, string Hash, long MtimeSeconds, uint MtimeNanoseconds, ulong Size, Side Side, long At, string How, bool Visible)
    {
        public string Describe() =>
            $"{How} on {Side} ({Size} bytes, mtime {FormatTime(MtimeSeconds, MtimeNanoseconds)}{(Visible ? "" : ", replaced by the daemon at once")})";
    }

    /// <summary>A side's last action on a path: a version it put there, or its removal (delete or rename away).</summary>
    internal sealed record Tip(Placement? Version, long RemovedAt);

    internal static string FormatTime(long seconds, uint nanoseconds) =>
        $"{DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}.{nanoseconds:D9}";

    /// <summary>One side's random changes and the record of what it did.</summary>
    internal sealed class SoakSide(Side side, string root, string stage, Random random, int rate)
    {
        private static readonly string[] Directories =
            ["", "d1", "d1/d2", "x/y/z", NameText.FromBytes([0x63, 0x61, 0x66, 0xE9])];

        private static readonly string[] Names =
            ["f0", "f1", "f2", "f3", NameText.FromBytes([0xFF, 0x2D, 0x66, 0x34]), NameText.FromBytes([0xD6, 0xD0, 0xCE, 0xC4, 0x35])];

        /// <summary>Shared paths are few, so both sides often change the same one; each own area has more.</summary>
        public static readonly string[] SharedPaths = PathsIn(Shared, 3, 4);

        public static string[] OwnPaths(Side s) => PathsIn(OwnArea(s), Directories.Length, Names.Length);

        private static string[] PathsIn(string area, int directories, int names) =>
            [.. Directories.Take(directories).SelectMany(d => Names.Take(names).Select(n => Join(area, d, n)))];

        private static string Join(params string[] parts) => string.Join('/', parts.Where(p => p.Length > 0));

        private readonly string[] _own = OwnPaths(side);
        private readonly Dictionary<string, int> _counts = [];
        private int _sequence;

        public Side Side => side;

        public List<Placement> Placements { get; } = [];

        public Dictionary<string, Tip> Tips { get; } = new(StringComparer.Ordinal);

        /// <summary>Per path, the versions this side's test found there (just before changing it), and when.</summary>
        public Dictionary<string, List<(long At, string Hash)>> Observed { get; } = new(StringComparer.Ordinal);

        /// <summary>Whether this side had <paramref name="hash"/> at <paramref name="path"/> before <paramref name="before"/>.</summary>
        public bool Saw(string path, string hash, long before) =>
            Observed.TryGetValue(path, out var seen) && seen.Any(o => o.Hash == hash && o.At <= before);

        /// <summary>Notes what the path holds now (a version from either side, or nothing).</summary>
        private void Observe(string path)
        {
            if (!Posix.TryLStat(Full(path), out PosixStat st, out _) || st.Type != PosixFileType.Regular)
                return;
            (byte[] content, _) = SoakFs.Read(Full(path));
            Note(path, Hash(content));
        }

        private void Note(string path, string hash)
        {
            if (!Observed.TryGetValue(path, out var seen))
                Observed[path] = seen = [];
            seen.Add((Stopwatch.GetTimestamp(), hash));
        }

        public string Summary() =>
            string.Join(", ", _counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Value} {kv.Key}"));

        private void Count(string what) => _counts[what] = _counts.GetValueOrDefault(what) + 1;

        private string Full(string rel) => root + "/" + rel;

        public async Task RunAsync(TimeSpan duration)
        {
            var clock = Stopwatch.StartNew();
            double meanGapMs = 1000.0 / rate;
            while (clock.Elapsed < duration)
            {
                string[] area = random.Next(2) == 0 ? SharedPaths : _own;
                string path = area[random.Next(area.Length)];
                int op = random.Next(100);
                try
                {
                    if (op < 35)
                        Write(path);
                    else if (op < 55)
                        Append(path);
                    else if (op < 70)
                        Rename(path, area[random.Next(area.Length)]);
                    else if (op < 82)
                        Delete(path);
                    else
                        MakeDirectories(path);
                }
                catch (IOException)
                {
                    // The daemon moved something under the operation (a file replaced or removed meanwhile): it did not happen.
                    Count("raced");
                }
                await Task.Delay(TimeSpan.FromMilliseconds(random.NextDouble() * 2 * meanGapMs));
            }
        }

        private byte[] NewContent(string path)
        {
            int length = random.Next(100) switch
            {
                < 70 => random.Next(0, 200),
                < 95 => random.Next(200, 8_000),
                _ => random.Next(20_000, 200_000),
            };
            byte[] head = Encoding.UTF8.GetBytes($"{side}#{++_sequence} {TreeComparer.ShowBytes(path)}\n");
            byte[] content = new byte[head.Length + length];
            head.CopyTo(content, 0);
            random.NextBytes(content.AsSpan(head.Length));
            return content;
        }

        /// <summary>A new version written beside the tree and renamed into place, as editors save.</summary>
        private void Write(string path)
        {
            byte[] content = NewContent(path);
            string staged = $"{stage}/{side}{_sequence}";
            uint mode = random.Next(4) switch { 0 => 0x180 /* 0600 */, 1 => 0x1ED /* 0755 */, _ => 0x1A4 /* 0644 */ };
            Posix.CreateFile(staged, content, mode);
            Posix.Chmod(staged, mode);
            PosixStat st = Posix.LStat(staged);
            MakeParents(path);
            Observe(path);
            try
            {
                RawFs.Move(NameText.ToBytes(staged), NameText.ToBytes(Full(path)));
            }
            catch (IOException)
            {
                Posix.Unlink(staged);
                throw;
            }
            bool visible = Posix.TryLStat(Full(path), out PosixStat now, out _) && now.Inode == st.Inode;
            Place(path, Hash(content), st, "written", visible);
            Count("writes");
        }

        private void Append(string path)
        {
            if (!Posix.TryLStat(Full(path), out PosixStat before, out _) || before.Type != PosixFileType.Regular)
            {
                Write(path);
                return;
            }
            byte[] line = Encoding.UTF8.GetBytes($"{side}#{++_sequence} appended\n");
            (byte[] content, PosixStat st) = SoakFs.AppendLine(Full(path), line);
            Note(path, Hash(content.AsSpan(0, content.Length - line.Length)));
            bool visible = Posix.TryLStat(Full(path), out PosixStat now, out _) && now.Inode == st.Inode
                && now.MtimeSeconds == st.MtimeSeconds && now.MtimeNanoseconds == st.MtimeNanoseconds;
            Place(path, Hash(content), st, "appended", visible);
            Count("appends");
        }

        private void Rename(string from, string to)
        {
            if (from == to || !Posix.TryLStat(Full(from), out PosixStat before, out _) || before.Type != PosixFileType.Regular)
            {
                Write(from);
                return;
            }
            MakeParents(to);
            Observe(from);
            Observe(to);
            RawFs.Move(NameText.ToBytes(Full(from)), NameText.ToBytes(Full(to)));
            long at = Stopwatch.GetTimestamp();
            Tips[from] = new Tip(null, at);
            (byte[] content, PosixStat st) = SoakFs.Read(Full(to));
            bool visible = Posix.TryLStat(Full(to), out PosixStat now, out _) && now.Inode == st.Inode;
            Place(to, Hash(content), st, $"renamed from {TreeComparer.ShowBytes(from)}", visible);
            Count("renames");
        }

        private void Delete(string path)
        {
            if (!Posix.TryLStat(Full(path), out PosixStat before, out _) || before.Type != PosixFileType.Regular)
            {
                MakeDirectories(path);
                return;
            }
            Observe(path);
            Posix.Unlink(Full(path));
            Tips[path] = new Tip(null, Stopwatch.GetTimestamp());
            Count("deletes");
        }

        /// <summary>mkdir -p of the path's directory and one level more.</summary>
        private void MakeDirectories(string path)
        {
            string dir = path[..path.LastIndexOf('/')];
            SoakFs.MakeDirectories(Full(dir + "/sub" + random.Next(2)), root);
            Count("mkdir -p");
        }

        private void MakeParents(string path) => SoakFs.MakeDirectories(Full(path[..path.LastIndexOf('/')]), root);

        private void Place(string path, string hash, PosixStat st, string how, bool visible)
        {
            var placement = new Placement(path, hash, st.MtimeSeconds, st.MtimeNanoseconds, st.Size, side, Stopwatch.GetTimestamp(), how, visible);
            Placements.Add(placement);
            Tips[path] = new Tip(placement, 0);
            if (!visible)
                Count("replaced at once");
        }
    }

    internal static string Hash(ReadOnlySpan<byte> content) => Convert.ToHexString(SHA256.HashData(content));

    /// <summary>What both sides did, checked against a final tree.</summary>
    internal sealed class SoakModel(SoakSide[] sides)
    {
        private readonly Dictionary<string, List<Placement>> _placed = sides.SelectMany(s => s.Placements)
            .GroupBy(p => p.Path, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);

        private readonly HashSet<string> _namespace = new(
            SoakSide.SharedPaths.Concat(SoakSide.OwnPaths(Side.A)).Concat(SoakSide.OwnPaths(Side.B)), StringComparer.Ordinal);

        private const string ConflictMarker = ".conflict-";

        public void Check(string node, string tree, List<string> problems, StringBuilder report)
        {
            SortedDictionary<string, TreeEntry> entries;
            try
            {
                entries = TreeComparer.Scan(tree);
            }
            catch (IOException ex)
            {
                problems.Add($"node {node}: the tree could not be read: {ex.Message}");
                return;
            }
            var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
            var copies = new Dictionary<string, List<(string Name, string Hash)>>(StringComparer.Ordinal);
            int copyCount = 0;
            int mislabeledCount = 0;
            var mislabeled = new List<string>();
            foreach (var (rel, entry) in entries)
            {
                if (rel == ".")
                    continue;
                string n = $"node {node}: {TreeComparer.Show(rel)}";
                if (entry.Stat.Type == PosixFileType.Directory)
                    continue;
                if (entry.Stat.Type != PosixFileType.Regular)
                {
                    problems.Add($"{n}: a {entry.Stat.Type}, which the test never made");
                    continue;
                }
                string hash = Hash(ReadAll(entry.FullPath));
                hashes[rel] = hash;
                if (_namespace.Contains(rel))
                {
                    var match = Versions(rel).FirstOrDefault(v => v.Hash == hash);
                    if (match is null)
                        problems.Add($"{n}: {entry.Stat.Size} bytes that are no version the test wrote there");
                    else if (match.MtimeSeconds != entry.Stat.MtimeSeconds || match.MtimeNanoseconds != entry.Stat.MtimeNanoseconds)
                        problems.Add($"{n}: the version {match.Describe()} with mtime {FormatTime(entry.Stat.MtimeSeconds, entry.Stat.MtimeNanoseconds)}");
                    continue;
                }
                string? basePath = BaseOf(rel);
                if (basePath is null)
                {
                    problems.Add($"{n}: neither a path the test wrote nor a conflict copy of one");
                    continue;
                }
                copyCount++;
                var version = Versions(basePath).FirstOrDefault(v => v.Hash == hash);
                if (version is null)
                {
                    problems.Add($"{n}: a conflict copy holding no version the test wrote to {TreeComparer.Show(basePath)}");
                    continue;
                }
                // NAME.conflict-HOST-TIME, TIME the version's mtime (UTC); a "-N" may follow to keep the name unique.
                // A copy may hold one version's bytes with another's mtime (and name): a sender lists a file,
                // then reads it after it was replaced. Its bytes are not lost, so that is noted, not failed.
                string stamp = DateTimeOffset.FromUnixTimeSeconds(version.MtimeSeconds).UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
                if (version.MtimeSeconds != entry.Stat.MtimeSeconds || version.MtimeNanoseconds != entry.Stat.MtimeNanoseconds
                    || !Regex.IsMatch(rel, "-" + stamp + @"(-[0-9]+)?(\.conflict-.*)?$"))
                {
                    if (mislabeled.Count < 5)
                        mislabeled.Add($"{TreeComparer.Show(rel)} holds {version.Describe()} with mtime {FormatTime(entry.Stat.MtimeSeconds, entry.Stat.MtimeNanoseconds)}");
                    mislabeledCount++;
                }
                if (!copies.TryGetValue(basePath, out var list))
                    copies[basePath] = list = [];
                list.Add((rel, hash));
            }

            int lost = 0;
            foreach (string path in _namespace)
            {
                Tip? tipA = sides[0].Tips.GetValueOrDefault(path);
                Tip? tipB = sides[1].Tips.GetValueOrDefault(path);
                if (tipA is null && tipB is null)
                    continue;
                entries.TryGetValue(path, out TreeEntry? final);
                bool exists = final is not null && final.Stat.Type == PosixFileType.Regular;
                string? finalHash = exists ? hashes.GetValueOrDefault(path) : null;
                string n = $"node {node}: {TreeComparer.Show(path)}";
                foreach (var (x, y) in new[] { (sides[0], sides[1]), (sides[1], sides[0]) })
                {
                    Tip? tip = x.Tips.GetValueOrDefault(path);
                    Tip? other = y.Tips.GetValueOrDefault(path);
                    if (tip?.Version is not { } version || version.Hash == finalHash)
                        continue;
                    if (copies.GetValueOrDefault(path)?.Any(c => c.Hash == version.Hash) == true)
                        continue;
                    if (exists)
                    {
                        // Replaced by the other side after it had this version there (an older file renamed
                        // over it): the later change, whatever the mtimes say.
                        if (y.Placements.Any(p => p.Path == path && p.Hash == finalHash && y.Saw(path, version.Hash, p.At)))
                            continue;
                        if (Compare(final!.Stat, version) < 0)
                        {
                            lost++;
                            problems.Add($"{n}: lost the newer {version.Describe()}: the file is {Describe(path, final, hashes)}, and no conflict copy holds it");
                            continue;
                        }
                        // Newer won. Without a copy that is right only if the winner was written over this version,
                        // i.e. the other side had it before writing the winner (otherwise the two were concurrent).
                        var winners = y.Placements.Where(p => p.Path == path && p.Hash == finalHash).ToList();
                        if (winners.Count > 0 && !y.Saw(path, version.Hash, winners.Max(w => w.At)))
                        {
                            lost++;
                            problems.Add($"{n}: {version.Describe()} lost to {y.Side}'s newer {winners[^1].Describe()}, written without having seen it, and no conflict copy holds it");
                        }
                    }
                    else if (other is { Version: null } && y.Saw(path, version.Hash, other.RemovedAt))
                    {
                        // The other side removed it after having it: a deletion of what was delivered.
                    }
                    else
                    {
                        lost++;
                        string why = other is null ? "the other side never touched it"
                            : other.Version is not null ? $"the other side's last version is {other.Version.Describe()}"
                            : "the other side removed it without having had this version";
                        problems.Add($"{n}: gone, losing {version.Describe()} ({why}), and no conflict copy holds it");
                    }
                }
                if (!exists)
                    continue;
                // Every side that touched it removed it last: nothing may bring it back.
                if (tipA?.Version is null && tipB?.Version is null)
                    problems.Add($"{n}: removed last by every side that touched it, but it is there: {Describe(path, final!, hashes)}");
                // A side removed the very version that is there, after it had arrived: the deletion was undone.
                foreach (var (x, y) in new[] { (sides[0], sides[1]), (sides[1], sides[0]) })
                {
                    if (x.Tips.GetValueOrDefault(path)?.Version?.Hash == finalHash && y.Tips.GetValueOrDefault(path) is { Version: null } removal
                        && y.Saw(path, finalHash!, removal.RemovedAt))
                        problems.Add($"{n}: {y.Side} removed {Describe(path, final!, hashes)} after it had arrived, but it is back");
                }
            }
            report.AppendLine($"node {node}: {entries.Count - 1} entries, {copyCount} conflict copies of {copies.Count} paths; {lost} version(s) lost");
            // Both nodes name a losing version alike, so one version of a path is kept once.
            foreach (var (basePath, held) in copies)
                foreach (var twins in held.GroupBy(c => c.Hash).Where(g => g.Count() > 1))
                    problems.Add($"node {node}: {TreeComparer.Show(basePath)}: one version kept {twins.Count()} times: {string.Join(", ", twins.Select(t => TreeComparer.Show(t.Name)))}");
            if (mislabeledCount > 0)
                report.AppendLine($"node {node}: {mislabeledCount} conflict copies hold a version with another version's mtime or name: {string.Join("; ", mislabeled)}");
        }

        private static byte[] ReadAll(string path)
        {
            using FileStream fs = Posix.OpenRead(path);
            var ms = new MemoryStream();
            fs.CopyTo(ms);
            return ms.ToArray();
        }

        private IEnumerable<Placement> Versions(string path) => _placed.GetValueOrDefault(path) ?? [];

        /// <summary>The namespace path a conflict copy belongs to (the longest one NAME.conflict-... starts with).</summary>
        private string? BaseOf(string rel)
        {
            int at = rel.IndexOf(ConflictMarker, StringComparison.Ordinal);
            while (at > 0)
            {
                string candidate = rel[..at];
                if (_namespace.Contains(candidate))
                    return candidate;
                at = rel.IndexOf(ConflictMarker, at + 1, StringComparison.Ordinal);
            }
            return null;
        }

        private string Describe(string path, TreeEntry final, Dictionary<string, string> hashes)
        {
            var version = hashes.TryGetValue(path, out string? hash) ? Versions(path).FirstOrDefault(v => v.Hash == hash) : null;
            return version?.Describe() ?? $"{final.Stat.Size} bytes of unknown origin";
        }

        /// <summary>Newer mtime wins; on equal mtimes the larger size (the two-way rule).</summary>
        private static int Compare(PosixStat final, Placement version)
        {
            int c = final.MtimeSeconds.CompareTo(version.MtimeSeconds);
            if (c == 0)
                c = final.MtimeNanoseconds.CompareTo(version.MtimeNanoseconds);
            if (c == 0)
                c = final.Size.CompareTo(version.Size);
            return c;
        }
    }

    /// <summary>The watcher's push journal (the failLog file): an "add" line with the paths before each
    /// push, a "done" line after it.</summary>
    internal sealed class PushJournal
    {
        private readonly List<string> _paths = [];

        public int Pushes { get; private set; }

        public int Paths => _paths.Count;

        public int Outstanding { get; private set; }

        /// <summary>Push ids missing between 1 and the highest seen (lines compacted away).</summary>
        public List<long> Gaps { get; } = [];

        public IEnumerable<string> PathsUnder(string area) =>
            _paths.Where(p => p == area || p.StartsWith(area + "/", StringComparison.Ordinal)).Distinct(StringComparer.Ordinal);

        public static PushJournal Read(string path)
        {
            var journal = new PushJournal();
            string text;
            try
            {
                using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(fs, Encoding.UTF8);
                text = reader.ReadToEnd();
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return journal;
            }
            var added = new HashSet<long>();
            var done = new HashSet<long>();
            foreach (string line in text.Split('\n'))
            {
                if (line.Length == 0)
                    continue;
                JsonDocument doc;
                try
                {
                    doc = JsonDocument.Parse(line);
                }
                catch (JsonException)
                {
                    continue; // a line being written right now
                }
                using (doc)
                {
                    JsonElement r = doc.RootElement;
                    long id = r.GetProperty("id").GetInt64();
                    if (r.GetProperty("op").GetString() == "done")
                    {
                        done.Add(id);
                        continue;
                    }
                    if (!added.Add(id))
                        continue;
                    journal.Pushes++;
                    if (r.TryGetProperty("paths", out JsonElement paths))
                        journal._paths.AddRange(paths.EnumerateObject().Select(p => p.Name));
                    if (r.TryGetProperty("rawPaths", out JsonElement raw))
                        journal._paths.AddRange(raw.EnumerateObject().Select(p => NameText.FromBytes(Convert.FromBase64String(p.Name))));
                }
            }
            journal.Outstanding = added.Count(id => !done.Contains(id));
            long max = added.Count == 0 ? 0 : added.Max();
            for (long id = 1; id <= max && journal.Gaps.Count < 100; id++)
            {
                if (!added.Contains(id))
                    journal.Gaps.Add(id);
            }
            return journal;
        }
    }
}

/// <summary>The few file calls the soak makes by path bytes that the harness has no helper for.</summary>
internal static unsafe partial class SoakFs
{
    private const int ReadWrite = 2, Append = 0x400, NoFollow = 0x20000, CloseOnExec = 0x80000, AtEmptyPath = 0x1000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int Open(byte* path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static partial int Statx(int dirfd, byte* path, int flags, uint mask, byte* buffer);

    /// <summary>Appends a line through one descriptor and returns the whole content read through it and its
    /// fstat: the version this append made, whatever the path holds by now.</summary>
    public static (byte[] Content, PosixStat Stat) AppendLine(string path, byte[] line)
    {
        using var stream = OpenStream(path, ReadWrite | Append | NoFollow);
        var content = new MemoryStream();
        stream.CopyTo(content);
        stream.Write(line);
        content.Write(line);
        return (content.ToArray(), FStat(stream));
    }

    /// <summary>The content and fstat of the file at a path, read through one descriptor.</summary>
    public static (byte[] Content, PosixStat Stat) Read(string path)
    {
        using var stream = OpenStream(path, NoFollow);
        var content = new MemoryStream();
        stream.CopyTo(content);
        return (content.ToArray(), FStat(stream));
    }

    /// <summary>mkdir -p below <paramref name="root"/> (which exists); a directory made meanwhile by the daemon is fine.</summary>
    public static void MakeDirectories(string path, string root)
    {
        string current = root;
        foreach (string part in path[(root.Length + 1)..].Split('/'))
        {
            current += "/" + part;
            if (Posix.TryLStat(current, out PosixStat st, out _) && st.Type == PosixFileType.Directory)
                continue;
            try
            {
                Posix.Mkdir(current, 0x1ED);
            }
            catch (IOException) when (Posix.TryLStat(current, out PosixStat again, out _) && again.Type == PosixFileType.Directory)
            {
            }
        }
    }

    private static FileStream OpenStream(string path, int flags)
    {
        int fd;
        fixed (byte* p = Posix.CPath(path))
            fd = Open(p, flags | CloseOnExec, 0);
        if (fd < 0)
            throw new IOException($"open {TreeComparer.ShowBytes(path)}: errno {Marshal.GetLastPInvokeError()}");
        return new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), (flags & ReadWrite) != 0 ? FileAccess.ReadWrite : FileAccess.Read, 1);
    }

    private static PosixStat FStat(FileStream stream)
    {
        byte* buffer = stackalloc byte[256];
        byte empty = 0;
        int fd = (int)stream.SafeFileHandle.DangerousGetHandle();
        if (Statx(fd, &empty, AtEmptyPath, 0x7ff, buffer) != 0)
            throw new IOException($"statx: errno {Marshal.GetLastPInvokeError()}");
        // struct statx: stx_mode at 28, stx_ino at 32, stx_size at 40, stx_mtime at 112 (tv_sec, tv_nsec).
        ushort mode = *(ushort*)(buffer + 28);
        return new PosixStat(
            Mode: mode, Type: (PosixFileType)(mode & 0xF000), Uid: *(uint*)(buffer + 20), Gid: *(uint*)(buffer + 24),
            Size: *(ulong*)(buffer + 40), Blocks: *(ulong*)(buffer + 48), Inode: *(ulong*)(buffer + 32), Device: 0,
            NLink: *(uint*)(buffer + 16), MtimeSeconds: *(long*)(buffer + 112), MtimeNanoseconds: *(uint*)(buffer + 120),
            RdevMajor: 0, RdevMinor: 0);
    }
}
