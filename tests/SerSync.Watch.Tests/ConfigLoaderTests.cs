using NetRsync.SerSync.Config;
using Xunit;

namespace NetRsync.SerSync.Tests;

public class ConfigLoaderTests
{
    private static readonly string SeedConfig = Path.Combine(AppContext.BaseDirectory, "Data", "confxml.xml");

    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void SeedConfigLoadsUnchanged()
    {
        var config = ConfigLoader.Load(SeedConfig, Env(("target_host", "192.168.8.110")));

        Assert.True(config.Debug);
        Assert.True(config.XfsFileSystem);
        Assert.False(config.FilterEnabled);
        Assert.Empty(config.ExcludeExpressions);
        var watch = Assert.Single(config.Watches);
        Assert.Equal("/syncdir", watch.Path);
        Assert.Equal(new RemoteTarget("192.168.8.110", "rsync"), Assert.Single(watch.Remotes));
        Assert.Equal(new EventSwitches
        {
            Delete = false, CreateFolder = true, CreateFile = true, CloseWrite = true,
            MoveFrom = true, MoveTo = true, Attrib = false, Modify = false,
        }, config.Events);
        Assert.Equal("-artuz", config.Rsync.CommonParams);
        Assert.True(config.Rsync.AuthEnabled);
        Assert.Equal("rsync", config.Rsync.AuthUser);
        Assert.Equal("/app/local/sersync/user.pass", config.Rsync.PasswordFile);
        Assert.Null(config.Rsync.Port);
        Assert.Null(config.Rsync.TimeoutSeconds);
        Assert.False(config.Rsync.Ssh);
        Assert.Equal("/tmp/rsync_fail_log.sh", config.FailLogPath);
        Assert.Equal(60, config.FailRetryMinutes);
        Assert.False(config.CrontabEnabled);
        Assert.Equal(600, config.CrontabMinutes);
        Assert.Null(config.EnabledPlugin);
        Assert.Equal("/bin/sh", config.CommandPlugin!.Prefix);
        Assert.Equal(new SocketPluginTarget("/home/demo", "210.36.158.xxx", 8009), Assert.Single(config.SocketTargets));
        Assert.True(config.RefreshCdnConfigured);
    }

    [Fact]
    public void UnsetPlaceholderIsAClearError()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load(SeedConfig, Env()));
        Assert.Contains("target_host", ex.Message);
        Assert.Contains("not set", ex.Message);
    }

    [Fact]
    public void EverySwitchAndSettingIsRead()
    {
        var config = ConfigLoader.ParseText("""
            <head version="2.5">
              <debug start="false"/>
              <filter start="true"><exclude expression="(.*)\.php"/><exclude expression="^data/*"/></filter>
              <inotify><delete start="true"/><attrib start="true"/><modify start="true"/><createFile start="false"/></inotify>
              <settle ms="20"/>
              <rescan minutes="2"/>
              <sersync>
                <localpath watch="/a"><remote ip="h1" name="m1"/><remote ip="h2" name="m2"/></localpath>
                <localpath watch="/b/"><remote ip="h3" name="m3"/></localpath>
                <rsync>
                  <commonParams params="-artu --chmod=Du+w"/>
                  <auth start="false" users="u" passwordfile="/p"/>
                  <userDefinedPort start="true" port="874"/>
                  <timeout start="true" time="100"/>
                  <ssh start="false"/>
                </rsync>
                <failLog path="/var/q.jsonl" timeToExecute="5"/>
                <crontab start="true" schedule="30"><crontabfilter start="true"><exclude expression="*.php"/></crontabfilter></crontab>
                <plugin start="true" name="http"/>
              </sersync>
              <plugin name="http"><localpath watch="/a"><deshost ip="127.0.0.1" port="8080"/></localpath></plugin>
            </head>
            """);

        Assert.Equal(["(.*)\\.php", "^data/*"], config.ExcludeExpressions);
        Assert.True(config.Events.Delete && config.Events.Attrib && config.Events.Modify && !config.Events.CreateFile);
        Assert.Equal(TimeSpan.FromMilliseconds(20), config.SettleWindow);
        Assert.Equal(TimeSpan.FromMinutes(2), config.RescanInterval);
        Assert.Equal(["/a", "/b"], config.Watches.Select(w => w.Path));
        Assert.Equal(["h1::m1", "h2::m2"], config.Watches[0].Remotes.Select(r => r.Key));
        Assert.Equal(874, config.Rsync.Port);
        Assert.Equal(100, config.Rsync.TimeoutSeconds);
        Assert.False(config.Rsync.AuthEnabled);
        Assert.Equal(5, config.FailRetryMinutes);
        Assert.True(config.CrontabEnabled);
        Assert.Equal(30, config.CrontabMinutes);
        Assert.Equal(["*.php"], config.CrontabExcludes);
        Assert.Equal("http", config.EnabledPlugin);
        Assert.Equal("http://127.0.0.1:8080/", Assert.Single(config.HttpTargets).Url);
    }

    [Theory]
    [InlineData("<head><sersync><localpath watch=\"/a\"></sersync></head>", "not well-formed XML")]
    [InlineData("<other/>", "expected <head>")]
    [InlineData("<head/>", "no <sersync> element")]
    [InlineData("<head><sersync/></head>", "no <localpath")]
    [InlineData("<head><sersync><localpath/></sersync></head>", "watch is missing")]
    [InlineData("<head><filter start=\"true\"><exclude expression=\"(.*\"/></filter><sersync><localpath watch=\"/a\"/></sersync></head>", "not a valid regular expression")]
    [InlineData("<head><debug start=\"yes\"/><sersync><localpath watch=\"/a\"/></sersync></head>", "neither true nor false")]
    [InlineData("<head><sersync><localpath watch=\"/a\"/><rsync><userDefinedPort start=\"true\" port=\"99999\"/></rsync></sersync></head>", "from 1 to 65535")]
    [InlineData("<head><sersync><localpath watch=\"/a\"/><rsync><auth start=\"true\" users=\"u\"/></rsync></sersync></head>", "needs users and passwordfile")]
    [InlineData("<head><sersync><localpath watch=\"/a\"/><localpath watch=\"/a/\"/></sersync></head>", "listed twice")]
    [InlineData("<head><sersync><localpath watch=\"/a\"/></sersync><plugin name=\"ftp\"/></head>", "unknown plugin")]
    public void BadConfigIsAClearError(string xml, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.ParseText(xml));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void MissingFileIsAClearError()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Load("/nonexistent/confxml.xml"));
        Assert.Contains("no such config file", ex.Message);
    }
}
