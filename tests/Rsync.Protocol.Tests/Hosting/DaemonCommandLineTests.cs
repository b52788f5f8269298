using NetRsync.Protocol.Hosting;
using Xunit;

namespace NetRsync.Protocol.Tests.Hosting;

public sealed class DaemonCommandLineTests
{
    [Fact]
    public void Values_come_after_an_equals_sign_or_as_the_next_argument()
    {
        var joined = DaemonCommandLine.Parse(["--daemon", "--config=/etc/x.conf", "--port=8873", "--address=127.0.0.1", "--log-file=/var/log/d.log", "--no-detach", "--dparam=pidfile=/run/d.pid", "-Mport=9"]);
        var split = DaemonCommandLine.Parse(["--daemon", "--config", "/etc/x.conf", "--port", "8873", "--address", "127.0.0.1", "--log-file", "/var/log/d.log", "--no-detach", "--dparam", "pidfile=/run/d.pid", "-M", "port=9"]);
        foreach (var line in new[] { joined, split })
        {
            Assert.True(line.DaemonOption);
            Assert.Equal("/etc/x.conf", line.ConfigPath);
            Assert.Equal(8873, line.Port);
            Assert.Equal("127.0.0.1", line.Address);
            Assert.Equal("/var/log/d.log", line.LogFile);
            Assert.False(line.Detach);
            Assert.Equal(["pidfile=/run/d.pid", "port=9"], line.DaemonParameters);
            Assert.Empty(line.Positional);
        }
    }

    [Fact]
    public void The_defaults_are_rsyncs()
    {
        var line = DaemonCommandLine.Parse([]);
        Assert.Equal("/etc/rsyncd.conf", line.ConfigPath);
        Assert.True(line.Detach);
        Assert.Null(line.Port);
        Assert.False(line.DaemonOption);
        Assert.True(DaemonCommandLine.Parse(["--no-detach", "--detach"]).Detach);
    }

    [Fact]
    public void Health_help_version_and_handoff_are_read()
    {
        var line = DaemonCommandLine.Parse(["--health", "-h", "--version", "--handoff=abc"]);
        Assert.True(line.Health);
        Assert.True(line.Help);
        Assert.True(line.Version);
        Assert.Equal("abc", line.Handoff);
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "--bogus: unknown option")]
    [InlineData(new[] { "--daemon=yes" }, "--daemon=yes: unknown option")]
    [InlineData(new[] { "-v" }, "-v: unknown option")]
    [InlineData(new[] { "--port=abc" }, "--port=abc: invalid numeric value")]
    [InlineData(new[] { "--port=70000" }, "--port=70000: invalid numeric value")]
    [InlineData(new[] { "--config" }, "--config: missing argument")]
    [InlineData(new[] { "-M" }, "-M: missing argument")]
    public void What_it_does_not_know_is_an_error(string[] args, string message)
    {
        var ex = Assert.Throws<DaemonUsageException>(() => DaemonCommandLine.Parse(args));
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void Words_that_are_no_option_are_kept_apart()
    {
        Assert.Equal(["stray", "-"], DaemonCommandLine.Parse(["--daemon", "stray", "-"]).Positional);
    }

    [Theory]
    [InlineData(true, new[] { "--daemon" })]
    [InlineData(true, new[] { "--config=/etc/rsyncd.conf", "src", "dst" })]
    [InlineData(true, new[] { "-av", "--no-detach" })]
    [InlineData(true, new[] { "--dparam", "port=1" })]
    [InlineData(true, new[] { "--detach" })]
    [InlineData(false, new[] { "-av", "src/", "rsync://h/m/" })]
    [InlineData(false, new[] { "--exclude", "--daemon", "src", "dst" })]
    [InlineData(false, new[] { "-e", "--daemon", "src", "dst" })]
    [InlineData(false, new[] { "-avf", "--daemon", "src", "dst" })]
    [InlineData(true, new[] { "-avfx", "--daemon", "src", "dst" })]
    [InlineData(false, new[] { "--", "--daemon" })]
    [InlineData(false, new[] { "-M", "--daemon", "src", "rsync://h/m/" })]
    public void A_client_line_switches_to_daemon_parsing_as_rsyncs_does(bool expected, string[] args)
    {
        Assert.Equal(expected, DaemonCommandLine.SelectsDaemonMode(args));
    }
}
