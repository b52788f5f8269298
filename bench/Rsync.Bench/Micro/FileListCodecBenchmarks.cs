using System.Text;
using BenchmarkDotNet.Attributes;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Wire;

namespace NetRsync.Bench.Micro;

/// <summary>
/// The file-list codec for protocol 31 with the options of <c>rsync -a --numeric-ids</c>:
/// encoding 100,000 entries (a source tree of nested project directories, files sharing name
/// prefixes, some symlinks) and decoding them back.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class FileListCodecBenchmarks
{
    public const int EntryCount = 100_000;

    // -a without -H, -D and --checksum; numeric ids keep user-database lookups out of the loop.
    private static readonly FileListSettings Settings = new(
        Protocol: 31,
        PreserveUid: true,
        PreserveGid: true,
        PreserveLinks: true,
        PreserveDevices: false,
        PreserveSpecials: false,
        PreserveHardLinks: false,
        AlwaysChecksum: false,
        NumericIds: true,
        SafeFileList: true);

    private List<FileEntry> _entries = [];
    private RsyncWriter? _writer;
    private byte[] _encoded = [];

    [GlobalSetup]
    public void Setup()
    {
        _entries = SourceTree.Generate(EntryCount, seed: 31);
        _writer = new RsyncWriter(Stream.Null);

        var buffer = new MemoryStream();
        var writer = new RsyncWriter(buffer);
        var encoder = new FileListEncoder(writer, Settings);
        for (int i = 0; i < _entries.Count; i++)
            encoder.Write(_entries[i], i);
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        writer.Flush();
        _encoded = buffer.ToArray();

        // The decoded list must be the list that was encoded.
        List<FileEntry> decoded = DecodeList();
        if (decoded.Count != _entries.Count)
            throw new InvalidOperationException($"decoded {decoded.Count} entries, expected {_entries.Count}");
        for (int i = 0; i < decoded.Count; i++)
        {
            FileEntry a = _entries[i], b = decoded[i];
            if (!a.Name.SequenceEqual(b.Name) || a.Mode != b.Mode || a.Size != b.Size || a.ModTime != b.ModTime
                || a.ModNanoseconds != b.ModNanoseconds || a.Uid != b.Uid || a.Gid != b.Gid
                || !(a.LinkTarget ?? []).AsSpan().SequenceEqual(b.LinkTarget ?? []))
                throw new InvalidOperationException($"entry {i} ({a}) did not survive the round trip");
        }
        Console.WriteLine($"// File list: {_entries.Count} entries, {_encoded.Length} bytes encoded ({(double)_encoded.Length / _entries.Count:F1} bytes/entry)");
    }

    /// <summary>Encodes the whole list, end marker included, to a writer that discards.</summary>
    [Benchmark]
    [Throughput(ThroughputUnit.Entries, EntryCount)]
    public long Encode()
    {
        var encoder = new FileListEncoder(_writer!, Settings);
        List<FileEntry> entries = _entries;
        for (int i = 0; i < entries.Count; i++)
            encoder.Write(entries[i], i);
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        _writer!.Flush();
        return encoder.TotalSize;
    }

    /// <summary>Decodes the whole list from memory; allocates the entries it returns.</summary>
    [Benchmark]
    [Throughput(ThroughputUnit.Entries, EntryCount)]
    public int Decode() => DecodeList().Count;

    private List<FileEntry> DecodeList()
    {
        using var reader = new RsyncReader(new MemoryStream(_encoded, writable: false));
        var decoder = new FileListDecoder(reader, Settings);
        decoder.ReadAll();
        return decoder.Entries;
    }
}

/// <summary>
/// A synthetic source tree in rsync's file-list order: nested directories of a few dozen files
/// each, names drawn from small vocabularies so neighbours share prefixes, mostly regular files
/// with about one entry in twelve a symlink.
/// </summary>
internal static class SourceTree
{
    private const int FileMode = Posix.S_IFREG | 0b110_100_100;        // 0644
    private const int ExecutableMode = Posix.S_IFREG | 0b111_101_101;  // 0755
    private const int DirectoryMode = Posix.S_IFDIR | 0b111_101_101;   // 0755
    private const int SymlinkMode = Posix.S_IFLNK | 0b111_111_111;     // 0777

