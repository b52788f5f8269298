using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.Daemon.Config;
using Xunit;

namespace NetRsync.Protocol.Tests.Daemon;

/// <summary>A module's exclude/include/filter parameters become the daemon's own rules.</summary>
public sealed class DaemonFilterTests
{
    private static List<string> RulesOf(string moduleLines)
    {
        var config = DaemonConfig.Parse("[m]\npath = /tmp\n" + moduleLines, "rsyncd.conf");
        return DaemonSession.DaemonFilters(config.FindModule("m")!).Rules.Select(r => r.WireText).ToList();
    }

    [Fact]
    public void FilterPairsEachRuleWordWithItsPattern() =>
        Assert.Equal(["- *.tmp", "- secret/", "+ keep.txt"], RulesOf("filter = - *.tmp - secret/ + keep.txt\n"));

    [Fact]
    public void ModifiersStayWithTheirRule() =>
        Assert.Equal(["-! *.txt"], RulesOf("filter = -! *.txt\n"));

    [Fact]
    public void IncludeComesBeforeExcludeAfterFilter() =>
        Assert.Equal(["- a", "+ b", "- c", "- d"], RulesOf("filter = - a\ninclude = b\nexclude = c d\n"));
}
