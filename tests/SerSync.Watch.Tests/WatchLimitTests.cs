using System.Collections.Concurrent;
using System.Diagnostics;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Inotify;
using NetRsync.SerSync.Sync;
using Xunit;

namespace NetRsync.SerSync.Tests;

/// <summary>Past the inotify watch limit (simulated with a budget of watches, failing as ENOSPC does).</summary>
public sealed class WatchLimitTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("netsersync-limit-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private sealed class Sink : IChangeSink
    {
        public readonly ConcurrentDictionary<string, ChangeFlags> Seen = new();

        public void Report(int rootIndex, byte[] relativePath, ChangeFlags flags) => Seen[N.S(relativePath)] = flags;
    }

    [Fact]
    public async Task TheLimitIsFlaggedAndNewFoldersAreStillPushed()
    {
        foreach (string dir in new[] { "a", "b", "c" })
            Directory.CreateDirectory(Path.Combine(_root, dir));
        var sink = new Sink();
        using var watcher = new TreeWatcher([_root], PathFilter.None, new EventSwitches(), sink, watchBudget: 2);
        watcher.WatchAll();
        Assert.True(watcher.WatchLimitHit);
        Assert.Equal(2, watcher.WatchCount);

        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => watcher.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        try
        {
            // The root is watched; the new folder cannot be, but what it holds is listed and reported.
            Directory.CreateDirectory(Path.Combine(_root, "late/deeper"));
            File.WriteAllText(Path.Combine(_root, "late/deeper/file.txt"), "x");
            Directory.Move(Path.Combine(_root, "late"), Path.Combine(_root, "late2"));
            var clock = Stopwatch.StartNew();
            while (!sink.Seen.ContainsKey("late2/deeper/file.txt"))
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"not reported; seen: {string.Join(", ", sink.Seen.Keys)}");
                await Task.Delay(10);
            }
        }
        finally
        {
            stop.Cancel();
            thread.Join();
        }
    }
}
