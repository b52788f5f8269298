using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>Many stock clients at once against one netrsyncd.</summary>
[Collection(PushScenarios.Collection)]
public sealed class DaemonLoadTests(ITestOutputHelper output)
{
    private const int Clients = 50;
    private const int FilesPerTree = 20;

    /// <summary>A distinct small tree: <see cref="FilesPerTree"/> files of 0..~40 KiB over three folders,
    /// seeded by <paramref name="seed"/>, with fixed times.</summary>
    private static void DistinctTree(string root, int seed)
    {
        var rng = new Random(seed);
        Directory.CreateDirectory(Path.Combine(root, "a", "b"));
        Directory.CreateDirectory(Path.Combine(root, "c"));
        string[] dirs = ["", "a", "a/b", "c"];
        for (int i = 0; i < FilesPerTree; i++)
        {
            byte[] content = new byte[rng.Next(0, 40_000)];
            rng.NextBytes(content);
            File.WriteAllBytes(Path.Combine(root, dirs[i % dirs.Length], $"file-{seed}-{i:D2}.bin"), content);
        }
        PushFixture.StampTimes(root, 1_300_000_000 + (seed * 100_000L));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task FiftyConcurrentClients_PushingAndPulling_AllSucceed(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string dst = f.Temp.Sub("dst");
        var jobs = new List<(string Kind, string Expected, string Actual, List<string> Args)>();
        for (int i = 0; i < Clients; i++)
        {
            string name = $"client-{i:D2}";
            if (i % 2 == 0)
            {
                string src = Path.Combine(f.Source, name);
                DistinctTree(src, i);
                jobs.Add(("push", src, Path.Combine(f.ModuleDir, name), ["-a", src + "/", f.Url() + name + "/"]));
            }
            else
            {
                string inModule = Path.Combine(f.ModuleDir, name);
                DistinctTree(inModule, i);
                string to = Path.Combine(dst, name);
                jobs.Add(("pull", inModule, to, ["-a", f.Url() + name + "/", to + "/"]));
            }
        }
        f.AgeModuleRoot();

        var sw = Stopwatch.StartNew();
        ProcessResult[] results = await Task.WhenAll(jobs.Select(j =>
            ProcessRunner.RunAsync(RsyncPeers.Resolve(peer), j.Args, timeout: TimeSpan.FromSeconds(60))));
        output.WriteLine($"{Clients} clients finished in {sw.Elapsed.TotalSeconds:F1}s");

        var failures = new List<string>();
        for (int i = 0; i < jobs.Count; i++)
        {
            if (results[i].ExitCode != 0)
            {
                failures.Add($"{jobs[i].Kind} #{i} failed:\n{results[i]}");
                continue;
            }
            IReadOnlyList<string> diffs = TreeComparer.FindDifferences(jobs[i].Expected, jobs[i].Actual, CompareOptionsFor(RsyncPeers.DefaultProtocol));
            if (diffs.Count > 0)
            {
                failures.Add($"{jobs[i].Kind} #{i}: {jobs[i].Actual} differs from {jobs[i].Expected}:\n  {string.Join("\n  ", diffs.Take(5))}\n{results[i]}");
            }
        }
        if (failures.Count > 0)
        {
            Assert.Fail($"{failures.Count} of {Clients} concurrent clients failed:\n\n{string.Join("\n\n", failures.Take(10))}\n\n{await f.Daemon.DiagnosticsWhenIdleAsync()}");
        }

        // The daemon is still in service.
        Assert.False(f.Daemon.HasExited, $"netrsyncd exited under load\n{f.Daemon.Diagnostics()}");
        ProcessResult list = await RunStock(output, peer, [f.Daemon.Url(null)]);
        await AssertExit(0, list, f.Daemon);
        Assert.Matches(new System.Text.RegularExpressions.Regex("^mod\\s", System.Text.RegularExpressions.RegexOptions.Multiline), list.Stdout);
        await f.Daemon.WaitForIdleAsync();
    }
}
