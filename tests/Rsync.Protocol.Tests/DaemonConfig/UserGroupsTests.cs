using System.Text;
using NetRsync.Protocol.Daemon.Config;
using Xunit;

namespace NetRsync.Protocol.Tests.DaemonConfiguration;

public sealed class UserGroupsTests
{
    /// <summary>A passwd and group database in memory; records what was asked.</summary>
    private sealed class FakeDatabase : IUserGroupDatabase
    {
        public Dictionary<string, uint> Names { get; } = [];

        public Dictionary<uint, (string Name, uint Primary)> Accounts { get; } = [];

        public Dictionary<string, uint[]> Lists { get; } = [];

        public Dictionary<uint, string> Groups { get; } = [];

        public List<string> Asked { get; } = [];

        public uint? UserId(string name)
        {
            Asked.Add($"getpwnam {name}");
            return Names.TryGetValue(name, out uint uid) ? uid : null;
        }

        public (byte[] Name, uint PrimaryGroup)? Account(uint uid)
        {
            Asked.Add($"getpwuid {uid}");
            return Accounts.TryGetValue(uid, out var a) ? (Encoding.UTF8.GetBytes(a.Name), a.Primary) : null;
        }

        public IReadOnlyList<uint>? GroupList(byte[] name, uint primaryGroup)
        {
            string user = Encoding.UTF8.GetString(name);
            Asked.Add($"getgrouplist {user} {primaryGroup}");
            return Lists.TryGetValue(user, out uint[]? gids) ? gids : null;
        }

        public string? GroupName(uint gid) => Groups.GetValueOrDefault(gid);
    }

    private static FakeDatabase Sample()
    {
        var db = new FakeDatabase();
        db.Names["alice"] = 1000;
        db.Accounts[1000] = ("alice", 100);
        db.Lists["alice"] = [100, 20, 30];
        db.Groups[100] = "users";
        db.Groups[20] = "backup";
        db.Groups[30] = "dev";
        return db;
    }

    [Fact]
    public void PrimaryGroupThenSupplementaryGroups()
    {
        Assert.Equal(["users", "backup", "dev"], UserGroups.Of("alice", Sample()));
    }

    [Fact]
    public void PrimaryGroupTradesPlacesWithTheFirst()
    {
        FakeDatabase db = Sample();
        db.Lists["alice"] = [20, 30, 100, 40];
        db.Groups[40] = "audio";
        // (uidlist.c, getallgroups): the primary group and the first swap, the rest keep their places.
        Assert.Equal(["users", "dev", "backup", "audio"], UserGroups.Of("alice", db));
    }

    [Fact]
    public void PrimaryGroupMissingFromTheListIsAddedFirst()
    {
        FakeDatabase db = Sample();
        db.Lists["alice"] = [20, 30];
        Assert.Equal(["users", "backup", "dev"], UserGroups.Of("alice", db));
    }

    [Fact]
    public void GroupWithoutANameIsLeftOut()
    {
        FakeDatabase db = Sample();
        db.Lists["alice"] = [100, 4242, 30];
        Assert.Equal(["users", "dev"], UserGroups.Of("alice", db));
    }

    [Fact]
    public void UnknownUserHasNoGroups()
    {
        FakeDatabase db = Sample();
        Assert.Empty(UserGroups.Of("mallory", db));
        Assert.Equal(["getpwnam mallory"], db.Asked);
    }

    [Fact]
    public void FailedGroupListGivesNoGroups()
    {
        FakeDatabase db = Sample();
        db.Lists.Remove("alice");
        Assert.Empty(UserGroups.Of("alice", db));
    }

    [Fact]
    public void SecondNameForAUidGetsTheGroupsOfItsFirstAccount()
    {
        // The name gives a uid, the uid gives the account whose groups count (uidlist.c, getallgroups).
        FakeDatabase db = Sample();
        db.Names["alias"] = 1000;
        db.Lists["alias"] = [999];
        Assert.Equal(["users", "backup", "dev"], UserGroups.Of("alias", db));
        Assert.Equal(["getpwnam alias", "getpwuid 1000", "getgrouplist alice 100"], db.Asked);
    }

    [Theory]
    [InlineData("")]
    [InlineData("alice\0x")]
    public void NameThatCannotBeAnAccountIsNotLookedUp(string user)
    {
        FakeDatabase db = Sample();
        Assert.Empty(UserGroups.Of(user, db));
        Assert.Empty(db.Asked);
    }

    [Theory]
    [InlineData("@backup", "alice", null, "backup")]
    [InlineData("@users:deny alice", "alice", "denied by rule", "users")]
    [InlineData("@dev:ro", "alice", null, "dev")]
    [InlineData("@staff", "alice", "no matching rule", null)]
    [InlineData("@users", "mallory", "no matching rule", null)]
    public void GroupRulesSeeTheDatabaseGroups(string rules, string user, string? error, string? group)
    {
        AuthDecision d = AuthUsers.Parse(rules).Evaluate(user, () => UserGroups.Of(user, Sample()), moduleReadOnly: false);
        Assert.Equal(error, d.Error);
        Assert.Equal(group, d.MatchedGroup);
    }

    [Fact]
    public void GroupSecretAuthenticatesAMember()
    {
        // "@group:password" lines (authenticate.c, check_secret): the group that admitted the user may vouch for them.
        SecretsFile secrets = SecretsFile.Parse("@backup:team\n");
        AuthDecision member = AuthUsers.Parse("@backup").Evaluate("alice", () => UserGroups.Of("alice", Sample()), false);
        Assert.Null(secrets.Check("alice", member.MatchedGroup, pw => pw == "team"));
        Assert.Equal("password mismatch", secrets.Check("alice", member.MatchedGroup, pw => pw == "other"));
    }

    [Fact]
    public void SystemDatabaseKnowsRoot()
    {
        // Every Linux system has root in group root (gid 0), its primary group.
        IReadOnlyList<string> groups = UserGroups.Of("root", UserGroups.System);
        Assert.NotEmpty(groups);
        Assert.Equal(NetRsync.Protocol.Native.Posix.NameOfGroupId(0), groups[0]);
    }

    [Fact]
    public void SystemDatabaseGivesAnUnknownUserNoGroups()
    {
        Assert.Empty(UserGroups.Of("no-such-user-" + Guid.NewGuid().ToString("N")[..12], UserGroups.System));
    }
}