    private static readonly string[] Projects =
        ["billing-service", "web-frontend", "data-pipeline", "auth-gateway", "mobile-app", "infra", "docs-site", "ml-models"];

    private static readonly string[] DirNames =
        ["src", "lib", "include", "components", "internal", "handlers", "models", "utils", "tests", "fixtures",
         "assets", "images", "styles", "config", "scripts", "migrations", "api", "v1", "v2", "common"];

    private static readonly string[] Stems =
        ["index", "main", "server", "client", "request_handler", "response_parser", "user_repository", "session_store",
         "config_loader", "database_connection", "event_dispatcher", "cache_manager", "logger", "metrics_collector",
         "schema", "router", "middleware", "validator", "serializer", "README", "CHANGELOG", "helpers"];

    private static readonly string[] Extensions =
        [".cs", ".ts", ".tsx", ".py", ".go", ".rs", ".c", ".h", ".json", ".yaml", ".md", ".png", ".css", ".sql", ".sh"];

    public static List<FileEntry> Generate(int count, int seed)
    {
        var random = new Random(seed);
        var entries = new List<FileEntry>(count);
        long baseTime = 1_700_000_000;
        entries.Add(new FileEntry("."u8.ToArray(), DirectoryMode, 4096, baseTime)
        {
            Uid = 1000, Gid = 1000, Flags = EntryFlags.TopDir | EntryFlags.ContentDir,
        });

        for (int project = 0; entries.Count < count; project++)
        {
            string name = $"{Projects[project % Projects.Length]}-{project / Projects.Length:D2}";
            AddDirectory(entries, random, count, name, depth: 0, baseTime);
        }
        entries.Sort(FileNameComparer.Instance);
        return entries;
    }

    private static void AddDirectory(List<FileEntry> entries, Random random, int count, string path, int depth, long baseTime)
    {
        if (entries.Count >= count)
            return;
        long dirTime = baseTime + random.Next(0, 90 * 24 * 3600);
        entries.Add(new FileEntry(Encoding.UTF8.GetBytes(path), DirectoryMode, 4096, dirTime)
        {
            ModNanoseconds = random.Next(1, 1_000_000_000), Uid = 1000, Gid = 1000, Flags = EntryFlags.ContentDir,
        });

        int files = random.Next(4, 40);
        var used = new HashSet<string>();
        long time = dirTime;
        for (int i = 0; i < files && entries.Count < count; i++)
        {
            string stem = Stems[random.Next(Stems.Length)];
            string ext = Extensions[random.Next(Extensions.Length)];
            string file = random.Next(3) == 0 ? $"{stem}{ext}" : $"{stem}_{random.Next(1, 200):D3}{ext}";
            if (!used.Add(file))
                continue;
            // Files written together often share a modification second.
            if (random.Next(3) != 0)
                time = dirTime - random.Next(0, 30 * 24 * 3600);
            byte[] name = Encoding.UTF8.GetBytes(path + "/" + file);
            int kind = random.Next(12);
            FileEntry entry;
            if (kind == 0)
            {
                byte[] target = Encoding.UTF8.GetBytes($"../{DirNames[random.Next(DirNames.Length)]}/{stem}{ext}");
                entry = new FileEntry(name, SymlinkMode, target.Length, time) { LinkTarget = target };
            }
            else
            {
                long size = (long)Math.Pow(2, random.NextDouble() * 24) + random.Next(0, 512);
                entry = new FileEntry(name, kind == 1 ? ExecutableMode : FileMode, size, time);
            }
            entry.ModNanoseconds = random.Next(1, 1_000_000_000);
            entry.Uid = 1000;
            entry.Gid = random.Next(20) == 0 ? 0 : 1000;
            entries.Add(entry);
        }

        if (depth >= 4)
            return;
        int subdirs = random.Next(depth == 0 ? 3 : 0, 5);
        var usedDirs = new HashSet<string>();
        for (int i = 0; i < subdirs; i++)
        {
            string sub = DirNames[random.Next(DirNames.Length)];
            if (usedDirs.Add(sub))
                AddDirectory(entries, random, count, path + "/" + sub, depth + 1, baseTime);
        }
    }
}
