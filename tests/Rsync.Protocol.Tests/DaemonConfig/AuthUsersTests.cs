using NetRsync.Protocol.Daemon.Config;
using Xunit;

// Not named after the folder: a namespace called DaemonConfig would hide the DaemonConfig class from other tests.
namespace NetRsync.Protocol.Tests.DaemonConfiguration;

public sealed class AuthUsersTests
{
    private static readonly Dictionary<string, string[]> Groups = new()
    {
        ["joe"] = ["users", "guest"],
        ["admin"] = ["users", "wheel"],
        ["ann"] = ["users", "rsync"],
        ["bob"] = ["users"],
        ["sam"] = [],
    };

    private static string Outcome(AuthDecision d) => d.Error ?? (d.ReadOnly ? "ro" : "rw");

    // The example in rsyncd.conf(5): joe:deny @guest:deny admin:rw @rsync:ro susan joe sam
    [Theory]
    [InlineData("joe", true, "denied by rule")]
    [InlineData("admin", true, "rw")]
    [InlineData("ann", false, "ro")]
    [InlineData("susan", false, "rw")]       // no option: the module's read only
    [InlineData("susan", true, "ro")]
    [InlineData("sam", false, "rw")]
    [InlineData("bob", true, "no matching rule")]
    [InlineData("Joe", true, "no matching rule")]   // user names are case-sensitive
    public void DocumentedExample(string user, bool moduleReadOnly, string expected)
    {
        AuthUsers rules = AuthUsers.Parse("joe:deny @guest:deny admin:rw @rsync:ro susan joe sam");
        AuthDecision d = rules.Evaluate(user, Groups.GetValueOrDefault(user, []), moduleReadOnly);
        Assert.Equal(expected, Outcome(d));
        Assert.Equal(expected is "ro" or "rw", d.Allowed);
    }

    [Fact]
    public void GroupRuleBeforeUserRuleWins()
    {
        AuthUsers rules = AuthUsers.Parse("@guest:deny joe:rw");
        AuthDecision d = rules.Evaluate("joe", ["users", "guest"], moduleReadOnly: false);
        Assert.Equal("denied by rule", d.Error);
        Assert.Equal("guest", d.MatchedGroup);
        Assert.True(rules.Evaluate("joe", ["users"], moduleReadOnly: true) is { Allowed: true, ReadOnly: false });
    }

    [Fact]
    public void MatchedGroupIsTheUsersFirstMatchingGroup()
    {
        AuthUsers rules = AuthUsers.Parse("@dev*:ro");
        AuthDecision d = rules.Evaluate("ann", ["users", "devops", "developers"], moduleReadOnly: false);
        Assert.True(d.Allowed);
        Assert.True(d.ReadOnly);
        Assert.Equal("devops", d.MatchedGroup);
        Assert.Equal(new AuthRule("dev*", IsGroup: true, AuthRuleAccess.ReadOnly), d.Rule);
    }

    [Theory]
    [InlineData("a,b c\td", new[] { "a", "b", "c", "d" })]
    [InlineData("  a , , b,,c  ", new[] { "a", "b", "c" })]
    [InlineData(", joe:deny, @Some Group:deny, admin:rw , @RO Group:ro", new[] { "joe:deny", "@Some Group:deny", "admin:rw", "@RO Group:ro" })]
    [InlineData("  ,a b,,c", new[] { "a b", "c" })]
    public void ListsSplitOnCommasAndBlanksOrCommasOnly(string value, string[] expected)
    {
        Assert.Equal(expected, AuthUsers.Parse(value).Rules.Select(r => r.ToString()));
    }

    [Fact]
    public void LeadingCommaLetsGroupNamesHoldSpaces()
    {
        // rsync 3.5.0 (CVE-2026-70463): the rule names the whole group "Some Group".
        AuthUsers rules = AuthUsers.Parse(", joe:deny, @Some Group:deny, admin:rw");
        Assert.Equal("denied by rule", rules.Evaluate("admin", ["Some Group"], false).Error);
        Assert.Equal("rw", Outcome(rules.Evaluate("admin", ["Some"], true)));
    }

