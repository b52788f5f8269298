using System.Text;
using NetRsync.Protocol.Daemon.Config;
using Xunit;

// Not named after the folder: a namespace called DaemonConfig would hide the DaemonConfig class from other tests.
namespace NetRsync.Protocol.Tests.DaemonConfiguration;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SecretsFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("netrsync-secrets-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content, UnixFileMode mode)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, Encoding.UTF8.GetBytes(content));
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private const UnixFileMode Rw = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // Modes are octal: 0600 and friends.
    [Theory]
    [InlineData(0b110_000_000, 0, true, true, null)]                                    // 0600 root-owned
    [InlineData(0b110_100_000, 0, true, true, null)]                                    // 0640
    [InlineData(0b110_110_001, 0, true, true, null)]                                    // 0661: other-execute does not count
    [InlineData(0b110_100_100, 0, true, true, SecretsFile.OtherAccessibleRefusal)]      // 0644
    [InlineData(0b110_000_010, 0, true, true, SecretsFile.OtherAccessibleRefusal)]      // 0602
    [InlineData(0b110_000_000, 1000, true, true, SecretsFile.NotOwnedByRootRefusal)]   // not root's, daemon is root
    [InlineData(0b110_000_000, 1000, true, false, null)]                                // not root's, daemon is not root
    [InlineData(0b110_100_100, 1000, true, false, SecretsFile.OtherAccessibleRefusal)]
    [InlineData(0b110_110_110, 1000, false, true, null)]                                // strict modes off: anything goes
    [InlineData(0b1000_000_110_100_100, 1000, true, true, SecretsFile.OtherAccessibleRefusal)] // file type bits are ignored
    public void StrictModes(int mode, int owner, bool strict, bool root, string? expected)
    {
        Assert.Equal(expected, SecretsFile.StrictModesRefusal(new SecretsFileStatus(mode, owner), strict, root));
    }

    [Fact]
    public void RefusalWordingIsRsyncs()
    {
        Assert.Equal("secrets file must not be other-accessible (see strict modes option)", SecretsFile.OtherAccessibleRefusal);
        Assert.Equal("secrets file must be owned by root when running as root (see strict modes)", SecretsFile.NotOwnedByRootRefusal);
    }

    [Fact]
    public void OpenRefusesOtherReadableFile()
    {
        string path = Write("s", "joe:pw\n", Rw | UnixFileMode.OtherRead);
        SecretsFileResult r = SecretsFile.Open(path, strictModes: true, runningAsRoot: false);
        Assert.Null(r.File);
        Assert.Equal("ignoring secrets file", r.Error);
        Assert.Equal(SecretsFile.OtherAccessibleRefusal, r.LogMessage);

        SecretsFileResult lax = SecretsFile.Open(path, strictModes: false, runningAsRoot: false);
        Assert.Null(lax.Error);
        Assert.Equal("pw", lax.File!.FindPassword("joe"));
    }

    [Fact]
    public void OpenReadsTheRealOwner()
    {
        string path = Write("s", "joe:pw\n", Rw);
        bool root = Environment.IsPrivilegedProcess;
        SecretsFileResult r = SecretsFile.Open(path, strictModes: true, runningAsRoot: true);
        // The file belongs to whoever runs the tests: fine when that is root, refused otherwise.
        Assert.Equal(root ? null : "ignoring secrets file", r.Error);
        Assert.Equal(root ? null : SecretsFile.NotOwnedByRootRefusal, r.LogMessage);
    }

    [Fact]
    public void OpenUsesGivenStatus()
    {
        string path = Write("s", "joe:pw\n", Rw);
        SecretsFileResult notRoots = SecretsFile.Open(path, true, runningAsRoot: true, new SecretsFileStatus(0x8180, 1000));
        Assert.Equal(SecretsFile.NotOwnedByRootRefusal, notRoots.LogMessage);
        Assert.Equal("ignoring secrets file", notRoots.Error);
        SecretsFileResult ok = SecretsFile.Open(path, true, runningAsRoot: true, new SecretsFileStatus(0x8180, 0));
        Assert.Equal("pw", ok.File!.FindPassword("joe"));
    }

    [Fact]
    public void SymlinkOwnedBySomeoneElseIsNotFollowed()
    {
        string target = Write("real", "joe:pw\n", Rw);
        string link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, target);
        Assert.Equal("pw", SecretsFile.Open(link, true, runningAsRoot: false).File!.FindPassword("joe"));

        // Only root can hand the link to another user; elsewhere the first half is all there is.
        if (!Environment.IsPrivilegedProcess)
            return;
        Assert.Equal(0, NetRsync.Protocol.Native.Posix.LChown(link, 65534, 65534));
        SecretsFileResult r = SecretsFile.Open(link, true, runningAsRoot: true);
        Assert.Null(r.File);
        Assert.Equal("no secrets file", r.Error);
        Assert.Contains(link, r.LogMessage);
        Assert.Equal("pw", SecretsFile.Open(target, true, runningAsRoot: true).File!.FindPassword("joe"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("/nonexistent/netrsync/secrets")]
    public void MissingFileIsNoSecretsFile(string? path)
    {
        SecretsFileResult r = SecretsFile.Open(path, true, false);
        Assert.Null(r.File);
        Assert.Equal("no secrets file", r.Error);
    }

    [Fact]
    public void FindsTheFirstLineForANameOnly()
    {
        SecretsFile s = SecretsFile.Parse("""
            # comment:line
            joe:first
            joe:second
            joey:other
            @staff:group pw
            @staff:later
            staff:user named staff
            ann:pass:with:colons
            bob:
            """);
        Assert.Equal("first", s.FindPassword("joe"));
        Assert.Equal("other", s.FindPassword("joey"));
        Assert.Equal("group pw", s.FindGroupPassword("staff"));
        Assert.Equal("user named staff", s.FindPassword("staff"));
        Assert.Equal("pass:with:colons", s.FindPassword("ann"));
        Assert.Equal("", s.FindPassword("bob"));
        Assert.Null(s.FindPassword("jo"));
        Assert.Null(s.FindPassword("@staff"));
        Assert.Null(s.FindGroupPassword("joe"));
        Assert.Null(s.FindPassword("nobody"));
    }

    [Fact]
    public void CarriageReturnsEndTheLine()
    {
        SecretsFile s = SecretsFile.Parse("joe:pw\r\n\r\nann:x\ry\n\rbob:z\n");
        Assert.Equal("pw", s.FindPassword("joe"));
        Assert.Equal("x", s.FindPassword("ann"));
        Assert.Equal("z", s.FindPassword("bob"));
    }

    [Fact]
    public void WhitespaceIsPartOfNamesAndPasswords()
    {
        SecretsFile s = SecretsFile.Parse(" joe:pw\njoe :x\nann: spaced \n");
        Assert.Null(s.FindPassword("joe"));
        Assert.Equal("pw", s.FindPassword(" joe"));
        Assert.Equal(" spaced ", s.FindPassword("ann"));
    }

    [Fact]
    public void OverlongLinesAreReadInPiecesLikeFgets()
    {
        string longPassword = new('p', 1500);
        SecretsFile s = SecretsFile.Parse($"joe:{longPassword}\nann:ok\n");
        Assert.Equal(new string('p', 1023 - 4), s.FindPassword("joe"));
        Assert.Equal("ok", s.FindPassword("ann"));
    }

    [Fact]
    public void CheckTriesTheUserThenTheAdmittingGroup()
    {
        SecretsFile s = SecretsFile.Parse("@staff:team\njoe:mine\njoe:ignored\n");
        Assert.Null(s.Check("joe", null, pw => pw == "mine"));
        Assert.Equal("password mismatch", s.Check("joe", null, pw => pw == "ignored"));
        Assert.Equal("password mismatch", s.Check("joe", null, pw => pw == "team"));
        Assert.Null(s.Check("joe", "staff", pw => pw == "team"));
        Assert.Null(s.Check("newbie", "staff", pw => pw == "team"));
        Assert.Equal("secret not found", s.Check("newbie", null, _ => true));
        Assert.Equal("secret not found", s.Check("newbie", "other", _ => true));
        Assert.Equal("password mismatch", s.Check("newbie", "staff", pw => pw == "nope"));
    }

    [Fact]
    public void CommentLooksLikeAUserButCannotLogIn()
    {
        SecretsFile s = SecretsFile.Parse("#joe:pw\n");
        Assert.Equal("invalid username", s.Check("#joe", null, _ => true));
        Assert.Equal("secret not found", s.Check("joe", null, _ => true));
    }

    [Fact]
    public void EndToEndWithTheConfig()
    {
        string secrets = Write("rsyncd.secrets", "rsync:s3cret\n@backup:shared\n", Rw);
        var config = NetRsync.Protocol.Daemon.Config.DaemonConfig.Parse(
            $"secrets file = {secrets}\nauth users = rsync, @backup:ro\n[m]\npath=/m\nread only = no\n", "t.conf");
        DaemonModule m = config.Modules[0];

        AuthDecision d = AuthUsers.Parse(m.AuthUsers).Evaluate("carl", ["backup"], m.ReadOnly);
        Assert.True(d.Allowed);
        Assert.True(d.ReadOnly);
        SecretsFileResult opened = SecretsFile.Open(m.SecretsFile, m.StrictModes, runningAsRoot: false);
        Assert.Null(opened.Error);
        Assert.Null(opened.File!.Check("carl", d.MatchedGroup, pw => pw == "shared"));
        Assert.Null(opened.File.Check("rsync", null, pw => pw == "s3cret"));
    }
}
