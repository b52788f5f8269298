using NetRsync.Protocol.Daemon.Config;
using Xunit;
using Config = NetRsync.Protocol.Daemon.Config.DaemonConfig;

// Not named after the folder: a namespace called DaemonConfig would hide the DaemonConfig class from other tests.
namespace NetRsync.Protocol.Tests.DaemonConfiguration;

public sealed class DaemonConfigParseTests
{
    private static string SeedPath => SeedFiles.RsyncdConf;

    private static Config P(string text, DaemonConfigOptions? options = null) => Config.Parse(text, "test.conf", options);

    [Fact]
    public void SeedConfigLoadsUnchanged()
    {
        Config c = Config.Load(SeedPath);

        Assert.Empty(c.Warnings);
        Assert.Equal(SeedPath, c.FileName);
        DaemonModule m = Assert.Single(c.Modules);
        Assert.Equal("rsync", m.Name);
        Assert.Same(m, c.FindModule("rsync"));
        Assert.Equal("rsync", m.Comment);
        Assert.Equal("/syncdir", m.Path);
        Assert.Equal("*", m.HostsAllow);
        Assert.Null(m.HostsDeny);

        // Everything set before [rsync] is a default the module inherits.
        Assert.Equal("root", m.Uid);
        Assert.Equal("root", m.Gid);
        Assert.Equal(36000, m.MaxConnections);
        Assert.False(m.UseChroot);
        Assert.Equal("/var/log/rsyncd.log", m.LogFile);
        Assert.True(m.IgnoreErrors);
        Assert.False(m.ReadOnly);
        Assert.Equal("rsync", m.AuthUsers);
        Assert.Equal("/etc/rsync.pass", m.SecretsFile);

        Assert.Equal(36000, c.Global.MaxConnections);
        Assert.Null(c.Global.Comment);
        Assert.True(m.List);
        Assert.True(m.StrictModes);
    }

    [Fact]
    public void SeedConfigModuleAccessAndAuth()
    {
        Config c = Config.Load(SeedPath);
        DaemonModule m = c.Modules[0];

        Assert.True(HostAccess.For(m).IsAllowed("203.0.113.9", HostAccess.UnknownHostName));
        AuthUsers users = AuthUsers.Parse(m.AuthUsers);
        Assert.False(users.IsAnonymous);
        Assert.True(users.Evaluate("rsync", [], m.ReadOnly).Allowed);
        Assert.False(users.Evaluate("rsync", [], m.ReadOnly).ReadOnly);
        Assert.Equal("no matching rule", users.Evaluate("other", [], m.ReadOnly).Error);
    }

    [Fact]
    public void DefaultsAreRsyncs()
    {
        Config c = P("[m]\npath = /srv\n");
        DaemonModule m = c.Modules[0];

        Assert.True(m.ReadOnly);
        Assert.False(m.WriteOnly);
        Assert.True(m.List);
        Assert.Null(m.UseChroot);
        Assert.True(m.StrictModes);
        Assert.Equal(0, m.Timeout);
        Assert.Equal(0, m.MaxConnections);
        Assert.Equal(1, m.MaxVerbosity);
        Assert.Equal("/var/run/rsyncd.lock", m.LockFile);
        Assert.Equal("%o %h [%a] %m (%u) %f %l", m.LogFormat);
        Assert.Equal(DaemonParameters.DefaultDontCompress, m.DontCompress);
        Assert.StartsWith("*.gz *.zip *.z *.rpm", m.DontCompress);
        Assert.Equal(24, m.SyslogFacility);
        Assert.Equal("rsyncd", m.SyslogTag);
        Assert.True(m.ReverseLookup);
        Assert.True(m.ForwardLookup);
        Assert.False(m.IgnoreErrors);
        Assert.False(m.IgnoreNonreadable);
        Assert.False(m.TransferLogging);
        Assert.False(m.FakeSuper);
        Assert.Null(m.MungeSymlinks);
        Assert.Null(m.NumericIds);
        Assert.Null(m.Uid);
        Assert.Null(m.Gid);
        Assert.Null(m.Comment);
        Assert.Null(m.AuthUsers);
        Assert.Null(m.HostsAllow);

        Assert.Equal(0, c.Global.Port);
        Assert.Equal(5, c.Global.ListenBacklog);
        Assert.Null(c.Global.Address);
        Assert.Null(c.Global.MotdFile);
        Assert.Null(c.Global.PidFile);
        Assert.False(c.Global.ProxyProtocol);
    }

