using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

/// <summary>
/// A regression guard on what each list entry keeps alive, on both sides: the sender's list as
/// built from a directory walk and the receiver's as decoded off the wire. Retained memory is
/// measured process-wide, so these run alone.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class FileListMemoryTests : IDisposable
{
    // Retained bytes per entry, for names of 48 bytes ("photographs_from_the_archive_0000/file_00000.txt"):
    // a 48-byte record, a 16-byte handle in the list and the 14-byte base name; the directory part
    // is kept once per chunk of entries. Kept whole in each entry it was over 110, and with an
    // object and a name array per entry over 160.
    private const int MaxBytesPerEntry = 90;
    private const int Folders = 20;
    private const int PerFolder = 1000;

    private readonly string _root = Directory.CreateTempSubdirectory("nr-listmem-").FullName;

    public FileListMemoryTests()
    {
        for (int d = 0; d < Folders; d++)
        {
            string dir = Path.Combine(_root, $"photographs_from_the_archive_{d:0000}");
            Directory.CreateDirectory(dir);
            for (int f = 0; f < PerFolder; f++)
                File.Create(Path.Combine(dir, $"file_{f:00000}.txt")).Dispose();
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private sealed class Quiet : IFileListReporter
    {
        public void TransferError(string message) => throw new InvalidOperationException(message);
        public void Info(string message) { }
    }

    private List<FileEntry> Walk()
    {
        var builder = new FileListBuilder(new FileListScanOptions { Recursive = true, PreserveLinks = true }, new Quiet());
        builder.AddSource(_root + "/");
        return builder.Build();
    }

    [Fact]
    public void TheSendersListKeepsLittlePerEntry()
    {
        Walk(); // once first, so what the runtime sets up on first use is not counted
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var list = Walk();
        long after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(1 + Folders + Folders * PerFolder, list.Count);
        double perEntry = (after - before) / (double)list.Count;
        Assert.True(perEntry <= MaxBytesPerEntry, $"{perEntry:F1} bytes retained per entry; at most {MaxBytesPerEntry} expected");
        GC.KeepAlive(list);
    }

    // Everything the walk allocates, kept or not, per entry: 190 bytes, the list's own included
    // (each name read from the directory is an array, and the list of handles doubles). Joining
    // paths per file and doubling chunks per directory made it 341.
    private const int MaxBytesAllocatedPerEntry = 230;

    [Fact]
    public void TheSendersWalkAllocatesLittleBeyondWhatItKeeps()
    {
        Walk();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var list = Walk();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        double perEntry = allocated / (double)list.Count;
        Assert.True(perEntry <= MaxBytesAllocatedPerEntry, $"{perEntry:F1} bytes allocated per entry; at most {MaxBytesAllocatedPerEntry} expected");
    }

    [Fact]
    public void TheReceiversListKeepsLittlePerEntry()
    {
        var settings = new FileListSettings(31, PreserveUid: true, PreserveGid: true, PreserveLinks: true, PreserveDevices: false,
            PreserveSpecials: false, PreserveHardLinks: false, AlwaysChecksum: false, NumericIds: true, SafeFileList: true);
        var output = new MemoryStream();
        {
            var writer = new RsyncWriter(output);
            var encoder = new FileListEncoder(writer, settings);
            var sent = Walk();
            for (int i = 0; i < sent.Count; i++)
                encoder.Write(sent[i], i);
            encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
            writer.Flush();
        }
        byte[] wire = output.ToArray();
        output = null;

        long before = GC.GetTotalMemory(forceFullCollection: true);
        using var reader = new RsyncReader(new MemoryStream(wire));
        var decoder = new FileListDecoder(reader, settings);
        decoder.ReadAll();
        var list = decoder.Entries;
        long after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(1 + Folders + Folders * PerFolder, list.Count);
        // The wire bytes are held by the reader's stream throughout: they are not the list's.
        double perEntry = (after - before) / (double)list.Count;
        Assert.True(perEntry <= MaxBytesPerEntry, $"{perEntry:F1} bytes retained per entry; at most {MaxBytesPerEntry} expected");
        GC.KeepAlive(decoder);
    }
    // Everything reading a directory's list allocates, per entry: its record, its base name, its
    // handle in the list, and chunks grown from small to fit: 107 bytes. A list grown by doubling
    // and then trimmed to size made it 138.
    private const int MaxBytesAllocatedPerReceivedEntry = 120;

    [Fact]
    public void TheReceiverAllocatesLittleBeyondWhatItKeepsPerDirectoryList()
    {
        var settings = new FileListSettings(31, PreserveUid: true, PreserveGid: true, PreserveLinks: true, PreserveDevices: false,
            PreserveSpecials: false, PreserveHardLinks: false, AlwaysChecksum: false, NumericIds: true, SafeFileList: true)
        { IncrementalRecursion = true };
        var sent = Walk().Where(e => !e.IsDirectory).GroupBy(e => e.Name.Directory.ToArray(), ByteNameComparer.Instance).Select(g => g.ToList()).ToList();
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        var encoder = new FileListEncoder(writer, settings);
        var starts = new List<int>();
        int ndx = 1;
        foreach (var list in sent)
        {
            starts.Add(ndx);
            foreach (var file in list)
                encoder.Write(file, ndx++, starts[^1]);
            encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
            ndx++;
        }
        writer.Flush();

        long Read(out int count)
        {
            using var reader = new RsyncReader(new MemoryStream(output.ToArray()));
            var decoder = new FileListDecoder(reader, settings);
            count = 0;
            long before = GC.GetAllocatedBytesForCurrentThread();
            foreach (int start in starts)
                count += decoder.ReadList(start).Count;
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Read(out _);
        long allocated = Read(out int entries);
        Assert.Equal(Folders * PerFolder, entries);
        double perEntry = allocated / (double)entries;
        Assert.True(perEntry <= MaxBytesAllocatedPerReceivedEntry, $"{perEntry:F1} bytes allocated per received entry; at most {MaxBytesAllocatedPerReceivedEntry} expected");
    }
}

/// <summary>Tests that measure the whole process (its memory, its thread pool's work items), run apart from everything else.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryCollection
{
    public const string Name = "Memory measured process-wide";
}
