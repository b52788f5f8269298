using System.Collections.Concurrent;
using System.Diagnostics;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Inotify;
using NetRsync.SerSync.Sync;
using Xunit;

namespace NetRsync.SerSync.Tests;

/// <summary>Event and directory names that are not UTF-8 come out of the watcher as the same bytes.</summary>
public sealed class TreeWatcherNameBytesTests : IDisposable
{
    private static readonly byte[] Latin1 = [0x63, 0x61, 0x66, 0xE9];
    private static readonly byte[] Latin1Grave = [0x63, 0x61, 0x66, 0xE8];
    private static readonly byte[] Gbk = [0xD6, 0xD0, 0xCE, 0xC4, 0x2E, 0x74, 0x78, 0x74];
    private static readonly byte[] Invalid = [0xFF, 0xFE, 0x80, 0x2D, 0xC3];
    private static readonly byte[] DirName = [0x64, 0xE8, 0xFF];
    private static readonly byte[] Renamed = [0x72, 0xC0, 0xC1];

    private readonly string _base = Directory.CreateTempSubdirectory("netsersync-rawwatch-").FullName;
    private readonly string _root;
    private readonly Sink _sink = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TreeWatcher _watcher;
    private readonly Thread _thread;

    private sealed class Sink : IChangeSink
    {
        public readonly ConcurrentDictionary<byte[], ChangeFlags> Seen = new(Names.Comparer);

        public void Report(int rootIndex, byte[] relativePath, ChangeFlags flags) =>
            Seen.AddOrUpdate(relativePath, flags, (_, old) => old | flags);
    }

    public TreeWatcherNameBytesTests()
    {
        _root = Directory.CreateDirectory(Path.Combine(_base, "root")).FullName;
        // A byte-wise exclude: the Latin-1 è, not the UTF-8 one.
        _watcher = new TreeWatcher([_root], new PathFilter([@"caf\xE8"]), new EventSwitches { Delete = true }, _sink);
        _watcher.WatchAll();
        _thread = new Thread(() => _watcher.Run(_stop.Token)) { IsBackground = true };
        _thread.Start();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _watcher.Dispose();
        RawFs.DeleteTree(_base);
    }

    private byte[] At(params byte[][] parts) => RawFs.Under(_root, parts.Aggregate((a, b) => Names.Join(a, b)));

    private async Task SeenAsync(ChangeFlags flags, params byte[][] parts)
    {
        byte[] rel = parts.Aggregate((a, b) => Names.Join(a, b));
        var clock = Stopwatch.StartNew();
        while (!(_sink.Seen.TryGetValue(rel, out var seen) && (seen & flags) == flags))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10),
                $"no {flags} for {Names.Display(rel)} within 10 s; seen: {string.Join(", ", _sink.Seen.Select(kv => $"{Names.Display(kv.Key)}={kv.Value}"))}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task FileEventsKeepTheirBytes()
    {
        RawFs.WriteFile(At(Latin1), "x"u8);
        RawFs.WriteFile(At(Gbk), "x"u8);
        RawFs.WriteFile(At(Invalid), "x"u8);
        RawFs.WriteFile(At(Latin1Grave), "x"u8);
        await SeenAsync(ChangeFlags.Update, Latin1);
        await SeenAsync(ChangeFlags.Update, Gbk);
        await SeenAsync(ChangeFlags.Update, Invalid);
        RawFs.Delete(At(Gbk));
        await SeenAsync(ChangeFlags.MayRemove, Gbk);
        RawFs.Move(At(Invalid), At(Latin1));
        await SeenAsync(ChangeFlags.MayRemove, Invalid);
        Assert.DoesNotContain(_sink.Seen.Keys, k => k.AsSpan().SequenceEqual(Latin1Grave));
        // Nothing was reported under a name with replacement characters.
        Assert.DoesNotContain(_sink.Seen.Keys, k => k.AsSpan().IndexOf("\uFFFD"u8) >= 0);
    }

    [Fact]
    public async Task DirectoriesAreWatchedAndFollowedByTheirBytes()
    {
        RawFs.MakeDirectory(At(DirName));
        await SeenAsync(ChangeFlags.Update, DirName);
        // Its own watch reports what is created in it later, under the directory's real name.
        RawFs.WriteFile(At(DirName, Gbk), "x"u8);
        await SeenAsync(ChangeFlags.Update, DirName, Gbk);
        RawFs.MakeDirectory(At(DirName, Latin1));
        RawFs.WriteFile(At(DirName, Latin1, Invalid), "x"u8);
        await SeenAsync(ChangeFlags.Update, DirName, Latin1, Invalid);

        // Renamed: the watches follow the new name.
        RawFs.Move(At(DirName), At(Renamed));
        await SeenAsync(ChangeFlags.MayRemove, DirName);
        await SeenAsync(ChangeFlags.Update, Renamed, Latin1, Invalid);
        RawFs.WriteFile(At(Renamed, Latin1, Latin1), "x"u8);
        await SeenAsync(ChangeFlags.Update, Renamed, Latin1, Latin1);

        RawFs.Delete(At(Renamed, Latin1, Latin1));
        RawFs.Delete(At(Renamed, Latin1, Invalid));
        RawFs.RemoveDirectory(At(Renamed, Latin1));
        await SeenAsync(ChangeFlags.MayRemove, Renamed, Latin1);
    }
}
