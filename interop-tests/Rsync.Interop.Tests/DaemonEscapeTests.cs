using System.Security.Cryptography;
using System.Text;
using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>The escape scenarios against netrsyncd.</summary>
[Collection(PushScenarios.Collection)]
public sealed class DaemonEscapeTests(ITestOutputHelper output) : DaemonEscapeScenarios(output)
{
    protected override async Task<RunningDaemon> StartDaemonAsync(DaemonModule module)
    {
        NetRsyncDaemon d = await NetRsyncDaemon.StartAsync([module]);
        return new RunningDaemon(d.Url(module.Name), () => d.DiagnosticsWhenIdleAsync(), d.DisposeAsync);
    }
}

/// <summary>The escape scenarios against netrsyncd with <c>use chroot = yes</c> for the module (tests
/// run as root, so the chroot is possible): the jail must hold whether or not the kernel helps.</summary>
[Collection(PushScenarios.Collection)]
public sealed class ChrootedDaemonEscapeTests(ITestOutputHelper output) : DaemonEscapeScenarios(output)
{
    protected override async Task<RunningDaemon> StartDaemonAsync(DaemonModule module)
    {
        NetRsyncDaemon d = await NetRsyncDaemon.StartAsync([module with { ExtraLines = ["use chroot = yes"] }]);
        return new RunningDaemon(d.Url(module.Name), () => d.DiagnosticsWhenIdleAsync(), d.DisposeAsync);
    }
}

/// <summary>The same scenarios against Debian's stock rsync daemon with <c>use chroot = yes</c>, a
/// correct jail: proves that every scenario can pass (the checks do not trip over what a sound
/// daemon does).</summary>
[Collection(PushScenarios.Collection)]
public sealed class HarnessChrootedStockDaemonEscapeTests(ITestOutputHelper output) : DaemonEscapeScenarios(output)
{
    protected override async Task<RunningDaemon> StartDaemonAsync(DaemonModule module)
    {
        StockDaemon d = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, [module with { ExtraLines = ["use chroot = yes"] }]);
        return new RunningDaemon(d.Url(module.Name), () => d.DiagnosticsWhenIdleAsync(), d.DisposeAsync);
    }
}

/// <summary>A daemon serving the escape scenarios' module: its module URL, diagnostics (config and
/// log) and how to stop it.</summary>
public sealed record RunningDaemon(string Url, Func<Task<string>> Diagnostics, Func<ValueTask> Stop);

/// <summary>A module is a jail: whatever a stock client asks, the daemon must neither deliver a file
/// from outside the module's directory nor write outside it, even through symlinks inside the module
/// (for netrsyncd: <c>use chroot = no</c>, <c>munge symlinks = no</c>, so nothing but netrsyncd itself
/// guards the boundary).
///
/// Layout: the temp dir holds <c>mod/</c> (the module) and <c>outside-XXXXXXXX/</c> (a sibling of the
/// module holding a secret file with random content). The module holds <c>inside.txt</c>,
/// <c>rootlink -> /</c> and <c>outlink -> /abs/path/of/outside-XXXXXXXX</c>. Every test checks that the
/// outside dir is byte-for-byte untouched; pulls also check that no file the client received has
/// outside content.</summary>
public abstract class DaemonEscapeScenarios(ITestOutputHelper output)
{
    private const string InsideContent = "inside the module\n";

    /// <summary>Starts the daemon under test serving <paramref name="module"/>.</summary>
    protected abstract Task<RunningDaemon> StartDaemonAsync(DaemonModule module);

    /// <summary>Every stock client, and netrsync: a module must hold against both.</summary>
    public static IEnumerable<string> Clients => [.. RsyncPeers.All, NetRsyncClient];

    private const string NetRsyncClient = "netrsync";

    private static void ResolveClient(string peer)
    {
        if (peer == NetRsyncClient)
            NetRsync.Locate();
        else
            RsyncPeers.Resolve(peer);
    }

