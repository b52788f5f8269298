// TEMPORARY: stands in for src/Rsync.Protocol/TwoWay until that lands; removed at the merge.
namespace NetRsync.Protocol.TwoWay;

public enum WrittenKind : byte { File = 1, Directory = 2, Symlink = 3, Deleted = 4, Attributes = 5 }

public readonly record struct WrittenRecord(WrittenKind Kind, byte[] Path, long Size, long MtimeSeconds, int MtimeNanoseconds, ulong Inode);

public interface INodeLinkHandler
{
    void Written(WrittenRecord record);

    bool IsLocalChange(byte[] path, long size, long mtimeSeconds, int mtimeNanoseconds, ulong inode);
}

public static class NodeLink
{
    public static string DefaultRunDirectory() => Environment.GetEnvironmentVariable("NETRSYNC_RUN_DIR") ?? "/run/netrsync";

    public static string SocketPath(string runDirectory) => Path.Join(runDirectory, "netrsyncd.sock");
}

public sealed class NodeLinkClient(string runDirectory, IReadOnlyList<byte[]> watchRoots, INodeLinkHandler handler) : IDisposable
{
    public Action<string>? Log { get; init; }

    public bool Connected => false;

    public void Start()
    {
        _ = (runDirectory, watchRoots, handler);
    }

    public int Drain() => 0;

    public void Dispose()
    {
    }
}
