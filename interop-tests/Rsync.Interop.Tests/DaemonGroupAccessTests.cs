using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;
using static NetRsync.Interop.Tests.DaemonTestKit;

namespace NetRsync.Interop.Tests;

/// <summary>"@group" in <c>auth users</c> and "@netgroup" in <c>hosts allow</c>/<c>hosts deny</c>, with
/// real system groups, users and netgroups: stock clients against netrsyncd, and against a stock daemon
/// serving the same modules as the reference. The tests run as root; they add a group, users, an
/// /etc/netgroup and a "netgroup: files" line in /etc/nsswitch.conf, and take all of them away again,
/// holding a lock file that every process of the suite shares so no two tests change them at once.</summary>
[Collection(SystemDatabaseLock.Collection)]
public sealed partial class DaemonGroupAccessTests(ITestOutputHelper output)
{
    private Task<ProcessResult> Run(string peer, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null) =>
        RunStock(output, peer, args, env);

    private static Dictionary<string, string?> Password(string password) => new() { ["RSYNC_PASSWORD"] = password };

    // ---------------------------------------------------------------- @group in auth users

    /// <summary><c>auth users = @G</c> admits a member of G, whether G is the user's primary group or a
    /// supplementary one, with the <c>@G:password</c> line of the secrets file; it refuses a user outside
    /// G even with a password of their own, and a member with a wrong password.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task GroupRule_AdmitsMembersOnly(string peer)
    {
        RsyncPeers.Resolve(peer);
        using SystemDatabaseLock held = await SystemDatabaseLock.AcquireAsync();
        await using TestAccounts accounts = await TestAccounts.CreateAsync(output);
        string g = accounts.Group;
        await using Daemons d = await Daemons.StartAsync(t =>
        [
            new DaemonModule("team", t.Sub("team"))
            {
                ReadOnly = true,
                AuthUsers = $"@{g}",
                Secrets = [($"@{g}", "teampw"), (accounts.Outsider, "ownpw")],
                ExtraLines = ["strict modes = yes"],
            },
        ]);
        d.Fill("team");

        await d.ExpectPull(this, peer, "team", accounts.Supplementary, "teampw", 0);
        await d.ExpectPull(this, peer, "team", accounts.Primary, "teampw", 0);
        await d.ExpectPull(this, peer, "team", accounts.Outsider, "ownpw", 5, $"for {accounts.Outsider}: no matching rule");
        await d.ExpectPull(this, peer, "team", accounts.Outsider, "teampw", 5, $"for {accounts.Outsider}: no matching rule");
        await d.ExpectPull(this, peer, "team", accounts.Supplementary, "wrong", 5, $"for {accounts.Supplementary}: password mismatch");
        string stranger = "no-such-user-" + accounts.Suffix;
        await d.ExpectPull(this, peer, "team", stranger, "teampw", 5, $"for {stranger}: no matching rule");
    }

    /// <summary><c>auth users = @G:deny, *</c> refuses every member of G though each has a good password
    /// of their own, and admits anyone else the secrets file knows.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task GroupDenyRule_RefusesMembers(string peer)
    {
        RsyncPeers.Resolve(peer);
        using SystemDatabaseLock held = await SystemDatabaseLock.AcquireAsync();
        await using TestAccounts accounts = await TestAccounts.CreateAsync(output);
        await using Daemons d = await Daemons.StartAsync(t =>
        [
            new DaemonModule("guarded", t.Sub("guarded"))
            {
                ReadOnly = true,
                AuthUsers = $"@{accounts.Group}:deny, *",
                Secrets = [(accounts.Supplementary, "pw1"), (accounts.Primary, "pw2"), (accounts.Outsider, "pw3")],
                ExtraLines = ["strict modes = yes"],
            },
        ]);
        d.Fill("guarded");

        await d.ExpectPull(this, peer, "guarded", accounts.Supplementary, "pw1", 5, $"for {accounts.Supplementary}: denied by rule");
        await d.ExpectPull(this, peer, "guarded", accounts.Primary, "pw2", 5, $"for {accounts.Primary}: denied by rule");
        await d.ExpectPull(this, peer, "guarded", accounts.Outsider, "pw3", 0);
    }

