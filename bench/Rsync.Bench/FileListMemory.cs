using NetRsync.Protocol.FileList;

namespace NetRsync.Bench;

/// <summary>Retained memory per file-list entry: the sender's list is what grows with the tree.</summary>
internal static class FileListMemory
{
    private sealed class Quiet : IFileListReporter
    {
        public void TransferError(string message) => Console.Error.WriteLine(message);
        public void Info(string message) { }
    }

    public static int Run(int entries)
    {
        string root = Directory.CreateTempSubdirectory("nr-memory-").FullName;
        try
        {
            const int perDirectory = 1000;
            for (int d = 0; d * perDirectory < entries; d++)
            {
                string dir = Path.Combine(root, $"dir{d:0000}");
                Directory.CreateDirectory(dir);
                for (int f = 0; f < perDirectory && d * perDirectory + f < entries; f++)
                    File.Create(Path.Combine(dir, $"file_{f:00000}.txt")).Dispose();
            }

            long before = GC.GetTotalMemory(forceFullCollection: true);
            var builder = new FileListBuilder(new FileListScanOptions { Recursive = true, PreserveLinks = true }, new Quiet());
            builder.AddSource(root + "/");
            List<FileEntry> list = builder.Build();
            long after = GC.GetTotalMemory(forceFullCollection: true);
            double perEntry = (after - before) / (double)list.Count;
            Console.WriteLine($"file list: {list.Count:N0} entries, {perEntry:F1} bytes retained per entry (aim: below 100)");
            GC.KeepAlive(list);
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
