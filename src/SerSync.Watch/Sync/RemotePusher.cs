using System.Diagnostics;
using NetRsync.Protocol;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.TwoWay;

namespace NetRsync.SerSync.Sync;

/// <summary>
/// Mirrors one watched root to one remote module. Batches meet in one pending set (one entry per
/// path) until they may start; each attempt is recorded in the
/// <see cref="FailQueue"/> before it starts and confirmed after. A failed attempt stays queued and is
/// retried with backoff (1 s doubling up to the retry cap), merged with whatever changed meanwhile;
/// every retry re-reads the source, so a remote that was down for hours converges in one pass.
/// </summary>
public sealed class RemotePusher
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);

    private readonly string _root;
    private readonly RemoteTarget _remote;
    private readonly RsyncSettings _rsync;
    private readonly SessionPlanner _planner;
    private readonly FailQueue _queue;
    private readonly SemaphoreSlim _workers;
    private readonly TimeSpan _retryCap;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _wake = new(0);
    private Dictionary<byte[], ChangeFlags> _pending = new(Names.Comparer);
    private long _pendingSince;
    private readonly List<long> _failedIds = [];
    private Dictionary<byte[], ChangeFlags>? _failed;
    private long _failedSince;
    private DateTime _retryDue;
    private TimeSpan _backoff = FirstBackoff;
    private readonly HashSet<long> _inFlight = [];
    private readonly HashSet<byte[]> _inFlightPaths = new(Names.Comparer);
    private readonly OverlapTracker _overlaps = new();
    private bool _exclusiveRunning;

    /// <summary>How many batches of plain updates may run at once against this remote.</summary>
    public const int MaxParallelBatches = 4;

    public RemotePusher(string root, RemoteTarget remote, RsyncSettings rsync, PathFilter filter, IReadOnlyList<string> crontabExcludes,
        FailQueue queue, SemaphoreSlim workers, TimeSpan retryCap)
    {
        _root = root;
        _remote = remote;
        _rsync = rsync;
        _planner = new SessionPlanner(root, filter, crontabExcludes);
        _queue = queue;
        _workers = workers;
        _retryCap = retryCap;
    }

    /// <summary>How the log names this pusher: ROOT -> [USER@]HOST:PORT::MODULE.</summary>
    public string Name => $"{_root} -> {RemoteDisplay(_remote, _rsync)}";

    /// <summary>Where changes go, as the log shows it: the auth user, the host with the port the pushes use, the module.</summary>
    public static string RemoteDisplay(RemoteTarget remote, RsyncSettings rsync)
    {
        if (rsync.Ssh)
            return ShellDestination(remote);
        string user = rsync.AuthEnabled && !string.IsNullOrEmpty(rsync.AuthUser) ? rsync.AuthUser + "@" : "";
        string host = remote.Host;
        bool ownPort = host.StartsWith('[') ? host.Contains("]:", StringComparison.Ordinal) : host.Count(c => c == ':') == 1;
        if (!host.StartsWith('[') && host.Count(c => c == ':') > 1)
            host = $"[{host}]";
        if (!ownPort)
            host += ":" + (rsync.Port ?? DefaultDaemonPort);
        return $"{user}{host}::{remote.Module.Trim('/')}";
    }

    /// <summary>rsync's daemon port (RSYNC_PORT in rsync.h).</summary>
    public const int DefaultDaemonPort = 873;

    /// <summary>Names listed in a push's log line; the rest is counted.</summary>
    public const int LoggedNames = 10;

    /// <summary>Where successful pushes are reported, so local changes stop counting as undelivered (two-way sync).</summary>
    public DirtySet? Dirty { get; init; }

    /// <summary>This pusher's watch root and remote, as <see cref="Dirty"/> numbers them.</summary>
    public int RootIndex { get; init; }

    public int RemoteIndex { get; init; }

    public string Root => _root;

    public RemoteTarget Remote => _remote;

    public void Enqueue(IReadOnlyDictionary<byte[], ChangeFlags> paths, long firstEventTimestamp)
    {
        lock (_gate)
        {
            if (_pending.Count == 0)
                _pendingSince = firstEventTimestamp == 0 ? Stopwatch.GetTimestamp() : firstEventTimestamp;
            foreach (var (rel, flags) in paths)
                _pending[rel] = _pending.GetValueOrDefault(rel) | flags;
        }
        _wake.Release();
    }

    /// <summary>Takes over a push left outstanding by an earlier run; it is retried at once.</summary>
    public void Recover(QueuedPush push)
    {
        lock (_gate)
        {
            _failed ??= new Dictionary<byte[], ChangeFlags>(Names.Comparer);
            foreach (var (rel, flags) in push.Paths)
                _failed[rel] = _failed.GetValueOrDefault(rel) | flags;
            _failedIds.Add(push.Id);
            _failedSince = Stopwatch.GetTimestamp();
            _retryDue = DateTime.UtcNow;
        }
        _wake.Release();
    }

    /// <summary>True while nothing waits, runs or awaits a retry.</summary>
    public bool Idle
    {
        get
        {
            lock (_gate)
                return _pending.Count == 0 && _failed is null && _inFlight.Count == 0;
        }
    }

    public async Task RunAsync(CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            TimeSpan wait;
            lock (_gate)
            {
                while (TryStartBatch())
                {
                }
                if (_failed is not null && _inFlight.Count == 0)
                    wait = _retryDue - DateTime.UtcNow;
                else
                    wait = Timeout.InfiniteTimeSpan;
            }
            if (wait != Timeout.InfiniteTimeSpan && wait < TimeSpan.Zero)
                wait = TimeSpan.Zero;
            try
            {
                await _wake.WaitAsync(wait, cancel);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Starts the next batch when it may run now (under the lock). Batches of plain updates with no
    /// path in common run side by side (up to <see cref="MaxParallelBatches"/>), so a slow session
    /// does not hold up the next change; removals, rescans and retries run alone, so no two
    /// sessions ever disagree about one path.
    /// </summary>
    private bool TryStartBatch()
    {
        bool retrying = _failed is not null;
        if (retrying)
        {
            // While a retry is not yet due, new changes wait with it rather than hammer a dead remote.
            if (DateTime.UtcNow < _retryDue || _inFlight.Count > 0)
                return false;
        }
        else
        {
            if (_pending.Count == 0)
                return false;
            if (_inFlight.Count > 0)
            {
                if (_exclusiveRunning || _inFlight.Count >= MaxParallelBatches || !IsPlainUpdate(_pending))
                    return false;
                foreach (byte[] rel in _pending.Keys)
                    if (_inFlightPaths.Contains(rel))
                        return false;
            }
        }

        var work = _pending;
        long since = _pendingSince;
        _pending = new Dictionary<byte[], ChangeFlags>(Names.Comparer);
        if (_failed is not null)
        {
            foreach (var (rel, flags) in _failed)
                work[rel] = work.GetValueOrDefault(rel) | flags;
            since = since == 0 ? _failedSince : Math.Min(since, _failedSince);
            _failed = null;
        }
        List<long> supersedes = [.. _failedIds];
        _failedIds.Clear();
        bool exclusive = retrying || !IsPlainUpdate(work);

        // The new record covers the old ones before they are let go, so a crash in between loses nothing.
        long id = _queue.Add(_remote.Key, _root, work);
        foreach (long old in supersedes)
            _queue.Done(old);
        if (retrying)
            Interlocked.Increment(ref Counters.Retries);

        _overlaps.Started(id);
        _inFlight.Add(id);
        _exclusiveRunning |= exclusive;
        if (!exclusive)
            _inFlightPaths.UnionWith(work.Keys);
        // Taken before the push reads the source: any event after this is newer than what it sends.
        long started = Dirty?.Sequence ?? 0;
        _ = Task.Run(() => RunBatchAsync(id, work, since, retrying, exclusive, started));
        return true;
    }

    /// <summary>
    /// Queues the parent directories again (under the lock): a later session sends their times as
    /// they are now, so parallel batches finishing out of order cannot leave an older one behind.
    /// </summary>
    private void ResendParentDirectories(IEnumerable<byte[]> paths)
    {
        foreach (byte[] rel in paths)
        {
            foreach (byte[] parent in Names.Parents(rel))
            {
                if (_pending.Count == 0)
                    _pendingSince = Stopwatch.GetTimestamp();
                _pending[parent] = _pending.GetValueOrDefault(parent) | ChangeFlags.Update;
            }
        }
    }

    private static bool IsPlainUpdate(Dictionary<byte[], ChangeFlags> paths)
    {
        foreach (var flags in paths.Values)
            if (flags != ChangeFlags.Update)
                return false;
        return true;
    }

    private async Task RunBatchAsync(long id, Dictionary<byte[], ChangeFlags> work, long since, bool retrying, bool exclusive, long started)
    {
        bool ok;
        await _workers.WaitAsync(CancellationToken.None);
        try
        {
            ok = await PushAsync(work, since, retrying);
        }
        catch (Exception ex)
        {
            // Unexpected, but the batch must not be lost with it: it is retried like any failure.
            Log.Error($"push {Name}: {ex.GetType().Name}: {ex.Message}");
            ok = false;
        }
        finally
        {
            _workers.Release();
        }

        lock (_gate)
        {
            _inFlight.Remove(id);
            if (exclusive)
                _exclusiveRunning = false;
            else
                _inFlightPaths.ExceptWith(work.Keys);
            bool overlapped = _overlaps.Finished(id);
            if (ok)
            {
                _backoff = FirstBackoff;
                if (overlapped)
                    ResendParentDirectories(work.Keys);
            }
            else
            {
                _failed ??= new Dictionary<byte[], ChangeFlags>(Names.Comparer);
                foreach (var (rel, flags) in work)
                    _failed[rel] = _failed.GetValueOrDefault(rel) | flags;
                if (_failed.Count > ChangeBatcher.MaxPendingPaths)
                {
                    // A remote down through heavy churn: one rescan of the root replaces the list.
                    _failed = new Dictionary<byte[], ChangeFlags>(Names.Comparer) { [Names.Empty] = ChangeBatcher.Collapse(_failed) };
                }
                _failedIds.Add(id);
                _failedSince = since;
                _retryDue = DateTime.UtcNow + _backoff;
                Log.Error($"push {Name} failed; {work.Count} path(s) queued, retry in {_backoff.TotalSeconds:F0} s");
                _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _retryCap.Ticks));
            }
        }
        if (ok)
        {
            Dirty?.Delivered(RootIndex, RemoteIndex, work, started);
            _queue.Done(id);
        }
        _wake.Release();
    }

    /// <summary>Runs the batch's sessions; false when any failed (the whole batch is then retried).</summary>
    private async Task<bool> PushAsync(Dictionary<byte[], ChangeFlags> work, long since, bool retrying)
    {
        List<PlannedSession> sessions;
        try
        {
            sessions = _planner.Plan(work);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.Error($"push {Name}: cannot read the source: {ex.Message}");
            return false;
        }
        bool allOk = true;
        foreach (var session in sessions)
        {
            var clock = Stopwatch.StartNew();
            string? listFile = null;
            try
            {
                if (session.FilesFrom is not null)
                {
                    listFile = Path.Combine(Path.GetTempPath(), $"netsersync-{Environment.ProcessId}-{Guid.NewGuid():N}.list");
                    WriteList(listFile, session.FilesFrom);
                }
                var options = SessionOptions(session, listFile);
                var output = new LogOutput(Name);
                var client = new RsyncClient(options, output);
                var result = _rsync.Ssh
                    ? await client.PushOverShellAsync([_root + "/"], DestinationUrl())
                    : await client.PushAsync([_root + "/"], DestinationUrl());
                // A path that vanished between the listing and the send has its own event on the way.
                bool vanishedOnly = result.ExitCode == ExitCodes.Partial && output.OnlyVanished;
                if (result.ExitCode is not (ExitCodes.Ok or ExitCodes.Vanished) && !vanishedOnly)
                {
                    Log.Error($"push {Name} ({session.Purpose}): rsync exit code {result.ExitCode}{output.LastError}");
                    allOk = false;
                    continue;
                }
                Interlocked.Increment(ref Counters.Batches);
                Interlocked.Add(ref Counters.PathsPushed, session.PathCount);
                Interlocked.Add(ref Counters.BytesSent, result.Stats.BytesSent);
                double latency = since == 0 ? 0 : Stopwatch.GetElapsedTime(since).TotalMilliseconds;
                Log.Info($"push {Name} ({session.Purpose}{(retrying ? ", retry" : "")}): {session.PathCount} path(s) {ShowPaths(session.Paths)}, " +
                    $"{result.Stats.TransferredFiles} file(s) sent, {result.Stats.BytesSent} bytes, " +
                    $"{clock.ElapsedMilliseconds} ms session, {latency:F0} ms since the first change");
            }
            catch (RsyncException ex)
            {
                Log.Error($"push {Name} ({session.Purpose}): {ex.Message} (rsync exit code {ex.ExitCode})");
                allOk = false;
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException or TimeoutException)
            {
                Log.Error($"push {Name} ({session.Purpose}): {ex.Message}");
                allOk = false;
            }
            finally
            {
                if (listFile is not null)
                    File.Delete(listFile);
            }
        }
        if (!allOk)
            Interlocked.Increment(ref Counters.FailedPushes);
        return allOk;
    }

    /// <summary>"[a.txt, dir/b.txt, ... and 3 more]": the first names, escaped for the log ("." is the root).</summary>
    public static string ShowPaths(IReadOnlyList<byte[]> paths)
    {
        var shown = paths.Take(LoggedNames).Select(p => p.Length == 0 ? "." : Names.Display(p));
        string more = paths.Count > LoggedNames ? $", ... and {paths.Count - LoggedNames} more" : "";
        return $"[{string.Join(", ", shown)}{more}]";
    }

    /// <summary>The --files-from list: each path's bytes as they are, NUL-terminated (read with --from0).</summary>
    internal static void WriteList(string path, IReadOnlyList<byte[]> names)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 64 * 1024);
        foreach (byte[] name in names)
        {
            stream.Write(name);
            stream.WriteByte(0);
        }
    }

    /// <summary>The options of one session; <paramref name="listFile"/> holds its --files-from names, if it lists them.</summary>
    internal RsyncOptions SessionOptions(PlannedSession session, string? listFile)
    {
        var extra = new List<string>(session.ExtraArgs);
        if (listFile is not null)
        {
            extra.Add("--files-from=" + listFile);
            extra.Add("--from0");
        }
        var options = BuildOptions(extra);
        if (listFile is not null)
        {
            // The list names every path itself; recursing into listed directories would bypass the exclude rule.
            options.Recursive = false;
        }
        return options;
    }

    /// <summary>The commonParams parsed as rsync parses its command line, plus the session's own arguments.</summary>
    public RsyncOptions BuildOptions(IEnumerable<string> extra)
    {
        var options = OptionParser.Parse(CommandLine(extra, _rsync, _root + "/", DestinationUrl()), "netsersync");
        // A host that is off drops SYNs; without a bound each retry would hang in connect for minutes.
        if (options.ConnectTimeout == 0)
            options.ConnectTimeout = DefaultConnectTimeoutSeconds;
        // A file replaced between the listing and the read has an event of its own: sending its new bytes
        // under the old time would plant a version the peer's conflict rules then misjudge.
        options.SendOnlyAsListed = true;
        return options;
    }

    /// <summary>The --contimeout used unless commonParams sets one.</summary>
    public const int DefaultConnectTimeoutSeconds = 30;

    public static List<string> CommandLine(IEnumerable<string> extra, RsyncSettings rsync, string source, string destination)
    {
        var args = new List<string>(SplitParams(rsync.CommonParams));
        if (rsync.TimeoutSeconds is { } timeout)
            args.Add($"--timeout={timeout}");
        // A password file is a daemon's; over ssh the shell authenticates.
        if (rsync.AuthEnabled && !rsync.Ssh && rsync.PasswordFile is { } passwordFile)
            args.Add("--password-file=" + passwordFile);
        args.AddRange(extra);
        args.Add(source);
        args.Add(destination);
        return args;
    }

    /// <summary>commonParams split on whitespace, as sersync pasted them into a shell command.</summary>
    public static IEnumerable<string> SplitParams(string commonParams) =>
        commonParams.Split([' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);

    public string DestinationUrl() => DestinationUrl(_remote, _rsync);

    public static string DestinationUrl(RemoteTarget remote, RsyncSettings rsync)
    {
        if (rsync.Ssh)
            return ShellDestination(remote);
        string user = rsync.AuthEnabled && !string.IsNullOrEmpty(rsync.AuthUser) ? rsync.AuthUser + "@" : "";
        // "host", "host:port" (a port of its own overrides userDefinedPort), "[v6]", "[v6]:port" or a bare IPv6 address.
        string host = remote.Host;
        bool ownPort = host.StartsWith('[') ? host.Contains("]:", StringComparison.Ordinal) : host.Count(c => c == ':') == 1;
        if (!host.StartsWith('[') && host.Count(c => c == ':') > 1)
            host = $"[{host}]";
        string port = !ownPort && rsync.Port is { } p ? ":" + p : "";
        return $"rsync://{user}{host}{port}/{remote.Module.Trim('/')}/";
    }

    /// <summary>
    /// &lt;ssh start="true"/&gt;: HOST:NAME/ over the remote shell, as sersync ran rsync -e ssh (the
    /// shell's own user and port; commonParams may give -e). "[v6]" and bare IPv6 hosts are bracketed.
    /// </summary>
    public static string ShellDestination(RemoteTarget remote)
    {
        string host = remote.Host;
        if (!host.StartsWith('[') && host.Contains(':'))
            host = $"[{host}]";
        return $"{host}:{remote.Module.TrimEnd('/')}/";
    }

    /// <summary>What the daemon says during a push, in the log.</summary>
    private sealed class LogOutput(string name) : IRsyncOutput
    {
        private int _errors;
        private int _vanished;

        public string LastError { get; private set; } = "";

        /// <summary>True when every error was a source path gone before it could be sent.</summary>
        public bool OnlyVanished => _errors > 0 && _vanished == _errors;

        public void Info(string text)
        {
            if (Log.DebugEnabled)
                Log.Debug($"{name}: {Shown(text)}");
        }

        /// <summary>A message line for the log: the names it carries (as NameText) escaped as rsync escapes them.</summary>
        private static string Shown(string text) => Names.Display(NameText.ToBytes(text.TrimEnd()));

        /// <summary>Something the daemon left undone on purpose (a deletion superseded by a newer change there).</summary>
        public void Warning(string text) => Log.Info($"{name}: {Shown(text)}");

        public void Error(string text)
        {
            string line = Shown(text);
            // rsync's closing summary repeats the exit code; only the lines before it say what failed.
            if (!line.StartsWith("rsync error:", StringComparison.Ordinal))
                _errors++;
            else if (_errors > 0 && _vanished == _errors)
            {
                Log.Debug($"{name}: {line}");
                return;
            }
            if (IsVanished(line))
            {
                _vanished++;
                Log.Info($"{name}: {line} (gone meanwhile; its own event follows)");
                return;
            }
            LastError = ": " + line;
            Log.Error($"{name}: {line}");
        }

        public static bool IsVanished(string line) =>
            (line.Contains("link_stat", StringComparison.Ordinal) && line.Contains("No such file or directory", StringComparison.Ordinal))
            || line.Contains("file has vanished", StringComparison.Ordinal);
    }
}
