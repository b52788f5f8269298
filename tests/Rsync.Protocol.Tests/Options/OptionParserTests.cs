using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Options;

public class OptionParserTests
{
    private static RsyncOptions P(params string[] args) => OptionParser.Parse(args);

    private static RsyncUsageException Fails(params string[] args) =>
        Assert.Throws<RsyncUsageException>(() => OptionParser.Parse(args));

    [Fact]
    public void BundledShortFlagsSetEachOption()
    {
        var o = P("-rlptgoD", "src", "dst");
        Assert.True(o.Recursive);
        Assert.True(o.PreserveLinks);
        Assert.True(o.PreservePerms);
        Assert.True(o.PreserveTimes);
        Assert.True(o.PreserveGroup);
        Assert.True(o.PreserveOwner);
        Assert.True(o.PreserveDevices);
        Assert.True(o.PreserveSpecials);
        Assert.Equal(["src", "dst"], o.Positional);
    }

    [Fact]
    public void RepeatedFlagsCount()
    {
        var o = P("-vvv", "-i", "-ii", "-HH", "-xx", "-q", "src", "dst");
        Assert.Equal(3, o.Verbose);
        Assert.Equal(3, o.ItemizeChanges);
        Assert.Equal(2, o.HardLinks);
        Assert.Equal(2, o.OneFileSystem);
        Assert.Equal(1, o.Quiet);
        Assert.Equal(2, P("-v", "--verbose", "a", "b").Verbose);
    }

    [Fact]
    public void ArchiveExpandsToRlptgoDButNotHardLinksAclsOrXattrs()
    {
        var o = P("-a", "src", "dst");
        Assert.True(o.Recursive && o.PreserveLinks && o.PreservePerms && o.PreserveTimes);
        Assert.True(o.PreserveGroup && o.PreserveOwner && o.PreserveDevices && o.PreserveSpecials);
        Assert.Equal(0, o.HardLinks);
        Assert.False(o.Acls);
        Assert.Equal(0, o.Xattrs);
    }

    [Fact]
    public void ArchiveDoesNotOverrideAnEarlierOrLaterNoRecursive()
    {
        Assert.False(P("-a", "--no-r", "s", "d").Recursive);

        // --no-r before -a leaves recurse at 0, which -a then sets.
        Assert.True(P("--no-r", "-a", "s", "d").Recursive);
    }

    public static TheoryData<string, Func<RsyncOptions, bool>> Negations => new()
    {
        { "--no-r", o => !o.Recursive },
        { "--no-recursive", o => !o.Recursive },
        { "--no-times", o => !o.PreserveTimes },
        { "--no-t", o => !o.PreserveTimes },
        { "--no-perms", o => !o.PreservePerms },
        { "--no-p", o => !o.PreservePerms },
        { "--no-owner", o => !o.PreserveOwner },
        { "--no-o", o => !o.PreserveOwner },
        { "--no-group", o => !o.PreserveGroup },
        { "--no-g", o => !o.PreserveGroup },
        { "--no-links", o => !o.PreserveLinks },
        { "--no-l", o => !o.PreserveLinks },
        { "--no-D", o => !o.PreserveDevices && !o.PreserveSpecials },
        { "--no-devices", o => !o.PreserveDevices && o.PreserveSpecials },
        { "--no-specials", o => o.PreserveDevices && !o.PreserveSpecials },
        { "--no-H", o => o.HardLinks == 0 },
        { "--no-hard-links", o => o.HardLinks == 0 },
        { "--no-v", o => o.Verbose == 0 },
        { "--no-verbose", o => o.Verbose == 0 },
        { "--no-W", o => o.WholeFile == false },
        { "--no-whole-file", o => o.WholeFile == false },
        { "--no-c", o => !o.Checksum },
        { "--no-x", o => o.OneFileSystem == 0 },
        { "--no-z", o => o.Compress == 0 },
        { "--no-i", o => o.ItemizeChanges == 0 },
        { "--no-s", o => !o.ProtectArgs },
        { "--no-8", o => !o.EightBitOutput },
        { "--no-S", o => !o.Sparse },
        { "--no-m", o => !o.PruneEmptyDirs },
        { "--no-O", o => !o.OmitDirTimes },
        { "--no-J", o => !o.OmitLinkTimes },
        { "--no-X", o => o.Xattrs == 0 },
        { "--no-A", o => !o.Acls },
        { "--no-h", o => o.HumanReadable == 0 },
        { "--no-progress", o => !o.Progress },
        { "--no-partial", o => !o.Partial },
        { "--no-numeric-ids", o => !o.NumericIds },
        { "--no-force", o => !o.Force },
        { "--no-timeout", o => o.Timeout == 0 },
        { "--no-bwlimit", o => o.BandwidthLimit == 0 },
        { "--no-blocking-io", o => o.BlockingIo == false },
    };

