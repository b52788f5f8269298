using System.Collections.Concurrent;
using System.Diagnostics;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Inotify;
using NetRsync.SerSync.Sync;
using Xunit;

namespace NetRsync.SerSync.Tests;

/// <summary>The watcher against real inotify on a temp directory.</summary>
public sealed class TreeWatcherTests : IDisposable
{
    private readonly string _base = Directory.CreateTempSubdirectory("netsersync-watch-").FullName;
    private readonly string _root;
    private readonly string _outside;
    private readonly Sink _sink = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TreeWatcher _watcher;
    private readonly Thread _thread;

    private sealed class Sink : IChangeSink
    {
        public readonly ConcurrentDictionary<string, ChangeFlags> Seen = new();

        public void Report(int rootIndex, byte[] relativePath, ChangeFlags flags) =>
            Seen.AddOrUpdate(N.S(relativePath), flags, (_, old) => old | flags);
    }

    public TreeWatcherTests()
    {
        _root = Directory.CreateDirectory(Path.Combine(_base, "root")).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_base, "outside")).FullName;
        Directory.CreateDirectory(Path.Combine(_root, "existing"));
        _watcher = new TreeWatcher([_root], new PathFilter([@"(.*)\.php"]), new EventSwitches { Delete = true }, _sink);
        _watcher.WatchAll();
        _thread = new Thread(() => _watcher.Run(_stop.Token)) { IsBackground = true };
        _thread.Start();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _watcher.Dispose();
        Directory.Delete(_base, recursive: true);
    }

    private async Task SeenAsync(string rel, ChangeFlags flags)
    {
        var clock = Stopwatch.StartNew();
        while (!(_sink.Seen.TryGetValue(rel, out var seen) && (seen & flags) == flags))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10),
                $"no {flags} for {rel} within 10 s; seen: {string.Join(", ", _sink.Seen.Select(kv => $"{kv.Key}={kv.Value}"))}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task NewFoldersAreWatchedAndTheirContentReported()
    {
        Directory.CreateDirectory(Path.Combine(_root, "a/b/c"));
        File.WriteAllText(Path.Combine(_root, "a/b/c/f.txt"), "x");
        File.WriteAllText(Path.Combine(_root, "existing/g.txt"), "y");
        File.WriteAllText(Path.Combine(_root, "existing/skip.php"), "z");
        await SeenAsync("a", ChangeFlags.Update);
        await SeenAsync("a/b/c/f.txt", ChangeFlags.Update);
        await SeenAsync("existing/g.txt", ChangeFlags.Update);
        // Later writes in the new, deep folder arrive through its own watch.
        File.WriteAllText(Path.Combine(_root, "a/b/c/later.txt"), "x");
        await SeenAsync("a/b/c/later.txt", ChangeFlags.Update);
        Assert.False(_sink.Seen.ContainsKey("existing/skip.php"));
    }

    [Fact]
    public async Task RenamesAndMovesInAndOut()
    {
        Directory.CreateDirectory(Path.Combine(_root, "d/e"));
        await SeenAsync("d/e", ChangeFlags.Update);
        Directory.Move(Path.Combine(_root, "d"), Path.Combine(_root, "renamed"));
        await SeenAsync("d", ChangeFlags.MayRemove);
        await SeenAsync("renamed/e", ChangeFlags.Update);
        // The watches followed the rename.
        File.WriteAllText(Path.Combine(_root, "renamed/e/new.txt"), "x");
        await SeenAsync("renamed/e/new.txt", ChangeFlags.Update);

        Directory.Move(Path.Combine(_root, "renamed"), Path.Combine(_outside, "away"));
        await SeenAsync("renamed", ChangeFlags.MayRemove);
        Directory.CreateDirectory(Path.Combine(_outside, "incoming/deep"));
        File.WriteAllText(Path.Combine(_outside, "incoming/deep/file.txt"), "x");
        Directory.Move(Path.Combine(_outside, "incoming"), Path.Combine(_root, "incoming"));
        await SeenAsync("incoming/deep/file.txt", ChangeFlags.Update);

        // A directory moved out is not watched any more.
        File.WriteAllText(Path.Combine(_outside, "away/e/after.txt"), "x");
        File.WriteAllText(Path.Combine(_root, "marker.txt"), "x");
        await SeenAsync("marker.txt", ChangeFlags.Update);
        Assert.DoesNotContain(_sink.Seen.Keys, k => k.EndsWith("after.txt", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DeletesAreReported()
    {
        File.WriteAllText(Path.Combine(_root, "existing/doomed.txt"), "x");
        await SeenAsync("existing/doomed.txt", ChangeFlags.Update);
        Directory.Delete(Path.Combine(_root, "existing"), recursive: true);
        await SeenAsync("existing/doomed.txt", ChangeFlags.MayRemove);
        await SeenAsync("existing", ChangeFlags.MayRemove);
    }
}
