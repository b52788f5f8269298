using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>Self-tests of <see cref="TortureTree"/> and <see cref="TreeComparer"/> against stock rsync.</summary>
public sealed class HarnessTortureTreeTests(ITestOutputHelper output)
{
    [Fact]
    public void TortureTree_HasEverythingItPromises()
    {
        using var t = new TempDir();
        string root = t.Sub("src");
        TortureTreeInfo info = TortureTree.Create(root, includeHugeFile: false);
        string P(string rel) => Path.Combine(root, rel);

        Assert.Equal(PosixFileType.Directory, Posix.LStat(P("empty-dir")).Type);
        Assert.Empty(Directory.EnumerateFileSystemEntries(P("empty-dir")));
        Assert.Equal(0UL, Posix.LStat(P("empty-file")).Size);
        foreach (int size in (int[])[0, 1, 700, 64 * 1024 + 3, 1024 * 1024 + 17])
        {
            Assert.Equal((ulong)size, Posix.LStat(P($"a/size-{size}.bin")).Size);
        }
        Assert.Equal(PosixFileType.Regular, Posix.LStat(P("Grüße – 日本語.txt")).Type);
        Assert.Equal(PosixFileType.Regular, Posix.LStat(P("new\nline.txt")).Type);
        Assert.Equal(PosixFileType.Regular, Posix.LStat(P("-rf")).Type);
        Assert.Equal(PosixFileType.Regular, Posix.LStat(P("--help")).Type);

        int longBytes = Encoding.UTF8.GetByteCount(info.LongPathFile);
        Assert.InRange(longBytes, 3900, 4000);
        Assert.All(info.LongPathFile.Split('/'), c => Assert.InRange(c.Length, 1, 200));
        Assert.True(info.LongPathFile.Split('/').Count(c => c.Length == 200) >= 15, "the long path should be made of ~200-byte components");
        Assert.InRange(Encoding.UTF8.GetByteCount(P(info.LongPathFile)), 4001, 4095);
        Assert.Equal(PosixFileType.Regular, Posix.LStat(P(info.LongPathFile)).Type);

        Assert.Equal("../a/size-700.bin", Posix.ReadLinkText(P("links/relative")));
        Assert.Equal("/etc/hostname", Posix.ReadLinkText(P("links/absolute")));
        Assert.Equal("no/such/target", Posix.ReadLinkText(P("links/dangling")));
        Assert.False(File.Exists(Path.Combine(root, "links", "no/such/target")));

        PosixStat[] hard = info.HardLinkNames.Select(n => Posix.LStat(P(n))).ToArray();
        Assert.Equal(3, hard.Length);
        Assert.Equal(3, info.HardLinkNames.Select(Path.GetDirectoryName).Distinct().Count());
        Assert.All(hard, h => Assert.Equal((hard[0].Device, hard[0].Inode, 3u), (h.Device, h.Inode, h.NLink)));

        Assert.Equal(PosixFileType.Fifo, Posix.LStat(P("special/fifo")).Type);

        Assert.Equal("2755", Posix.Octal(Posix.LStat(P("modes/setgid-dir")).Permissions));
        Assert.Equal("0700", Posix.Octal(Posix.LStat(P("modes/private-dir")).Permissions));
        Assert.Equal("1777", Posix.Octal(Posix.LStat(P("modes/sticky-dir")).Permissions));
        Assert.Equal("0600", Posix.Octal(Posix.LStat(P("modes/private-0600.txt")).Permissions));
        Assert.Equal("0777", Posix.Octal(Posix.LStat(P("modes/open-0777.sh")).Permissions));
        Assert.Equal("4755", Posix.Octal(Posix.LStat(P("modes/setuid-4755")).Permissions));

        PosixStat owned = Posix.LStat(P("owners/uid1234-gid5678.txt"));
        Assert.Equal((1234u, 5678u, "0640"), (owned.Uid, owned.Gid, Posix.Octal(owned.Permissions)));
        PosixStat ownedLink = Posix.LStat(P("owners/link-1234"));
        Assert.Equal((PosixFileType.Symlink, 1234u, 5678u), (ownedLink.Type, ownedLink.Uid, ownedLink.Gid));

        PosixStat old = Posix.LStat(P("times/1965.txt"));
        Assert.Equal((-152_000_000L, 123_456_789u), (old.MtimeSeconds, old.MtimeNanoseconds));
        Assert.Equal(1965, DateTimeOffset.FromUnixTimeSeconds(old.MtimeSeconds).Year);
        Assert.Equal((-150_000_000L, 987_654_321u), (Posix.LStat(P("times/1965-dir")).MtimeSeconds, Posix.LStat(P("times/1965-dir")).MtimeNanoseconds));
        Assert.Equal(500_000_001u, Posix.LStat(P("times/1965-link")).MtimeNanoseconds);

        // Non-zero nanoseconds everywhere except the deliberate whole-second cases, incl. dirs and symlinks.
        var scan = TreeComparer.Scan(root);
        var wholeSecond = scan.Values.Where(e => e.Stat.MtimeNanoseconds == 0).Select(e => e.RelativePath).ToArray();
        Assert.Equal(["times/epoch.txt"], wholeSecond);
        Assert.Contains(scan.Values, e => e.Stat.Type == PosixFileType.Symlink && e.Stat.MtimeNanoseconds != 0);
        Assert.Contains(scan.Values, e => e.Stat.Type == PosixFileType.Directory && e.Stat.MtimeNanoseconds != 0);
        // Directory times survived the creation of their contents (they were set last, deepest first).
        Assert.Equal((1_234_567_890L, 123_456_789u), (scan["."].Stat.MtimeSeconds, scan["."].Stat.MtimeNanoseconds));
        output.WriteLine($"{scan.Count} entries");
    }

