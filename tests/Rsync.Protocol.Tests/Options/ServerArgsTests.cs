using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Options;

/// <summary>
/// Expected vectors were produced by rsync 3.1.1 itself (remote shell replaced by a script that
/// prints its arguments), then adjusted for the deliberate differences in the capability
/// letters: no 'i', and the 3.2+ 'C' and 'v' that rsync 3.5.0 also sends.
/// </summary>
public sealed class ServerArgsTests : IDisposable
{
    private readonly string _list = Path.GetTempFileName();

    public void Dispose() => File.Delete(_list);

    private List<string> Build(string options, bool push, int protocol = 31, params string[] paths)
    {
        var args = options.Replace("{LIST}", _list, StringComparison.Ordinal)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        args.AddRange(paths.Length > 0 ? paths : push ? ["srcd", "h:dst"] : ["h:src", "dstd"]);
        return ServerArgs.Build(OptionParser.Parse(args), protocol, clientIsSender: push);
    }

    private static string[] Words(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public static TheoryData<string, string, string> Cases => new()
    {
        { "-a", "-logDtpre.iLsfxCv", "-logDtpre.iLsfxCv" },
        { "-av --delete", "-vlogDtpre.iLsfxCv --delete", "-vlogDtpre.iLsfxCv" },
        { "-avz", "-vlogDtprze.iLsfxCv", "-vlogDtprze.iLsfxCv" },
        { "-avSz", "-vlogDtprSze.iLsfxCv", "-vlogDtprSze.iLsfxCv" },
        { "-az --compress-level=3", "-logDtprze.iLsfxCv --compress-level=3", "-logDtprze.iLsfxCv --compress-level=3" },
        { "-azz", "-logDtpre.iLsfxCv --new-compress", "-logDtpre.iLsfxCv --new-compress" },
        { "-a -B 100000", "-logDtpre.iLsfxCv -B100000", "-logDtpre.iLsfxCv -B100000" },
        { "-a --old-compress", "-logDtprze.iLsfxCv --old-compress", "-logDtprze.iLsfxCv --old-compress" },
        { "-az --skip-compress=gz", "-logDtprze.iLsfxCv", "-logDtprze.iLsfxCv --skip-compress=gz" },
        { "-avH --delete-after --numeric-ids", "-vlHogDtpre.iLsfxCv --delete-after --numeric-ids", "-vlHogDtpre.LsfxCv --numeric-ids" },
        { "-rlptgoD -vvv", "-vvvlogDtpre.iLsfxCv", "-vvvlogDtpre.iLsfxCv" },
        { "-a --progress", "-logDtpre.iLsfxCv --log-format=X", "-logDtpre.iLsfxCv" },
        { "-a -P", "-logDtpre.iLsfxCv --log-format=X --partial", "-logDtpre.iLsfxCv" },
        { "-ai", "-logDtpre.iLsfxCv --log-format=%i", "-logDtpre.iLsfxCv" },
        { "-aii", "-logDtpre.iLsfxCv --log-format=%i%I", "-logDtpre.iLsfxCv" },
        { "-a --out-format=%n", "-logDtpre.iLsfxCv --log-format=X", "-logDtpre.iLsfxCv" },
        { "-a --out-format=%o%n", "-logDtpre.iLsfxCv --log-format=%o", "-logDtpre.iLsfxCv" },
        { "-a -v --out-format=%i%n", "-vlogDtpre.iLsfxCv --log-format=%i", "-vlogDtpre.iLsfxCv" },
        { "-a --delete-excluded", "-logDtpre.iLsfxCv --delete-excluded", "-logDtpre.iLsfxCv" },
        { "-a --delete --delete-excluded", "-logDtpre.iLsfxCv --delete-excluded", "-logDtpre.iLsfxCv" },
        { "-a --delete-delay --max-delete=5", "-logDtpre.iLsfxCv --max-delete=5 --delete-delay", "-logDtpre.iLsfxCv" },
        { "-a --max-delete=0", "-logDtpre.iLsfxCv --max-delete=-1", "-logDtpre.iLsfxCv" },
        { "-a --del", "-logDtpre.iLsfxCv --delete-during", "-logDtpre.iLsfxCv" },
        { "-a --delete-before", "-logDtpre.iLsfxCv --delete-before", "-logDtpre.LsfxCv" },
        { "-d --delete", "-de.LsfxCv --no-r --delete", "-de.LsfxCv" },
        { "-a --no-D --specials", "-logtpre.iLsfxCv --specials", "-logtpre.iLsfxCv --specials" },
        { "-a --no-specials", "-logDtpre.iLsfxCv --no-specials", "-logDtpre.iLsfxCv --no-specials" },
        { "-aW", "-lWogDtpre.iLsfxCv", "-lWogDtpre.iLsfxCv" },
        { "-a --no-W", "-logDtpre.iLsfxCv", "-logDtpre.iLsfxCv" },
        {
            "-a --timeout=30 --bwlimit=1.5M --modify-window=2 --checksum-seed=7",
            "-logDtpre.iLsfxCv --timeout=30 --bwlimit=1536 --modify-window=2 --checksum-seed=7",
            "-logDtpre.iLsfxCv --timeout=30 --bwlimit=1536 --modify-window=2 --checksum-seed=7"
        },
        { "-a -b --suffix=.bak", "-blogDtpre.iLsfxCv --suffix=.bak", "-blogDtpre.iLsfxCv --suffix=.bak" },
        { "-a -b --backup-dir=./old", "-blogDtpre.iLsfxCv --backup-dir old", "-blogDtpre.iLsfxCv --backup-dir old" },
        { "-a -b --backup-dir=old --suffix=.x", "-blogDtpre.iLsfxCv --backup-dir old --suffix=.x", "-blogDtpre.iLsfxCv --backup-dir old --suffix=.x" },
        { "-a --partial-dir=.part//x/", "-logDtpre.iLsfxCv --partial-dir .part/x", "-logDtpre.iLsfxCv" },
        { "-a --inplace", "-logDtpre.iLsfxCv --inplace", "-logDtpre.iLsfxCv --inplace" },
        { "-a --append", "-logDtpre.iLsfxCv --append", "-logDtpre.iLsfxCv --append" },
        { "-a --append-verify", "-logDtpre.iLsfxCv --append --append", "-logDtpre.iLsfxCv --append --append" },
        { "-a --partial", "-logDtpre.iLsfxCv --partial", "-logDtpre.iLsfxCv" },
        { "-rtE", "-tEre.iLsfxCv", "-tre.iLsfxCv" },
        { "-rptE", "-tpre.iLsfxCv", "-tpre.iLsfxCv" },
        { "-aKmOJ", "-lKmOJogDtpre.iLsfxCv", "-logDtpre.LsfxCv" },
        { "-aLk", "-logDtpre.iLsfxCv", "-lLkogDtpre.iLsfxCv" },
        { "-a -b -O", "-blogDtpre.iLsfxCv", "-blogDtpre.iLsfxCv" },
        {
            "-anu --size-only --stats --force --super --ignore-existing --existing",
            "-unlogDtpre.iLsfxCv --force --super --size-only --stats --ignore-existing --existing",
            "-unlogDtpre.iLsfxCv"
        },
        {
            "-a --ignore-errors --copy-unsafe-links --safe-links",
            "-logDtpre.iLsfxCv --ignore-errors --copy-unsafe-links --safe-links",
            "-logDtpre.iLsfxCv --ignore-errors --copy-unsafe-links --safe-links"
        },
        { "-a -R", "-logDtprRe.iLsfxCv", "-logDtprRe.iLsfxCv" },
        { "-a -c -I -x -x -S", "-logDtprcIxxSe.iLsfxCv", "-logDtprcIxxSe.iLsfxCv" },
        { "-a -X -X", "-logDtpXXre.iLsfxCv", "-logDtpXXre.iLsfxCv" },
        { "-a --remove-source-files", "-logDtpre.iLsfxCv --remove-source-files", "-logDtpre.iLsfxCv --remove-source-files" },
        { "-a --remove-sent-files", "-logDtpre.iLsfxCv --remove-sent-files", "-logDtpre.iLsfxCv --remove-sent-files" },
        { "-a --files-from={LIST}", "-logDtpRe.LsfxCv", "-logDtpRe.LsfxCv --files-from=- --from0" },
        { "-a --files-from={LIST} -r", "-logDtprRe.iLsfxCv", "-logDtprRe.iLsfxCv --files-from=- --from0" },
        { "-a --files-from={LIST} --no-R", "-logDtpe.LsfxCv", "-logDtpe.LsfxCv --files-from=- --from0 --no-relative" },
        {
            "-a --files-from=:/remote/list --from0",
            "-logDtpRe.LsfxCv --files-from /remote/list --from0",
            "-logDtpRe.LsfxCv --files-from /remote/list --from0"
        },
        { "-a --list-only", "-logDtpre.iLsfxCv --list-only", "-logDtpre.iLsfxCv --list-only" },
        // 3.1.1 offers incremental recursion under --iconv too (its command line, checked: "-logDtpre.iLsfx --iconv=latin1").
        { "-a --iconv=utf8,latin1", "-logDtpre.iLsfxCv --iconv=latin1", "-logDtpre.iLsfxCv --iconv=latin1" },
        { "-a --skip-compress=gz/jpg", "-logDtpre.iLsfxCv", "-logDtpre.iLsfxCv --skip-compress=gz/jpg" },
        { "-a -q -8 --chmod=Du+rwx --munge-links --blocking-io", "-logDtpre.iLsfxCv", "-logDtpre.iLsfxCv" },
        { "-a --compress-level=5", "-logDtprze.iLsfxCv --compress-level=5", "-logDtprze.iLsfxCv --compress-level=5" },
        { "-a --fake-super", "-logDtpre.iLsfxCv", "-logDtpre.iLsfxCv" },
        { "-a --no-super", "-logDtpre.iLsfxCv", "-logDtpre.iLsfxCv" },
        { "-a --exclude=*.o --delete -b", "-blogDtpre.iLsfxCv --delete", "-blogDtpre.iLsfxCv" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void PushMatchesRsync311(string options, string expected, string pullExpected)
    {
        _ = pullExpected;
        Assert.Equal(["--server", .. Words(expected)], Build(options, push: true));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PullMatchesRsync311(string options, string pushExpected, string expected)
    {
        _ = pushExpected;
        Assert.Equal(["--server", "--sender", .. Words(expected)], Build(options, push: false));
    }

    [Fact]
    public void OldProtocolGetsNoCapabilityString()
    {
        Assert.Equal(["--server", "-logDtpr"], Build("-a --protocol=29", push: true, protocol: 29));
        Assert.Equal(["--server", "--sender", "-logDtpr"], Build("-a", push: false, protocol: 29));
    }

    [Fact]
    public void NothingToSayStillSendsTheCapabilityLetters()
    {
        Assert.Equal(["--server", "--sender", "-e.LsfxCv"], Build("-r --no-r", push: false, 31, "h:a", "b"));
        Assert.Equal(["--server"], Build("-r --no-r", push: true, 29));
    }

    [Theory]
    [InlineData("", "-de.LsfxCv")]
    [InlineData("-r", "-re.iLsfxCv")]
    [InlineData("-v", "-vde.LsfxCv")]
    public void ListingAModule(string options, string letters)
    {
        Assert.Equal(["--server", "--sender", letters], Build(options, push: false, 31, "h::mod"));
    }

    [Fact]
    public void ProtectArgsMarksWhereTheSecondStageStarts()
    {
        var options = OptionParser.Parse(["-s", "-v", "--iconv=utf8", "--timeout=5", "src", "h:dst"]);
        var args = ServerArgs.Build(options, 31, clientIsSender: true, out int start);
        Assert.Equal(["--server", "-sve.LsfxCv", "--iconv=utf8", "--timeout=5"], args);
        Assert.Equal(3, start);

        ServerArgs.Build(OptionParser.Parse(["-v", "a", "b"]), 31, true, out int none);
        Assert.Equal(-1, none);
    }

    [Fact]
    public void ExplicitChoicesTravelByNameAsRsync350SendsThem()
    {
        // Vectors from rsync 3.5.0 with the same argument-printing remote shell.
        Assert.Equal(["--server", "-logDtpre.iLsfxCv", "--compress-choice=zstd"], Build("-a --zc=zstd", push: true));
        Assert.Equal(["--server", "-logDtprze.iLsfxCv", "--old-compress"], Build("-a --zc=zlib", push: true));
        Assert.Equal(["--server", "-logDtpre.iLsfxCv", "--checksum-choice=xxh64"], Build("-a --cc=xxh64", push: true));
        Assert.Equal(["--server", "-logDtpre.iLsfxCv", "--new-compress"], Build("-a --zc=zlibx", push: true));
    }

    [Fact]
    public void IncrementalRecursionIsOfferedFirstWhenPushingRecursively()
    {
        // rsync 3.5.0 sends "-logDtpre.iLsfxCIvu" for -a; 'I' and 'u' are not ours to offer.
        Assert.Equal("LsfxCv", ServerArgs.CapabilityFlags);
        Assert.Contains("-logDtpre.iLsfxCv", Build("-a", push: true));
        Assert.Contains("-logDtpre.LsfxCv", Build("-a --no-inc-recursive", push: true));
        Assert.Contains("-logDtpre.LsfxCv", Build("-a --no-i-r", push: true));
        Assert.Contains("-lDtpe.LsfxCv", Build("-lptD", push: true));
        // As the receiver too, except where the receiver needs the whole list, or names are converted.
        Assert.Contains("-logDtpre.iLsfxCv", Build("-a", push: false));
        Assert.Contains("-lHogDtpre.iLsfxCv", Build("-aH", push: false));
        Assert.Contains("-lHogDtpre.iLsfxCv", Build("-aH", push: true));
        Assert.DoesNotContain("-logDtpre.iLsfxCv", Build("-a --delete-after", push: false));
        Assert.DoesNotContain("-logDtpre.iLsfxCv", Build("-a --delete-before", push: false));
        Assert.DoesNotContain("-logDtpre.iLsfxCv", Build("-a -m", push: false));
        Assert.Contains("-logDtpre.iLsfxCv", Build("-a --delete-during", push: false));
        Assert.Contains("-logDtpre.iLsfxCv", Build("-a --iconv=utf8,latin1", push: true));
        Assert.Contains("-logDtpre.iLsfxCv", Build("-a --iconv=utf8,latin1", push: false));
    }
}
