using System.Security.Cryptography;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>The destination is a jail for the client: a hostile daemon's file list (<see cref="FakeDaemon"/>)
/// or a local copy whose sources disagree must neither delete, change, hard-link nor read anything
/// outside DEST.</summary>
[Collection(PushScenarios.Collection)]
public sealed class ClientEscapeTests(ITestOutputHelper output) : ClientEscapeScenarios(output)
{
    protected override IRsyncClient Client => NetRsync.Instance;
}

/// <summary>The same scenarios with Debian's rsync as the client: proves each hostile list is
/// well-formed and that a sound client leaves the outside alone.</summary>
[Collection(PushScenarios.Collection)]
public sealed class HarnessStockClientEscapeTests(ITestOutputHelper output) : ClientEscapeScenarios(output)
{
    protected override IRsyncClient Client => new StockClient(RsyncPeers.Resolve(RsyncPeers.DebianRsync));
}

/// <summary>Layout: a temp dir with <c>dst/</c> (DEST), <c>outside/</c> (holding <c>secret.txt</c> with
/// random content and <c>sub/secret2.txt</c>) and, for local copies, <c>s1/</c> and <c>s2/</c>. Every
/// test compares a snapshot of <c>outside/</c> (names, modes, owners, sizes, times, inodes, link counts,
/// content hashes) before and after, and checks no file in DEST holds the secret.</summary>
public abstract class ClientEscapeScenarios(ITestOutputHelper output)
{
    protected abstract IRsyncClient Client { get; }

    internal sealed class Setup : IDisposable
    {
        public required TempDir Temp { get; init; }

        public required string Dest { get; init; }

        public required string Outside { get; init; }

        public required string Secret { get; init; }

        public string Snapshot { get; set; } = "";

        public PosixStat SecretStat => Posix.LStat(Path.Combine(Outside, "secret.txt"));

        public void Dispose() => Temp.Dispose();
    }