    [Theory]
    [InlineData("u:ro", AuthRuleAccess.ReadOnly)]
    [InlineData("u:RO", AuthRuleAccess.ReadOnly)]
    [InlineData("u:rw", AuthRuleAccess.ReadWrite)]
    [InlineData("u:Rw", AuthRuleAccess.ReadWrite)]
    [InlineData("u:deny", AuthRuleAccess.Deny)]
    [InlineData("u:D", AuthRuleAccess.Deny)]
    [InlineData("u:dontcare", AuthRuleAccess.Deny)]     // only the first letter is looked at
    [InlineData("u:rox", AuthRuleAccess.ReadOnly)]
    [InlineData("u:r", AuthRuleAccess.Default)]
    [InlineData("u:rx", AuthRuleAccess.Default)]
    [InlineData("u:yes", AuthRuleAccess.Default)]
    [InlineData("u:", AuthRuleAccess.Default)]
    [InlineData("u", AuthRuleAccess.Default)]
    [InlineData("u:ro:deny", AuthRuleAccess.ReadOnly)]  // split at the first colon
    public void Options(string token, AuthRuleAccess expected)
    {
        AuthRule rule = Assert.Single(AuthUsers.Parse(token).Rules);
        Assert.Equal("u", rule.Pattern);
        Assert.False(rule.IsGroup);
        Assert.Equal(expected, rule.Access);
    }

    [Theory]
    [InlineData("*", "anyone", true)]
    [InlineData("back*", "backup", true)]
    [InlineData("back*", "Backup", false)]
    [InlineData("user?", "user1", true)]
    [InlineData("user?", "user10", false)]
    [InlineData("[ab]ob", "bob", true)]
    [InlineData("[ab]ob", "rob", false)]
    public void UserPatternsAreWildcards(string pattern, string user, bool allowed)
    {
        Assert.Equal(allowed, AuthUsers.Parse(pattern).Evaluate(user, [], true).Allowed);
    }

    [Fact]
    public void GroupsAreOnlyLookedUpWhenAGroupRuleIsReached()
    {
        int lookups = 0;
        IReadOnlyList<string> Lookup()
        {
            lookups++;
            return ["staff"];
        }

        AuthUsers rules = AuthUsers.Parse("alice bob @staff:ro @other");
        Assert.True(rules.Evaluate("alice", Lookup, false).Allowed);
        Assert.Equal(0, lookups);
        Assert.True(rules.Evaluate("carol", Lookup, false) is { Allowed: true, ReadOnly: true, MatchedGroup: "staff" });
        Assert.Equal(1, lookups);
    }

    [Fact]
    public void NonLocalUserHasNoGroups()
    {
        AuthUsers rules = AuthUsers.Parse("@users");
        Assert.Equal("no matching rule", rules.Evaluate("remote-only", [], false).Error);
    }

    [Fact]
    public void AnonymousOnlyWhenUnsetOrEmpty()
    {
        Assert.True(AuthUsers.Parse(null).IsAnonymous);
        Assert.True(AuthUsers.Parse("").IsAnonymous);
        AuthUsers commaOnly = AuthUsers.Parse(",");
        Assert.False(commaOnly.IsAnonymous);
        Assert.Empty(commaOnly.Rules);
        Assert.Equal("no matching rule", commaOnly.Evaluate("x", [], true).Error);
    }

    [Fact]
    public void FromAModule()
    {
        var config = NetRsync.Protocol.Daemon.Config.DaemonConfig.Parse(
            "auth users = admin:rw, guest:ro\n[m]\npath=/m\n[n]\npath=/n\nauth users =\n", "t.conf");
        DaemonModule m = config.FindModule("m")!;
        AuthUsers rules = AuthUsers.Parse(m.AuthUsers);
        Assert.Equal("rw", Outcome(rules.Evaluate("admin", [], m.ReadOnly)));
        Assert.Equal("ro", Outcome(rules.Evaluate("guest", [], m.ReadOnly)));
        Assert.True(AuthUsers.Parse(config.FindModule("n")!.AuthUsers).IsAnonymous);
    }
}
