using System.Text;
using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Options;

public sealed class FilterRuleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("netrsync-filters-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, Encoding.UTF8.GetBytes(content));
        return path;
    }

    [Fact]
    public void RulesKeepCommandLineOrder()
    {
        var o = OptionParser.Parse([
            "--exclude=*.o", "--include=keep/", "-f", "merge extra", "-F", "--filter=- tmp", "-F", "-F",
            "--exclude=+ inc", "--include=- exc", "--exclude=!q", "--exclude=", "-f", "", "src", "dst",
        ]);
        Assert.Equal(
            [
                "- *.o",
                "+ keep/",
                "merge extra",
                ": /.rsync-filter",
                "- tmp",
                "- .rsync-filter",
                "+ inc",
                "- exc",
                "- !q",
            ],
            o.FilterRules);
    }

    [Fact]
    public void LoneBangClearsAndIsKeptAsARule()
    {
        var o = OptionParser.Parse(["--exclude=a", "--include=!", "--exclude=b", "src", "dst"]);
        Assert.Equal(["- a", "!", "- b"], o.FilterRules);
    }

    [Theory]
    [InlineData("--exclude=- ")]
    [InlineData("--include=+ ")]
    public void PrefixWithoutPatternIsAnError(string arg)
    {
        var ex = Assert.Throws<RsyncUsageException>(() => OptionParser.Parse([arg, "a", "b"]));
        Assert.Equal($"unexpected end of filter rule: {arg[(arg.IndexOf('=') + 1)..]}", ex.Message);
        Assert.Equal(1, ex.ExitCode);
    }

    [Fact]
    public void ExcludeFromReadsLinesSkippingCommentsAndBlanks()
    {
        string file = WriteFile("ex.txt", "*.tmp\r\n# comment\n; comment\n\n+ keep.tmp\n!\n  spaced\nlast");
        var o = OptionParser.Parse(["--exclude=first", "--exclude-from=" + file, "--exclude=after", "a", "b"]);
        Assert.Equal(["- first", "- *.tmp", "+ keep.tmp", "!", "-   spaced", "- last", "- after"], o.FilterRules);
    }

    [Fact]
    public void IncludeFromMakesIncludes()
    {
        string file = WriteFile("in.txt", "src/\n- *.bak\n");
        var o = OptionParser.Parse(["--include-from", file, "a", "b"]);
        Assert.Equal(["+ src/", "- *.bak"], o.FilterRules);
    }

    [Fact]
    public void From0GivenEarlierMakesTheFileNulSeparated()
    {
        string file = WriteFile("nul.txt", "a b\nc\0#x\0d\0");
        Assert.Equal(
            ["- a b\nc", "- d"],
            OptionParser.Parse(["--from0", "--exclude-from=" + file, "a", "b"]).FilterRules);

        // Options act in order, so a later --from0 does not change how the file was read.
        Assert.Equal(
            ["- a b", "- c"],
            OptionParser.Parse(["--exclude-from=" + file, "--from0", "a", "b"]).FilterRules);
    }

    [Fact]
    public void DashReadsStandardInput()
    {
        var o = OptionParser.Parse(
            ["--exclude-from=-", "a", "b"],
            "netrsync",
            () => new MemoryStream(Encoding.UTF8.GetBytes("x\ny\n")));
        Assert.Equal(["- x", "- y"], o.FilterRules);
    }

    [Theory]
    [InlineData("--exclude-from", "exclude")]
    [InlineData("--include-from", "include")]
    public void MissingRuleFileUsesRsyncWordingAndFileIoExitCode(string option, string kind)
    {
        string missing = Path.Combine(_dir, "nope.txt");
        var ex = Assert.Throws<RsyncUsageException>(() => OptionParser.Parse([option + "=" + missing, "a", "b"]));
        Assert.Equal($"netrsync: failed to open {kind} file {missing}: No such file or directory (2)", ex.Message);

        // exclude.c, parse_filter_file exits with RERR_FILEIO.
        Assert.Equal(11, ex.ExitCode);
    }

    [Fact]
    public void EmptyRuleFileNameIsIgnored()
    {
        Assert.Empty(OptionParser.Parse(["--exclude-from=", "a", "b"]).FilterRules);
    }

    [Fact]
    public void BackupWithDeleteProtectsBackupFiles()
    {
        Assert.Equal(
            ["- x", "P *~"],
            OptionParser.Parse(["-rb", "--exclude=x", "--delete", "a", "b"]).FilterRules);
        Assert.Equal(
            ["P *.bak"],
            OptionParser.Parse(["-rb", "--suffix=.bak", "--delete-after", "a", "b"]).FilterRules);
        Assert.Empty(OptionParser.Parse(["-rb", "--delete", "--delete-excluded", "a", "b"]).FilterRules);
        Assert.Empty(OptionParser.Parse(["-rb", "--delete", "--backup-dir=old", "a", "b"]).FilterRules);
        Assert.Empty(OptionParser.Parse(["-rb", "a", "b"]).FilterRules);
    }
}