    [Fact]
    public void UidAndGidDefaultToNobodyOnlyAsRoot()
    {
        DaemonModule m = P("[m]\npath=/x\n").Modules[0];
        Assert.Equal("nobody", m.EffectiveUid(runningAsRoot: true));
        Assert.Null(m.EffectiveUid(runningAsRoot: false));
        Assert.Equal(["nogroup"], m.EffectiveGids(runningAsRoot: true, nobodyGroup: "nogroup"));
        Assert.Empty(m.EffectiveGids(runningAsRoot: false));

        DaemonModule set = P("[m]\nuid = backup\ngid = , wheel , staff group,\n").Modules[0];
        Assert.Equal("backup", set.EffectiveUid(runningAsRoot: true));
        Assert.Equal(["wheel", "staff group"], set.EffectiveGids(runningAsRoot: true));
        Assert.Equal(["*", "adm", "staff"], P("[m]\ngid = * adm,staff\n").Modules[0].EffectiveGids(false));
    }

    [Theory]
    [InlineData(null, "/srv", true, false)]          // unset, chrooted straight into the path: no munging
    [InlineData(null, "/srv", false, true)]          // unset, not chrooted: munged
    [InlineData(null, "/var/./srv", true, true)]     // unset, inner path below the chroot: munged
    [InlineData(null, "/var/./.", true, false)]      // inner path is the chroot root
    [InlineData("no", "/srv", false, false)]
    [InlineData("yes", "/srv", true, true)]
    [InlineData("unset", "/srv", false, true)]
    public void MungeSymlinksDefaultFollowsChroot(string? setting, string path, bool useChroot, bool expected)
    {
        string text = $"[m]\npath = {path}\n" + (setting is null ? "" : $"munge symlinks = {setting}\n");
        DaemonModule m = P(text).Modules[0];
        Assert.Equal(expected, m.EffectiveMungeSymlinks(useChroot));
    }

    [Fact]
    public void UseChrootUnsetDependsOnDividerAndAvailability()
    {
        DaemonModule plain = P("[m]\npath=/srv\n").Modules[0];
        Assert.True(plain.EffectiveUseChroot(chrootAvailable: true));
        Assert.False(plain.EffectiveUseChroot(chrootAvailable: false));
        DaemonModule divided = P("[m]\npath=/srv/./data\n").Modules[0];
        Assert.True(divided.EffectiveUseChroot(chrootAvailable: false));
        DaemonModule yes = P("[m]\npath=/srv\nuse chroot = yes\n").Modules[0];
        Assert.True(yes.EffectiveUseChroot(chrootAvailable: false));
        DaemonModule no = P("[m]\npath=/srv/./x\nuse chroot = false\n").Modules[0];
        Assert.False(no.EffectiveUseChroot(chrootAvailable: true));
    }

    [Fact]
    public void NumericIdsDefaultFollowsChrootAndNameConverter()
    {
        DaemonModule m = P("[m]\npath=/x\n").Modules[0];
        Assert.True(m.EffectiveNumericIds(useChroot: true));
        Assert.False(m.EffectiveNumericIds(useChroot: false));
        DaemonModule conv = P("[m]\npath=/x\nname converter = /usr/bin/nameconvert\n").Modules[0];
        Assert.False(conv.EffectiveNumericIds(useChroot: true));
        DaemonModule on = P("[m]\npath=/x\nnumeric ids = yes\n").Modules[0];
        Assert.True(on.EffectiveNumericIds(useChroot: false));
        DaemonModule off = P("[m]\npath=/x\nnumeric ids = no\n").Modules[0];
        Assert.False(off.EffectiveNumericIds(useChroot: true));
    }

    [Theory]
    [InlineData("max connections")]
    [InlineData("maxconnections")]
    [InlineData("MAX CONNECTIONS")]
    [InlineData("  Max   Connections  ")]
    [InlineData("max\tconnections")]
    [InlineData("m a x c o n n e c t i o n s")]
    public void KeysIgnoreCaseAndWhitespace(string key)
    {
        Config c = P($"{key} = 7\n[m]\npath=/x\n");
        Assert.Empty(c.Warnings);
        Assert.Equal(7, c.Global.MaxConnections);
        Assert.Equal(7, c.Modules[0].MaxConnections);
    }

