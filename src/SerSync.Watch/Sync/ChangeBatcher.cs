using System.Diagnostics;

namespace NetRsync.SerSync.Sync;

/// <summary>A settled set of changes under one watch root: one entry per path.</summary>
public sealed record ChangeBatch(int RootIndex, IReadOnlyDictionary<byte[], ChangeFlags> Paths, long FirstEventTimestamp);

/// <summary>
/// Gathers the watcher's reports for a short settle window (counted from the first report of a
/// batch, so a steady stream of changes still flushes on time), keeps one entry per path, and hands
/// each root's batch to the consumers. Memory stays bounded: past <see cref="MaxPendingPaths"/> the
/// root's entries collapse into one rescan of the whole root.
/// </summary>
public sealed class ChangeBatcher : IChangeSink
{
    public const int MaxPendingPaths = 200_000;

    private readonly TimeSpan _settle;
    private readonly Action<ChangeBatch> _consumer;
    private readonly Lock _gate = new();
    private readonly Dictionary<byte[], ChangeFlags>[] _pending;
    private readonly SemaphoreSlim _wake = new(0);
    private long _firstEvent;
    private bool _signalled;

    public ChangeBatcher(int rootCount, TimeSpan settle, Action<ChangeBatch> consumer)
    {
        _settle = settle;
        _consumer = consumer;
        _pending = Enumerable.Range(0, rootCount).Select(_ => new Dictionary<byte[], ChangeFlags>(Names.Comparer)).ToArray();
    }

    public int PendingCount
    {
        get
        {
            lock (_gate)
                return _pending.Sum(p => p.Count);
        }
    }

    public void Report(int rootIndex, byte[] relativePath, ChangeFlags flags)
    {
        bool wake = false;
        lock (_gate)
        {
            var paths = _pending[rootIndex];
            if (paths.Count >= MaxPendingPaths && !paths.ContainsKey(relativePath))
            {
                Log.Error($"more than {MaxPendingPaths} paths pending under one root: rescanning the whole root instead");
                var collapsed = Collapse(paths);
                paths.Clear();
                paths[Names.Empty] = collapsed;
            }
            paths[relativePath] = paths.GetValueOrDefault(relativePath) | flags;
            if (!_signalled)
            {
                _signalled = true;
                _firstEvent = Stopwatch.GetTimestamp();
                wake = true;
            }
        }
        if (wake)
            _wake.Release();
    }

    /// <summary>One rescan of the root standing for many entries; it mirrors when any of them was a removal.</summary>
    public static ChangeFlags Collapse(IReadOnlyDictionary<byte[], ChangeFlags> paths)
    {
        var all = ChangeFlags.None;
        foreach (var flags in paths.Values)
            all |= flags;
        var collapsed = ChangeFlags.Rescan | (all & ChangeFlags.Crontab);
        if ((all & (ChangeFlags.MayRemove | ChangeFlags.Mirror)) != 0)
            collapsed |= ChangeFlags.Mirror;
        return collapsed;
    }

    /// <summary>Flushes batches until cancelled, then once more so nothing reported is dropped.</summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(cancel);
                if (_settle > TimeSpan.Zero)
                    await Task.Delay(_settle, cancel);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            Flush();
        }
        Flush();
    }

    /// <summary>Hands over everything pending now.</summary>
    public void Flush()
    {
        var batches = new List<ChangeBatch>();
        lock (_gate)
        {
            for (int i = 0; i < _pending.Length; i++)
            {
                if (_pending[i].Count == 0)
                    continue;
                batches.Add(new ChangeBatch(i, _pending[i], _firstEvent));
                _pending[i] = new Dictionary<byte[], ChangeFlags>(Names.Comparer);
            }
            _signalled = false;
        }
        foreach (var batch in batches)
            _consumer(batch);
    }
}
