namespace NetRsync.SerSync.Sync;

/// <summary>What is known about a path between its events and its push. Combined with OR.</summary>
[Flags]
public enum ChangeFlags : byte
{
    None = 0,
    /// <summary>Push the path if it exists when the push runs.</summary>
    Update = 1,
    /// <summary>Remove the path remotely if it no longer exists locally when the push runs.</summary>
    MayRemove = 2,
    /// <summary>Walk the directory and push everything in it (missed events, -r, watch limit).</summary>
    Rescan = 4,
    /// <summary>Also remove what the remote has in the directory and the source does not (queue overflow).</summary>
    Mirror = 8,
    /// <summary>A scheduled full sync with the &lt;crontabfilter&gt; excludes.</summary>
    Crontab = 16,
}

/// <summary>Receives the watcher's findings; called from the watcher's thread.</summary>
public interface IChangeSink
{
    /// <param name="relativePath">The path's bytes below the root, "" for the root itself; the sink may keep the array.</param>
    void Report(int rootIndex, byte[] relativePath, ChangeFlags flags);
}

/// <summary>A sink that is told before each read of events is handled (on the same thread, under the watcher's lock).</summary>
public interface IEventRounds
{
    void BeginRound();
}

/// <summary>Running totals for status lines.</summary>
public static class Counters
{
    public static long Batches;
    public static long PathsPushed;
    public static long BytesSent;
    public static long Retries;
    public static long FailedPushes;
    public static long Overflows;
    public static long WatchLimitHits;
    public static long Events;
    /// <summary>Events of changes the local daemon made (received from a peer), not pushed back.</summary>
    public static long EchoesDropped;
    /// <summary>Events on rsync temporary files, never pushed.</summary>
    public static long TempsSkipped;
    /// <summary>Paths the local daemon kept as newer than a peer's and asked to push back.</summary>
    public static long PushedBack;

    public static string Summary(long queueDepth, int watches, int dirtyPaths = 0) =>
        $"status: watches={watches} events={Interlocked.Read(ref Events)} batches={Interlocked.Read(ref Batches)} " +
        $"paths={Interlocked.Read(ref PathsPushed)} bytes={Interlocked.Read(ref BytesSent)} queue={queueDepth} " +
        $"retries={Interlocked.Read(ref Retries)} failures={Interlocked.Read(ref FailedPushes)} " +
        $"overflows={Interlocked.Read(ref Overflows)} watchLimitHits={Interlocked.Read(ref WatchLimitHits)} " +
        $"echoes={Interlocked.Read(ref EchoesDropped)} temps={Interlocked.Read(ref TempsSkipped)} dirty={dirtyPaths} " +
        $"pushedBack={Interlocked.Read(ref PushedBack)}";
}
