namespace NetRsync.Protocol.TwoWay;

/// <summary>What a watcher does with what its daemon tells it over the node link.</summary>
public interface INodeLinkHandler
{
    /// <summary>A change the daemon made (or is about to make visible); called on the thread that calls <see cref="NodeLinkClient.Drain"/>.</summary>
    void Written(WrittenRecord record);

    /// <summary>
    /// Whether this local version of the path is a local change not yet delivered to every remote.
    /// Called on the link's own thread; may block briefly (the daemon waits at most 2 s).
    /// </summary>
    bool IsLocalChange(byte[] path, long size, long mtimeSeconds, int mtimeNanoseconds, ulong inode);

    /// <summary>
    /// The daemon kept its local version of the path because a peer pushed an older one: push the
    /// local version to every remote (it is newer, so it wins there). Called on the thread that calls
    /// <see cref="NodeLinkClient.Drain"/>, in order with the WRITTEN records.
    /// </summary>
    void PushBack(byte[] path);
}
