using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// netrsync SRC/ DEST/ with both sides local: the sender and the receiving side run in one process
/// over the protocol, and stock rsync confirms the copy leaves nothing to change.
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed class LocalCopyTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private async Task<ProcessResult> Run(params string[] args)
    {
        ProcessResult r = await NetRsync.Instance.RunAsync(args);
        output.WriteLine(r.ToString());
        return r;
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task TortureTree_CopiedLocally_IsIdentical(string peer)
    {
        string src = _temp.Sub("src");
        string dst = Path.Combine(_temp.Path, "dst");
        TortureTree.Create(src, includeHugeFile: false);

        ProcessResult r = await Run("-aH", src + "/", dst + "/");

        Assert.True(r.ExitCode == 0, r.ToString());
        // Nothing sanitizes symlinks in a local copy: targets arrive verbatim.
        TreeComparer.AssertIdentical(src, dst, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol) with { ExpectSanitizedSymlinks = false });
        await StockClient.AssertNothingToChange(peer, src, dst + "/", RsyncPeers.DefaultProtocol);
    }

    [Fact]
    public async Task SecondCopyWithNoWholeFile_SendsOnlyTheChange()
    {
        string src = _temp.Sub("src");
        string dst = Path.Combine(_temp.Path, "dst");
        string file = Path.Combine(src, "data.bin");
        PushFixture.WriteRandomFile(file, 8 << 20, seed: 3, mtimeSeconds: 1_300_000_000);
        Assert.Equal(0, (await Run("-a", src + "/", dst + "/")).ExitCode);

        using (var fs = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            fs.Position = 4 << 20;
            fs.WriteByte(0x5A);
        }
        Posix.SetTimes(file, 1_300_000_100, 0);
        ProcessResult r = await Run("-a", "--no-W", "--stats", src + "/", dst + "/");

        Assert.Equal(0, r.ExitCode);
        var literal = System.Text.RegularExpressions.Regex.Match(r.Stdout, @"Literal data: ([\d,]+) bytes");
        Assert.True(literal.Success, r.ToString());
        long literalBytes = long.Parse(literal.Groups[1].Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(literalBytes, 1, (8 << 20) / 100);
        Assert.Equal(-1, TreeComparer.FirstDifference(file, Path.Combine(dst, "data.bin")));
    }

    [Fact]
    public async Task Delete_RemovesWhatTheSourceLacks_ButKeepsExcluded()
    {
        string src = _temp.Sub("src");
        string dst = _temp.Sub("dst");
        File.WriteAllText(Path.Combine(src, "keep.txt"), "keep\n");
        File.WriteAllText(Path.Combine(dst, "stale.txt"), "stale\n");
        Directory.CreateDirectory(Path.Combine(dst, "stale-dir", "deeper"));
        File.WriteAllText(Path.Combine(dst, "notes.tmp"), "excluded, so protected\n");

        ProcessResult r = await Run("-a", "--delete", "--exclude=*.tmp", src + "/", dst + "/");

        Assert.Equal(0, r.ExitCode);
        Assert.True(File.Exists(Path.Combine(dst, "keep.txt")));
        Assert.False(File.Exists(Path.Combine(dst, "stale.txt")), r.ToString());
        Assert.False(Directory.Exists(Path.Combine(dst, "stale-dir")), r.ToString());
        Assert.True(File.Exists(Path.Combine(dst, "notes.tmp")), "an excluded file is protected from --delete without --delete-excluded");
    }

    /// <summary>
    /// --remove-source-files removes what the destination already has unchanged, and links, not
    /// only files sent (generator.c, recv_generator: return_with_success), as the stock client
    /// does on a twin of the same trees.
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task RemoveSourceFiles_RemovesUnchangedFilesAndLinksToo(string peer)
    {
        var sources = new List<string>();
        var (stock, ours, _, _) = await Twins(peer, (src, dst) =>
        {
            sources.Add(src);
            foreach (string root in new[] { src, dst })
            {
                File.WriteAllText(Path.Combine(root, "same.txt"), "already there\n");
                Posix.SetTimes(Path.Combine(root, "same.txt"), 1_300_000_000, 0);
                File.CreateSymbolicLink(Path.Combine(root, "same-link"), "same.txt");
            }
            File.WriteAllText(Path.Combine(src, "new.txt"), "sent\n");
            File.CreateSymbolicLink(Path.Combine(src, "new-link"), "new.txt");
        }, (src, dst) => ["-a", "--remove-source-files", src + "/", dst + "/"]);
        Assert.True(stock.ExitCode == 0, stock.ToString());
        Assert.True(ours.ExitCode == 0, ours.ToString());
        string[] Left(string src) => Directory.EnumerateFileSystemEntries(src).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Empty(Left(sources[0]));
        Assert.Equal(Left(sources[0]), Left(sources[1]));
    }

    /// <summary>Runs the same local copy with the stock client and with netrsync, each on its own twin of the trees.</summary>
    private async Task<(ProcessResult Stock, ProcessResult Ours, string StockDest, string OurDest)> Twins(
        string peer, Action<string, string> make, Func<string, string, string[]> args)
    {
        var results = new List<(ProcessResult, string)>();
        string run = Guid.NewGuid().ToString("N")[..8];
        foreach (var (name, client) in new (string, IRsyncClient)[] { ("stock", new StockClient(peer)), ("ours", NetRsync.Instance) })
        {
            string src = _temp.Sub($"{name}-{run}-src");
            string dst = _temp.Sub($"{name}-{run}-dst");
            make(src, dst);
            ProcessResult r = await client.RunAsync(args(src, dst));
            output.WriteLine(r.ToString());
            results.Add((r, dst));
        }
        return (results[0].Item1, results[1].Item1, results[0].Item2, results[1].Item2);
    }

    /// <summary>Without -t a file written gets the time of writing, which -i shows as "T" (generator.c, itemize).</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Itemize_WithoutTimes_ShowsTheTimeOfWriting(string peer)
    {
        var (stock, ours, _, _) = await Twins(peer, (src, dst) =>
        {
            File.WriteAllText(Path.Combine(src, "changed.txt"), "new text\n");
            File.WriteAllText(Path.Combine(dst, "changed.txt"), "old text\n");
            File.WriteAllText(Path.Combine(src, "longer.txt"), "a longer new text\n");
            File.WriteAllText(Path.Combine(dst, "longer.txt"), "short\n");
            Posix.SetTimes(Path.Combine(src, "changed.txt"), 1_300_000_000, 0);
            Posix.SetTimes(Path.Combine(src, "longer.txt"), 1_300_000_000, 0);
        }, (src, dst) => ["-rli", src + "/", dst + "/"]);
        Assert.Equal(0, stock.ExitCode);
        Assert.Equal(0, ours.ExitCode);
        Assert.Contains(">f..T...... changed.txt", stock.Stdout);
        Assert.Equal(stock.Stdout.Split('\n').Order(StringComparer.Ordinal), ours.Stdout.Split('\n').Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Without -p a directory made under a setgid directory keeps the setgid bit it inherits
    /// (rsync.c, set_file_attrs: inherit), as stock keeps it.
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task NewDirectoryUnderASetgidDirectory_KeepsTheBit(string peer)
    {
        var (stock, ours, stockDest, ourDest) = await Twins(peer, (src, dst) =>
        {
            Directory.CreateDirectory(Path.Combine(src, "dir", "blah"));
            File.WriteAllText(Path.Combine(src, "dir", "file"), "x\n");
            Posix.Chmod(dst, Posix.Mode("2770"));
        }, (src, dst) => ["-r", src + "/", dst + "/"]);
        Assert.Equal(0, stock.ExitCode);
        Assert.Equal(0, ours.ExitCode);
        foreach (string dir in new[] { "dir", "dir/blah" })
        {
            uint stockMode = Posix.LStat(Path.Combine(stockDest, dir)).Mode & 0xFFF;
            Assert.True((stockMode & 0x400) != 0, $"stock kept no setgid bit on {dir}");
            Assert.Equal(stockMode, Posix.LStat(Path.Combine(ourDest, dir)).Mode & 0xFFF);
        }
    }

    /// <summary>
    /// -d without -r copies a "SRC/" directory's contents one level deep, and --files-from names
    /// with a "/./" marker or a trailing slash mean what they mean to stock rsync (flist.c,
    /// send_file_list: DOTDIR_NAME and SLASH_ENDING_NAME).
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task DirsAndFilesFrom_ListContentsOneLevel(string peer)
    {
        void Make(string src, string dst)
        {
            Directory.CreateDirectory(Path.Combine(src, "from", "dir", "sub", "deep"));
            Directory.CreateDirectory(Path.Combine(src, "from", "other"));
            File.WriteAllText(Path.Combine(src, "from", "top.txt"), "top\n");
            File.WriteAllText(Path.Combine(src, "from", "dir", "a.txt"), "a\n");
            File.WriteAllText(Path.Combine(src, "from", "dir", "sub", "b.txt"), "b\n");
            File.WriteAllText(Path.Combine(src, "from", "dir", "sub", "deep", "c.txt"), "c\n");
            File.WriteAllText(Path.Combine(src, "from", "other", "d.txt"), "d\n");
            File.WriteAllText(Path.Combine(src, "list"), "from/./\nfrom/./dir/sub/\nfrom/./other\n");
            PushFixture.StampTimes(src);
        }
        var dirs = await Twins(peer, Make, (src, dst) => ["-dt", src + "/from/", dst + "/"]);
        Assert.Equal(0, dirs.Stock.ExitCode);
        Assert.Equal(0, dirs.Ours.ExitCode);
        Assert.True(File.Exists(Path.Combine(dirs.OurDest, "top.txt")));
        TreeComparer.AssertIdentical(dirs.StockDest, dirs.OurDest, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol) with { CompareRoot = false, CompareDirectoryTimes = false });

        var listed = await Twins(peer, Make, (src, dst) => ["-a", "--files-from=" + src + "/list", src, dst + "/"]);
        Assert.Equal(0, listed.Stock.ExitCode);
        Assert.Equal(0, listed.Ours.ExitCode);
        Assert.True(File.Exists(Path.Combine(listed.OurDest, "dir", "sub", "b.txt")));
        TreeComparer.AssertIdentical(listed.StockDest, listed.OurDest, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol) with { CompareRoot = false, CompareDirectoryTimes = false });
    }

    /// <summary>
    /// A link or device replaced by one of its kind is itemized with what changed ("cLc.t",
    /// "cDc.T"), one of another kind as new, as stock itemizes them (generator.c, recv_generator).
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task ReplacedLinksAndDevices_AreItemizedAsStockDoes(string peer)
    {
        var (stock, ours, _, _) = await Twins(peer, (src, dst) =>
        {
            File.CreateSymbolicLink(Path.Combine(src, "relinked"), "one");
            File.CreateSymbolicLink(Path.Combine(dst, "relinked"), "two");
            File.CreateSymbolicLink(Path.Combine(src, "was-file"), "one");
            File.WriteAllText(Path.Combine(dst, "was-file"), "x\n");
            MakeBlockDevice(Path.Combine(src, "dev"), 105, 73);
            MakeBlockDevice(Path.Combine(dst, "dev"), 42, 73);
        }, (src, dst) => ["-rlDi", src + "/", dst + "/"]);
        Assert.Equal(0, stock.ExitCode);
        Assert.Equal(0, ours.ExitCode);
        Assert.Contains("cDc.T...... dev", stock.Stdout);
        Assert.Equal(stock.Stdout.Split('\n').Order(StringComparer.Ordinal), ours.Stdout.Split('\n').Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Under -R a "./" before the path puts the source directory in the list as an implied ".":
    /// the destination takes its attributes, as stock's does (flist.c, send_file_list: implied_dot_dir).
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task RelativeWithLeadingDotSlash_GivesTheDestinationTheSourcesAttributes(string peer)
    {
        var (stock, ours, stockDest, ourDest) = await Twins(peer, (src, dst) =>
        {
            Directory.CreateDirectory(Path.Combine(src, "down", "deep"));
            File.WriteAllText(Path.Combine(src, "down", "deep", "f"), "f\n");
            PushFixture.StampTimes(src, 1_200_000_000);
            Directory.Delete(dst);
        }, (src, dst) => ["-aR", src + "/././down/deep", dst]);
        Assert.Equal(0, stock.ExitCode);
        Assert.Equal(0, ours.ExitCode);
        Assert.InRange(Posix.LStat(stockDest).MtimeSeconds, 1_200_000_000, 1_300_000_000);
        Assert.Equal(Posix.LStat(stockDest).MtimeSeconds, Posix.LStat(ourDest).MtimeSeconds);
        TreeComparer.AssertIdentical(stockDest, ourDest, RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol));
    }

    private static void MakeBlockDevice(string path, int major, int minor)
    {
        using var p = System.Diagnostics.Process.Start("mknod", [path, "b", major.ToString(System.Globalization.CultureInfo.InvariantCulture), minor.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"mknod {path} failed: devices need root");
    }

    [Fact]
    public async Task DryRun_ChangesNothing()
    {
        string src = _temp.Sub("src");
        string dst = _temp.Sub("dst");
        File.WriteAllText(Path.Combine(src, "new.txt"), "new\n");
        File.WriteAllText(Path.Combine(dst, "old.txt"), "old\n");

        ProcessResult r = await Run("-anv", "--delete", src + "/", dst + "/");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("new.txt", r.Stdout);
        Assert.Contains("deleting old.txt", r.Stdout);
        Assert.False(File.Exists(Path.Combine(dst, "new.txt")));
        Assert.True(File.Exists(Path.Combine(dst, "old.txt")));
    }

    [Fact]
    public async Task BasisChangingMidTransfer_FailsVerificationAndIsRedoneWithFullSums()
    {
        string src = _temp.Sub("src");
        string dst = _temp.Sub("dst");
        string file = Path.Combine(src, "data.bin");
        string basis = Path.Combine(dst, "data.bin");
        // The new file is 2 MiB of fresh data, then the last 4 MiB of the basis: the fresh part streams
        // slowly as literal data while the rest will be copied from the basis afterwards.
        PushFixture.WriteRandomFile(basis, 6 << 20, seed: 11, mtimeSeconds: 1_200_000_000);
        PushFixture.WriteRandomFile(file, 2 << 20, seed: 12, mtimeSeconds: 1_300_000_000);
        using (var output = new FileStream(file, FileMode.Append, FileAccess.Write))
        using (var input = new FileStream(basis, FileMode.Open, FileAccess.Read))
        {
            input.Position = 2 << 20;
            input.CopyTo(output);
        }
        Posix.SetTimes(file, 1_300_000_000, 0);

        var run = NetRsync.Instance.RunAsync(["-a", "--no-W", "--bwlimit=1000", src + "/", dst + "/"], timeout: TimeSpan.FromSeconds(60));

        // Once the receiver is under way, the tail of the basis changes under it: the blocks it copies no
        // longer match what the generator summed, the whole-file sum fails, and the file must be redone.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string? temp = null;
        while (temp is null && DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            temp = Directory.EnumerateFiles(dst, ".data.bin.*").FirstOrDefault();
            if (temp is null)
                await Task.Yield();
        }
        Assert.True(temp is not null, "the transfer finished before its temporary file could be seen");
        using (var fs = new FileStream(basis, FileMode.Open, FileAccess.Write))
        {
            fs.Position = 5 << 20;
            fs.Write(new byte[4096]);
        }

        ProcessResult r = await run;
        output.WriteLine(r.ToString());
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(-1, TreeComparer.FirstDifference(file, basis));
        Assert.Empty(Directory.EnumerateFiles(dst, ".data.bin.*"));
    }
}
