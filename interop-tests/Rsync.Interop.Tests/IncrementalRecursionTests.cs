using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>
/// Incremental recursion with our side sending: netrsync pushing to a stock daemon and a stock
/// client pulling from netrsyncd go one directory at a time (the stock side says so with -v), on
/// trees shaped to stress it: a deep one, a wide folder, hard links spread across folders, and
/// deletions in many folders.
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed class IncrementalRecursionTests(ITestOutputHelper output)
{
    public const int Depth = 200;
    public const int WideEntries = 100_000;

    /// <summary>
    /// Every peer once: Debian's rsync held to protocol 30, the others (3.1.1) at their default,
    /// 31, so both peers and both protocols are met while the suite stays short.
    /// </summary>
    public static IEnumerable<(string Peer, string Protocol)> PeerProtocolPairs =>
        RsyncPeers.All.Select((peer, i) => (peer, i == 0 ? "30" : RsyncPeers.DefaultProtocol));

    /// <summary>Each shape against every peer (<see cref="PeerProtocolPairs"/>). The wide folder is slow
    /// to make and compare, so it runs once each way: <paramref name="widePeerIndex"/> picks the peer.</summary>
    private static TheoryData<string, string, string> Shapes(int widePeerIndex)
    {
        var data = new TheoryData<string, string, string>();
        foreach (string shape in new[] { "deep", "hardlinks", "deletions" })
        {
            foreach (var (peer, protocol) in PeerProtocolPairs)
                data.Add(shape, peer, protocol);
        }
        var pairs = PeerProtocolPairs.ToList();
        var wide = pairs[Math.Min(widePeerIndex, pairs.Count - 1)];
        data.Add("wide", wide.Peer, wide.Protocol);
        return data;
    }

    public static TheoryData<string, string, string> PushShapes => Shapes(widePeerIndex: 0);

    public static TheoryData<string, string, string> PullShapes => Shapes(widePeerIndex: 1);

    private static string[] OptionsFor(string shape) => shape switch
    {
        "hardlinks" => ["-aH"],
        "deletions" => ["-a", "--delete"],
        _ => ["-a"],
    };

    [Theory]
    [MemberData(nameof(PushShapes))]
    public async Task NetrsyncPushesToStockDaemon_OneDirectoryAtATime(string shape, string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        Prepare(shape, f.Source, f.ModuleDir);

        ProcessResult r = await NetRsync.Instance.RunAsync(Args(OptionsFor(shape), ["-v"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url()]),
            timeout: TimeSpan.FromMinutes(4));
        output.WriteLine(r.ToString());

        if (r.ExitCode != 0)
            Assert.Fail($"exit {r.ExitCode}\n{r}\n{await f.Daemon.DiagnosticsWhenIdleAsync()}");
        // The stock daemon turned incremental recursion on (compat flags); without it the line is "building file list".
        AssertArrivedWhole(r, "sending incremental file list", shape, f.Source, f.ModuleDir, RsyncPeers.CompareOptionsFor(protocol));
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), protocol);
    }

    [Theory]
    [MemberData(nameof(PullShapes))]
    public async Task StockClientPullsFromNetrsyncd_OneDirectoryAtATime(string shape, string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string pulled = f.Temp.Sub("pulled");
        Prepare(shape, f.ModuleDir, pulled);

        ProcessResult r = await RunStock(output, peer, Args(OptionsFor(shape), ["-v"], RsyncPeers.ProtocolArgs(protocol), [f.Url(), pulled + "/"]),
            timeout: TimeSpan.FromMinutes(4));

        await AssertExit(0, r, f.Daemon);
        // netrsyncd set CF_INC_RECURSE; a single list would be "receiving file list ... done".
        AssertArrivedWhole(r, "receiving incremental file list", shape, f.ModuleDir, pulled, CompareOptionsFor(protocol));
        await StockClient.AssertNothingToPull(peer, f.Url(), pulled, protocol);
    }

    /// <summary>Our side receiving: netrsync pulls from a stock daemon; with -H, link groups whose
    /// members come in different lists are joined up.</summary>
    [Theory]
    [MemberData(nameof(PullShapes))]
    public async Task NetrsyncPullsFromStockDaemon_OneDirectoryAtATime(string shape, string peer, string protocol)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer);
        Prepare(shape, f.ModuleDir, f.Dest);

        ProcessResult r = await NetRsync.Instance.RunAsync(Args(OptionsFor(shape), ["-v"], RsyncPeers.ProtocolArgs(protocol), [f.Url(), f.DestArg]),
            timeout: TimeSpan.FromMinutes(4));
        output.WriteLine(r.ToString());

        if (r.ExitCode != 0)
            Assert.Fail($"exit {r.ExitCode}\n{r}\n{await f.Daemon.DiagnosticsWhenIdleAsync()}");
        // The line follows the compat flags the stock daemon sent.
        AssertArrivedWhole(r, "receiving incremental file list", shape, f.ModuleDir, f.Dest, RsyncPeers.CompareOptionsFor(protocol));
        await StockClient.AssertNothingToPull(peer, f.Url(), f.Dest, protocol);
    }

    /// <summary>Our side receiving: a stock client pushes to netrsyncd, which accepts incremental recursion.</summary>
    [Theory]
    [MemberData(nameof(PushShapes))]
    public async Task StockClientPushesToNetrsyncd_OneDirectoryAtATime(string shape, string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        Prepare(shape, f.Source, f.ModuleDir);

        ProcessResult r = await RunStock(output, peer, Args(OptionsFor(shape), ["-v"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url()]),
            timeout: TimeSpan.FromMinutes(4));

        await AssertExit(0, r, f.Daemon);
        AssertArrivedWhole(r, "sending incremental file list", shape, f.Source, f.ModuleDir, CompareOptionsFor(protocol));
        await StockClient.AssertNothingToChange(peer, f.Source, f.Url(), protocol);
    }

    /// <summary>
    /// Directories that replace files at the destination are made while their parent's list is
    /// worked through, so the parent's time, fixed when that list is done, stays right when the
    /// directories' own lists come later (generator.c, recv_generator with is_dir &lt; 0).
    /// </summary>
    [Theory]
    [MemberData(nameof(PeersWithAProtocol))]
    public async Task DirectoriesReplacingFilesLeaveTheParentsTimeAlone(string peer, string protocol)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer);
        foreach (string name in new[] { "x", "y", "z" })
        {
            Directory.CreateDirectory(Path.Combine(f.ModuleDir, "sub", name));
            File.WriteAllText(Path.Combine(f.Dest, name), "a file where a folder goes\n");
            Directory.CreateDirectory(Path.Combine(f.Dest, "sub"));
            File.WriteAllText(Path.Combine(f.Dest, "sub", name), "here too\n");
            Directory.CreateDirectory(Path.Combine(f.ModuleDir, name));
        }
        PushFixture.StampTimes(f.ModuleDir);

        ProcessResult r = await NetRsync.Instance.RunAsync(Args(["-a", "-v"], RsyncPeers.ProtocolArgs(protocol), [f.Url(), f.DestArg]));
        output.WriteLine(r.ToString());

        Assert.True(r.ExitCode == 0, r.ToString());
        AssertArrivedWhole(r, "receiving incremental file list", "plain", f.ModuleDir, f.Dest, RsyncPeers.CompareOptionsFor(protocol));
    }

    /// <summary>Two sources naming the same directory: its list carries both, as rsync merges duplicate
    /// directories into one list (flist.c, send_extra_file_list: FLAG_DUPLICATE).</summary>
    public static TheoryData<string, string> PeersWithAProtocol
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var (peer, protocol) in PeerProtocolPairs)
                data.Add(peer, protocol);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(PeersWithAProtocol))]
    public async Task SameNamedSourcesAreMergedIntoOneList(string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        string a = Path.Combine(f.Source, "a", "x");
        string b = Path.Combine(f.Source, "b", "x");
        Directory.CreateDirectory(Path.Combine(a, "sub", "only-a"));
        Directory.CreateDirectory(Path.Combine(b, "sub", "only-b"));
        File.WriteAllText(Path.Combine(a, "from-a"), "a\n");
        File.WriteAllText(Path.Combine(b, "from-b"), "b\n");
        File.WriteAllText(Path.Combine(a, "sub", "only-a", "deep-a"), "da\n");
        File.WriteAllText(Path.Combine(b, "sub", "only-b", "deep-b"), "db\n");
        File.WriteAllText(Path.Combine(b, "sub", "shared"), "b wins? no: a is first\n");
        File.WriteAllText(Path.Combine(a, "sub", "shared"), "a\n");
        PushFixture.StampTimes(f.Source);

        ProcessResult r = await NetRsync.Instance.RunAsync(Args(["-a", "-v"], RsyncPeers.ProtocolArgs(protocol), [a, b, f.Url()]));
        output.WriteLine(r.ToString());

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("sending incremental file list", r.Stdout.TrimStart());
        foreach (string rel in new[] { "x/from-a", "x/from-b", "x/sub/only-a/deep-a", "x/sub/only-b/deep-b" })
            Assert.True(File.Exists(Path.Combine(f.ModuleDir, rel)), $"{rel} is missing");
        Assert.Equal("a\n", File.ReadAllText(Path.Combine(f.ModuleDir, "x", "sub", "shared")));
    }

    /// <summary>
    /// -R sources under incremental recursion: a list may hold only its directory's children (3.5's
    /// receiver aborts "due to invalid path from sender" otherwise), so each source's parents go one
    /// per list as implied directories (flist.c, send_implied_dirs). Sources share parents, one is a
    /// file, one sits inside another, one is given from "/./". Stock rsync copying the same sources
    /// locally is the reference.
    /// </summary>
    [Theory]
    [MemberData(nameof(PeersWithAProtocol))]
    public async Task RelativeSourcesGoOneLevelPerList(string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        string[] sources = MakeRelativeSources(f.Source);

        ProcessResult r = await NetRsync.Instance.RunAsync(Args(["-aR", "-v"], RsyncPeers.ProtocolArgs(protocol), sources, [f.Url()]),
            workingDirectory: f.Source);
        output.WriteLine(r.ToString());

        if (r.ExitCode != 0)
            Assert.Fail($"exit {r.ExitCode}\n{r}\n{await f.Daemon.DiagnosticsWhenIdleAsync()}");
        Assert.StartsWith("sending incremental file list", r.Stdout.TrimStart());
        await AssertLikeStockRelativeCopy(peer, protocol, f.Source, sources, f.ModuleDir, f.Temp.Sub("reference"));
        ProcessResult dry = await RunStock(output, peer, Args(["-aniR", "-H"], RsyncPeers.ProtocolArgs(protocol), sources, [f.Url()]),
            workingDirectory: f.Source);
        Assert.True(dry.ExitCode == 0, dry.ToString());
        Assert.Empty(StockClient.ItemizedLines(dry.Stdout));
    }

    /// <summary>--files-from implies -R: with -r its names go one level per list the same way.</summary>
    [Theory]
    [MemberData(nameof(PeersWithAProtocol))]
    public async Task FilesFromWithRecursionGoesOneLevelPerList(string peer, string protocol)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        string[] sources = MakeRelativeSources(f.Source);
        string list = f.Temp.File("files-from.txt");
        File.WriteAllLines(list, sources.Select(s => s.Replace("/./", "/", StringComparison.Ordinal)));

        ProcessResult r = await NetRsync.Instance.RunAsync(Args(["-a", "-r", "-v", $"--files-from={list}"], RsyncPeers.ProtocolArgs(protocol), [f.SourceArg, f.Url()]));
        output.WriteLine(r.ToString());

        if (r.ExitCode != 0)
            Assert.Fail($"exit {r.ExitCode}\n{r}\n{await f.Daemon.DiagnosticsWhenIdleAsync()}");
        Assert.StartsWith("sending incremental file list", r.Stdout.TrimStart());
        string reference = f.Temp.Sub("reference");
        ProcessResult stock = await RunStock(output, peer, ["-a", "-r", $"--files-from={list}", f.SourceArg, reference + "/"]);
        Assert.True(stock.ExitCode == 0, stock.ToString());
        TreeComparer.AssertIdentical(reference, f.ModuleDir, CompareOptionsFor(protocol) with { CompareRoot = false });
    }

    /// <summary>The same from netrsyncd: a stock client pulls -R paths of the module.</summary>
    [Theory]
    [MemberData(nameof(PeersWithAProtocol))]
    public async Task StockClientPullsRelativePathsFromNetrsyncd_OneLevelPerList(string peer, string protocol)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        MakeRelativeSources(f.ModuleDir);
        string pulled = f.Temp.Sub("pulled");
        string[] sources = [f.Url() + "top/mid/deep", f.Url() + "top/./side/g.txt"];

        ProcessResult r = await RunStock(output, peer, Args(["-aR", "-v"], RsyncPeers.ProtocolArgs(protocol), sources, [pulled + "/"]),
            timeout: TimeSpan.FromMinutes(2));

        await AssertExit(0, r, f.Daemon);
        Assert.StartsWith("receiving incremental file list", r.Stdout.TrimStart());
        await AssertLikeStockRelativeCopy(peer, protocol, f.ModuleDir, ["top/mid/deep", "top/./side/g.txt"], pulled, f.Temp.Sub("reference"));
    }

    /// <summary>The same copied locally, both halves in one netrsync.</summary>
    [Fact]
    public async Task LocalRelativeCopyGoesOneLevelPerList()
    {
        using var temp = new TempDir();
        string root = temp.Sub("src");
        string[] sources = MakeRelativeSources(root);
        string copy = Path.Combine(temp.Path, "copy");

        ProcessResult r = await NetRsync.Instance.RunAsync(Args(["-aR", "-v"], sources, [copy + "/"]), workingDirectory: root);
        output.WriteLine(r.ToString());

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("sending incremental file list", r.Stdout.TrimStart());
        await AssertLikeStockRelativeCopy(RsyncPeers.All.First(), RsyncPeers.DefaultProtocol, root, sources, copy, Path.Combine(temp.Path, "reference"));
    }

    /// <summary>Nested, overlapping and "/./" -R sources under <paramref name="root"/>, given relative to it.</summary>
    private static string[] MakeRelativeSources(string root)
    {
        foreach (string dir in new[] { "top/mid/deep/deeper", "top/mid/other", "top/side", "lone/branch/tip" })
            Directory.CreateDirectory(Path.Combine(root, dir));
        foreach (string file in new[] { "top/mid/deep/a.txt", "top/mid/deep/deeper/b.txt", "top/mid/other/c.txt",
                     "top/mid/not-sent.txt", "top/side/g.txt", "lone/branch/tip/t.txt", "lone/skipped.txt" })
            File.WriteAllText(Path.Combine(root, file), file + "\n");
        Posix.Chmod(Path.Combine(root, "top", "mid"), 0x1E8); // 0750: an implied directory keeps its own mode
        PushFixture.StampTimes(root);
        return ["top/mid/deep", "top/mid/deep/deeper/b.txt", "top/mid/other/c.txt", "top/./side", "lone/branch/tip"];
    }

    private async Task AssertLikeStockRelativeCopy(string peer, string protocol, string root, string[] sources, string actual, string reference)
    {
        ProcessResult r = await RunStock(output, peer, Args(["-aR"], sources, [reference + "/"]), workingDirectory: root);
        Assert.True(r.ExitCode == 0, r.ToString());
        TreeComparer.AssertIdentical(reference, actual, CompareOptionsFor(protocol) with { CompareRoot = false });
    }

    public static TheoryData<string, string, string> PeersProtocolsAndListModes
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (var (peer, protocol) in PeerProtocolPairs)
            {
                data.Add(peer, protocol, "--inc-recursive");
                data.Add(peer, protocol, "--no-inc-recursive");
            }
            return data;
        }
    }

    /// <summary>
    /// A folder the sender cannot read makes its list incomplete: from the moment the receiver hears
    /// of the error it deletes nothing more, and says so (generator.c, delete_in_dir). The stock
    /// client pulling the same module into a copy of the same destination is the reference.
    /// </summary>
    [Theory]
    [MemberData(nameof(PeersProtocolsAndListModes))]
    public async Task AnUnreadableSourceFolderStopsDeletions(string peer, string protocol, string listMode)
    {
        await using PullFixture f = await PullFixture.StartAsync(peer, m => m with { ExtraLines = ["uid = nobody", "gid = nogroup"] });
        Posix.Chmod(f.Temp.Path, 0x1ED);
        Directory.CreateDirectory(Path.Combine(f.ModuleDir, "open"));
        Directory.CreateDirectory(Path.Combine(f.ModuleDir, "locked"));
        File.WriteAllText(Path.Combine(f.ModuleDir, "open", "a"), "a\n");
        File.WriteAllText(Path.Combine(f.ModuleDir, "locked", "secret"), "s\n");
        PushFixture.StampTimes(f.ModuleDir);
        Posix.Chmod(Path.Combine(f.ModuleDir, "locked"), 0);
        foreach (string dest in new[] { f.Dest, f.Temp.Sub("reference") })
        {
            Directory.CreateDirectory(Path.Combine(dest, "open"));
            Directory.CreateDirectory(Path.Combine(dest, "locked"));
            File.WriteAllText(Path.Combine(dest, "locked", "kept"), "must survive\n");
            File.WriteAllText(Path.Combine(dest, "open", "extra"), "extra\n");
            File.WriteAllText(Path.Combine(dest, "stale-top"), "stale\n");
        }
        string reference = f.Temp.Sub("reference");

        ProcessResult ours = await NetRsync.Instance.RunAsync(Args(["-a", "--delete", listMode], RsyncPeers.ProtocolArgs(protocol), [f.Url(), f.DestArg]));
        output.WriteLine(ours.ToString());
        ProcessResult stock = await RunStock(output, peer, Args(["-a", "--delete", listMode], RsyncPeers.ProtocolArgs(protocol), [f.Url(), reference + "/"]));

        Assert.Equal(23, stock.ExitCode);
        Assert.True(ours.ExitCode == 23, ours.ToString());
        Assert.Contains("IO error encountered -- skipping file deletion", ours.Stdout + ours.Stderr);
        Assert.True(File.Exists(Path.Combine(f.Dest, "locked", "kept")), "a file in the unreadable folder was deleted");
        Assert.Equal(DaemonTestKit.Entries(reference), DaemonTestKit.Entries(f.Dest));
    }

    /// <summary>The client's first line says how the list went; the tree, and with -H its link groups, arrived whole.</summary>
    private static void AssertArrivedWhole(ProcessResult r, string firstLine, string shape, string source, string destination, TreeCompareOptions options)
    {
        Assert.StartsWith(firstLine, r.Stdout.TrimStart());
        TreeComparer.AssertIdentical(source, destination, options);
        if (shape == "hardlinks")
            AssertLinkGroups(source, destination);
    }

    // ---------------------------------------------------------------- trees

    private static void Prepare(string shape, string source, string destination)
    {
        MakeShape(shape, source);
        if (shape == "deletions")
            MakeExtras(source, destination);
    }

    private static void MakeShape(string shape, string root)
    {
        switch (shape)
        {
            case "deep":
                MakeDeep(root);
                break;
            case "wide":
                MakeWide(root);
                break;
            case "hardlinks":
                MakeHardLinks(root);
                break;
            case "deletions":
                MakeSpread(root);
                break;
        }
        PushFixture.StampTimes(root);
    }

    /// <summary>A chain <see cref="Depth"/> folders deep, a file at every level, and a side branch
    /// halfway down, so lists go down, come back up and go down again.</summary>
    private static void MakeDeep(string root)
    {
        string dir = root;
        for (int level = 0; level < Depth; level++)
        {
            dir = Path.Combine(dir, "d");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, $"at{level}"), $"level {level}\n");
            if (level == Depth / 2)
            {
                Directory.CreateDirectory(Path.Combine(dir, "side", "more"));
                File.WriteAllText(Path.Combine(dir, "side", "more", "leaf"), "side\n");
            }
        }
        File.WriteAllText(Path.Combine(root, "top"), "top\n");
    }

    /// <summary>One folder of <see cref="WideEntries"/> empty files, beside two small ones.</summary>
    private static void MakeWide(string root)
    {
        string wide = Path.Combine(root, "wide");
        Directory.CreateDirectory(wide);
        for (int i = 0; i < WideEntries; i++)
            File.Create(Path.Combine(wide, $"f{i:D6}")).Dispose();
        Directory.CreateDirectory(Path.Combine(root, "a"));
        Directory.CreateDirectory(Path.Combine(root, "z", "zz"));
        File.WriteAllText(Path.Combine(root, "a", "one"), "1\n");
        File.WriteAllText(Path.Combine(root, "z", "zz", "two"), "2\n");
    }

    /// <summary>Hard-link groups whose members lie in folders listed far apart, both before and after
    /// the first member in list order, and one group wholly inside one folder.</summary>
    private static void MakeHardLinks(string root)
    {
        const int folders = 30;
        for (int i = 0; i < folders; i++)
        {
            string dir = Path.Combine(root, $"f{i:D2}", "inner");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "own"), $"own {i}\n");
        }
        for (int g = 0; g < 10; g++)
        {
            string first = Path.Combine(root, $"f{(g * 7) % folders:D2}", "inner", $"group{g}");
            File.WriteAllText(first, $"group {g} " + new string('x', 100 * g) + "\n");
            for (int k = 1; k <= 4; k++)
            {
                string other = Path.Combine(root, $"f{(g * 7 + k * 11) % folders:D2}", k % 2 == 0 ? "inner" : "", $"link{g}-{k}");
                Posix.Link(first, other);
            }
        }
        File.WriteAllText(Path.Combine(root, "f00", "pair-a"), "pair\n");
        Posix.Link(Path.Combine(root, "f00", "pair-a"), Path.Combine(root, "f00", "pair-b"));
    }

    /// <summary>Three hundred folders of three files each.</summary>
    private static void MakeSpread(string root)
    {
        for (int i = 0; i < 300; i++)
        {
            string dir = Path.Combine(root, $"p{i / 30:D2}", $"q{i:D3}");
            Directory.CreateDirectory(dir);
            for (int j = 0; j < 3; j++)
                File.WriteAllText(Path.Combine(dir, $"keep{j}"), $"{i}/{j}\n");
        }
    }

    /// <summary>The destination already holds the tree plus, in every folder, a file and a folder the
    /// source lacks: each list's deletions happen in its own folder.</summary>
    private static void MakeExtras(string source, string destination)
    {
        foreach (string dir in Directory.GetDirectories(source, "*", SearchOption.AllDirectories).Prepend(source))
        {
            string rel = Path.GetRelativePath(source, dir);
            string there = Path.Combine(destination, rel);
            Directory.CreateDirectory(Path.Combine(there, "stale-dir", "inside"));
            File.WriteAllText(Path.Combine(there, "stale-file"), "gone soon\n");
            File.WriteAllText(Path.Combine(there, "stale-dir", "inside", "x"), "gone too\n");
        }
    }

    /// <summary>Every group of names sharing an inode at the source shares one at the destination.</summary>
    private static void AssertLinkGroups(string source, string destination)
    {
        var groups = new Dictionary<(ulong, ulong), List<string>>();
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var st = Posix.LStat(file);
            if (st.NLink < 2)
                continue;
            if (!groups.TryGetValue((st.Device, st.Inode), out var names))
                groups[(st.Device, st.Inode)] = names = [];
            names.Add(Path.GetRelativePath(source, file));
        }
        Assert.Equal(11, groups.Count);
        foreach (var names in groups.Values)
        {
            var inodes = names.Select(n => Posix.LStat(Path.Combine(destination, n)).Inode).Distinct().ToList();
            Assert.True(inodes.Count == 1, $"{string.Join(", ", names)} are {inodes.Count} files at the destination");
        }
    }
}