    [Fact]
    public void TortureTree_IsDeterministic_AndTheComparerAcceptsTwoBuilds()
    {
        using var t = new TempDir();
        TortureTree.Create(t.Sub("one"), includeHugeFile: false);
        TortureTree.Create(t.Sub("two"), includeHugeFile: false);
        TreeComparer.AssertIdentical(t.File("one"), t.File("two"));
    }

    [Fact]
    public void HugeSparseFile_IsSparse_AndComparedInChunks()
    {
        using var t = new TempDir();
        TortureTreeInfo info = TortureTree.Create(t.Sub("src"), includeHugeFile: true);
        Assert.NotNull(info.HugeFile);
        PosixStat st = Posix.LStat(info.HugeFile!);
        Assert.Equal((ulong)TortureTree.HugeFileLength, st.Size);
        Assert.True(st.Blocks * 512 < 1 << 20, $"the 4 GiB file should be sparse, but {st.Blocks * 512} bytes are allocated");

        string copy = t.File("copy.bin");
        TortureTree.CreateSparse(copy, TortureTree.HugeFileLength, new Random(7));
        string same = t.File("same.bin");
        TortureTree.CreateSparse(same, TortureTree.HugeFileLength, new Random(7));

        // A difference a few bytes before the end of a >4 GiB file must be found at the exact offset
        // (which also shows nothing earlier, incl. the non-zero bytes at 2 GiB and 4 GiB, compared unequal).
        long offset = TortureTree.HugeFileLength - 3;
        using (var fs = new FileStream(same, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = offset;
            int b = fs.ReadByte();
            fs.Position = offset;
            fs.WriteByte((byte)(b ^ 0x5A));
        }
        Assert.Equal(offset, TreeComparer.FirstDifference(copy, same));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task LocalStockCopy_IsIdentical_AndStockRsyncSeesNothingToChange(string peer)
    {
        using var t = new TempDir();
        string src = t.Sub("src");
        string dst = t.Sub("dst");
        TortureTree.Create(src, includeHugeFile: false);

        ProcessResult r = await new StockClient(peer).RunAsync(["-aH", src + "/", dst + "/"]);
        output.WriteLine(r.ToString());

        Assert.True(r.ExitCode == 0, r.ToString());
        TreeComparer.AssertIdentical(src, dst);
        await StockClient.AssertNothingToChange(peer, src, dst + "/", RsyncPeers.DefaultProtocol);
    }
}