    [Theory]
    [MemberData(nameof(Negations))]
    public void NoFormsUndoWhatCameBefore(string negation, Func<RsyncOptions, bool> check)
    {
        var o = P("-avvHWcxzis8SmOJXA", "--devices", "--specials", "-hh", "--progress", "--partial",
            "--numeric-ids", "--force", "--timeout=5", "--bwlimit=10", "--blocking-io", negation, "src", "dst");
        Assert.True(check(o));
    }

    [Fact]
    public void WholeFileIsTriState()
    {
        Assert.Null(P("a", "b").WholeFile);
        Assert.True(P("-W", "a", "b").WholeFile);
        Assert.False(P("-W", "--no-W", "a", "b").WholeFile);
    }

    [Theory]
    [InlineData("-f- *.o")]
    [InlineData("-f=- *.o")]
    [InlineData("--filter=- *.o")]
    public void ValueAttachedToTheOption(string arg)
    {
        Assert.Equal(["- *.o"], P(arg, "a", "b").FilterRules);
    }

    [Theory]
    [InlineData("-f")]
    [InlineData("--filter")]
    public void ValueInTheNextArgument(string option)
    {
        var o = P(option, "- *.o", "a", "b");
        Assert.Equal(["- *.o"], o.FilterRules);
        Assert.Equal(["a", "b"], o.Positional);
    }

    [Fact]
    public void ShortOptionTakingAValueEndsTheBundle()
    {
        var o = P("-avessh -p 2222", "a", "b");
        Assert.Equal("ssh -p 2222", o.RemoteShell);
        Assert.Equal(1, o.Verbose);

        // Even a word that looks like an option is taken as the value.
        Assert.Equal("-x", P("-e", "-x", "a", "b").RemoteShell);
    }

    [Theory]
    [InlineData("--timeout=30", 30)]
    [InlineData("--timeout=0x1f", 31)]
    [InlineData("--timeout=010", 8)]
    [InlineData("--timeout=-5", -5)]
    [InlineData("--timeout=", 0)]
    public void IntegerValuesUseStrtolRules(string arg, int expected)
    {
        Assert.Equal(expected, P(arg, "a", "b").Timeout);
    }

    [Fact]
    public void IntegerValueInNextArgument()
    {
        var o = P("--port", "8730", "--contimeout", "9", "--protocol", "30", "--checksum-seed", "42", "a", "b");
        Assert.Equal(8730, o.Port);
        Assert.Equal(9, o.ConnectTimeout);
        Assert.Equal(30, o.Protocol);
        Assert.Equal(42, o.ChecksumSeed);
    }

    [Fact]
    public void NonOptionsMayAppearAnywhereAndDoubleDashEndsOptions()
    {
        var o = P("src", "-v", "dst", "--", "-n", "");
        Assert.Equal(["src", "dst", "-n", ""], o.Positional);
        Assert.Equal(1, o.Verbose);
        Assert.False(o.DryRun);
    }