    [Theory]
    [InlineData("Max_Connections")]
    [InlineData("max-connections")]
    public void UnderscoresAndDashesAreNotIgnoredLikeRsync(string key)
    {
        // rsync 3.1.1 and 3.5.0 both log 'IGNORING unknown parameter "Max_Connections"'.
        Config c = P($"{key} = 7\n");
        Assert.Equal(0, c.Global.MaxConnections);
        DaemonConfigDiagnostic w = Assert.Single(c.Warnings);
        Assert.Equal($"IGNORING unknown parameter \"{key}\"", w.Message);
        Assert.Equal(1, w.Line);
    }

    [Fact]
    public void HyphenatedExecParametersKeepTheirHyphen()
    {
        DaemonModule m = P("[m]\npre-xfer exec = /bin/pre\nPost-Xfer Exec=/bin/post\nearly exec = /bin/early\n").Modules[0];
        Assert.Equal("/bin/pre", m.PreXferExec);
        Assert.Equal("/bin/post", m.PostXferExec);
        Assert.Equal("/bin/early", m.EarlyExec);
    }

    [Theory]
    [InlineData("yes", true)]
    [InlineData("YES", true)]
    [InlineData("True", true)]
    [InlineData("1", true)]
    [InlineData("y e s", true)]
    [InlineData("no", false)]
    [InlineData("No", false)]
    [InlineData("FALSE", false)]
    [InlineData("0", false)]
    public void BooleansAcceptRsyncsWords(string word, bool expected)
    {
        Config c = P($"[m]\nread only = {word}\nlist = {word}\n");
        Assert.Empty(c.Warnings);
        Assert.Equal(expected, c.Modules[0].ReadOnly);
        Assert.Equal(expected, c.Modules[0].List);
    }

    [Theory]
    [InlineData("maybe")]
    [InlineData("on")]
    [InlineData("off")]
    [InlineData("2")]
    [InlineData("")]
    public void BadBooleanIsLoggedAndKeepsThePreviousValue(string word)
    {
        Config c = P($"read only = no\n[m]\npath = /x\nread only = {word}\n");
        Assert.False(c.Modules[0].ReadOnly);
        DaemonConfigDiagnostic w = Assert.Single(c.Warnings);
        Assert.Equal($"Badly formed boolean in configuration file: \"{word}\".", w.Message);
        Assert.Equal("test.conf", w.FileName);
        Assert.Equal(4, w.Line);
        Assert.Equal($"test.conf:4: Badly formed boolean in configuration file: \"{word}\".", w.ToString());
    }

    [Fact]
    public void StrictLoadingThrowsWhatRsyncOnlyLogs()
    {
        var strict = new DaemonConfigOptions { Strict = true };
        var ex = Assert.Throws<DaemonConfigException>(() => P("# c\n[m]\npath=/x\nread only = maybe\n", strict));
        Assert.Equal("test.conf", ex.FileName);
        Assert.Equal(4, ex.Line);
        Assert.Equal("test.conf:4: Badly formed boolean in configuration file: \"maybe\".", ex.Message);

        ex = Assert.Throws<DaemonConfigException>(() => P("\n\nbogus = 1\n", strict));
        Assert.Equal(3, ex.Line);
        Assert.Contains("IGNORING unknown parameter \"bogus\"", ex.Message);
    }

    [Fact]
    public void TriStatesAcceptUnset()
    {
        Config c = P("use chroot = yes\nnumeric ids = no\n[a]\npath=/x\n[b]\npath=/y\nuse chroot = unset\nnumeric ids = -1\nopen noatime = true\n");
        Assert.Empty(c.Warnings);
        Assert.True(c.Modules[0].UseChroot);
        Assert.False(c.Modules[0].NumericIds);
        Assert.Null(c.Modules[1].UseChroot);
        Assert.Null(c.Modules[1].NumericIds);
        Assert.True(c.Modules[1].OpenNoatime);
        Assert.Single(P("[m]\nread only = unset\n").Warnings);
    }

