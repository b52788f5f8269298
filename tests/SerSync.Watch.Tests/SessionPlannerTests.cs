using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Options;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Sync;
using System.Text;
using Xunit;

namespace NetRsync.SerSync.Tests;

public sealed class SessionPlannerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("netsersync-plan-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Touch(string rel)
    {
        string full = Path.Combine(_root, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, rel);
    }

    [Fact]
    public void ExistingPathsAreListedAndMissingOnesRemoved()
    {
        Touch("keep/a.txt");
        Touch("new/deep/b.txt");
        var planner = new SessionPlanner(_root, PathFilter.None, []);
        var sessions = planner.Plan(N.Paths(
            ("keep/a.txt", ChangeFlags.Update),
            ("new", ChangeFlags.Update),
            ("new/deep/b.txt", ChangeFlags.Update),
            ("gone", ChangeFlags.MayRemove),
            ("gone/inner.txt", ChangeFlags.MayRemove),
            ("vanished.txt", ChangeFlags.Update)));

        var update = Assert.Single(sessions, s => s.Purpose == "update");
        Assert.Equal(["keep/a.txt", "new", "new/deep/b.txt"], N.S(update.FilesFrom));
        Assert.Equal(["--force"], update.ExtraArgs);
        var remove = Assert.Single(sessions, s => s.Purpose == "remove");
        Assert.Equal(["-r", "--delete", "--include=/gone", "--include=/gone/**", "--exclude=*"], remove.ExtraArgs);
    }

    [Fact]
    public void DeleteSwitchOffKeepsMissingPathsRemotely()
    {
        var sessions = new SessionPlanner(_root, PathFilter.None, []).Plan(N.Paths(("gone", ChangeFlags.Update)));
        Assert.Empty(sessions);
    }

    [Fact]
    public void RemovalIncludesParentDirectoriesOnce()
    {
        var args = SessionPlanner.RemovalArgs([N.B("a/b/c"), N.B("a/b/d"), N.B("a/x")]);
        Assert.Equal(["-r", "--delete", "--include=/a/", "--include=/a/b/", "--include=/a/b/c", "--include=/a/b/c/**",
            "--include=/a/b/d", "--include=/a/b/d/**", "--include=/a/x", "--include=/a/x/**", "--exclude=*"], args);
        // rsync's own parser takes them as they are.
        var options = OptionParser.Parse([.. args, "src/", "rsync://h/m/"], "netsersync");
        Assert.True(options.Recursive);
    }

    [Fact]
    public void RescanWalksTheTreeThroughTheFilter()
    {
        Touch("a/one.txt");
        Touch("a/skip.php");
        Touch("data/x.txt");
        Touch("b/c/two.txt");
        var planner = new SessionPlanner(_root, new PathFilter([@"(.*)\.php", "^data/*"]), []);
        var update = Assert.Single(planner.Plan(N.Paths(("", ChangeFlags.Rescan))));
        Assert.Equal(["a", "a/one.txt", "b", "b/c", "b/c/two.txt"], N.S(update.FilesFrom));
    }

    [Fact]
    public void MirrorProtectsExcludedNamesAndLimitsToTheDirectory()
    {
        Touch("d/e/skip.php");
        Touch("d/e/keep.txt");
        var planner = new SessionPlanner(_root, new PathFilter([@"(.*)\.php"]), []);
        var sessions = planner.Plan(N.Paths(("d/e", ChangeFlags.Mirror)));
        Assert.Equal(["d/e", "d/e/keep.txt"], N.S(Assert.Single(sessions, s => s.Purpose == "update").FilesFrom));
        var mirror = Assert.Single(sessions, s => s.Purpose == "mirror");
        Assert.Equal(["-r", "--delete", "--existing", "--ignore-existing", "--exclude=/d/e/skip.php", "--include=/d/", "--include=/d/e/***", "--exclude=*"], mirror.ExtraArgs);
        Assert.Null(mirror.FilesFrom);
    }

    [Fact]
    public void CrontabPushesEverythingWithItsOwnExcludes()
    {
        Touch("a/one.txt");
        Touch("info/x.txt");
        var planner = new SessionPlanner(_root, PathFilter.None, ["*.php", "info/*"]);
        var crontab = Assert.Single(planner.Plan(N.Paths(("", ChangeFlags.Crontab))));
        Assert.Equal("crontab", crontab.Purpose);
        Assert.Equal(["--force", "--exclude=*.php", "--exclude=info/*"], crontab.ExtraArgs);
        Assert.Equal(["a", "a/one.txt", "info", "info/x.txt"], N.S(crontab.FilesFrom));
    }

    [Fact]
    public void CrontabWithDeletionsAlsoMirrorsWithItsExcludes()
    {
        Touch("a/one.txt");
        var planner = new SessionPlanner(_root, PathFilter.None, ["*.php"]);
        var sessions = planner.Plan(N.Paths(("", ChangeFlags.Crontab | ChangeFlags.Rescan | ChangeFlags.Mirror)));
        Assert.Equal(["a", "a/one.txt"], N.S(Assert.Single(sessions, s => s.Purpose == "crontab").FilesFrom));
        Assert.Equal(["-r", "--delete", "--existing", "--ignore-existing", "--exclude=*.php"], Assert.Single(sessions, s => s.Purpose == "mirror").ExtraArgs);
        Assert.DoesNotContain(sessions, s => s.Purpose == "update");
    }

    private static Arbitrary<string[]> RelativePaths() =>
        Gen.Choose(1, 4).SelectMany(n => Gen.Elements("a", "b", "c").ArrayOf(n)).Select(parts => string.Join("/", parts)).ArrayOf().ToArbitrary();

    [Property]
    public Property OutermostKeepsExactlyThePathsWithNoListedAncestor() =>
        Prop.ForAll(RelativePaths(), paths =>
        {
            var kept = N.S(SessionPlanner.Outermost(paths.Select(N.B)));
            bool Under(string p, string d) => p.StartsWith(d + "/", StringComparison.Ordinal);
            return kept.All(k => !kept.Any(o => Under(k, o)))
                && paths.All(p => kept.Contains(p) || kept.Any(k => Under(p, k)))
                && kept.All(paths.Contains);
        });

    [Property]
    public bool EscapedNamesMatchThemselvesOnly(FsCheck.NonEmptyString raw, FsCheck.NonEmptyString other)
    {
        string name = raw.Get.Replace('/', '_').Replace('\0', '_');
        string different = other.Get.Replace('/', '_').Replace('\0', '_');
        byte[] pattern = SessionPlanner.EscapeWildcards(Encoding.UTF8.GetBytes(name));
        return WildMatch.Match(pattern, Encoding.UTF8.GetBytes(name))
            && (different == name || !WildMatch.Match(pattern, Encoding.UTF8.GetBytes(different)));
    }

    [Theory]
    [InlineData("plain.txt", "plain.txt")]
    [InlineData("back\\slash", "back\\slash")]
    [InlineData("star*.txt", "star\\*.txt")]
    [InlineData("q?[x]\\", "q\\?\\[x]\\\\")]
    public void PatternsEscapeOnlyWhenTheyMust(string name, string expected) =>
        Assert.Equal(expected, N.S(SessionPlanner.EscapePattern(N.B(name))));
}