    [Theory]
    [InlineData(new[] { "--foo", "a", "b" }, "netrsync: --foo: unknown option")]
    [InlineData(new[] { "-vQ", "a", "b" }, "netrsync: -vQ: unknown option")]
    [InlineData(new[] { "-", "a", "b" }, "netrsync: -: unknown option")]
    [InlineData(new[] { "--recursiv", "a", "b" }, "netrsync: --recursiv: unknown option")]
    [InlineData(new[] { "--times=1", "a", "b" }, "netrsync: --times=1: option does not take an argument")]
    [InlineData(new[] { "-t=1", "a", "b" }, "netrsync: -t=1: option does not take an argument")]
    [InlineData(new[] { "--timeout=abc", "a", "b" }, "netrsync: --timeout=abc: invalid numeric value")]
    [InlineData(new[] { "--timeout", "abc", "a", "b" }, "netrsync: abc: invalid numeric value")]
    [InlineData(new[] { "--protocol=x", "a", "b" }, "netrsync: --protocol=x: invalid numeric value")]
    [InlineData(new[] { "--timeout=99999999999", "a", "b" }, "netrsync: --timeout=99999999999: number too large or too small")]
    [InlineData(new[] { "--timeout" }, "netrsync: --timeout: missing argument")]
    [InlineData(new[] { "-f" }, "netrsync: -f: missing argument")]
    [InlineData(new[] { "--timeout=5 ", "a", "b" }, "netrsync: --timeout=5 : invalid numeric value")]
    public void PoptErrorsUseRsyncWording(string[] args, string message)
    {
        var ex = Fails(args);
        Assert.Equal(message, ex.Message);
        Assert.Equal(RsyncUsageException.SyntaxError, ex.ExitCode);
    }

    [Fact]
    public void ErrorsNameTheGivenProgram()
    {
        var ex = Assert.Throws<RsyncUsageException>(() => OptionParser.Parse(["--bogus"], "rsync"));
        Assert.Equal("rsync: --bogus: unknown option", ex.Message);
    }

    [Fact]
    public void HelpAndVersionStopParsing()
    {
        Assert.True(P("--version", "--bogus").ShowVersion);
        Assert.True(P("-v", "--help", "--bogus").ShowHelp);
        Assert.Throws<RsyncUsageException>(() => P("--bogus", "--help"));
    }

    [Fact]
    public void LoneDashHMeansHelp()
    {
        Assert.True(P("-h").ShowHelp);
        Assert.True(P("-hh").ShowHelp);
        var o = P("-h", "a", "b");
        Assert.False(o.ShowHelp);
        Assert.Equal(2, o.HumanReadable);
    }

    [Fact]
    public void DashPMeansPartialAndProgress()
    {
        var o = P("-P", "a", "b");
        Assert.True(o.Progress);
        Assert.True(o.Partial);
    }

    [Theory]
    [InlineData("--existing")]
    [InlineData("--ignore-non-existing")]
    public void ExistingAliases(string arg) => Assert.True(P(arg, "a", "b").IgnoreNonExisting);

    [Fact]
    public void LongAliasesShareTheirTarget()
    {
        Assert.Equal("%n", P("--log-format=%n", "a", "b").OutFormat);
        Assert.Equal("md5", P("--cc=md5", "a", "b").ChecksumChoice);
        Assert.Equal("zstd", P("--zc", "zstd", "a", "b").CompressChoice);
        Assert.True(P("--8-bit-output", "a", "b").EightBitOutput);
        Assert.True(P("-0", "a", "b").From0);
    }

    [Fact]
    public void StoresStringOptions()
    {
        var o = P("--rsh=ssh", "--password-file=/p", "--address=::1", "--sockopts=SO_KEEPALIVE",
            "--outbuf=L", "--iconv=utf8,latin1", "--skip-compress=gz/zip", "--chmod=Dg+s,ug+w", "--chmod=644",
            "a", "b");
        Assert.Equal("ssh", o.RemoteShell);
        Assert.Equal("/p", o.PasswordFile);
        Assert.Equal("::1", o.BindAddress);
        Assert.Equal("SO_KEEPALIVE", o.SocketOptions);
        Assert.Equal("L", o.OutputBuffering);
        Assert.Equal("utf8,latin1", o.Iconv);
        Assert.Equal("gz/zip", o.SkipCompress);
        Assert.Equal(["Dg+s,ug+w", "644"], o.Chmod);
    }