    [Fact]
    public void IntegersAreReadLikeAtoi()
    {
        Config c = P("[a]\ntimeout = 600\nmax connections = -1\nmax verbosity = +3\n[b]\ntimeout = 12abc\nmax connections = lots\n");
        Assert.Equal(600, c.Modules[0].Timeout);
        Assert.Equal(-1, c.Modules[0].MaxConnections);
        Assert.Equal(3, c.Modules[0].MaxVerbosity);
        Assert.Equal(2, c.Warnings.Count);
        Assert.Equal(12, c.Modules[1].Timeout);
        Assert.Equal(0, c.Modules[1].MaxConnections);
        Assert.Equal("Badly formed number in configuration file: \"12abc\" (read as 12).", c.Warnings[0].Message);
        Assert.Equal(6, c.Warnings[0].Line);
        Assert.Equal(7, c.Warnings[1].Line);
    }

    [Theory]
    [InlineData("local3", 19 << 3)]
    [InlineData("AUTH", 4 << 3)]
    [InlineData("security", 4 << 3)]
    [InlineData("kern", 0)]
    [InlineData("user", 8)]
    [InlineData("42", 42)]
    public void SyslogFacilityNamesAndNumbers(string value, int code)
    {
        Assert.Equal(code, P($"syslog facility = {value}\n").Global.SyslogFacility);
    }

    [Fact]
    public void UnknownSyslogFacilityKeepsTheDefault()
    {
        Config c = P("syslog facility = nowhere\n");
        Assert.Equal(24, c.Global.SyslogFacility);
        Assert.Single(c.Warnings);
    }

    [Fact]
    public void CommentsOnlyAtLineStart()
    {
        Config c = P("""
            # a comment
              ; another = comment
            	# tab-indented comment
            [m]
            path = /srv # not a comment
            comment = a ; b # c
            #path = /never
            """);
        Assert.Empty(c.Warnings);
        DaemonModule m = Assert.Single(c.Modules);
        Assert.Equal("/srv # not a comment", m.Path);
        Assert.Equal("a ; b # c", m.Comment);
    }

    [Fact]
    public void ValuesKeepInnerSpacesAndLoseOuterOnesAndCarriageReturns()
    {
        Config c = P("[m]\r\ncomment =    two  spaces   \r\npath=/a b/\r\nexclude = x\ry\n");
        DaemonModule m = c.Modules[0];
        Assert.Equal("two  spaces", m.Comment);
        Assert.Equal("/a b", m.Path);
        Assert.Equal("xy", m.Exclude);
        Assert.Empty(c.Warnings);
    }

    [Fact]
    public void OnlyTheFirstEqualsSplits()
    {
        DaemonModule m = P("[m]\nrefuse options = a=b = c\nfilter == x\n").Modules[0];
        Assert.Equal("a=b = c", m.RefuseOptions);
        Assert.Equal("= x", m.Filter);
    }

    [Fact]
    public void PathLosesTrailingSlashesButRootStays()
    {
        Config c = P("[a]\npath = /srv///\ntemp dir = /tmp/\n[b]\npath = /\n[c]\npath = ///\n[d]\ncomment = keep/\n");
        Assert.Equal("/srv", c.Modules[0].Path);
        Assert.Equal("/tmp", c.Modules[0].TempDir);
        Assert.Equal("/", c.Modules[1].Path);
        Assert.Equal("/", c.Modules[2].Path);
        Assert.Equal("keep/", c.Modules[3].Comment);
    }

    [Fact]
    public void ContinuationJoinsLinesKeepingTheNextLinesLeadingBlanks()
    {
        // Checked against rsync 3.5.0 and 3.1.1: "hello \" + "   world   " lists as "hello    world".
        DaemonModule m = P("[m]\ncomment = hello \\\n   world   \npath = /x\n").Modules[0];
        Assert.Equal("hello    world", m.Comment);
        Assert.Equal("/x", m.Path);
    }

    [Fact]
    public void ContinuationAllowsBlanksAfterTheBackslash()
    {
        DaemonModule m = P("[m]\nexclude = a \\  \t\nb \\\nc\npath=/x\n").Modules[0];
        Assert.Equal("a b c", m.Exclude);
    }

