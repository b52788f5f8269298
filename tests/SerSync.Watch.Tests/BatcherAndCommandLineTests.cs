using NetRsync.SerSync.Config;
using NetRsync.SerSync.Plugins;
using NetRsync.SerSync.Sync;
using Xunit;

namespace NetRsync.SerSync.Tests;

public class BatcherAndCommandLineTests
{
    [Fact]
    public void OneEntryPerPathWithTheFlagsCombined()
    {
        var batches = new List<ChangeBatch>();
        var batcher = new ChangeBatcher(2, TimeSpan.Zero, batches.Add);
        batcher.Report(0, N.B("a"), ChangeFlags.Update);
        batcher.Report(0, N.B("a"), ChangeFlags.MayRemove);
        batcher.Report(0, N.B("b"), ChangeFlags.Update);
        batcher.Report(1, N.B("a"), ChangeFlags.Update);
        batcher.Flush();

        Assert.Equal(2, batches.Count);
        Assert.Equal(ChangeFlags.Update | ChangeFlags.MayRemove, batches[0].Paths[N.B("a")]);
        Assert.Equal(2, batches[0].Paths.Count);
        Assert.Equal(1, batches[1].RootIndex);
        batcher.Flush();
        Assert.Equal(2, batches.Count);
    }

    [Fact]
    public void TooManyPathsCollapseIntoOneRescanThatKeepsRemovals()
    {
        var batches = new List<ChangeBatch>();
        var batcher = new ChangeBatcher(1, TimeSpan.Zero, batches.Add);
        batcher.Report(0, N.B("gone"), ChangeFlags.MayRemove);
        for (int i = 0; i < ChangeBatcher.MaxPendingPaths; i++)
            batcher.Report(0, N.B("f" + i), ChangeFlags.Update);
        batcher.Flush();
        var batch = Assert.Single(batches);
        Assert.True(batch.Paths.Count < 10, $"{batch.Paths.Count} entries kept");
        Assert.Equal(ChangeFlags.Rescan | ChangeFlags.Mirror, batch.Paths[Names.Empty]);
        Assert.Equal(ChangeFlags.Rescan, ChangeBatcher.Collapse(N.Paths(("a", ChangeFlags.Update))));
    }

    [Fact]
    public async Task ABatchFlushesWithinTheSettleWindowEvenUnderAStream()
    {
        var flushed = new TaskCompletionSource<ChangeBatch>(TaskCreationOptions.RunContinuationsAsynchronously);
        var batcher = new ChangeBatcher(1, TimeSpan.FromMilliseconds(50), b => flushed.TrySetResult(b));
        using var cancel = new CancellationTokenSource();
        var run = batcher.RunAsync(cancel.Token);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int n = 0;
        while (!flushed.Task.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            batcher.Report(0, N.B("f" + n++), ChangeFlags.Update);
            await Task.Delay(5);
        }
        Assert.True(flushed.Task.IsCompleted, "no batch within 10 s of a steady stream");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the first batch took {clock.Elapsed}");
        await cancel.CancelAsync();
        await run;
    }

    [Fact]
    public void SersyncCommandLine()
    {
        var line = CommandLine.Parse(["-r", "-d", "-o", "/app/confxml.xml", "-n", "4", "--no-detach"]);
        Assert.True(line.FullSyncFirst && line.Detach && line.NoDetach);
        Assert.Equal("/app/confxml.xml", line.ConfigPath);
        Assert.Equal(4, line.Workers);
        Assert.Equal("confxml.xml", CommandLine.Parse([]).ConfigPath);
        Assert.Equal("command", CommandLine.Parse(["-m", "command"]).PluginOnly);
        Assert.True(CommandLine.Parse(["-h"]).Help);
        Assert.Throws<ArgumentException>(() => CommandLine.Parse(["-x"]));
        Assert.Throws<ArgumentException>(() => CommandLine.Parse(["-n", "0"]));
        Assert.Throws<ArgumentException>(() => CommandLine.Parse(["-o"]));
    }

    [Fact]
    public void CommandPluginRunsWithoutAShell()
    {
        var plugin = new CommandPlugin(new CommandPluginSettings("/bin/echo -n", "--end", true, [@"(.*)\.php"]));
        Assert.Equal(["/bin/echo", "-n", "/w/it's a $file.php", "--end"], N.S(plugin.CommandFor(N.B("/w/it's a $file.php"))));
        Assert.True(plugin.Wants(N.B("/w/x.php")));
        Assert.False(plugin.Wants(N.B("/w/x.txt")));
    }

    [Fact]
    public void DestinationUrlCarriesUserPortAndModule()
    {
        var rsync = new RsyncSettings { AuthEnabled = true, AuthUser = "rsync", PasswordFile = "/p", Port = 874 };
        Assert.Equal("rsync://rsync@10.0.0.2:874/www/", RemotePusher.DestinationUrl(new RemoteTarget("10.0.0.2", "www"), rsync));
        Assert.Equal("rsync://[::1]/www/", RemotePusher.DestinationUrl(new RemoteTarget("::1", "www"), new RsyncSettings()));
        Assert.Equal("rsync://rsync@10.0.0.3:9873/www/", RemotePusher.DestinationUrl(new RemoteTarget("10.0.0.3:9873", "www"), rsync));
        Assert.Equal("rsync://[::1]:9873/www/", RemotePusher.DestinationUrl(new RemoteTarget("[::1]:9873", "www"), new RsyncSettings { Port = 874 }));
        var args = RemotePusher.CommandLine(["--from0"], rsync with { TimeoutSeconds = 100 }, "/src/", "rsync://h/m/");
        Assert.Equal(["-artuz", "--timeout=100", "--password-file=/p", "--from0", "/src/", "rsync://h/m/"], args);
    }

    [Fact]
    public void SeedParamsParseAsRsyncParsesThem()
    {
        var options = NetRsync.Protocol.Options.OptionParser.Parse(["-artuz", "/src/", "rsync://h/m/"], "netsersync");
        Assert.True(options.Recursive && options.PreserveTimes && options.Update && options.PreserveLinks);
        Assert.Equal(1, options.Compress);
    }
}