    private async Task<ProcessResult> RunClient(string peer, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null)
    {
        if (peer != NetRsyncClient)
            return await RunStock(output, peer, args, env);
        ProcessResult r = await NetRsync.Instance.RunAsync(args, env);
        output.WriteLine(r.ToString());
        return r;
    }

    private sealed class EscapeSetup : IAsyncDisposable
    {
        public required TempDir Temp { get; init; }

        public required RunningDaemon Daemon { get; init; }

        public required string ModuleDir { get; init; }

        public required string Source { get; init; }

        /// <summary>Absolute path of the outside dir.</summary>
        public required string Outside { get; init; }

        public required string Secret { get; init; }

        public required string Snapshot { get; init; }

        /// <summary>The outside dir as seen through <c>rootlink</c>: "rootlink/tmp/nr-.../outside-...".</summary>
        public string OutsideViaRootLink => "rootlink" + Outside;

        public string Url => Daemon.Url;

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Daemon.Stop();
            }
            finally
            {
                Temp.Dispose();
            }
        }
    }

    private async Task<EscapeSetup> StartAsync()
    {
        var temp = new TempDir();
        try
        {
            string mod = temp.Sub("mod");
            string src = temp.Sub("src");
            string outside = temp.Sub("outside-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
            string secret = "SECRET " + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) + "\n";
            File.WriteAllText(Path.Combine(outside, "secret.txt"), secret);
            Directory.CreateDirectory(Path.Combine(outside, "sub"));
            File.WriteAllText(Path.Combine(outside, "sub", "secret2.txt"), secret);
            PushFixture.StampTimes(outside, 1_000_000_000);

            File.WriteAllText(Path.Combine(mod, "inside.txt"), InsideContent);
            File.CreateSymbolicLink(Path.Combine(mod, "rootlink"), "/");
            File.CreateSymbolicLink(Path.Combine(mod, "outlink"), outside);
            PushFixture.StampTimes(mod, 1_100_000_000);
            Posix.SetTimes(mod, 631_152_000, 0);
            RunningDaemon daemon = await StartDaemonAsync(new DaemonModule(NetRsyncDaemonFixture.ModuleName, mod));
            return new EscapeSetup { Temp = temp, Daemon = daemon, ModuleDir = mod, Source = src, Outside = outside, Secret = secret, Snapshot = Describe(outside) };
        }
        catch
        {
            temp.Dispose();
            throw;
        }
    }

    /// <summary>Everything about a tree that a write into it would change: names, types, modes, owners,
    /// sizes, mtimes, inodes, link targets and content hashes.</summary>
    internal static string Describe(string root)
    {
        var sb = new StringBuilder();
        foreach (TreeEntry e in TreeComparer.Scan(root).Values)
        {
            PosixStat st = e.Stat;
            // nlink: a hard link made to an outside file from inside the module shows here.
            sb.Append($"{TreeComparer.Show(e.RelativePath)} {st.Type} {Posix.Octal(st.Permissions)} {st.Uid}:{st.Gid} size={st.Size} ino={st.Inode} nlink={st.NLink} mtime={st.MtimeSeconds}.{st.MtimeNanoseconds:D9}");
            if (st.Type == PosixFileType.Regular)
            {
                sb.Append($" sha256={PushFixture.Sha256(e.FullPath)}");
            }
            if (e.LinkTarget is not null)
            {
                sb.Append($" -> {TreeComparer.Show(Encoding.UTF8.GetString(e.LinkTarget))}");
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>The lines of two <see cref="Describe"/> snapshots that differ ("- " before, "+ " after).</summary>
    internal static string DescribeChanges(string before, string after)
    {
        string[] b = before.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] a = after.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Concat(b.Except(a).Select(l => "- " + l + "\n").Concat(a.Except(b).Select(l => "+ " + l + "\n")));
    }

    /// <summary>The outside dir is exactly as it was, and nothing new appeared next to the module.</summary>
    private static async Task AssertOutsideUntouched(EscapeSetup s, ProcessResult r)
    {
        string now = Describe(s.Outside);
        if (now != s.Snapshot)
        {
            Assert.Fail($"the daemon changed {s.Outside}, which is outside the module {s.ModuleDir}:\n{DescribeChanges(s.Snapshot, now)}--- before ---\n{s.Snapshot}--- after ---\n{now}--- client ---\n{r}\n{await s.Daemon.Diagnostics()}");
        }
        string[] top = Directory.EnumerateFileSystemEntries(s.Temp.Path).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToArray();
        string[] unexpected = top.Where(n => n is not ("src" or "mod" or "dst" or "src2") && Path.Combine(s.Temp.Path, n) != s.Outside).ToArray();
        Assert.True(unexpected.Length == 0,
            $"new entries appeared next to the module (outside it): {string.Join(", ", unexpected.Select(TreeComparer.Show))}\n{r}\n{await s.Daemon.Diagnostics()}");
    }

    /// <summary>No regular file the client received holds the secret or /etc/hostname's content, and
    /// every regular file it received is a copy of a regular file inside the module.</summary>
    private static async Task AssertNothingFromOutside(EscapeSetup s, string dest, ProcessResult r)
    {
        byte[] hostname = File.ReadAllBytes("/etc/hostname");
        var moduleFiles = TreeComparer.Scan(s.ModuleDir).Values.Where(e => e.Stat.Type == PosixFileType.Regular)
            .Select(e => PushFixture.Sha256(e.FullPath)).ToHashSet(StringComparer.Ordinal);
        var leaks = new List<string>();
        foreach (TreeEntry e in TreeComparer.Scan(dest).Values.Where(e => e.Stat.Type == PosixFileType.Regular))
        {
            byte[] content = File.ReadAllBytes(e.FullPath);
            string text = Encoding.UTF8.GetString(content);
            if (text.Contains(s.Secret.TrimEnd('\n'), StringComparison.Ordinal))
            {
                leaks.Add($"{TreeComparer.Show(e.RelativePath)} holds the secret from {s.Outside}");
            }
            else if (!moduleFiles.Contains(PushFixture.Sha256(e.FullPath)))
            {
                leaks.Add(content.AsSpan().SequenceEqual(hostname)
                    ? $"{TreeComparer.Show(e.RelativePath)} holds /etc/hostname's content"
                    : $"{TreeComparer.Show(e.RelativePath)} ({content.Length} bytes) is no file of the module");
            }
        }
        if (leaks.Count > 0)
        {
            Assert.Fail($"the client received files from outside the module:\n  {string.Join("\n  ", leaks.Take(20))}\n{r}\n{await s.Daemon.Diagnostics()}");
        }
    }

    // ---------------------------------------------------------------- pulls

    /// <summary>Source paths that lead out of the module through a symlink or "..".</summary>
    public static TheoryData<string, string> PeersAndEscapingPullPaths
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in Clients)
            {
                foreach (string path in (string[])["rootlink/etc/hostname", "rootlink/etc/", "OUTSIDE_VIA_ROOTLINK/secret.txt", "OUTSIDE_VIA_ROOTLINK/",
                             "outlink/secret.txt", "outlink/", "outlink/sub/", "../OUTSIDE_NAME/secret.txt", "sub/../../OUTSIDE_NAME/"])
                {
                    data.Add(peer, path);
                }
            }
            return data;
        }
    }

    private static string Expand(EscapeSetup s, string path) => path
        .Replace("OUTSIDE_VIA_ROOTLINK", s.OutsideViaRootLink, StringComparison.Ordinal)
        .Replace("OUTSIDE_NAME", Path.GetFileName(s.Outside), StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(PeersAndEscapingPullPaths), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Pull_OfAPathLeadingOutOfTheModule_DeliversNothingFromOutside(string peer, string path)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        string dest = s.Temp.Sub("dst");

        ProcessResult r = await RunClient(peer, ["-a", s.Url + Expand(s, path), dest + "/"]);

        await AssertNothingFromOutside(s, dest, r);
        await AssertOutsideUntouched(s, r);
    }

    /// <summary>Whole-module pulls with options that make the sender follow symlinks. Filters keep the
    /// walk through <c>rootlink</c> small (/etc/hostname only), whatever the daemon does.</summary>
    public static TheoryData<string, string> PeersAndLinkFollowingOptions
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in Clients)
            {
                foreach (string option in (string[])["-L", "--copy-links", "-k", "--copy-unsafe-links"])
                {
                    data.Add(peer, option);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(PeersAndLinkFollowingOptions), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Pull_OfTheWholeModuleFollowingLinks_DeliversNothingFromOutside(string peer, string option)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        string dest = s.Temp.Sub("dst");

        ProcessResult r = await RunClient(peer,
        [
            "-a", option,
            "--include=/rootlink/", "--include=/rootlink/etc/", "--include=/rootlink/etc/hostname",
            "--exclude=/rootlink/*", "--exclude=/rootlink/etc/*",
            s.Url, dest + "/",
        ]);

        await AssertNothingFromOutside(s, dest, r);
        await AssertOutsideUntouched(s, r);
    }

    public static TheoryData<string> ClientsToFollowLinks
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string peer in Clients)
            {
                data.Add(peer);
            }
            return data;
        }
    }

    /// <summary>-L still follows the links that stay inside the module: confinement refuses only the way out.</summary>
    [Theory]
    [MemberData(nameof(ClientsToFollowLinks), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Pull_FollowingLinks_TakesTheLinksThatStayInside(string peer)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        Directory.CreateDirectory(Path.Combine(s.ModuleDir, "dir"));
        File.WriteAllText(Path.Combine(s.ModuleDir, "dir", "deep.txt"), InsideContent);
        File.CreateSymbolicLink(Path.Combine(s.ModuleDir, "dirlink"), "dir");
        File.CreateSymbolicLink(Path.Combine(s.ModuleDir, "filelink"), "dir/deep.txt");
        string dest = s.Temp.Sub("dst");

        ProcessResult r = await RunClient(peer, ["-rL", "--exclude=/rootlink", "--exclude=/outlink", s.Url, dest + "/"]);

        Assert.True(r.ExitCode == 0, $"expected exit 0\n{r}\n{await s.Daemon.Diagnostics()}");
        Assert.Equal(InsideContent, File.ReadAllText(Path.Combine(dest, "dirlink", "deep.txt")));
        Assert.False(new FileInfo(Path.Combine(dest, "filelink")).Attributes.HasFlag(FileAttributes.ReparsePoint), $"filelink should arrive as the file it names\n{r}");
        Assert.Equal(InsideContent, File.ReadAllText(Path.Combine(dest, "filelink")));
        await AssertOutsideUntouched(s, r);
    }

    public static TheoryData<string, string> PeersAndLinkTargets
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in Clients)
            {
                data.Add(peer, "absolute");
                data.Add(peer, "relative");
            }
            return data;
        }
    }

    /// <summary>A client with write access plants a symlink to the outside dir, then pulls through it.</summary>
    [Theory]
    [MemberData(nameof(PeersAndLinkTargets), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Pull_ThroughASymlinkTheClientPushed_DeliversNothingFromOutside(string peer, string target)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        string src = s.Source;
        File.CreateSymbolicLink(Path.Combine(src, "planted"), target == "absolute" ? s.Outside : "../" + Path.GetFileName(s.Outside));
        PushFixture.StampTimes(src, 1_500_000_000);
        ProcessResult push = await RunClient(peer, ["-a", src + "/", s.Url]);
        await AssertOutsideUntouched(s, push);

        foreach (string path in (string[])["planted/secret.txt", "planted/", "planted/sub/secret2.txt"])
        {
            string dest = Path.Combine(s.Temp.Sub("dst"), Path.GetFileName(path.TrimEnd('/')));
            Directory.CreateDirectory(dest);
            ProcessResult r = await RunClient(peer, ["-a", s.Url + path, dest + "/"]);
            await AssertNothingFromOutside(s, dest, r);
        }
        await AssertOutsideUntouched(s, push);
    }

    // ---------------------------------------------------------------- pushes

    /// <summary>Destinations that lead out of the module: through <c>rootlink</c>, through <c>outlink</c>,
    /// or with "..".</summary>
    public static TheoryData<string, string, bool> PeersEscapingDestinationsAndRelative
    {
        get
        {
            var data = new TheoryData<string, string, bool>();
            foreach (string peer in Clients)
            {
                foreach (string dest in (string[])["OUTSIDE_VIA_ROOTLINK/", "OUTSIDE_VIA_ROOTLINK/new-dir/", "outlink/", "outlink/sub/",
                             "../OUTSIDE_NAME/", "sub/../../OUTSIDE_NAME/", "./../OUTSIDE_NAME/sub/"])
                {
                    data.Add(peer, dest, false);
                    data.Add(peer, dest, true);
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(PeersEscapingDestinationsAndRelative), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Push_ToADestinationLeadingOutOfTheModule_WritesNothingOutside(string peer, string destination, bool relative)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        string src = s.Source;
        File.WriteAllText(Path.Combine(src, "pwned.txt"), "written by the client\n");
        File.WriteAllText(Path.Combine(src, "secret.txt"), "overwritten by the client\n");
        PushFixture.StampTimes(src, 1_500_000_000);

        List<string> args = relative
            ? ["-aR", src + "/./pwned.txt", src + "/./secret.txt", s.Url + Expand(s, destination)]
            : ["-a", src + "/", s.Url + Expand(s, destination)];
        ProcessResult r = await RunClient(peer, args);

        await AssertOutsideUntouched(s, r);
    }

    /// <summary>How the second push reaches <c>evil/pwned</c> once the first has made <c>evil</c> a symlink
    /// to the outside dir: with <c>evil</c> sent as a directory (implied dirs), without it
    /// (<c>--no-implied-dirs</c>), or with <c>--keep-dirlinks</c> (which tells the receiver to treat a
    /// symlink to a directory as that directory).</summary>
    public static TheoryData<string, string, string> PeersLinkTargetsAndSecondPushes
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (string peer in Clients)
            {
                foreach (string target in (string[])["absolute", "relative"])
                {
                    foreach (string mode in (string[])["implied-dirs", "no-implied-dirs", "keep-dirlinks"])
                    {
                        data.Add(peer, target, mode);
                    }
                }
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(PeersLinkTargetsAndSecondPushes), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Push_OfASymlinkThenOfAFileBeneathIt_WritesNothingOutside(string peer, string target, string mode)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        string src = s.Source;
        string linkTarget = target == "absolute" ? s.Outside : "../" + Path.GetFileName(s.Outside);
        File.CreateSymbolicLink(Path.Combine(src, "evil"), linkTarget);
        PushFixture.StampTimes(src, 1_500_000_000);

        ProcessResult first = await RunClient(peer, ["-a", src + "/", s.Url]);
        output.WriteLine($"after the first push: mod/evil is {(Posix.TryLStat(Path.Combine(s.ModuleDir, "evil"), out PosixStat st, out _) ? st.Type + (st.Type == PosixFileType.Symlink ? " -> " + Posix.ReadLinkText(Path.Combine(s.ModuleDir, "evil")) : "") : "missing")}");
        await AssertOutsideUntouched(s, first);

        string src2 = s.Temp.Sub("src2");
        Directory.CreateDirectory(Path.Combine(src2, "evil", "sub"));
        File.WriteAllText(Path.Combine(src2, "evil", "pwned"), "written through the link\n");
        File.WriteAllText(Path.Combine(src2, "evil", "secret.txt"), "overwritten through the link\n");
        File.WriteAllText(Path.Combine(src2, "evil", "sub", "secret2.txt"), "overwritten through the link\n");
        PushFixture.StampTimes(src2, 1_600_000_000);
        List<string> args = mode switch
        {
            "implied-dirs" => ["-a", src2 + "/", s.Url],
            "no-implied-dirs" => ["-aR", "--no-implied-dirs", src2 + "/./evil/pwned", src2 + "/./evil/secret.txt", src2 + "/./evil/sub/secret2.txt", s.Url],
            "keep-dirlinks" => ["-aK", src2 + "/", s.Url],
            _ => throw new ArgumentException(mode),
        };
        ProcessResult second = await RunClient(peer, args);

        await AssertOutsideUntouched(s, second);
    }

    // ---------------------------------------------------------------- client-supplied paths in options

    private static string ExpandDir(EscapeSetup s, string dir) => dir switch
    {
        "ABSOLUTE_OUTSIDE" => s.Outside,
        _ => Expand(s, dir),
    };

    /// <summary>No file inside the module holds the outside secret (a copy or a hard link of an
    /// outside file made by the daemon would).</summary>
    private static async Task AssertNoSecretInModule(EscapeSetup s, ProcessResult r)
    {
        string[] leaks = TreeComparer.Scan(s.ModuleDir).Values
            .Where(e => e.Stat.Type == PosixFileType.Regular && File.ReadAllText(e.FullPath).Contains(s.Secret.TrimEnd('\n'), StringComparison.Ordinal))
            .Select(e => TreeComparer.Show(e.RelativePath)).ToArray();
        if (leaks.Length > 0)
        {
            Assert.Fail($"the daemon put the outside secret into the module: {string.Join(", ", leaks)}\n{r}\n{await s.Daemon.Diagnostics()}");
        }
    }

    /// <summary>After a push of <c>secret.txt</c>: either the daemon refused (non-zero exit) or the
    /// module's <c>secret.txt</c> is exactly what the client sent (it was not skipped or built from
    /// a file outside the module).</summary>
    private static async Task AssertRefusedOrPushedAsSent(EscapeSetup s, ProcessResult r, string sent)
    {
        string pushed = Path.Combine(s.ModuleDir, "secret.txt");
        if (r.ExitCode == 0 && !(File.Exists(pushed) && File.ReadAllText(pushed) == sent))
        {
            Assert.Fail($"the push succeeded but mod/secret.txt is {(File.Exists(pushed) ? "\"" + File.ReadAllText(pushed) + "\"" : "missing")}, not what the client sent: the daemon consulted a file outside the module\n{r}\n{await s.Daemon.Diagnostics()}");
        }
    }

    /// <summary>A client file of the outside secret's size and mtime (which an attacker can guess),
    /// with other content: a quick check against the outside file says "same".</summary>
    private static string WriteLookalikeOfTheSecret(EscapeSetup s, string dir)
    {
        PosixStat secret = Posix.LStat(Path.Combine(s.Outside, "secret.txt"));
        string content = new('x', (int)secret.Size - 1);
        content += "\n";
        string path = Path.Combine(dir, "secret.txt");
        File.WriteAllText(path, content);
        Posix.SetTimes(path, secret.MtimeSeconds, secret.MtimeNanoseconds);
        return content;
    }

    public static TheoryData<string, string> PeersAndOutsideNamesForFilesFrom
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in Clients)
            {
                foreach (string name in (string[])["sub/../../OUTSIDE_NAME/sub/secret2.txt", "outlink/secret.txt"])
                {
                    data.Add(peer, name);
                }
            }
            return data;
        }
    }

    /// <summary>A pull with <c>--files-from</c> (the client reads the list and sends each name to the
    /// daemon, as with <c>--files-from=-</c>) naming a file outside the module.</summary>
    [Theory]
    [MemberData(nameof(PeersAndOutsideNamesForFilesFrom), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Pull_WithFilesFromNamingAFileOutside_DeliversNothingFromOutside(string peer, string name)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        string dest = s.Temp.Sub("dst");
        string list = Path.Combine(s.Source, "list");
        File.WriteAllText(list, "inside.txt\n" + Expand(s, name) + "\n");

        ProcessResult r = await RunClient(peer, ["-a", "--files-from=" + list, s.Url, dest + "/"]);

        await AssertNothingFromOutside(s, dest, r);
        await AssertOutsideUntouched(s, r);
    }

    public static TheoryData<string, string> PeersAndOutsideDirs
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in Clients)
            {
                foreach (string dir in (string[])["ABSOLUTE_OUTSIDE", "../OUTSIDE_NAME"])
                {
                    data.Add(peer, dir);
                }
            }
            return data;
        }
    }

    /// <summary><c>--partial-dir</c> naming the outside dir, which holds <c>secret.txt</c>: a receiver
    /// that looks there takes the outside file as the basis (its block checksums go to the client;
    /// with <c>--block-size=1</c> they are its bytes) and deletes it once the file is done.</summary>
    [Theory]
    [MemberData(nameof(PeersAndOutsideDirs), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Push_WithAPartialDirOutside_NeitherReadsNorRemovesOutsideFiles(string peer, string dir)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        string sent = WriteLookalikeOfTheSecret(s, s.Source);

        ProcessResult r = await RunClient(peer, ["-rtI", "--block-size=1", "--partial-dir=" + ExpandDir(s, dir), s.Source + "/", s.Url]);

        await AssertOutsideUntouched(s, r);
        await AssertRefusedOrPushedAsSent(s, r, sent);
    }

    /// <summary><c>-b --backup-dir</c> naming the outside dir: replacing <c>inside.txt</c> and <c>sub</c>
    /// (a file in the module, a directory in the outside dir) would move module files out there and
    /// remove the outside <c>sub/</c> to make room.</summary>
    [Theory]
    [MemberData(nameof(PeersAndOutsideDirs), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Push_WithABackupDirOutside_WritesNothingOutside(string peer, string dir)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        File.WriteAllText(Path.Combine(s.ModuleDir, "sub"), "a module file named like an outside dir\n");
        Posix.SetTimes(Path.Combine(s.ModuleDir, "sub"), 1_100_000_000, 0);
        File.WriteAllText(Path.Combine(s.Source, "inside.txt"), "replaced by the client\n");
        File.WriteAllText(Path.Combine(s.Source, "sub"), "replaced by the client too\n");
        PushFixture.StampTimes(s.Source, 1_500_000_000);

        ProcessResult r = await RunClient(peer, ["-rt", "-b", "--backup-dir=" + ExpandDir(s, dir), s.Source + "/", s.Url]);

        await AssertOutsideUntouched(s, r);
    }

    /// <summary><c>--temp-dir</c> outside the module: a temp file created there and renamed away still
    /// changes the outside dir (its mtime), and one left behind is a file outside.</summary>
    [Theory]
    [MemberData(nameof(PeersAndOutsideDirs), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Push_WithATempDirOutside_WritesNothingOutside(string peer, string dir)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        File.WriteAllText(Path.Combine(s.Source, "pwned.txt"), "written by the client\n");
        PushFixture.StampTimes(s.Source, 1_500_000_000);

        ProcessResult r = await RunClient(peer, ["-rt", "--temp-dir=" + ExpandDir(s, dir), s.Source + "/", s.Url]);

        await AssertOutsideUntouched(s, r);
    }

    public static TheoryData<string, string, string> PeersBasisOptionsAndOutsideDirs
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (string peer in Clients)
            {
                data.Add(peer, "--compare-dest", "ABSOLUTE_OUTSIDE");
                data.Add(peer, "--copy-dest", "ABSOLUTE_OUTSIDE");
                data.Add(peer, "--link-dest", "ABSOLUTE_OUTSIDE");
                data.Add(peer, "--link-dest", "../OUTSIDE_NAME");
            }
            return data;
        }
    }

    /// <summary><c>--compare-dest</c>/<c>--link-dest</c>/<c>--copy-dest</c> naming the outside dir and a
    /// pushed <c>secret.txt</c> that a quick check finds equal to the outside one: the daemon must not
    /// skip it (compare), hard-link the outside file into the module (link) or copy it in (copy),
    /// from where a pull would deliver it. Refusing the option is fine too.</summary>
    [Theory]
    [MemberData(nameof(PeersBasisOptionsAndOutsideDirs), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Push_WithABasisDirOutside_NeitherReadsNorLinksOutsideFiles(string peer, string option, string dir)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        string sent = WriteLookalikeOfTheSecret(s, s.Source);

        ProcessResult r = await RunClient(peer, ["-rt", option + "=" + ExpandDir(s, dir), s.Source + "/", s.Url]);
        output.WriteLine($"{option}: the daemon {(r.ExitCode == 0 ? "accepted the push" : $"failed the push with exit {r.ExitCode}")}");

        await AssertOutsideUntouched(s, r);
        await AssertNoSecretInModule(s, r);
        await AssertRefusedOrPushedAsSent(s, r, sent);
    }

    public static TheoryData<string, string> PeersAndDeletesThroughLinks
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in Clients)
            {
                foreach (string mode in (string[])["into-outlink", "into-rootlink", "dir-over-outlink", "dir-over-outlink-keep-dirlinks"])
                {
                    data.Add(peer, mode);
                }
            }
            return data;
        }
    }

    /// <summary><c>--delete</c> where the module already holds <c>outlink -> outside</c>: pushed into
    /// <c>outlink/</c> (or the outside dir through <c>rootlink</c>), or with a
    /// source tree in which <c>outlink</c> is a directory (with and without <c>-K</c>). The outside
    /// dir's files are extraneous to the pushed tree; none may go.</summary>
    [Theory]
    [MemberData(nameof(PeersAndDeletesThroughLinks), MemberType = typeof(DaemonEscapeScenarios))]
    public async Task Push_WithDeleteThroughASymlinkInTheModule_RemovesNothingOutside(string peer, string mode)
    {
        ResolveClient(peer);
        await using EscapeSetup s = await StartAsync();
        string src = s.Source;
        List<string> args;
        if (mode.StartsWith("into-", StringComparison.Ordinal))
        {
            File.WriteAllText(Path.Combine(src, "new.txt"), "pushed\n");
            PushFixture.StampTimes(src, 1_500_000_000);
            string dest = mode switch
            {
                "into-outlink" => "outlink/",
                _ => s.OutsideViaRootLink + "/",
            };
            args = ["-r", "--delete", src + "/", s.Url + dest];
        }
        else
        {
            Directory.CreateDirectory(Path.Combine(src, "outlink"));
            File.WriteAllText(Path.Combine(src, "outlink", "new.txt"), "pushed\n");
            File.WriteAllText(Path.Combine(src, "inside.txt"), InsideContent);
            PushFixture.StampTimes(src, 1_500_000_000);
            // rootlink (-> /) is kept out of the delete: a daemon that followed it would empty /.
            args = [mode.EndsWith("keep-dirlinks", StringComparison.Ordinal) ? "-rK" : "-r", "--delete", "--exclude=/rootlink", src + "/", s.Url];
        }

        ProcessResult r = await RunClient(peer, args);

        await AssertOutsideUntouched(s, r);
    }
}
