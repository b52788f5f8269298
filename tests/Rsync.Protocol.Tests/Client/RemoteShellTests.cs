using NetRsync.Protocol.Client;
using Xunit;

namespace NetRsync.Protocol.Tests.Client;

/// <summary>The remote shell's command line, as rsync builds it (main.c, do_cmd; options.c, parse_hostspec).</summary>
public sealed class RemoteShellTests
{
    [Theory]
    [InlineData("ssh", new[] { "ssh" })]
    [InlineData("ssh -p 2222", new[] { "ssh", "-p", "2222" })]
    [InlineData("  ssh   -p  2222  ", new[] { "ssh", "-p", "2222" })]
    [InlineData("ssh -o 'ProxyCommand ssh gw nc %h %p'", new[] { "ssh", "-o", "ProxyCommand ssh gw nc %h %p" })]
    [InlineData("ssh -o \"a \"\"b\"\" c\"", new[] { "ssh", "-o", "a \"b\" c" })]
    [InlineData("ssh 'it''s'", new[] { "ssh", "it's" })]
    [InlineData("a'b c'd", new[] { "ab cd" })]
    [InlineData("ssh \"it's\"", new[] { "ssh", "it's" })]
    [InlineData("ssh '' x", new[] { "ssh", "", "x" })]
    [InlineData("ssh\t-v", new[] { "ssh\t-v" })]
    public void TheShellCommandIsSplitAsRsyncSplitsIt(string command, string[] words)
    {
        Assert.Equal(words, RemoteShell.Split(command, out _));
    }

    [Theory]
    [InlineData("ssh 'x", '\'')]
    [InlineData("ssh -o \"a", '"')]
    public void AMissingClosingQuoteIsNamed(string command, char quote)
    {
        Assert.Null(RemoteShell.Split(command, out char unclosed));
        Assert.Equal(quote, unclosed);
    }

    [Fact]
    public void TheCommandLineHasTheShellTheUserTheHostTheProgramAndTheServerArguments()
    {
        Assert.Equal(["ssh", "-p", "22", "-l", "bob", "backup", "rsync", "--server", "-logDtpre.iLsfxCIvu", ".", "www/"],
            RemoteShell.CommandLine("ssh -p 22", "bob", "backup", null, ["--server", "-logDtpre.iLsfxCIvu", ".", "www/"]));
        Assert.Equal(["ssh", "backup", "/opt/bin/netrsync", "--server", ".", "www/"],
            RemoteShell.CommandLine("ssh", null, "backup", "/opt/bin/netrsync", ["--server", ".", "www/"]));
        // A daemon over the shell keeps a "-l USER" the shell command already has.
        Assert.Equal(["ssh", "-l", "root", "backup", "rsync", "--server", "--daemon", "."],
            RemoteShell.CommandLine("ssh -l root", "bob", "backup", null, ["--server", "--daemon", "."], daemonOverShell: true));
        Assert.Equal(["ssh", "-l", "root", "-l", "bob", "backup", "rsync", "--server", "."],
            RemoteShell.CommandLine("ssh -l root", "bob", "backup", null, ["--server", "."]));
    }

    [Fact]
    public void RsyncRshNamesTheShellWhenNoOptionDoes()
    {
        string? before = Environment.GetEnvironmentVariable("RSYNC_RSH");
        try
        {
            Environment.SetEnvironmentVariable("RSYNC_RSH", "ssh -p 2200");
            Assert.Equal(["ssh", "-p", "2200", "h", "rsync", "--server"], RemoteShell.CommandLine(null, null, "h", null, ["--server"]));
            Assert.Equal(["rsh", "h", "rsync", "--server"], RemoteShell.CommandLine("rsh", null, "h", null, ["--server"]));
        }
        finally
        {
            Environment.SetEnvironmentVariable("RSYNC_RSH", before);
        }
    }

    [Theory]
    [InlineData("host:path", null, "host", "path")]
    [InlineData("bob@host:/srv/www", "bob", "host", "/srv/www")]
    [InlineData("a@b@host:x", "a@b", "host", "x")]
    [InlineData("[::1]:dir/", null, "::1", "dir/")]
    [InlineData("bob@[fe80::1]:d", "bob", "fe80::1", "d")]
    [InlineData("host:", null, "host", "")]
    [InlineData("host:a:b", null, "host", "a:b")]
    public void ARemoteShellPathIsUserHostAndPath(string argument, string? user, string host, string path)
    {
        Assert.Equal(new RemoteShellPath(user, host, path), RemoteShellPath.TryParse(argument));
    }

    [Theory]
    [InlineData("./a:b")]
    [InlineData("dir/a:b")]
    [InlineData("plain")]
    [InlineData(":path")]
    [InlineData("host::module")]
    [InlineData("rsync://host/module")]
    public void LocalPathsAndDaemonsAreNotRemoteShellPaths(string argument)
    {
        Assert.Null(RemoteShellPath.TryParse(argument));
    }
}

public sealed class DaemonUrlHostTests
{
    [Theory]
    [InlineData("[::1]::mod/x", null, "::1", "mod", "x")]
    [InlineData("bob@[::1]::mod/x", "bob", "::1", "mod", "x")]
    [InlineData("bob@host::mod", "bob", "host", "mod", "")]
    public void AnIpv6DaemonAddressKeepsItsColonsInsideTheBrackets(string argument, string? user, string host, string module, string path)
    {
        var url = NetRsync.Protocol.Daemon.DaemonUrl.TryParse(argument);
        Assert.NotNull(url);
        Assert.Equal((user, host, module, path), (url.User, url.Host, url.Module, url.Path));
    }
}