    /// <summary><c>auth users = @G:ro, *:rw</c> on a writable module: a member of G may not push, anyone
    /// else may.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task GroupReadOnlyRule_RefusesAPushByAMember(string peer)
    {
        RsyncPeers.Resolve(peer);
        using SystemDatabaseLock held = await SystemDatabaseLock.AcquireAsync();
        await using TestAccounts accounts = await TestAccounts.CreateAsync(output);
        await using Daemons d = await Daemons.StartAsync(t =>
        [
            new DaemonModule("drop", t.Sub("drop"))
            {
                AuthUsers = $"@{accounts.Group}:ro, *:rw",
                Secrets = [(accounts.Supplementary, "pw1"), (accounts.Outsider, "pw3")],
                ExtraLines = ["strict modes = yes"],
            },
        ]);
        string source = d.Temp.Sub("source");
        SmallTree(source);

        foreach ((string server, string url) in d.Urls("drop", accounts.Supplementary))
        {
            ProcessResult r = await Run(peer, ["-a", source + "/", url], Password("pw1"));
            Assert.True(r.ExitCode != 0 && r.Stderr.Contains("read only", StringComparison.Ordinal),
                $"{server}: a member of the read-only group must not push\n{r}\n{await d.DiagnosticsAsync()}");
        }
        AssertEmpty(d.OursPath("drop"));
        AssertEmpty(d.StockPath("drop"));
        foreach ((string server, string url) in d.Urls("drop", accounts.Outsider))
        {
            ProcessResult r = await Run(peer, ["-a", source + "/", url], Password("pw3"));
            Assert.True(r.ExitCode == 0, $"{server}: a user outside the group may push\n{r}\n{await d.DiagnosticsAsync()}");
        }
        Assert.True(File.Exists(Path.Combine(d.OursPath("drop"), "keep.txt")), "netrsyncd must have stored the outsider's push");
    }

    // ---------------------------------------------------------------- @netgroup in hosts allow / deny

