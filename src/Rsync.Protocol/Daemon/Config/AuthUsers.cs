using System.Text;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.Daemon.Config;

/// <summary>What an "auth users" rule says after its colon.</summary>
public enum AuthRuleAccess
{
    /// <summary>No option (or one rsync does not know): the module's "read only" applies.</summary>
    Default,

    /// <summary>":ro"</summary>
    ReadOnly,

    /// <summary>":rw"</summary>
    ReadWrite,

    /// <summary>":deny" (any option starting with d)</summary>
    Deny,
}

/// <summary>One "auth users" rule: a user name pattern, or "@group" pattern, and its access option.</summary>
/// <param name="Pattern">The wildcard pattern, without the '@' of a group rule.</param>
/// <param name="IsGroup">Whether the rule was written "@group".</param>
/// <param name="Access">Its option.</param>
public sealed record AuthRule(string Pattern, bool IsGroup, AuthRuleAccess Access)
{
    public override string ToString()
    {
        string suffix = Access switch
        {
            AuthRuleAccess.ReadOnly => ":ro",
            AuthRuleAccess.ReadWrite => ":rw",
            AuthRuleAccess.Deny => ":deny",
            _ => "",
        };
        return (IsGroup ? "@" : "") + Pattern + suffix;
    }
}

/// <summary>What "auth users" decides for one user, before the password is checked.</summary>
/// <param name="Rule">The first rule that matched, or null.</param>
/// <param name="MatchedGroup">For a group rule, the user's group that matched it: its "@group" secret may authenticate the user too.</param>
/// <param name="ReadOnly">Whether the module is read-only for this user.</param>
/// <param name="Error">null when the user may go on to the password check; else rsync's reason: "no matching rule" or "denied by rule".</param>
public sealed record AuthDecision(AuthRule? Rule, string? MatchedGroup, bool ReadOnly, string? Error)
{
    /// <summary>Whether the user may go on to the password check.</summary>
    public bool Allowed => Error is null;
}

/// <summary>
/// The "auth users" list (authenticate.c, auth_server): comma- and/or blank-separated rules, or comma-only
/// when the list starts with a comma (so names may hold spaces); each a user name pattern or "@group"
/// pattern, optionally followed by ":ro", ":rw" or ":deny". The first rule matching the user (or one of
/// the user's groups) decides; no match refuses. An empty list means anonymous access.
/// </summary>
public sealed class AuthUsers
{
    private AuthUsers(IReadOnlyList<AuthRule> rules, bool anonymous)
    {
        Rules = rules;
        IsAnonymous = anonymous;
    }

    public IReadOnlyList<AuthRule> Rules { get; }

    /// <summary>
    /// Whether the module needs no login: the value is unset or empty. A value with no rules in it
    /// (say ",") still asks for a login, which then fails for want of a matching rule.
    /// </summary>
    public bool IsAnonymous { get; }

    /// <summary>Parses the parameter's value; null or empty gives an anonymous module.</summary>
    public static AuthUsers Parse(string? value)
    {
        if (string.IsNullOrEmpty(value))
            return new AuthUsers([], anonymous: true);
        var rules = new List<AuthRule>();
        foreach (string token in ConfigTokens.Split(value))
        {
            string pattern = token;
            var access = AuthRuleAccess.Default;
            int colon = token.IndexOf(':');
            if (colon >= 0)
            {
                pattern = token[..colon];
                access = ParseOption(token[(colon + 1)..]);
            }
            bool group = pattern.StartsWith('@');
            rules.Add(new AuthRule(group ? pattern[1..] : pattern, group, access));
        }
        return new AuthUsers(rules, anonymous: false);
    }

    // Only the first letters count: "d..." denies, "ro..." and "rw..." set the mode, anything else is ignored.
    private static AuthRuleAccess ParseOption(string option)
    {
        char first = option.Length > 0 ? char.ToLowerInvariant(option[0]) : '\0';
        if (first == 'd')
            return AuthRuleAccess.Deny;
        if (first != 'r' || option.Length < 2)
            return AuthRuleAccess.Default;
        return char.ToLowerInvariant(option[1]) switch
        {
            'o' => AuthRuleAccess.ReadOnly,
            'w' => AuthRuleAccess.ReadWrite,
            _ => AuthRuleAccess.Default,
        };
    }

    /// <summary>Decides for a user whose groups are known.</summary>
    /// <param name="user">The name the client sent.</param>
    /// <param name="groups">The user's groups, in the system's order; empty when the user is not a local account.</param>
    /// <param name="moduleReadOnly">The module's "read only".</param>
    public AuthDecision Evaluate(string user, IEnumerable<string> groups, bool moduleReadOnly) =>
        Evaluate(user, () => [.. groups], moduleReadOnly);

