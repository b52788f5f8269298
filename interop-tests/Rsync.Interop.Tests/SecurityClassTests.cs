using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>One regression test (or a few) per class of rsync security bug fixed in 3.4.0 (NEWS.md,
/// CVE-2024-12084 to -12088 and -12747) and earlier (CVE-2022-29154, CVE-2014-9512), run against
/// netrsyncd and netrsync; where a stock peer can show that the scenario is well-formed, it runs
/// against that too.</summary>
[Collection(PushScenarios.Collection)]
public sealed class SecurityClassTests(ITestOutputHelper output)
{
    private const int ItemTransfer = 1 << 15;

    // ---------------------------------------------------------------- CVE-2024-12084

    /// <summary>Sum heads a sender must refuse (io.c, read_sum_head): a strong-sum length over the
    /// digest's (the heap overflow of CVE-2024-12084), negative, a block count or block length over
    /// the limits, a remainder over the block length.</summary>
    public static TheoryData<string, string> DaemonsAndBadSumHeads
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string head in (string[])["s2length-17", "s2length-negative", "count-huge", "blength-too-big", "remainder-over-blength"])
            {
                data.Add("netrsyncd", head);
            }
            // The harness check that the raw client's bad heads are what a stock daemon refuses.
            data.Add("stock", "s2length-17");
            data.Add("stock", "count-huge");
            return data;
        }
    }

    private static async Task<(int Port, string Url, Func<string> Diagnostics, Func<bool> Alive, IAsyncDisposable Daemon)> StartDaemonAsync(string kind, string moduleDir)
    {
        var module = new DaemonModule("mod", moduleDir) { ReadOnly = true };
        if (kind == "netrsyncd")
        {
            NetRsyncDaemon d = await NetRsyncDaemon.StartAsync([module]);
            return (d.Port, d.Url("mod"), () => d.Diagnostics(), () => !d.HasExited, d);
        }
        StockDaemon s = await StockDaemon.StartAsync(RsyncPeers.Resolve(RsyncPeers.DebianRsync), [module]);
        return (s.Port, s.Url("mod"), () => s.DaemonLog, () => true, s);
    }

    [Theory]
    [MemberData(nameof(DaemonsAndBadSumHeads))]
    public async Task Cve2024_12084_BadSumHeadFromAPullingClient_EndsTheConnectionAndTheDaemonLivesOn(string daemon, string head)
    {
        using var t = new TempDir();
        string mod = t.Sub("mod");
        File.WriteAllBytes(Path.Combine(mod, "a.txt"), RandomNumberGenerator.GetBytes(4096));
        PushFixture.StampTimes(mod, 1_300_000_000);
        var d = await StartDaemonAsync(daemon, mod);
        await using IAsyncDisposable stop = d.Daemon;

        (int count, int blength, int s2length, int remainder) = head switch
        {
            "s2length-17" => (1, 700, 17, 0),
            "s2length-negative" => (1, 700, -1, 0),
            "count-huge" => (int.MaxValue, 700, 16, 0),
            "blength-too-big" => (1, 131_073, 16, 0),
            "remainder-over-blength" => (1, 700, 16, 701),
            _ => throw new ArgumentException(head),
        };
        bool closed;
        long dataAfter;
        string messages;
        using (RawDaemonClient c = await RawDaemonClient.PullAsync(d.Port, "mod", "a.txt"))
        {
            Assert.Equal(["a.txt"], c.Files);
            c.WriteNdx(0);
            c.WriteShortInt(ItemTransfer);
            c.WriteInt32(count);
            c.WriteInt32(blength);
            c.WriteInt32(s2length);
            c.WriteInt32(remainder);
            // One block's sums, as long as the head claims (the overflow's payload).
            if (count == 1 && s2length > 0)
            {
                c.WriteInt32(0x12345678);
                c.Write(new byte[s2length]);
            }
            try
            {
                c.Flush();
            }
            catch (IOException)
            {
                // already hung up on us
            }
            c.ResetDataCount();
            closed = c.ReadUntilClosed(TimeSpan.FromSeconds(15));
            dataAfter = c.DataBytesRead;
            messages = c.Messages.ToString();
        }
        output.WriteLine($"daemon messages:\n{messages}");
        string context = $"--- messages from the daemon ---\n{messages}--- daemon ---\n{d.Diagnostics()}";

        Assert.True(closed, $"the daemon kept the connection open for 15 s after a bad sum head ({head})\n{context}");
        Assert.True(dataAfter == 0, $"the daemon's sender answered a bad sum head ({head}) with {dataAfter} data bytes instead of refusing it\n{context}");
        Assert.True(d.Alive(), $"the daemon died\n{context}");
        Assert.DoesNotContain("Unhandled exception", d.Diagnostics(), StringComparison.Ordinal);
        // netrsyncd says what was wrong (Debian's rsync 3.5 daemon hangs up without a word in its log
        // or to the client, so the harness cases skip this check). It may log only as the
        // connection ends.
        var logged = Stopwatch.StartNew();
        while (daemon == "netrsyncd" && !messages.Contains("Invalid", StringComparison.Ordinal) && !d.Diagnostics().Contains("Invalid", StringComparison.Ordinal) && logged.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50); // poll interval
        }
        Assert.True(daemon != "netrsyncd" || messages.Contains("Invalid", StringComparison.Ordinal) || d.Diagnostics().Contains("Invalid", StringComparison.Ordinal),
            $"neither the client nor the log was told what was invalid\n--- messages from the daemon ---\n{messages}--- daemon ---\n{d.Diagnostics()}");

        // Still serving: an honest pull works.
        string dst = t.Sub("dst");
        ProcessResult r = await RunStock(output, RsyncPeers.DebianRsync, ["-a", d.Url, dst + "/"]);
        Assert.True(r.ExitCode == 0 && File.ReadAllBytes(Path.Combine(dst, "a.txt")).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(mod, "a.txt"))),
            $"an honest pull after the bad one failed\n{r}\n{d.Diagnostics()}");
    }

    // ---------------------------------------------------------------- CVE-2024-12085

    /// <summary>A pulling client sends block sums with strong sums of 2 bytes (less than MD5's 16):
    /// the sender must compare exactly those 2 bytes (CVE-2024-12085 compared the rest too, against
    /// whatever was in memory). The basis differs from the file in one block, so the delta must
    /// reuse the other 31 blocks and rebuild the file exactly.</summary>
    [Theory]
    [InlineData("netrsyncd", 2)]
    [InlineData("netrsyncd", 16)]
    [InlineData("stock", 2)]
    public async Task Cve2024_12085_ShortStrongSums_MatchOnExactlyThoseBytes_AndRebuildTheFile(string daemon, int s2length)
    {
        using var t = new TempDir();
        string mod = t.Sub("mod");
        const int blockLength = 1024;
        const int blocks = 32;
        byte[] file = RandomNumberGenerator.GetBytes(blocks * blockLength);
        File.WriteAllBytes(Path.Combine(mod, "a.bin"), file);
        PushFixture.StampTimes(mod, 1_300_000_000);
        byte[] basis = (byte[])file.Clone();
        for (int i = 10_000; i < 10_100; i++)
        {
            basis[i] ^= 0x5A; // inside block 9
        }
        var d = await StartDaemonAsync(daemon, mod);
        await using IAsyncDisposable stop = d.Daemon;

        byte[] rebuilt;
        int matched = 0;
        byte[] fileSum;
        string messages;
        using (RawDaemonClient c = await RawDaemonClient.PullAsync(d.Port, "mod", "a.bin"))
        {
            c.WriteNdx(0);
            c.WriteShortInt(ItemTransfer);
            c.WriteInt32(blocks);
            c.WriteInt32(blockLength);
            c.WriteInt32(s2length);
            c.WriteInt32(0);
            byte[] seed = BitConverter.GetBytes(c.ChecksumSeed);
            bool seedFirst = (c.CompatFlags & RawDaemonClient.CompatSeedFix) != 0;
            for (int b = 0; b < blocks; b++)
            {
                ReadOnlySpan<byte> block = basis.AsSpan(b * blockLength, blockLength);
                c.WriteInt32((int)RawDaemonClient.WeakSum(block));
                byte[] strong = MD5.HashData(seedFirst ? [.. seed, .. block] : [.. block, .. seed]);
                c.Write(strong.AsSpan(0, s2length));
            }
            c.Flush();

            int ndx = c.ReadNdx();
            int iflags = c.ReadShortInt();
            Assert.Equal(0, ndx);
            Assert.True((iflags & ItemTransfer) != 0, $"iflags 0x{iflags:x4}\n{c.Messages}");
            int echoCount = c.ReadInt32();
            int echoBlength = c.ReadInt32();
            int echoS2 = c.ReadInt32();
            c.ReadInt32();
            Assert.Equal((blocks, blockLength, s2length), (echoCount, echoBlength, echoS2));
            var result = new MemoryStream();
            while (true)
            {
                int token = c.ReadInt32();
                if (token == 0)
                {
                    break;
                }
                if (token > 0)
                {
                    result.Write(c.ReadBytes(token));
                }
                else
                {
                    int block = -(token + 1);
                    Assert.InRange(block, 0, blocks - 1);
                    result.Write(basis, block * blockLength, blockLength);
                    matched++;
                }
            }
            fileSum = c.ReadBytes(16);
            rebuilt = result.ToArray();
            messages = c.Messages.ToString();
        }
        string context = $"--- messages ---\n{messages}--- daemon ---\n{d.Diagnostics()}";
        output.WriteLine($"{matched} of {blocks} blocks matched with {s2length}-byte strong sums");

        Assert.True(rebuilt.AsSpan().SequenceEqual(file), $"the delta does not rebuild the file ({rebuilt.Length} bytes, {matched} blocks matched)\n{context}");
        Assert.True(fileSum.AsSpan().SequenceEqual(MD5.HashData(file)), $"the whole-file sum is wrong\n{context}");
        Assert.True(matched == blocks - 1, $"{matched} blocks matched, expected {blocks - 1}: the sender did not compare exactly {s2length} bytes of each strong sum\n{context}");
        Assert.True(d.Alive(), $"the daemon died\n{context}");
    }

    // ---------------------------------------------------------------- CVE-2024-12086

    public static TheoryData<string, string> ClientsAndBasisLies
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string client in (string[])["netrsync", "stock"])
            {
                foreach (string lie in (string[])["fuzzy-dotdot", "fuzzy-absolute", "basis-dir-index-0", "basis-dir-index-5"])
                {
                    data.Add(client, lie);
                }
            }
            return data;
        }
    }

    /// <summary>A hostile sender answers a pulled file with a basis type the client never offered
    /// (FNAMECMP_FUZZY with an extra name leading outside DEST, or a --compare-dest index when there is
    /// none) and a delta made only of "copy block 0 of the basis", with the whole-file MD5 of the
    /// outside secret: a client that opened that basis would store the secret in DEST (and answer
    /// the sender's guesses with success or redo: the CVE-2024-12086 oracle). The client must stop
    /// with a protocol error, as rsync does.</summary>
    [Theory]
    [MemberData(nameof(ClientsAndBasisLies))]
    public async Task Cve2024_12086_SenderNamesABasisOutsideDest_NothingOutsideIsRead(string client, string lie)
    {
        using ClientEscapeScenarios.Setup s = ClientEscapeScenarios.Create();
        byte[] secret = File.ReadAllBytes(Path.Combine(s.Outside, "secret.txt"));
        (int type, string? xname) = lie switch
        {
            "fuzzy-dotdot" => (0x83, "../outside/secret.txt"),
            "fuzzy-absolute" => (0x83, s.Outside + "/secret.txt"),
            "basis-dir-index-0" => (0, null),
            "basis-dir-index-5" => (5, null),
            _ => throw new ArgumentException(lie),
        };
        // The outside file is also where a basis-dir lie would point if the client resolved a
        // missing --compare-dest as DEST's parent.
        await using var fake = FakeDaemon.Start([FakeEntry.File("secret.txt", new string('x', secret.Length))],
            (_, _) => new FakeTransferReply(type, xname, 1, secret.Length, 0, [FakeToken.BasisBlock(0)], MD5.HashData(secret)));
        IRsyncClient c = client == "netrsync" ? NetRsync.Instance : new StockClient(RsyncPeers.Resolve(RsyncPeers.DebianRsync));

        ProcessResult r = await c.RunAsync(["-r", fake.Url(), s.Dest + "/"]);
        output.WriteLine(r.ToString());
        await fake.WaitForConnectionsAsync(1, TimeSpan.FromSeconds(10));
        output.WriteLine(fake.Transcript);
        string context = $"{r}\n--- fake daemon ---\n{fake.Transcript}";

        Assert.True(fake.TransferRequests.Count >= 1, $"the client never asked for the file, so the lie was not told\n{context}");
        ClientEscapeScenarios.AssertOutsideUntouched(s, context);
        Assert.False(r.Stderr.Contains("Unhandled exception", StringComparison.Ordinal), $"the client crashed\n{context}");
        // rsync refuses at once with a protocol error (receiver.c, recv_files: "refusing malicious
        // fuzzy operation", "invalid basis_dir index"); retrying the file would give the sender another
        // guess.
        Assert.True(r.ExitCode == 2, $"a sender that names a basis the client never offered is a protocol error (exit 2), got exit {r.ExitCode}\n{context}");
        Assert.True(fake.TransferRequests.Count == 1, $"the client asked for the file again after the lie ({fake.TransferRequests.Count} requests)\n{context}");
    }

    // ---------------------------------------------------------------- CVE-2024-12087, CVE-2014-9512, CVE-2022-29154

    /// <summary>A list that makes a symlink and then sends a file (or a directory) through it
    /// (CVE-2024-12087; CVE-2014-9512 is the same with <c>a -> /outside</c> then <c>a/file</c>).
    /// <see cref="FakeDaemon"/> speaks without incremental recursion only, so the inc-recursion
    /// variant (the symlink in one sub-list, the file in a later one) is not covered here.</summary>
    [Theory]
    [InlineData("symlink-then-file")]
    [InlineData("symlink-then-dir")]
    public Task Cve2024_12087_And_Cve2014_9512_FileThroughASymlinkInTheList_IsRefused(string trick) =>
        HostileDaemonPullTests.PullHostileList(NetRsync.Instance, trick, output, checkMessage: true);

    /// <summary>A daemon that sends names the client did not ask for (CVE-2022-29154; the excluded-name
    /// variant is <see cref="HostileDaemonPullTests"/>' "excluded-name").</summary>
    [Theory]
    [InlineData("unrequested-name")]
    public Task Cve2022_29154_NamesTheClientDidNotAskFor_AreRefused(string trick) =>
        HostileDaemonPullTests.PullHostileList(NetRsync.Instance, trick, output, checkMessage: true);

    // ---------------------------------------------------------------- CVE-2024-12088

    /// <summary>Links whose targets climb out of the transfer through a component and ".." (the
    /// CVE-2024-12088 miscount), and links that stay inside; paths are relative to the tree's root.
    /// Since the fix rsync calls any target with "/../" after its leading "../" run unsafe, even one
    /// that would land inside (the component before ".." may itself be a symlink) (util1.c,
    /// unsafe_symlink).</summary>
    private static readonly (string Link, string Target, bool Safe)[] SafeLinksCases =
    [
        ("l1", "d/../../x", false),
        ("l2", "./../x", false),
        ("sub/l3", "../d/../../x", false),
        ("sub/l4", "a/../../../x", false),
        ("sub/l5", "a/b/../../../../x", false),
        ("l6", "d/../inside.txt", false),
        ("sub/l7", "a/../../inside.txt", false),
        ("sub/l8", "../..", false),
        ("ok1", "inside.txt", true),
        ("sub/ok2", "../inside.txt", true),
        ("sub/ok3", "..//./inside.txt", true),
    ];

    private static void SafeLinksTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "sub"));
        File.WriteAllText(Path.Combine(root, "inside.txt"), "inside\n");
        foreach ((string link, string target, _) in SafeLinksCases)
        {
            File.CreateSymbolicLink(Path.Combine(root, link), target);
        }
        PushFixture.StampTimes(root, 1_300_000_000);
    }

    private static void AssertOnlySafeLinks(string dest, ProcessResult r, string context)
    {
        var problems = new List<string>();
        foreach ((string link, string target, bool safe) in SafeLinksCases)
        {
            bool present = Posix.TryLStat(Path.Combine(dest, link), out PosixStat st, out _) && st.Type == PosixFileType.Symlink;
            if (present != safe)
            {
                problems.Add($"{link} -> {target} is {(present ? "present though unsafe" : "missing though safe")}");
            }
        }
        Assert.True(problems.Count == 0, $"--safe-links got these wrong:\n  {string.Join("\n  ", problems)}\n{r}\n{context}");
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Cve2024_12088_SafeLinks_PushToNetrsyncd_DropsLinksThatClimbOut(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        SafeLinksTree(f.Source);

        ProcessResult r = await RunStock(output, peer, ["-rl", "--safe-links", f.SourceArg, f.Url()]);

        AssertOnlySafeLinks(f.ModuleDir, r, await f.Daemon.DiagnosticsWhenIdleAsync());
    }

    [Fact]
    public async Task Cve2024_12088_SafeLinks_PullByNetrsync_DropsLinksThatClimbOut()
    {
        using var t = new TempDir();
        string mod = t.Sub("mod");
        string dst = t.Sub("dst");
        SafeLinksTree(mod);
        await using StockDaemon d = await StockDaemon.StartAsync(RsyncPeers.Resolve(RsyncPeers.DebianRsync), [new DaemonModule("mod", mod) { ReadOnly = true }]);

        ProcessResult r = await NetRsync.Instance.RunAsync(["-rl", "--safe-links", d.Url("mod"), dst + "/"]);
        output.WriteLine(r.ToString());

        AssertOnlySafeLinks(dst, r, d.DaemonLog);
    }

    [Theory]
    [InlineData("netrsync")]
    [InlineData("stock")]
    public async Task Cve2024_12088_SafeLinks_LocalCopy_DropsLinksThatClimbOut(string client)
    {
        using var t = new TempDir();
        string src = t.Sub("src");
        string dst = t.Sub("dst");
        SafeLinksTree(src);
        IRsyncClient c = client == "netrsync" ? NetRsync.Instance : new StockClient(RsyncPeers.Resolve(RsyncPeers.DebianRsync));

        ProcessResult r = await c.RunAsync(["-rl", "--safe-links", src + "/", dst + "/"]);
        output.WriteLine(r.ToString());

        AssertOnlySafeLinks(dst, r, "");
    }

    // ---------------------------------------------------------------- CVE-2024-12747

    /// <summary>The race: for a few seconds, stock pulls and pushes (with --delete) run against
    /// netrsyncd (<c>use chroot = no</c>) and netrsync pulls from it into DEST, while two threads keep
    /// swapping directories of the module and of DEST for symlinks to outside dirs (rename the
    /// directory away, put a symlink in its place, remove it, rename the directory back). Afterwards
    /// nothing outside was written or removed (snapshots) and no received file holds outside
    /// content.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Cve2024_12747_SymlinkSwapRace_NothingOutsideIsReadWrittenOrRemoved(string peer)
    {
        RsyncPeers.Resolve(peer);
        await using NetRsyncDaemonFixture f = await NetRsyncDaemonFixture.StartAsync();
        string secret = "SECRET " + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) + "\n";
        string[] dirs = ["d1", "d2"];
        string outside = f.Temp.Sub("outside");
        string outsideOfDest = f.Temp.Sub("outside-dest");
        foreach (string o in (string[])[outside, outsideOfDest])
        {
            for (int i = 0; i < 8; i++)
            {
                File.WriteAllText(Path.Combine(o, $"f{i}"), secret);
            }
            PushFixture.StampTimes(o, 1_000_000_000);
        }
        foreach (string dir in dirs)
        {
            Directory.CreateDirectory(Path.Combine(f.ModuleDir, dir));
            Directory.CreateDirectory(Path.Combine(f.Source, dir));
            for (int i = 0; i < 8; i++)
            {
                File.WriteAllText(Path.Combine(f.ModuleDir, dir, $"f{i}"), $"module {dir}/f{i}\n");
                File.WriteAllText(Path.Combine(f.Source, dir, $"f{i}"), $"pushed {dir}/f{i}\n");
            }
        }
        string snapshot = DaemonEscapeScenarios.Describe(outside);
        string snapshotOfDest = DaemonEscapeScenarios.Describe(outsideOfDest);
        string netDest = f.Temp.Sub("netdst");
        foreach (string dir in dirs)
        {
            Directory.CreateDirectory(Path.Combine(netDest, dir));
        }

        using var stop = new CancellationTokenSource();
        int swaps = 0;
        Task Swapper(string root, string target) => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (string dir in dirs)
                {
                    string path = Path.Combine(root, dir);
                    string away = path + ".away";
                    if (Posix.TryLStat(path, out PosixStat st, out _) && st.Type == PosixFileType.Directory && !Directory.Exists(away))
                    {
                        try
                        {
                            Directory.Move(path, away);
                            File.CreateSymbolicLink(path, target);
                            Thread.SpinWait(2000);
                            File.Delete(path);
                            Directory.Move(away, path);
                            Interlocked.Increment(ref swaps);
                        }
                        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                        {
                            // a transfer replaced something meanwhile; the next round sorts it out
                        }
                    }
                }
            }
        });
        var results = new List<ProcessResult>();
        int pulls = 0;
        async Task Loop(Func<int, Task<ProcessResult>> run)
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                ProcessResult r = await run(i);
                lock (results)
                {
                    results.Add(r);
                }
            }
        }

        var sw = Stopwatch.StartNew();
        // At least 4 s of racing and enough transfers to mean something, however slow the machine is.
        Task Stopper() => Task.Run(async () =>
        {
            while (sw.Elapsed < TimeSpan.FromSeconds(4) || (Volatile.Read(ref swaps) <= 10 || ResultCount() < 8) && sw.Elapsed < TimeSpan.FromSeconds(60))
                await Task.Delay(50);
            stop.Cancel();
        });
        int ResultCount()
        {
            lock (results)
                return results.Count;
        }
        await Task.WhenAll(
            Stopper(),
            Swapper(f.ModuleDir, outside),
            Swapper(netDest, outsideOfDest),
            Loop(i =>
            {
                string dst = f.Temp.Sub($"pull{i}");
                Interlocked.Increment(ref pulls);
                return ProcessRunner.RunAsync(RsyncPeers.Resolve(peer), ["-r", "--exclude=*.away", f.Url(), dst + "/"]);
            }),
            Loop(_ => ProcessRunner.RunAsync(RsyncPeers.Resolve(peer), ["-rI", "--delete", "--exclude=*.away", f.SourceArg, f.Url()])),
            Loop(_ => NetRsync.Instance.RunAsync(["-rI", "--delete", "--exclude=*.away", f.Url(), netDest + "/"])));
        output.WriteLine($"{swaps} swaps, {results.Count} transfers in {sw.Elapsed.TotalSeconds:F1}s; exit codes: {string.Join(" ", results.GroupBy(r => r.ExitCode).Select(g => $"{g.Key}x{g.Count()}"))}");

        string context = $"{await f.Daemon.DiagnosticsWhenIdleAsync()}\n--- last transfers ---\n{string.Join("\n", results.TakeLast(3))}";
        string now = DaemonEscapeScenarios.Describe(outside);
        Assert.True(now == snapshot, $"the daemon changed the outside dir during the race:\n{DaemonEscapeScenarios.DescribeChanges(snapshot, now)}\n{context}");
        string nowOfDest = DaemonEscapeScenarios.Describe(outsideOfDest);
        Assert.True(nowOfDest == snapshotOfDest, $"netrsync changed the dir outside DEST during the race:\n{DaemonEscapeScenarios.DescribeChanges(snapshotOfDest, nowOfDest)}\n{context}");
        var leaks = new List<string>();
        for (int i = 0; i < pulls; i++)
        {
            leaks.AddRange(SecretHolders(f.Temp.File($"pull{i}"), secret).Select(n => $"pull{i}/{n}"));
        }
        leaks.AddRange(SecretHolders(netDest, secret).Select(n => $"netdst/{n}"));
        Assert.True(leaks.Count == 0, $"received files hold outside content:\n  {string.Join("\n  ", leaks.Take(20))}\n{context}");
        Assert.True(swaps > 10 && results.Count > 3, $"the race did not really run ({swaps} swaps, {results.Count} transfers)");
    }

    private static IEnumerable<string> SecretHolders(string root, string secret) =>
        !Directory.Exists(root)
            ? []
            : TreeComparer.Scan(root).Values
                .Where(e => e.Stat.Type == PosixFileType.Regular && File.ReadAllText(e.FullPath).Contains(secret.TrimEnd('\n'), StringComparison.Ordinal))
                .Select(e => TreeComparer.Show(e.RelativePath));
}
