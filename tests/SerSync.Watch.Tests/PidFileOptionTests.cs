using NetRsync.SerSync;
using Xunit;

namespace NetRsync.SerSync.Tests;

public sealed class PidFileOptionTests
{
    [Fact]
    public void The_pid_file_comes_after_an_equals_sign_or_as_the_next_argument()
    {
        Assert.Equal("/run/a.pid", CommandLine.Parse(["--pid-file=/run/a.pid", "-o", "c.xml"]).PidFile);
        Assert.Equal("/run/b.pid", CommandLine.Parse(["--pid-file", "/run/b.pid"]).PidFile);
        Assert.Null(CommandLine.Parse(["-r"]).PidFile);
    }

    [Fact]
    public void An_empty_or_missing_pid_file_name_is_an_error()
    {
        Assert.Throws<ArgumentException>(() => CommandLine.Parse(["--pid-file="]));
        Assert.Throws<ArgumentException>(() => CommandLine.Parse(["--pid-file"]));
    }
}