    [Fact]
    public void IconvDashAndNoIconvClearIt()
    {
        Assert.Null(P("--iconv=-", "a", "b").Iconv);
        Assert.Null(P("--iconv=utf8", "--no-iconv", "a", "b").Iconv);
    }

    [Theory]
    [InlineData("--outbuf=Q")]
    [InlineData("--outbuf=")]
    public void BadOutbufIsRejected(string arg)
    {
        Assert.Equal("netrsync: Invalid --outbuf setting -- specify N, L, or B.", Fails(arg, "a", "b").Message);
    }

    [Theory]
    [InlineData("--bwlimit=100", 100)]
    [InlineData("--bwlimit=1.5M", 1536)]
    [InlineData("--bwlimit=1m", 1024)]
    [InlineData("--bwlimit=1MB", 977)]
    [InlineData("--bwlimit=1MiB", 1024)]
    [InlineData("--bwlimit=2048b", 2)]
    [InlineData("--bwlimit=1G", 1048576)]
    [InlineData("--bwlimit=0", 0)]
    [InlineData("--bwlimit=", 0)]
    [InlineData("--bwlimit=1K+1", 1)]
    public void BandwidthLimitIsStoredInKibPerSecond(string arg, int kib)
    {
        Assert.Equal(kib, P(arg, "a", "b").BandwidthLimit);
    }

    [Theory]
    [InlineData("--bwlimit=abc", "netrsync: --bwlimit value is invalid: abc")]
    [InlineData("--bwlimit=5X", "netrsync: --bwlimit value is invalid: 5X")]
    [InlineData("--bwlimit=-1", "netrsync: --bwlimit value is invalid: -1")]
    [InlineData("--bwlimit=100b", "netrsync: --bwlimit value is too small: 100b")]
    public void BadBandwidthLimit(string arg, string message)
    {
        Assert.Equal(message, Fails(arg, "a", "b").Message);
    }

    [Fact]
    public void CompressionCountsAndLevel()
    {
        Assert.Equal(1, P("-z", "a", "b").Compress);
        Assert.Equal(2, P("-zz", "a", "b").Compress);
        Assert.Equal("zlibx", P("--new-compress", "a", "b").CompressChoice);
        Assert.Equal("zlib", P("--old-compress", "a", "b").CompressChoice);
        Assert.Null(P("--new-compress", "--no-z", "a", "b").CompressChoice);
        var levelOnly = P("--compress-level=5", "a", "b");
        Assert.Equal(1, levelOnly.Compress);
        Assert.Equal(5, levelOnly.CompressLevel);
        Assert.Equal(0, P("-z", "--compress-level=0", "a", "b").Compress);
        Assert.Equal("netrsync: --compress-level value is invalid: 10", Fails("--compress-level=10", "a", "b").Message);
    }

    [Fact]
    public void DeleteModes()
    {
        Assert.Equal(DeleteMode.None, P("-r", "a", "b").DeleteMode);
        Assert.Equal(DeleteMode.Unspecified, P("-r", "--delete", "a", "b").DeleteMode);
        Assert.Equal(DeleteMode.Unspecified, P("-r", "--delete-excluded", "a", "b").DeleteMode);
        Assert.Equal(DeleteMode.Before, P("-r", "--delete-before", "a", "b").DeleteMode);
        Assert.Equal(DeleteMode.During, P("-r", "--delete-during", "a", "b").DeleteMode);
        Assert.Equal(DeleteMode.During, P("-r", "--del", "a", "b").DeleteMode);
        Assert.Equal(DeleteMode.Delay, P("-r", "--delete-delay", "a", "b").DeleteMode);
        Assert.Equal(DeleteMode.After, P("-r", "--delete", "--delete-after", "a", "b").DeleteMode);

        // Both set the same rsync variable, so this is not a conflict: the last one wins.
        Assert.Equal(DeleteMode.Delay, P("-r", "--delete-during", "--delete-delay", "a", "b").DeleteMode);
    }