    [Fact]
    public void ContinuationOntoABlankLineKeepsTheSpaceBeforeTheBackslash()
    {
        DaemonModule m = P("[m]\ncomment = x \\\n\npath=/x\n").Modules[0];
        Assert.Equal("x ", m.Comment);
        Assert.Equal("/x", m.Path);
    }

    [Fact]
    public void ContinuationInNamesAndSectionHeaders()
    {
        Config c = P("max \\\n  connections = 4\n[my \\\n   module]\npath = /x\n");
        Assert.Empty(c.Warnings);
        Assert.Equal(4, c.Global.MaxConnections);
        Assert.Equal("my module", c.Modules[0].Name);
    }

    [Fact]
    public void SectionNamesSqueezeBlanksAndIgnoreTrailingText()
    {
        Config c = P("[   two   words  ] trailing junk = ignored\npath = /x\n");
        DaemonModule m = Assert.Single(c.Modules);
        Assert.Equal("two words", m.Name);
        Assert.Equal("/x", m.Path);
        Assert.Null(c.FindModule("two  words"));
        Assert.Empty(c.Warnings);
    }

    [Fact]
    public void GlobalParametersSetDefaultsForLaterModulesOnly()
    {
        Config c = P("""
            read only = no
            timeout = 10
            [a]
            path = /a
            [global]
            timeout = 20
            comment = late global
            [b]
            path = /b
            timeout = 30
            [c]
            path = /c
            """);
        DaemonModule a = c.FindModule("a")!, b = c.FindModule("b")!, cc = c.FindModule("c")!;
        Assert.False(a.ReadOnly);
        Assert.Equal(10, a.Timeout);
        Assert.Equal(30, b.Timeout);
        Assert.Equal(20, cc.Timeout);
        Assert.Equal(20, c.Global.Timeout);
        Assert.Equal("late global", cc.Comment);
        // A string a module never had falls back to the final global value, as lp_comment() does.
        Assert.Equal("late global", a.Comment);
    }

    [Fact]
    public void GlobalSectionNameIsMatchedLoosely()
    {
        Config c = P("[m]\npath=/x\n[ GLOBAL ]\nport = 8873\n[G lobal]\nmotd file = /etc/motd\n");
        Assert.Single(c.Modules);
        Assert.Equal(8873, c.Global.Port);
        Assert.Equal("/etc/motd", c.Global.MotdFile);
    }

    [Fact]
    public void GlobalOnlyParameterInAModuleIsLoggedAndIgnored()
    {
        Config c = P("[m]\npath=/x\npid file = /run/x.pid\nport = 99\n");
        Assert.Null(c.Global.PidFile);
        Assert.Equal(0, c.Global.Port);
        Assert.Equal(2, c.Warnings.Count);
        Assert.Equal("Global parameter pid file found in module section!", c.Warnings[0].Message);
        Assert.Equal(3, c.Warnings[0].Line);
        Assert.Equal(4, c.Warnings[1].Line);
    }

    [Fact]
    public void ReopenedSectionContinuesTheSameModule()
    {
        Config c = P("[Data]\npath=/d\n[other]\npath=/o\n[ data ]\nlist = no\n");
        Assert.Equal(["Data", "other"], c.Modules.Select(m => m.Name));
        Assert.False(c.FindModule("Data")!.List);
        Assert.Equal("/d", c.FindModule("Data")!.Path);
        Assert.Null(c.FindModule("data"));
    }

    [Fact]
    public void NameParameterRenamesTheModule()
    {
        Config c = P("[m]\npath=/x\nname = renamed\n");
        Assert.Null(c.FindModule("m"));
        Assert.Equal("/x", c.FindModule("renamed")!.Path);
    }

    [Fact]
    public void UnknownParametersAreWarningsWithLocation()
    {
        Config c = P("motd file = /m\nbogus key = 1\n[m]\n\tfrobnicate=yes\npath = /x\n");
        Assert.Equal("/m", c.Global.MotdFile);
        Assert.Equal("/x", c.Modules[0].Path);
        Assert.Equal(
            ["test.conf:2: IGNORING unknown parameter \"bogus key\"", "test.conf:4: IGNORING unknown parameter \"frobnicate\""],
            c.Warnings.Select(w => w.ToString()));
    }