    internal static Setup Create()
    {
        var temp = new TempDir();
        string outside = temp.Sub("outside");
        string secret = "SECRET " + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) + "\n";
        File.WriteAllText(Path.Combine(outside, "secret.txt"), secret);
        Directory.CreateDirectory(Path.Combine(outside, "sub"));
        File.WriteAllText(Path.Combine(outside, "sub", "secret2.txt"), secret);
        PushFixture.StampTimes(outside, 1_000_000_000);
        var s = new Setup { Temp = temp, Dest = temp.Sub("dst"), Outside = outside, Secret = secret };
        s.Snapshot = DaemonEscapeScenarios.Describe(outside);
        return s;
    }

    /// <summary>The outside dir is exactly as it was, nothing new appeared beside DEST, and no file
    /// in DEST holds the secret.</summary>
    internal static void AssertOutsideUntouched(Setup s, string context, params string[] allowedTop)
    {
        string now = DaemonEscapeScenarios.Describe(s.Outside);
        Assert.True(now == s.Snapshot, $"the client changed {s.Outside}, which is outside DEST:\n{DaemonEscapeScenarios.DescribeChanges(s.Snapshot, now)}--- before ---\n{s.Snapshot}--- after ---\n{now}--- context ---\n{context}");
        string[] top = Directory.EnumerateFileSystemEntries(s.Temp.Path).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToArray();
        string[] unexpected = top.Where(n => n is not ("dst" or "outside") && !allowedTop.Contains(n)).ToArray();
        Assert.True(unexpected.Length == 0, $"new entries appeared beside DEST: {string.Join(", ", unexpected.Select(TreeComparer.Show))}\n{context}");
        string[] leaks = TreeComparer.Scan(s.Dest).Values
            .Where(e => e.Stat.Type == PosixFileType.Regular && File.ReadAllText(e.FullPath).Contains(s.Secret.TrimEnd('\n'), StringComparison.Ordinal))
            .Select(e => TreeComparer.Show(e.RelativePath)).ToArray();
        Assert.True(leaks.Length == 0, $"DEST holds the outside secret in: {string.Join(", ", leaks)}\n{context}");
    }

    private async Task<(ProcessResult Result, string Context)> PullAsync(FakeDaemon fake, IEnumerable<string> options, Setup s)
    {
        ProcessResult r = await Client.RunAsync([.. options, fake.Url(), s.Dest + "/"]);
        output.WriteLine(r.ToString());
        await fake.WaitForConnectionsAsync(1, TimeSpan.FromSeconds(10));
        output.WriteLine(fake.Transcript);
        string context = $"{r}\n--- fake daemon ---\n{fake.Transcript}";
        Assert.True(fake.FileListsSent >= 1, $"the fake never got to send its file list, so the trick was not tried\n{context}");
        Assert.False(r.Stderr.Contains("Unhandled exception", StringComparison.Ordinal), $"the client crashed\n{context}");
        return (r, context);
    }

    // ---------------------------------------------------------------- --delete

    public static TheoryData<string> DeleteTricks => new() { "symlink-then-dir", "relative-symlink-then-dir", "symlink-and-dir-of-one-name" };

    /// <summary>A list that makes a directory of DEST's resolve outside it, with <c>--delete</c>:
    /// <c>x -> OUTSIDE</c> then <c>x/sub/</c> (whose extraneous files would be OUTSIDE/sub's), or
    /// <c>x</c> both as a symlink and as a directory (rsync keeps the directory).</summary>
    [Theory]
    [MemberData(nameof(DeleteTricks), MemberType = typeof(ClientEscapeScenarios))]
    public async Task HostileList_WithDelete_RemovesNothingOutside(string trick)
    {
        using Setup s = Create();
        FakeEntry[] entries = trick switch
        {
            "symlink-then-dir" => [FakeEntry.Symlink("x", s.Outside), FakeEntry.Directory("x/sub")],
            "relative-symlink-then-dir" => [FakeEntry.Symlink("x", "../outside"), FakeEntry.Directory("x/sub")],
            "symlink-and-dir-of-one-name" => [FakeEntry.Symlink("x", s.Outside), FakeEntry.Directory("x")],
            _ => throw new ArgumentException(trick),
        };
        await using var fake = FakeDaemon.Start(entries);

        (_, string context) = await PullAsync(fake, ["-rl", "--delete"], s);

        AssertOutsideUntouched(s, context);
    }

    // ---------------------------------------------------------------- -a attributes

    /// <summary><c>-a</c> with <c>x -> OUTSIDE</c> then <c>x/sub/</c> with other permissions and time:
    /// applying them would chmod and touch OUTSIDE/sub.</summary>
    [Fact]
    public async Task HostileList_WithArchive_ChangesNoAttributeOutside()
    {
        using Setup s = Create();
        await using var fake = FakeDaemon.Start(
        [
            FakeEntry.Symlink("x", s.Outside),
            FakeEntry.Directory("x/sub") with { Permissions = 0x1FF, MtimeSeconds = 1_234_567_890 }, // 0777
        ]);

        (_, string context) = await PullAsync(fake, ["-a"], s);

        AssertOutsideUntouched(s, context);
    }

    // ---------------------------------------------------------------- -H hard links

    public static TheoryData<string> HardLinkTricks => new() { "leader-through-symlink", "member-through-symlink", "leader-dotdot", "leader-absolute" };

    /// <summary>Hard-link groups that reach outside: a leader <c>x/secret.txt</c> beneath
    /// <c>x -> OUTSIDE</c> that a quick check finds up to date (so its member <c>zz/y.txt</c> would
    /// become a link to OUTSIDE/secret.txt, readable in DEST), a member beneath the symlink (a new
    /// link in OUTSIDE), or a leader named with ".." or absolutely.</summary>
    [Theory]
    [MemberData(nameof(HardLinkTricks), MemberType = typeof(ClientEscapeScenarios))]
    public async Task HostileList_WithHardLinks_LinksNothingOutside(string trick)
    {
        using Setup s = Create();
        PosixStat secret = s.SecretStat;
        FakeEntry Lookalike(string name) => new FakeEntry(name, PosixFileType.Regular)
        {
            Content = Encoding.UTF8.GetBytes(new string('x', (int)secret.Size - 1) + "\n"),
            MtimeSeconds = secret.MtimeSeconds,
            HardLinkFirst = true,
        };
        FakeEntry Member(string name, int leader) => new(name, PosixFileType.Regular) { HardLinkLeader = leader };
        FakeEntry[] entries = trick switch
        {
            // Indexes count "." as 0.
            "leader-through-symlink" => [FakeEntry.Symlink("x", s.Outside), FakeEntry.Directory("zz"), Lookalike("x/secret.txt"), Member("zz/y.txt", 3)],
            "member-through-symlink" => [FakeEntry.File("a.txt", "pwned\n") with { HardLinkFirst = true }, FakeEntry.Symlink("x", s.Outside), Member("x/pwned.txt", 1)],
            "leader-dotdot" => [Lookalike("../outside/secret.txt"), FakeEntry.Directory("zz"), Member("zz/y.txt", 1)],
            "leader-absolute" => [Lookalike(s.Outside + "/secret.txt"), FakeEntry.Directory("zz"), Member("zz/y.txt", 1)],
            _ => throw new ArgumentException(trick),
        };
        await using var fake = FakeDaemon.Start(entries);

        (_, string context) = await PullAsync(fake, ["-rltH"], s);

        AssertOutsideUntouched(s, context);
    }

    // ---------------------------------------------------------------- local copy

    public static TheoryData<string> LinkFirstOrDirFirst => new() { "link-in-s1", "link-in-s2" };

    /// <summary><c>-a --delete s1/a s2/a DEST/</c> where one <c>a</c> is a symlink to OUTSIDE and the
    /// other a directory: both are "a" in DEST; rsync keeps the directory (flist.c,
    /// flist_sort_and_clean), so <c>--delete</c> works in DEST/a, never through the link.</summary>
    [Theory]
    [MemberData(nameof(LinkFirstOrDirFirst), MemberType = typeof(ClientEscapeScenarios))]
    public async Task LocalCopy_OfASymlinkAndADirectoryOfOneName_DeletesNothingOutside(string order)
    {
        using Setup s = Create();
        string s1 = s.Temp.Sub("s1");
        string s2 = s.Temp.Sub("s2");
        string linkSide = order == "link-in-s1" ? s1 : s2;
        string dirSide = order == "link-in-s1" ? s2 : s1;
        File.CreateSymbolicLink(Path.Combine(linkSide, "a"), s.Outside);
        Directory.CreateDirectory(Path.Combine(dirSide, "a"));
        File.WriteAllText(Path.Combine(dirSide, "a", "new.txt"), "copied\n");
        PushFixture.StampTimes(dirSide, 1_500_000_000);

        ProcessResult r = await Client.RunAsync(["-a", "--delete", s1 + "/a", s2 + "/a", s.Dest + "/"]);
        output.WriteLine(r.ToString());

        AssertOutsideUntouched(s, r.ToString(), "s1", "s2");
        string a = Path.Combine(s.Dest, "a");
        Assert.True(Posix.TryLStat(a, out PosixStat st, out _) && st.Type == PosixFileType.Directory,
            $"DEST/a should be the directory (on a duplicate name the directory wins), but is {(Posix.TryLStat(a, out st, out _) ? st.Type.ToString() : "missing")}\n{r}");
    }
}