    /// <summary>A netgroup that lists localhost: <c>hosts deny = @it</c> refuses the client (whose name,
    /// with reverse lookup on, is localhost) and <c>hosts allow = @it</c> admits it; a netgroup that does
    /// not list it does the opposite. Only the name is asked: a netgroup that lists 127.0.0.1 but not
    /// localhost does not match, nor does any netgroup when the module does not look the name up.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task NetgroupItems_MatchTheClientsHostName(string peer)
    {
        RsyncPeers.Resolve(peer);
        using SystemDatabaseLock held = await SystemDatabaseLock.AcquireAsync();
        string suffix = TestAccounts.NewSuffix();
        string bad = "nrbad" + suffix, other = "nrother" + suffix, byAddress = "nraddr" + suffix;
        await using NetgroupFiles files = NetgroupFiles.Install(
            $"{bad} (localhost,,) (elsewhere.invalid,,)\n{other} (elsewhere.invalid,,)\n{byAddress} (127.0.0.1,,)\n");

        ProcessResult getent = await ProcessRunner.RunAsync("getent", ["netgroup", bad]);
        output.WriteLine(getent.ToString());
        Assert.True(getent.ExitCode == 0 && getent.Stdout.Contains("localhost", StringComparison.Ordinal),
            $"glibc does not read the netgroup written to /etc/netgroup (with \"netgroup: files\" in /etc/nsswitch.conf)\n{getent}");

        (string Module, string Line, bool ReverseLookup, int Exit)[] cases =
        [
            ("deny-listed", $"hosts deny = @{bad}", true, 5),
            ("deny-unlisted", $"hosts deny = @{other}", true, 0),
            ("deny-by-address", $"hosts deny = @{byAddress}", true, 0),
            ("deny-unnamed", $"hosts deny = @{bad}", false, 0),
            ("allow-listed", $"hosts allow = @{bad}", true, 0),
            ("allow-unlisted", $"hosts allow = @{other}", true, 5),
            ("allow-uppercase", $"hosts allow = @{bad.ToUpperInvariant()}", true, 0),
        ];
        await using Daemons d = await Daemons.StartAsync(t => cases.Select(c => new DaemonModule(c.Module, t.Sub(c.Module))
        {
            ReadOnly = true,
            ExtraLines = [$"reverse lookup = {(c.ReverseLookup ? "yes" : "no")}", "forward lookup = no", c.Line],
        }));
        foreach (var c in cases)
        {
            d.Fill(c.Module);
        }

        foreach (var c in cases)
        {
            await d.ExpectPull(this, peer, c.Module, user: null, password: null, c.Exit, c.Exit == 0 ? null : "rsync denied on module");
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>netrsyncd and a stock daemon (Debian's rsync) serving the same modules from the same directories.</summary>
    private sealed class Daemons : IAsyncDisposable
    {
        private Daemons(TempDir temp, NetRsyncDaemon ours, StockDaemon stock, TempDir stockTemp)
        {
            Temp = temp;
            Ours = ours;
            Stock = stock;
            StockTemp = stockTemp;
        }

        public TempDir Temp { get; }

        private TempDir StockTemp { get; }

        public NetRsyncDaemon Ours { get; }

        public StockDaemon Stock { get; }

        private int _pulls;

        public static async Task<Daemons> StartAsync(Func<TempDir, IEnumerable<DaemonModule>> modules)
        {
            var temp = new TempDir();
            var stockTemp = new TempDir();
            NetRsyncDaemon? ours = null;
            try
            {
                ours = await NetRsyncDaemon.StartAsync(modules(temp));
                StockDaemon stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, modules(stockTemp));
                return new Daemons(temp, ours, stock, stockTemp);
            }
            catch
            {
                if (ours is not null)
                    await ours.DisposeAsync();
                temp.Dispose();
                stockTemp.Dispose();
                throw;
            }
        }

        public string OursPath(string module) => Temp.Sub(module);

        /// <summary>Puts the small tree into the module's directory on both daemons.</summary>
        public void Fill(string module)
        {
            SmallTree(OursPath(module));
            SmallTree(StockPath(module));
        }

        public string StockPath(string module) => StockTemp.Sub(module);

        public (string Server, string Url)[] Urls(string module, string? user) =>
            [("netrsyncd", Ours.Url(module, user)), ("stock daemon", Stock.Url(module, user))];

        public async Task<string> DiagnosticsAsync() =>
            $"{await Ours.DiagnosticsWhenIdleAsync()}\n--- stock daemon log ---\n{Stock.DaemonLog}";

        /// <summary>Pulls the module from both daemons into fresh directories: each must exit with
        /// <paramref name="exit"/>, deliver the tree when it is 0 and nothing otherwise; both daemons' logs
        /// must then hold <paramref name="logged"/>.</summary>
        public async Task ExpectPull(DaemonGroupAccessTests test, string peer, string module, string? user, string? password, int exit, string? logged = null)
        {
            int logStart = Ours.DaemonLogLength;
            int stockLogStart = Stock.DaemonLogLength;
            string who = $"{user ?? "(anonymous)"} with password {password ?? "(none)"} on module {module}";
            foreach ((string server, string url) in Urls(module, user))
            {
                string destination = Temp.Sub($"pulled-{++_pulls}");
                ProcessResult r = await test.Run(peer, ["-a", url, destination + "/"], password is null ? null : Password(password));
                if (r.ExitCode != exit)
                    Assert.Fail($"{server}: {who}: expected exit code {exit}, got {r.ExitCode}\n{r}\n{await DiagnosticsAsync()}");
                if (exit == 0)
                    Assert.True(File.Exists(Path.Combine(destination, "keep.txt")), $"{server}: {who}: the pull delivered nothing\n{r}");
                else
                    AssertEmpty(destination);
            }
            if (logged is not null)
            {
                string log = Ours.DaemonLog[logStart..];
                Assert.True(log.Contains(logged, StringComparison.Ordinal), $"netrsyncd's log should say \"{logged}\" for {who}\n{await DiagnosticsAsync()}");
                await Stock.WaitForIdleAsync();
                string stockLog = Stock.DaemonLog[stockLogStart..];
                Assert.True(stockLog.Contains(logged, StringComparison.Ordinal), $"the stock daemon's log should say \"{logged}\" for {who}\n{stockLog}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Stock.DisposeAsync();
                await Ours.DisposeAsync();
            }
            finally
            {
                Temp.Dispose();
                StockTemp.Dispose();
            }
        }
    }

    /// <summary>A fresh system group G and three users: one with G as a supplementary group, one with G as
    /// its primary group, one outside G. All are removed on disposal.</summary>
    private sealed class TestAccounts : IAsyncDisposable
    {
        private readonly ITestOutputHelper _output;
        private readonly List<string> _users = [];
        private bool _groupCreated;

        private TestAccounts(ITestOutputHelper output, string suffix)
        {
            _output = output;
            Suffix = suffix;
            Group = "nrgrp" + suffix;
            Supplementary = "nrsup" + suffix;
            Primary = "nrpri" + suffix;
            Outsider = "nrout" + suffix;
        }

        public string Suffix { get; }

        public string Group { get; }

        public string Supplementary { get; }

        public string Primary { get; }

        public string Outsider { get; }

        public static string NewSuffix() => Guid.NewGuid().ToString("N")[..8];

        public static async Task<TestAccounts> CreateAsync(ITestOutputHelper output)
        {
            var accounts = new TestAccounts(output, NewSuffix());
            try
            {
                await accounts.MustRun("groupadd", [accounts.Group]);
                accounts._groupCreated = true;
                await accounts.AddUser(accounts.Supplementary, ["-G", accounts.Group]);
                await accounts.AddUser(accounts.Primary, ["-g", accounts.Group]);
                await accounts.AddUser(accounts.Outsider, []);
                return accounts;
            }
            catch
            {
                await accounts.DisposeAsync();
                throw;
            }
        }

        private async Task AddUser(string name, string[] groupArgs)
        {
            // No home directory, no group of its own.
            await MustRun("useradd", ["-M", "-N", .. groupArgs, name]);
            _users.Add(name);
        }

        private async Task MustRun(string command, string[] args)
        {
            ProcessResult r = await ProcessRunner.RunAsync(command, args);
            _output.WriteLine(r.ToString());
            Assert.True(r.ExitCode == 0, $"{command} failed (the tests must run as root)\n{r}");
        }

        public async ValueTask DisposeAsync()
        {
            var failures = new List<string>();
            foreach (string user in _users)
            {
                ProcessResult r = await ProcessRunner.RunAsync("userdel", [user]);
                if (r.ExitCode != 0)
                    failures.Add(r.ToString());
            }
            if (_groupCreated)
            {
                ProcessResult r = await ProcessRunner.RunAsync("groupdel", [Group]);
                if (r.ExitCode != 0)
                    failures.Add(r.ToString());
            }
            Assert.True(failures.Count == 0, $"removing the test accounts failed:\n{string.Join("\n", failures)}");
        }
    }

    /// <summary>/etc/netgroup with the given text and "netgroup: files" in /etc/nsswitch.conf (glibc reads
    /// /etc/netgroup only then); both are put back as they were on disposal. Files are replaced by rename,
    /// so a process reading them never sees half of one.</summary>
    private sealed partial class NetgroupFiles : IAsyncDisposable
    {
        private const string NsswitchPath = "/etc/nsswitch.conf";
        private const string NetgroupPath = "/etc/netgroup";

        private readonly string _nsswitch;
        private readonly UnixFileMode _nsswitchMode;
        private readonly string? _netgroup;

        private NetgroupFiles(string nsswitch, UnixFileMode nsswitchMode, string? netgroup)
        {
            _nsswitch = nsswitch;
            _nsswitchMode = nsswitchMode;
            _netgroup = netgroup;
        }

        [GeneratedRegex(@"^[ \t]*netgroup[ \t]*:.*$", RegexOptions.Multiline)]
        private static partial Regex NetgroupLine();

        public static NetgroupFiles Install(string netgroupText)
        {
            string nsswitch = File.ReadAllText(NsswitchPath);
            var files = new NetgroupFiles(nsswitch, File.GetUnixFileMode(NsswitchPath), File.Exists(NetgroupPath) ? File.ReadAllText(NetgroupPath) : null);
            const string filesLine = "netgroup:       files";
            string changed = NetgroupLine().IsMatch(nsswitch)
                ? NetgroupLine().Replace(nsswitch, filesLine)
                : nsswitch.TrimEnd('\n') + "\n" + filesLine + "\n";
            try
            {
                Replace(NetgroupPath, netgroupText, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                Replace(NsswitchPath, changed, files._nsswitchMode);
            }
            catch
            {
                files.Restore();
                throw;
            }
            return files;
        }

        private static void Replace(string path, string text, UnixFileMode mode)
        {
            string temporary = $"{path}.netrsync-test-{Environment.ProcessId}";
            File.WriteAllText(temporary, text);
            File.SetUnixFileMode(temporary, mode);
            File.Move(temporary, path, overwrite: true);
        }

        private void Restore()
        {
            Replace(NsswitchPath, _nsswitch, _nsswitchMode);
            if (_netgroup is null)
                File.Delete(NetgroupPath);
            else
                Replace(NetgroupPath, _netgroup, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        public ValueTask DisposeAsync()
        {
            Restore();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>An exclusive lock on a file every process of the suite opens, held by a test that changes the
/// system's account or netgroup databases. (.NET takes an flock for <see cref="FileShare.None"/>, which
/// excludes other opens in this process too.)</summary>
public sealed class SystemDatabaseLock : IDisposable
{
    /// <summary>Keeps the tests that change system databases from running side by side in one process.</summary>
    public const string Collection = "System databases";

    private const string LockPath = "/tmp/netrsync-interop-system-databases.lock";
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(5);

    private readonly FileStream _stream;

    private SystemDatabaseLock(FileStream stream) => _stream = stream;

    public static async Task<SystemDatabaseLock> AcquireAsync()
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new SystemDatabaseLock(new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (waited.Elapsed < Deadline)
            {
                await Task.Delay(100); // poll interval
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}

[CollectionDefinition(SystemDatabaseLock.Collection)]
public sealed class SystemDatabaseCollection;