    [Fact]
    public void LineWithoutEqualsIsLoggedAndSkipped()
    {
        Config c = P("[m]\npath = /x\n   nonsense line here\ncomment = ok\n");
        Assert.Equal("ok", c.Modules[0].Comment);
        DaemonConfigDiagnostic w = Assert.Single(c.Warnings);
        Assert.Equal("Ignoring badly formed line in config file: nonsense line here", w.Message);
        Assert.Equal(3, w.Line);
    }

    [Fact]
    public void NameRunningIntoEndOfFileIsLogged()
    {
        Config c = P("[m]\npath = /x\nlast param");
        Assert.Equal("/x", c.Modules[0].Path);
        Assert.Equal("Unexpected end-of-file at: last param", Assert.Single(c.Warnings).Message);
    }

    [Fact]
    public void ValueRunningIntoEndOfFileIsKept()
    {
        Assert.Equal("/x", P("[m]\npath = /x").Modules[0].Path);
    }

    [Theory]
    [InlineData("[m]\npath=/x\n[a/b]\npath=/y\n", 3, "invalid section name in configuration file: a/b")]
    [InlineData("[m]\npath=/x\n[]\n", 3, "Empty section name in config file.")]
    [InlineData("[m]\npath=/x\n[  ]\n", 3, "Empty section name in config file.")]
    [InlineData("[m]\npath=/x\n[m2\npath=/y\n", 3, "Badly formed line in config file: m2")]
    [InlineData("[m]\npath=/x\n[m2", 3, "Unexpected EOF in the config file: m2")]
    [InlineData("[m]\npath=/x\n\n  = value\n", 4, "Invalid parameter name in config file.")]
    [InlineData("&bogus foo\n", 1, "Unknown directive: &bogus.")]
    [InlineData("[m]\n&include /nonexistent/netrsync/x.conf\n", 2, "unable to stat config file \"/nonexistent/netrsync/x.conf\": No such file or directory (2)")]
    public void FatalErrorsCarryFileAndLine(string text, int line, string detail)
    {
        var ex = Assert.Throws<DaemonConfigException>(() => Config.Parse(text, "/etc/rsyncd.conf"));
        Assert.Equal("/etc/rsyncd.conf", ex.FileName);
        Assert.Equal(line, ex.Line);
        Assert.Equal(detail, ex.Detail);
        Assert.Equal($"/etc/rsyncd.conf:{line}: {detail}", ex.Message);
    }

    [Fact]
    public void LoadingAMissingFileFails()
    {
        var ex = Assert.Throws<DaemonConfigException>(() => Config.Load("/nonexistent/netrsync/rsyncd.conf"));
        Assert.Contains("unable to open config file \"/nonexistent/netrsync/rsyncd.conf\"", ex.Message);
        Assert.Contains("No such file or directory", ex.Message);
    }

    [Fact]
    public void StrayBackslashAtLineStartIsSkipped()
    {
        Config c = P("\\ timeout = 5\n");
        Assert.Equal(5, c.Global.Timeout);
    }

    [Fact]
    public void ModulesKeepFileOrder()
    {
        Config c = P("[z]\npath=/z\n[a]\npath=/a\n[m]\npath=/m\n");
        Assert.Equal(["z", "a", "m"], c.Modules.Select(m => m.Name));
    }

    [Fact]
    public void ModuleLookupIsExactAndLastWins()
    {
        Config c = P("[Mod]\npath=/1\n[x]\npath=/x\nname = Mod\n");
        Assert.Equal("/x", c.FindModule("Mod")!.Path);
        Assert.Null(c.FindModule("mod"));
    }

    [Fact]
    public void GenericAccessorUsesRsyncNames()
    {
        DaemonModule m = P("[m]\npath=/x\nmax verbosity = 4\n").Modules[0];
        Assert.Equal(4, m.Get("MaxVerbosity"));
        Assert.Equal("/x", m.Get("path"));
        Assert.Null(m.Get("use chroot"));
        Assert.Throws<ArgumentException>(() => m.Get("no such thing"));
        Assert.True(Config.IsKnownParameter("Hosts Allow"));
        Assert.False(Config.IsKnownParameter("hosts_allow"));
        Assert.False(Config.IsKnownParameter("-path"));
    }

