namespace NetRsync.SerSync.Sync;

/// <summary>
/// Which batches ran while another batch to the same remote did. Each batch sends its paths' parent
/// directories with the times they had when it was planned, so of two overlapping batches the one
/// that finishes last may leave an older directory time behind; such batches queue their parent
/// directories again when they finish. Not thread-safe: the pusher calls it under its lock.
/// </summary>
internal sealed class OverlapTracker
{
    private readonly HashSet<long> _running = [];
    private readonly HashSet<long> _overlapped = [];

    public int Running => _running.Count;

    public void Started(long id)
    {
        if (_running.Count > 0)
        {
            _overlapped.UnionWith(_running);
            _overlapped.Add(id);
        }
        _running.Add(id);
    }

    /// <summary>True when the batch overlapped another at any time while it ran.</summary>
    public bool Finished(long id)
    {
        _running.Remove(id);
        return _overlapped.Remove(id);
    }
}