    [Theory]
    [InlineData(29, DeleteMode.Before)]
    [InlineData(30, DeleteMode.During)]
    [InlineData(31, DeleteMode.During)]
    public void PlainDeleteResolvesByProtocol(int protocol, DeleteMode expected)
    {
        Assert.Equal(expected, P("-r", "--delete", "a", "b").GetEffectiveDeleteMode(protocol));
        Assert.Equal(DeleteMode.After, P("-r", "--delete-after", "a", "b").GetEffectiveDeleteMode(protocol));
        Assert.Equal(DeleteMode.None, P("-r", "a", "b").GetEffectiveDeleteMode(protocol));
    }

    [Theory]
    [InlineData(new[] { "--delete", "a", "b" }, "netrsync: --delete does not work without --recursive (-r) or --dirs (-d).")]
    [InlineData(new[] { "-r", "--delete-before", "--delete-after", "a", "b" }, "netrsync: You may not combine multiple --delete-WHEN options.")]
    [InlineData(new[] { "--suffix=a/b", "a", "b" }, "netrsync: --suffix cannot contain slashes: a/b")]
    [InlineData(new[] { "--suffix=", "a", "b" }, "netrsync: --suffix cannot be empty without a --backup-dir")]
    [InlineData(new[] { "-b", "--backup-dir=.", "a", "b" }, "netrsync: --suffix cannot be empty when --backup-dir is the same as the dest dir")]
    [InlineData(new[] { "--sparse", "--inplace", "a", "b" }, "netrsync: --sparse cannot be used with --inplace")]
    [InlineData(new[] { "--append", "-W", "a", "b" }, "netrsync: --append cannot be used with --whole-file")]
    [InlineData(new[] { "--inplace", "--partial-dir=x", "a", "b" }, "netrsync: --inplace cannot be used with --partial-dir")]
    [InlineData(new[] { "--append", "--partial-dir=x", "a", "b" }, "netrsync: --append cannot be used with --partial-dir")]
    [InlineData(new[] { "--chmod=bad", "a", "b" }, "netrsync: Invalid argument passed to --chmod (bad)")]
    [InlineData(new[] { "--chmod=u+r,", "a", "b" }, "netrsync: Invalid argument passed to --chmod (u+r,)")]
    [InlineData(new[] { "--fake-super", "-XX", "a", "b" }, "netrsync: --fake-super conflicts with -XX")]
    [InlineData(new[] { "--files-from=h:-", "a", "b" }, "netrsync: Invalid --files-from remote filename")]
    public void CrossOptionChecks(string[] args, string message)
    {
        var ex = Fails(args);
        Assert.Equal(message, ex.Message);
        Assert.Equal(RsyncUsageException.SyntaxError, ex.ExitCode);
    }

    [Fact]
    public void MaxDelete()
    {
        Assert.Null(P("a", "b").MaxDelete);
        Assert.Equal(5, P("--max-delete=5", "a", "b").MaxDelete);
        Assert.Equal(0, P("--max-delete=-3", "a", "b").MaxDelete);
        Assert.Equal(0, P("--max-delete=0", "a", "b").MaxDelete);
    }

    [Fact]
    public void FewerThanTwoPathsMeansListing()
    {
        var o = P("host::module");
        Assert.True(o.IsListOnly);
        Assert.False(o.ListOnly);
        Assert.True(o.Dirs);
        Assert.False(o.Recursive);

        var two = P("a", "b");
        Assert.False(two.IsListOnly);
        Assert.False(two.Dirs);

        Assert.True(P("--list-only", "a", "b").IsListOnly);
        Assert.True(P("-d", "a", "b").DirsRequested);
        Assert.False(P("-d", "-r", "a", "b").DirsRequested);
    }

