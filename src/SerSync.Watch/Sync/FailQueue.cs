using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NetRsync.SerSync.Sync;

/// <summary>A push not yet confirmed: which paths of which root still have to reach which remote.</summary>
public sealed record QueuedPush(long Id, string Remote, string Root, Dictionary<byte[], ChangeFlags> Paths);

/// <summary>
/// The durable queue behind every push (the &lt;failLog path&gt; file). Before a push its paths are
/// appended as one JSON line and fsynced; once the remote confirms, a "done" line follows. A push
/// that fails simply stays outstanding and is retried; after a crash or SIGKILL the outstanding
/// pushes are read back and retried at startup. The file is JSON lines (data, not a shell script):
/// <c>{"op":"add","id":7,"remote":"host::module","root":"/src","paths":{"dir/file":1}}</c> and
/// <c>{"op":"done","id":7}</c>. Without a path the queue lives in memory only.
/// Names are bytes: one that is valid UTF-8 is a key of "paths" (readable, and what earlier versions
/// wrote); any other goes base64-encoded in "rawPaths" (<c>"rawPaths":{"Y2Fm6Q==":1}</c>), so every
/// name comes back byte for byte.
/// </summary>
public sealed class FailQueue : IDisposable
{
    private const long CompactAboveBytes = 4 * 1024 * 1024;

    private readonly string? _path;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, QueuedPush> _outstanding = [];
    private FileStream? _file;
    private long _nextId = 1;
    private long _depth;

    private FailQueue(string? path)
    {
        _path = path;
    }

    /// <summary>Pushes found outstanding when the queue was opened.</summary>
    public IReadOnlyList<QueuedPush> Recovered { get; private set; } = [];

    /// <summary>Paths waiting for a confirmed push.</summary>
    public long Depth => Interlocked.Read(ref _depth);

    public static FailQueue Open(string? path)
    {
        var queue = new FailQueue(path);
        if (path is null)
            return queue;
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
            Directory.CreateDirectory(dir);
        if (File.Exists(path) && queue.Replay(path) > 0)
        {
            // Not ours (sersync's rsync_fail_log.sh, say) or damaged: keep it before compacting.
            string kept = path + ".unreadable";
            File.Copy(path, kept, overwrite: true);
            Log.Error($"{path}: lines netsersync cannot read were kept in {kept}; a run with -r covers whatever they listed");
        }
        queue.Recovered = queue._outstanding.Values.OrderBy(p => p.Id).ToList();
        queue.Rewrite();
        return queue;
    }

    /// <summary>Reads the journal back; returns how many lines could not be read.</summary>
    private int Replay(string path)
    {
        int lineNumber = 0;
        int unreadable = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            Record? record;
            try
            {
                record = JsonSerializer.Deserialize(line, RecordContext.Default.Record);
            }
            catch (JsonException)
            {
                // A torn final line from a crash; anything it described is still outstanding above it or was never sent.
                if (unreadable++ == 0)
                    Log.Error($"{path}:{lineNumber}: unreadable fail-queue line skipped");
                continue;
            }
            if (record is null)
                continue;
            _nextId = Math.Max(_nextId, record.Id + 1);
            if (record.Op == "add" && record.Remote is not null && record.Root is not null && (record.Paths is not null || record.RawPaths is not null))
            {
                if (!TryReadPaths(record, out var paths))
                {
                    if (unreadable++ == 0)
                        Log.Error($"{path}:{lineNumber}: unreadable fail-queue line skipped");
                    continue;
                }
                _outstanding[record.Id] = new QueuedPush(record.Id, record.Remote, record.Root, paths);
            }
            else if (record.Op == "done")
                _outstanding.Remove(record.Id);
        }
        _depth = _outstanding.Values.Sum(p => (long)p.Paths.Count);
        return unreadable;
    }

    /// <summary>Records a push about to start; returns its id for <see cref="Done"/>.</summary>
    public long Add(string remote, string root, Dictionary<byte[], ChangeFlags> paths)
    {
        lock (_gate)
        {
            long id = _nextId++;
            _outstanding[id] = new QueuedPush(id, remote, root, paths);
            Interlocked.Add(ref _depth, paths.Count);
            Append(AddRecord(id, remote, root, paths));
            return id;
        }
    }

    /// <summary>Marks a push confirmed by its remote.</summary>
    public void Done(long id)
    {
        lock (_gate)
        {
            if (!_outstanding.Remove(id, out var push))
                return;
            Interlocked.Add(ref _depth, -push.Paths.Count);
            Append(new Record { Op = "done", Id = id });
            if (_file is not null && _file.Length > CompactAboveBytes)
                Rewrite();
        }
    }

    private void Append(Record record)
    {
        if (_path is null)
            return;
        _file ??= new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
        byte[] line = JsonSerializer.SerializeToUtf8Bytes(record, RecordContext.Default.Record);
        _file.Write(line);
        _file.WriteByte((byte)'\n');
        _file.Flush(flushToDisk: true);
    }

    /// <summary>Rewrites the file with only the outstanding pushes (atomically: temp file, fsync, rename).</summary>
    private void Rewrite()
    {
        if (_path is null)
            return;
        _file?.Dispose();
        _file = null;
        string temp = _path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            foreach (var push in _outstanding.Values.OrderBy(p => p.Id))
            {
                stream.Write(JsonSerializer.SerializeToUtf8Bytes(AddRecord(push.Id, push.Remote, push.Root, push.Paths), RecordContext.Default.Record));
                stream.WriteByte((byte)'\n');
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, _path, overwrite: true);
    }

    private static Record AddRecord(long id, string remote, string root, Dictionary<byte[], ChangeFlags> paths)
    {
        var record = new Record { Op = "add", Id = id, Remote = remote, Root = root, Paths = [] };
        foreach (var (name, flags) in paths)
        {
            if (Names.IsUtf8(name))
            {
                record.Paths[Encoding.UTF8.GetString(name)] = flags;
            }
            else
            {
                record.RawPaths ??= [];
                record.RawPaths[Convert.ToBase64String(name)] = flags;
            }
        }
        return record;
    }

    /// <summary>The names of an "add" line, both forms; false when a rawPaths key is not base64.</summary>
    private static bool TryReadPaths(Record record, out Dictionary<byte[], ChangeFlags> paths)
    {
        paths = new Dictionary<byte[], ChangeFlags>(Names.Comparer);
        foreach (var (name, flags) in record.Paths ?? [])
            paths[Encoding.UTF8.GetBytes(name)] = flags;
        foreach (var (encoded, flags) in record.RawPaths ?? [])
        {
            byte[] name;
            try
            {
                name = Convert.FromBase64String(encoded);
            }
            catch (FormatException)
            {
                return false;
            }
            paths[name] = flags;
        }
        return true;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    internal sealed class Record
    {
        [JsonPropertyName("op")]
        public string Op { get; set; } = "";

        [JsonPropertyName("id")]
        public long Id { get; set; }

        [JsonPropertyName("remote")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Remote { get; set; }

        [JsonPropertyName("root")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Root { get; set; }

        [JsonPropertyName("paths")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public Dictionary<string, ChangeFlags>? Paths { get; set; }

        /// <summary>Names that are not valid UTF-8, base64-encoded.</summary>
        [JsonPropertyName("rawPaths")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public Dictionary<string, ChangeFlags>? RawPaths { get; set; }
    }
}

[JsonSerializable(typeof(FailQueue.Record))]
internal sealed partial class RecordContext : JsonSerializerContext;