    [Fact]
    public void EveryParameterOfTheBriefIsKnown()
    {
        string[] names =
        [
            "path", "comment", "read only", "write only", "list", "uid", "gid", "use chroot", "max connections",
            "lock file", "auth users", "secrets file", "strict modes", "hosts allow", "hosts deny", "ignore errors",
            "ignore nonreadable", "timeout", "refuse options", "dont compress", "exclude", "include", "filter",
            "exclude from", "include from", "incoming chmod", "outgoing chmod", "numeric ids", "log file",
            "log format", "transfer logging", "max verbosity", "motd file", "pid file", "port", "address",
            "reverse lookup", "pre-xfer exec", "post-xfer exec", "munge symlinks", "fake super", "charset",
            "syslog facility", "socket options", "temp dir", "forward lookup", "early exec", "name converter",
        ];
        Assert.All(names, n => Assert.NotNull(DaemonParameters.Find(n)));
        Assert.Equal(DaemonParameterScope.Global, DaemonParameters.Find("port")!.Scope);
        Assert.Equal(DaemonParameterScope.Module, DaemonParameters.Find("path")!.Scope);
    }

    [Fact]
    public void AllTypedModuleParametersRoundTrip()
    {
        Config c = P("""
            [m]
            path = /srv/m
            comment = c
            write only = yes
            list = no
            uid = u
            gid = g
            lock file = /run/l
            strict modes = no
            ignore errors = yes
            ignore nonreadable = yes
            refuse options = delete
            dont compress = *.foo
            exclude = /a
            include = /b
            filter = - /c
            exclude from = /ef
            include from = /if
            incoming chmod = Dg+s
            outgoing chmod = Fo-w
            log file = /var/log/m
            log format = %f
            transfer logging = yes
            reverse lookup = no
            forward lookup = no
            fake super = yes
            charset = utf-8
            temp dir = /tmp/m
            insecure links = yes
            auth digest = sha256
            syslog tag = tag
            """);
        Assert.Empty(c.Warnings);
        DaemonModule m = c.Modules[0];
        Assert.Equal("/srv/m", m.Path);
        Assert.Equal("c", m.Comment);
        Assert.True(m.WriteOnly);
        Assert.False(m.List);
        Assert.Equal("u", m.Uid);
        Assert.Equal("g", m.Gid);
        Assert.Equal("/run/l", m.LockFile);
        Assert.False(m.StrictModes);
        Assert.True(m.IgnoreErrors);
        Assert.True(m.IgnoreNonreadable);
        Assert.Equal("delete", m.RefuseOptions);
        Assert.Equal("*.foo", m.DontCompress);
        Assert.Equal("/a", m.Exclude);
        Assert.Equal("/b", m.Include);
        Assert.Equal("- /c", m.Filter);
        Assert.Equal("/ef", m.ExcludeFrom);
        Assert.Equal("/if", m.IncludeFrom);
        Assert.Equal("Dg+s", m.IncomingChmod);
        Assert.Equal("Fo-w", m.OutgoingChmod);
        Assert.Equal("/var/log/m", m.LogFile);
        Assert.Equal("%f", m.LogFormat);
        Assert.True(m.TransferLogging);
        Assert.False(m.ReverseLookup);
        Assert.False(m.ForwardLookup);
        Assert.True(m.FakeSuper);
        Assert.Equal("utf-8", m.Charset);
        Assert.Equal("/tmp/m", m.TempDir);
        Assert.True(m.InsecureLinks);
        Assert.Equal("sha256", m.AuthDigest);
        Assert.Equal("tag", m.SyslogTag);
    }

    [Fact]
    public void AllGlobalParametersRoundTrip()
    {
        Config c = P("""
            motd file = /etc/motd
            pid file = /run/rsyncd.pid
            port = 8873
            address = 127.0.0.1
            socket options = SO_KEEPALIVE
            listen backlog = 50
            daemon chroot = /jail
            daemon uid = rsync
            daemon gid = rsync
            proxy protocol = yes
            proxy protocol hosts = 10.0.0.1
            """);
        Assert.Empty(c.Warnings);
        DaemonGlobalSettings g = c.Global;
        Assert.Equal("/etc/motd", g.MotdFile);
        Assert.Equal("/run/rsyncd.pid", g.PidFile);
        Assert.Equal(8873, g.Port);
        Assert.Equal("127.0.0.1", g.Address);
        Assert.Equal("SO_KEEPALIVE", g.SocketOptions);
        Assert.Equal(50, g.ListenBacklog);
        Assert.Equal("/jail", g.DaemonChroot);
        Assert.Equal("rsync", g.DaemonUid);
        Assert.Equal("rsync", g.DaemonGid);
        Assert.True(g.ProxyProtocol);
        Assert.Equal("10.0.0.1", g.ProxyProtocolHosts);
    }