    [Fact]
    public void FilesFromDropsImpliedRecursionAndTurnsOnRelative()
    {
        string list = Path.GetTempFileName();
        try
        {
            var o = P("-a", "--files-from=" + list, "src", "dst");
            Assert.False(o.Recursive);
            Assert.True(o.Dirs);
            Assert.True(o.Relative);
            Assert.Null(o.FilesFromHost);
            Assert.Equal(list, o.FilesFromPath);

            Assert.True(P("-a", "-r", "--files-from=" + list, "src", "dst").Recursive);
            Assert.False(P("-a", "--no-R", "--files-from=" + list, "src", "dst").Relative);
        }
        finally
        {
            File.Delete(list);
        }
    }

    [Theory]
    [InlineData(":/remote/list", "", "/remote/list")]
    [InlineData("host:list", "host", "list")]
    [InlineData("user@host::mod/list", "user@host", "mod/list")]
    [InlineData("[::1]:list", "::1", "list")]
    public void RemoteFilesFrom(string spec, string host, string path)
    {
        var o = P("--files-from=" + spec, "a", "b");
        Assert.Equal(host, o.FilesFromHost);
        Assert.Equal(path, o.FilesFromPath);
    }

    [Fact]
    public void MissingLocalFilesFrom()
    {
        string missing = Path.Combine(Path.GetTempPath(), "netrsync-missing-" + Guid.NewGuid().ToString("N"));
        var ex = Fails("--files-from=" + missing, "a", "b");
        Assert.Equal($"netrsync: failed to open files-from file {missing}: No such file or directory", ex.Message);
        Assert.Equal(1, ex.ExitCode);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void FilesFromNeedsSourceAndDestination(int paths)
    {
        string[] args = ["--files-from=-", .. Enumerable.Range(0, paths).Select(i => "p" + i)];
        var ex = Fails(args);
        Assert.True(ex.ShowUsage);
        Assert.Equal(1, ex.ExitCode);
    }

    [Fact]
    public void BackupSettings()
    {
        var plain = P("-b", "a", "b");
        Assert.Equal("~", plain.BackupSuffix);
        Assert.Null(plain.BackupDir);

        var withDir = P("-b", "--backup-dir=././old", "a", "b");
        Assert.Equal("old", withDir.BackupDir);
        Assert.Equal("", withDir.BackupSuffix);

        Assert.Equal(".bak", P("-b", "--suffix=.bak", "a", "b").BackupSuffix);

        // In-place backups make -O pointless, so rsync drops it.
        Assert.False(P("-b", "-O", "a", "b").OmitDirTimes);
        Assert.True(P("-b", "--backup-dir=x", "-O", "a", "b").OmitDirTimes);
    }

    [Fact]
    public void PartialDirIsCleaned()
    {
        var o = P("--partial-dir=.part//x/./", "a", "b");
        Assert.Equal(".part/x", o.PartialDir);
        Assert.True(o.Partial);

        var dot = P("--partial-dir=.", "a", "b");
        Assert.Null(dot.PartialDir);
        Assert.True(dot.Partial);

        Assert.False(P("--partial", "--inplace", "a", "b").Partial);
    }

    [Fact]
    public void AppendImpliesInplace()
    {
        var o = P("--append", "a", "b");
        Assert.True(o.Inplace);
        Assert.Equal(1, o.Append);
        Assert.Equal(2, P("--append-verify", "a", "b").Append);
    }

    [Fact]
    public void SuperModes()
    {
        Assert.Equal(SuperMode.Unset, P("a", "b").Super);
        Assert.Equal(SuperMode.Super, P("--super", "a", "b").Super);
        Assert.Equal(SuperMode.FakeSuper, P("--fake-super", "a", "b").Super);
        Assert.Equal(SuperMode.NoSuper, P("--super", "--no-super", "a", "b").Super);
    }

    [Fact]
    public void AclsImplyPerms()
    {
        var o = P("-A", "a", "b");
        Assert.True(o.Acls);
        Assert.True(o.PreservePerms);
    }
}