    /// <summary>Decides for a user; <paramref name="groups"/> is asked for only when a group rule is reached, as rsync looks them up.</summary>
    public AuthDecision Evaluate(string user, Func<IReadOnlyList<string>> groups, bool moduleReadOnly)
    {
        IReadOnlyList<string>? userGroups = null;
        byte[] userBytes = Encoding.UTF8.GetBytes(user);
        foreach (AuthRule rule in Rules)
        {
            string? matchedGroup = null;
            if (!rule.IsGroup)
            {
                if (!WildMatch.Match(Encoding.UTF8.GetBytes(rule.Pattern), userBytes))
                    continue;
            }
            else
            {
                userGroups ??= groups();
                byte[] pattern = Encoding.UTF8.GetBytes(rule.Pattern);
                matchedGroup = userGroups.FirstOrDefault(g => WildMatch.Match(pattern, Encoding.UTF8.GetBytes(g)));
                if (matchedGroup is null)
                    continue;
            }

            return rule.Access switch
            {
                AuthRuleAccess.Deny => new AuthDecision(rule, matchedGroup, moduleReadOnly, "denied by rule"),
                AuthRuleAccess.ReadOnly => new AuthDecision(rule, matchedGroup, true, null),
                AuthRuleAccess.ReadWrite => new AuthDecision(rule, matchedGroup, false, null),
                _ => new AuthDecision(rule, matchedGroup, moduleReadOnly, null),
            };
        }
        return new AuthDecision(null, null, moduleReadOnly, "no matching rule");
    }
}

/// <summary>The system's user and group database, as far as "@group" rules read it.</summary>
public interface IUserGroupDatabase
{
    /// <summary>getpwnam: the uid of the account with this name, or null.</summary>
    uint? UserId(string name);

    /// <summary>getpwuid: the login name and primary group of the account with this uid, or null.</summary>
    (byte[] Name, uint PrimaryGroup)? Account(uint uid);

    /// <summary>getgrouplist: every group of the named account, or null when the lookup fails.</summary>
    IReadOnlyList<uint>? GroupList(byte[] name, uint primaryGroup);

    /// <summary>getgrgid: a group's name, or null when the gid has none.</summary>
    string? GroupName(uint gid);
}

/// <summary>The groups "auth users" matches "@group" rules against.</summary>
public static class UserGroups
{
    /// <summary>The groups of the C library's passwd and group databases.</summary>
    public static IUserGroupDatabase System { get; } = new PosixDatabase();

    /// <summary>
    /// The names of a user's groups, primary group first (authenticate.c, auth_server; uidlist.c,
    /// user_to_uid and getallgroups): the name is looked up, then its uid (so a second name for a uid gets
    /// the groups of the uid's first account), then that account's group list. A gid without a name is
    /// left out; a name that is not a local account, or whose lookups fail, has no groups.
    /// </summary>
    public static IReadOnlyList<string> Of(string user, IUserGroupDatabase database)
    {
        if (user.Length == 0 || user.Contains('\0'))
            return [];
        if (database.UserId(user) is not uint uid || database.Account(uid) is not var (name, primary))
            return [];
        IReadOnlyList<uint>? gids = database.GroupList(name, primary);
        if (gids is null || gids.Count == 0)
            return [];

        // The primary group goes first, trading places with whatever was there (uidlist.c, getallgroups).
        uint[] ordered = [.. gids];
        if (ordered[0] != primary)
        {
            int at = Array.IndexOf(ordered, primary, 1);
            if (at < 0)
                ordered = [primary, .. ordered];
            else
                (ordered[0], ordered[at]) = (primary, ordered[0]);
        }

        var names = new List<string>(ordered.Length);
        foreach (uint gid in ordered)
        {
            if (database.GroupName(gid) is string groupName)
                names.Add(groupName);
        }
        return names;
    }

    private sealed class PosixDatabase : IUserGroupDatabase
    {
        public uint? UserId(string name) => Posix.UserIdOfName(name);

        public (byte[] Name, uint PrimaryGroup)? Account(uint uid) => Posix.AccountOfUserId(uid);

        public IReadOnlyList<uint>? GroupList(byte[] name, uint primaryGroup) => Posix.GroupListOf(name, primaryGroup);

        public string? GroupName(uint gid) => Posix.NameOfGroupId(gid);
    }
}