    [Fact]
    public void NonStringValuesExpandEnvironmentVariablesWhileReading()
    {
        var env = new Dictionary<string, string> { ["RO"] = "no", ["LIMIT"] = "12" };
        var options = new DaemonConfigOptions { Environment = n => env.GetValueOrDefault(n) };
        Config c = P("[m]\nread only = %RO%\nmax connections = %LIMIT%\npath = /home/%RSYNC_USER_NAME%\n", options);
        Assert.False(c.Modules[0].ReadOnly);
        Assert.Equal(12, c.Modules[0].MaxConnections);
        // Strings keep their references until used.
        Assert.Equal("/home/%RSYNC_USER_NAME%", c.Modules[0].Path);
    }

    [Theory]
    [InlineData("/home/%USER%", "/home/joe")]
    [InlineData("%USER%%USER%", "joejoe")]
    [InlineData("100%", "100%")]
    [InlineData("%user%", "%user%")]
    [InlineData("%NOPE%/x", "%NOPE%/x")]
    [InlineData("%%USER%", "%joe")]
    [InlineData("a % b %USER", "a % b %USER")]
    [InlineData("", "")]
    public void ExpandVariablesFollowsRsync(string input, string expected)
    {
        Assert.Equal(expected, Config.ExpandVariables(input, n => n == "USER" ? "joe" : null));
    }

    [Fact]
    public void DaemonParametersApplyWhereTheGlobalPartEnds()
    {
        var options = new DaemonConfigOptions { DaemonParameters = ["motdfile=/etc/dparam-motd", "Read Only =  no"] };
        Config c = P("motd file = /etc/motd\nread only = yes\n[a]\npath=/a\n[global]\nread only = yes\n[b]\npath=/b\n", options);
        Assert.Equal("/etc/dparam-motd", c.Global.MotdFile);
        Assert.False(c.FindModule("a")!.ReadOnly);
        Assert.True(c.FindModule("b")!.ReadOnly);

        Config none = P("port = 1\n", options);
        Assert.Equal("/etc/dparam-motd", none.Global.MotdFile);
    }

    [Fact]
    public void UnknownDaemonParameterIsFatal()
    {
        var options = new DaemonConfigOptions { DaemonParameters = ["nosuchthing=1"] };
        var ex = Assert.Throws<DaemonConfigException>(() => P("[m]\npath=/x\n", options));
        Assert.Equal("Unknown parameter \"nosuchthing\"", ex.Detail);
        Assert.Throws<DaemonConfigException>(() => P("", new DaemonConfigOptions { DaemonParameters = ["novalue"] }));
    }

    [Fact]
    public void GlobalsOnlyStopsAtTheFirstSection()
    {
        var options = new DaemonConfigOptions { GlobalsOnly = true };
        Config c = P("port = 1000\n[m]\npath=/x\n[global]\nport = 2000\n[bad/name]\n", options);
        Assert.Empty(c.Modules);
        Assert.Equal(1000, c.Global.Port);
        Assert.Equal(2000, P("port = 1000\n[m]\npath=/x\n[global]\nport = 2000\n").Global.Port);
    }

    [Fact]
    public void NulEndsAValueAndTheRestOfTheLineIsReadAgain()
    {
        Config c = P("[m]\ncomment = abc\0timeout = 3\npath=/x\n");
        Assert.Equal("abc", c.Modules[0].Comment);
        Assert.Equal(3, c.Modules[0].Timeout);
    }

    [Fact]
    public void Utf8TextSurvives()
    {
        Config c = P("# 注释\n[模块]\ncomment = 同步目录\npath = /数据\n");
        Assert.Empty(c.Warnings);
        Assert.Equal("同步目录", c.FindModule("模块")!.Comment);
        Assert.Equal("/数据", c.Modules[0].Path);
    }
}
