using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>How stock clients pass their arguments to netrsyncd.</summary>
[Collection(PushScenarios.Collection)]
public sealed class DaemonArgumentTests(ITestOutputHelper output)
{
    /// <summary>-s (--protect-args): the real arguments follow in a second batch, so a path with spaces
    /// stays one path, both ways.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task ProtectArgs_PushAndPullOfAPathWithSpaces(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        SmallTree(f.Source);

        ProcessResult push = await RunStock(output, peer, ["-s", "-a", f.SourceArg, f.Url() + "two words/"]);
        await AssertExit(0, push, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, Path.Combine(f.ModuleDir, "two words"), CompareOptionsFor(RsyncPeers.DefaultProtocol));

        string pulled = f.Temp.Sub("pulled back");
        Posix.SetTimes(pulled, 631_152_000, 0);
        ProcessResult pull = await RunStock(output, peer, ["-s", "-a", f.Url() + "two words/", pulled + "/"]);
        await AssertExit(0, pull, f.Daemon);
        TreeComparer.AssertIdentical(f.Source, pulled, CompareOptionsFor(RsyncPeers.DefaultProtocol));
    }
}
