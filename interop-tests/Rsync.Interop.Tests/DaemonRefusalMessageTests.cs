using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// A refused option ends the run with code 4, and the client always hears why: netrsyncd sends the
/// reason before MSG_ERROR_EXIT, after which a 3.2+ client leaves without reading further.
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed class DaemonRefusalMessageTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task ARefusedOptionIsExplainedEveryTime(string peer)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string module = temp.Sub("module");
        string src = temp.Sub("src");
        File.WriteAllText(Path.Combine(src, "f"), "data");
        await using NetRsyncDaemon daemon = await NetRsyncDaemon.StartAsync(
            [new DaemonModule("m", module) { ExtraLines = ["refuse options = compress"] }]);
        for (int attempt = 0; attempt < 4; attempt++)
        {
            foreach (string[] args in new[] { new[] { "-az", src + "/", daemon.Url("m") }, ["-az", daemon.Url("m"), temp.Sub("dst") + "/"] })
            {
                ProcessResult r = await DaemonTestKit.RunStock(output, peer, args);
                Assert.True(r.ExitCode == 4, r.ToString());
                Assert.Contains("The server is configured to refuse --compress (-z)", r.Stderr, StringComparison.Ordinal);
            }
        }
        Assert.False(File.Exists(Path.Combine(module, "f")), "nothing is transferred");
    }
}
