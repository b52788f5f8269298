using NetRsync.Protocol.Client;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Tests.FileList;
using Xunit;

namespace NetRsync.Protocol.Tests.Client;

/// <summary>
/// A local copy's sender and receiving side talk through in-process pipes on their own threads
/// (rsync's three processes over a socket pair): no byte waits on a thread-pool hop.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class LocalCopyThreadsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("local-threads-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task ALocalCopyQueuesNoWorkOnTheThreadPool()
    {
        string source = Path.Join(_root, "src"), destination = Path.Join(_root, "dst");
        var random = new Random(4);
        for (int i = 0; i < 300; i++)
        {
            string folder = Path.Join(source, $"d{i / 30}");
            Directory.CreateDirectory(folder);
            byte[] data = new byte[1000 + random.Next(20_000)];
            random.NextBytes(data);
            File.WriteAllBytes(Path.Join(folder, $"f{i}"), data);
        }
        var client = new RsyncClient(new RsyncOptions { Recursive = true, PreserveTimes = true }, NullOutput.Instance);

        long before = ThreadPool.CompletedWorkItemCount;
        var result = await client.CopyAsync([source + "/"], destination + "/");
        long queued = ThreadPool.CompletedWorkItemCount - before;

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Join(source, "d9", "f299")), File.ReadAllBytes(Path.Join(destination, "d9", "f299")));
        // The copy's result comes back through one or two; the pipes' waits must not.
        Assert.True(queued <= 5, $"{queued} thread-pool work items during a copy of 300 files");
    }
}
