using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// The user's deployment as it runs: netrsyncd on the deployment's own rsyncd.conf (only its path,
/// secrets file and log file moved into a temp dir), and stock rsync pushing and pulling with
/// sersync's parameters, -artuz, as user "rsync" with password "rsync".
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed partial class SeedConfigTests(ITestOutputHelper output)
{
    private static string SeedConfig()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "seed", "rsyncd.conf");
            if (File.Exists(candidate))
                return File.ReadAllText(candidate);
        }
        throw new FileNotFoundException("tests/fixtures/seed/rsyncd.conf not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^path=/syncdir$", RegexOptions.Multiline)]
    private static partial Regex SeedPath();

    [GeneratedRegex(@"^secrets file = /etc/rsync.pass$", RegexOptions.Multiline)]
    private static partial Regex SeedSecrets();

    [GeneratedRegex(@"^log file=/var/log/rsyncd.log$", RegexOptions.Multiline)]
    private static partial Regex SeedLog();

    private static string Moved(string seed, Regex line, string replacement)
    {
        Assert.True(line.IsMatch(seed), $"the seed config no longer has the line {line}");
        return line.Replace(seed, replacement);
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.PeersAndProtocols), MemberType = typeof(RsyncPeers))]
    public async Task SeedConfig_ServesSersyncsPushAndAPull(string peer, string protocol)
    {
        using var temp = new TempDir();
        string syncdir = temp.Sub("syncdir");
        string secrets = temp.File("rsync.pass");
        File.WriteAllText(secrets, "rsync:rsync\n");
        File.SetUnixFileMode(secrets, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string password = temp.File("user.pass");
        File.WriteAllText(password, "rsync\n");
        File.SetUnixFileMode(password, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        await using var daemon = await NetRsyncDaemon.StartAsync([new DaemonModule("rsync", syncdir)], configText: dir =>
        {
            string config = SeedConfig();
            config = Moved(config, SeedPath(), $"path={syncdir}");
            config = Moved(config, SeedSecrets(), $"secrets file = {secrets}");
            return Moved(config, SeedLog(), $"log file={dir.File("rsyncd.log")}");
        });

        string source = temp.Sub("src");
        TortureTree.Create(source, includeHugeFile: false);
        Posix.SetTimes(syncdir, 631_152_000, 0);
        string url = daemon.Url("rsync", "rsync");
        string[] auth = [$"--password-file={password}"];

        // sersync's command: rsync -artuz -R --delete ./ --password-file=... rsync@HOST::rsync, here as a URL.
        ProcessResult push = await DaemonTestKit.RunStock(output, peer,
            DaemonTestKit.Args(["-artuz", "-H"], RsyncPeers.ProtocolArgs(protocol), auth, [source + "/", url]));
        await DaemonTestKit.AssertExit(0, push, daemon);
        // The seed leaves "munge symlinks" unset, so with "use chroot = no" links are stored munged
        // (clientserver.c, rsync_module), and sent back without the prefix.
        var links = TreeComparer.Scan(source).Values.Where(e => e.LinkTarget is not null).ToDictionary(e => e.RelativePath);
        Assert.NotEmpty(links);
        TreeComparer.AssertIdentical(source, syncdir, DaemonTestKit.CompareOptionsFor(protocol) with { Exclude = links.ContainsKey });
        var stored = TreeComparer.Scan(syncdir);
        foreach (var (path, link) in links)
            Assert.Equal([.. "/rsyncd-munged/"u8.ToArray(), .. link.LinkTarget!], stored[path].LinkTarget ?? []);
        await DaemonTestKit.AssertCleanDryRun(output, peer, DaemonTestKit.Args(["-H"], RsyncPeers.ProtocolArgs(protocol), auth), source + "/", url);

        string pulled = temp.Sub("pulled");
        ProcessResult pull = await DaemonTestKit.RunStock(output, peer,
            DaemonTestKit.Args(["-artuz", "-H"], RsyncPeers.ProtocolArgs(protocol), auth, [url, pulled + "/"]));
        await DaemonTestKit.AssertExit(0, pull, daemon);
        TreeComparer.AssertIdentical(source, pulled, DaemonTestKit.CompareOptionsFor(protocol));

        // The seed's secrets and the wrong password: refused with exit 5.
        File.WriteAllText(password, "wrong\n");
        ProcessResult refused = await DaemonTestKit.RunStock(output, peer,
            DaemonTestKit.Args(["-artuz"], RsyncPeers.ProtocolArgs(protocol), auth, [source + "/", url]));
        Assert.True(refused.ExitCode == 5, $"a wrong password must exit 5:\n{refused}");
    }
}
