using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Options;

/// <summary>--info and --debug as rsync 3.1.1 reads them (options.c, parse_output_words and friends).</summary>
public sealed class OutputLevelsTests
{
    private static RsyncOptions Parse(params string[] args) => OptionParser.Parse([.. args, "src/", "dst/"]);

    [Fact]
    public void EachVerboseAddsItsWords()
    {
        var none = Parse().Output;
        Assert.All(Enum.GetValues<InfoFlag>(), f => Assert.Equal(0, none[f]));

        var one = Parse("-v").Output;
        foreach (var f in new[] { InfoFlag.Copy, InfoFlag.Del, InfoFlag.Flist, InfoFlag.Misc, InfoFlag.Name, InfoFlag.Stats, InfoFlag.Symsafe })
            Assert.Equal(1, one[f]);
        Assert.Equal(0, one[InfoFlag.Backup]);
        Assert.Equal(0, one[DebugFlag.Dup]);

        var two = Parse("-vv").Output;
        Assert.Equal(2, two[InfoFlag.Name]);
        Assert.Equal(2, two[InfoFlag.Misc]);
        Assert.Equal(1, two[InfoFlag.Backup]);
        Assert.Equal(1, two[InfoFlag.Remove]);
        Assert.Equal(1, two[DebugFlag.Dup]);
        Assert.Equal(0, two[DebugFlag.Recv]);

        var three = Parse("-vvv").Output;
        Assert.Equal(2, three[DebugFlag.Deltasum]);
        Assert.Equal(1, three[DebugFlag.Recv]);
    }

    [Fact]
    public void WhatTheUserSaysWinsOverWhatVerboseImplies()
    {
        var o = Parse("--info=name0", "-vv").Output;
        Assert.Equal(0, o[InfoFlag.Name]);
        Assert.Equal(2, o[InfoFlag.Misc]);

        var later = Parse("--info=ALL2,name0,del").Output;
        Assert.Equal(2, later[InfoFlag.Progress]);
        Assert.Equal(0, later[InfoFlag.Name]);
        Assert.Equal(1, later[InfoFlag.Del]);

        Assert.All(Enum.GetValues<InfoFlag>(), f => Assert.Equal(0, Parse("-v", "--info=none").Output[f]));
        Assert.Equal(OutputLevels.MaxLevel, Parse("--info=Name99").Output[InfoFlag.Name]);
        Assert.Equal(3, Parse("--debug=deltasum3").Output[DebugFlag.Deltasum]);
    }

    [Fact]
    public void StatsAndProgressImplyTheirWords()
    {
        Assert.Equal(2, Parse("--stats").Output[InfoFlag.Stats]);
        Assert.Equal(2, Parse("-v", "--stats").Output[InfoFlag.Stats]);
        Assert.Equal(3, Parse("-vv", "--stats").Output[InfoFlag.Stats]);

        var progress = Parse("--progress").Output;
        Assert.Equal(1, progress[InfoFlag.Progress]);
        Assert.Equal(2, progress[InfoFlag.Flist]);
        Assert.Equal(1, progress[InfoFlag.Name]);
        // -i names files before their transfer: --progress adds no names of its own.
        Assert.Equal(0, Parse("--progress", "-i").Output[InfoFlag.Name]);
        Assert.Equal(2, Parse("--info=progress2", "--progress").Output[InfoFlag.Progress]);
    }

    [Theory]
    [InlineData("--info=bogus", "Unknown --info item: \"bogus\"")]
    [InlineData("--debug=name", "Unknown --debug item: \"name\"")]
    [InlineData("--info=del,stats2x", "Unknown --info item: \"stats2x\"")]
    public void AnUnknownWordIsASyntaxError(string arg, string message)
    {
        var ex = Assert.Throws<RsyncUsageException>(() => Parse(arg));
        Assert.Equal(message, ex.Message);
        Assert.Equal(RsyncUsageException.SyntaxError, ex.ExitCode);
    }

    [Fact]
    public void HelpStopsParsingWithTheTable()
    {
        var o = OptionParser.Parse(["--info=help", "--bogus"]);
        Assert.NotNull(o.OutputHelp);
        Assert.StartsWith("Use OPT or OPT1 for level 1 output, OPT2 for level 2, etc.; OPT0 silences.\n\nBACKUP     Mention files backed up\n", o.OutputHelp);
        Assert.Contains("\n1) COPY,DEL,FLIST,MISC,NAME,STATS,SYMSAFE\n2) BACKUP,MISC2,MOUNT,NAME2,REMOVE,SKIP\n", o.OutputHelp);
        Assert.EndsWith("2) BACKUP,MISC2,MOUNT,NAME2,REMOVE,SKIP\n", o.OutputHelp);

        string debug = OptionParser.Parse(["--debug=HELP"]).OutputHelp!;
        Assert.Contains("\nALL        Set all --debug options (e.g. all4)\n", debug);
        Assert.Contains("\n5) CHDIR,DELTASUM4,FLIST4,FUZZY2,HASH,HLINK\n", debug);
        Assert.DoesNotContain("\n1) ", debug);
    }

    [Theory]
    // A push: the server receives, so it hears of words for the server or the receiver.
    [InlineData(true, new[] { "--info=del2,name,progress2" }, "--info=DEL2,NAME")]
    [InlineData(true, new[] { "--info=all2" }, "--info=ALL2")]
    [InlineData(false, new[] { "--info=all2,name" }, "--info=ALL2,NAME")]
    [InlineData(false, new[] { "--info=remove,skip" }, "--info=REMOVE")]
    [InlineData(true, new[] { "-vv", "--info=progress2" }, null)]
    [InlineData(true, new[] { "--debug=recv2,send" }, "--debug=RECV2")]
    public void TheServerHearsOnlyTheWordsForItsEnd(bool push, string[] args, string? expected)
    {
        var o = Parse(args);
        var built = ServerArgs.Build(o, 31, clientIsSender: push);
        var sent = built.Where(a => a.StartsWith("--info=", StringComparison.Ordinal) || a.StartsWith("--debug=", StringComparison.Ordinal)).ToList();
        if (expected is null)
            Assert.Empty(sent);
        else
            Assert.Equal([expected], sent);
    }

    [Fact]
    public void AModulesMaxVerbosityCapsEveryWord()
    {
        var o = Parse("--info=name2,progress,backup", "--debug=recv");
        o.Output.LimitTo(1);
        Assert.Equal(1, o.Output[InfoFlag.Name]);
        Assert.Equal(0, o.Output[InfoFlag.Progress]);
        Assert.Equal(0, o.Output[InfoFlag.Backup]);
        Assert.Equal(0, o.Output[DebugFlag.Recv]);
    }
}
