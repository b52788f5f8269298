using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// netrsync against netrsyncd, the pair netsersync relies on. Stock rsync on either side closes
/// as soon as its role is done, which hides a pair that waits for each other to close; here both
/// sides are ours, so a session must end without such a wait.
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed class OwnPairTests(ITestOutputHelper output)
{
    /// <summary>Far below the 5 s either side waits for the other's close before giving up.</summary>
    private static readonly TimeSpan NoCloseStall = TimeSpan.FromSeconds(3);

    private async Task<ProcessResult> Run(params string[] args)
    {
        ProcessResult r = await NetRsync.Instance.RunAsync(args);
        output.WriteLine(r.ToString());
        return r;
    }

    [Theory]
    [InlineData("-a")]
    [InlineData("-az")]
    [InlineData("-azz")]
    [InlineData("-a --protocol=30")]
    public async Task PushAndPull_EndWithoutWaitingOnEachOther(string options)
    {
        await using var f = await NetRsyncDaemonFixture.StartAsync();
        DaemonTestKit.SmallTree(f.Source);
        string[] opts = options.Split(' ');
        var compare = DaemonTestKit.CompareOptionsFor(options.Contains("--protocol=30", StringComparison.Ordinal) ? "30" : RsyncPeers.DefaultProtocol);

        ProcessResult push = await Run([.. opts, f.SourceArg, f.Url()]);
        await DaemonTestKit.AssertExit(0, push, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, f.ModuleDir, compare);

        string dest = f.Temp.Sub("pulled");
        ProcessResult pull = await Run([.. opts, f.Url(), dest + "/"]);
        await DaemonTestKit.AssertExit(0, pull, f.Daemon);
        TreeComparer.AssertIdentical(f.ModuleDir, dest, compare);

        Assert.True(push.Elapsed < NoCloseStall, $"the push took {push.Elapsed.TotalSeconds:F1}s: a side waited for the other to close");
        Assert.True(pull.Elapsed < NoCloseStall, $"the pull took {pull.Elapsed.TotalSeconds:F1}s: a side waited for the other to close");
    }
}
