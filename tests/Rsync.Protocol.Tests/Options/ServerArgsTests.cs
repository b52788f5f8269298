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
        { "-a", "-logDtpre.LsfxCv", "-logDtpre.LsfxCv" },
        { "-av --delete", "-vlogDtpre.LsfxCv --delete", "-vlogDtpre.LsfxCv" },
        { "-avz", "-vlogDtprze.LsfxCv", "-vlogDtprze.LsfxCv" },
        { "-avSz", "-vlogDtprSze.LsfxCv", "-vlogDtprSze.LsfxCv" },
        { "-az --compress-level=3", "-logDtprze.LsfxCv --compress-level=3", "-logDtprze.LsfxCv --compress-level=3" },
        { "-azz", "-logDtpre.LsfxCv --new-compress", "-logDtpre.LsfxCv --new-compress" },
        { "-a -B 100000", "-logDtpre.LsfxCv -B100000", "-logDtpre.LsfxCv -B100000" },
        { "-a --old-compress", "-logDtprze.LsfxCv --old-compress", "-logDtprze.LsfxCv --old-compress" },
        { "-az --skip-compress=gz", "-logDtprze.LsfxCv", "-logDtprze.LsfxCv --skip-compress=gz" },
        { "-avH --delete-after --numeric-ids", "-vlHogDtpre.LsfxCv --delete-after --numeric-ids", "-vlHogDtpre.LsfxCv --numeric-ids" },
        { "-rlptgoD -vvv", "-vvvlogDtpre.LsfxCv", "-vvvlogDtpre.LsfxCv" },
        { "-a --progress", "-logDtpre.LsfxCv --log-format=X", "-logDtpre.LsfxCv" },
        { "-a -P", "-logDtpre.LsfxCv --log-format=X --partial", "-logDtpre.LsfxCv" },
        { "-ai", "-logDtpre.LsfxCv --log-format=%i", "-logDtpre.LsfxCv" },
        { "-aii", "-logDtpre.LsfxCv --log-format=%i%I", "-logDtpre.LsfxCv" },
        { "-a --out-format=%n", "-logDtpre.LsfxCv --log-format=X", "-logDtpre.LsfxCv" },
        { "-a --out-format=%o%n", "-logDtpre.LsfxCv --log-format=%o", "-logDtpre.LsfxCv" },
        { "-a -v --out-format=%i%n", "-vlogDtpre.LsfxCv --log-format=%i", "-vlogDtpre.LsfxCv" },
        { "-a --delete-excluded", "-logDtpre.LsfxCv --delete-excluded", "-logDtpre.LsfxCv" },
        { "-a --delete --delete-excluded", "-logDtpre.LsfxCv --delete-excluded", "-logDtpre.LsfxCv" },
        { "-a --delete-delay --max-delete=5", "-logDtpre.LsfxCv --max-delete=5 --delete-delay", "-logDtpre.LsfxCv" },
        { "-a --max-delete=0", "-logDtpre.LsfxCv --max-delete=-1", "-logDtpre.LsfxCv" },
        { "-a --del", "-logDtpre.LsfxCv --delete-during", "-logDtpre.LsfxCv" },
        { "-a --delete-before", "-logDtpre.LsfxCv --delete-before", "-logDtpre.LsfxCv" },
        { "-d --delete", "-de.LsfxCv --no-r --delete", "-de.LsfxCv" },
        { "-a --no-D --specials", "-logtpre.LsfxCv --specials", "-logtpre.LsfxCv --specials" },
        { "-a --no-specials", "-logDtpre.LsfxCv --no-specials", "-logDtpre.LsfxCv --no-specials" },
        { "-aW", "-lWogDtpre.LsfxCv", "-lWogDtpre.LsfxCv" },
        { "-a --no-W", "-logDtpre.LsfxCv", "-logDtpre.LsfxCv" },
        {
            "-a --timeout=30 --bwlimit=1.5M --modify-window=2 --checksum-seed=7",
            "-logDtpre.LsfxCv --timeout=30 --bwlimit=1536 --modify-window=2 --checksum-seed=7",
            "-logDtpre.LsfxCv --timeout=30 --bwlimit=1536 --modify-window=2 --checksum-seed=7"
        },
        { "-a -b --suffix=.bak", "-blogDtpre.LsfxCv --suffix=.bak", "-blogDtpre.LsfxCv --suffix=.bak" },
        { "-a -b --backup-dir=./old", "-blogDtpre.LsfxCv --backup-dir old", "-blogDtpre.LsfxCv --backup-dir old" },
        { "-a -b --backup-dir=old --suffix=.x", "-blogDtpre.LsfxCv --backup-dir old --suffix=.x", "-blogDtpre.LsfxCv --backup-dir old --suffix=.x" },
        { "-a --partial-dir=.part//x/", "-logDtpre.LsfxCv --partial-dir .part/x", "-logDtpre.LsfxCv" },
        { "-a --inplace", "-logDtpre.LsfxCv --inplace", "-logDtpre.LsfxCv --inplace" },
        { "-a --append", "-logDtpre.LsfxCv --append", "-logDtpre.LsfxCv --append" },
        { "-a --append-verify", "-logDtpre.LsfxCv --append --append", "-logDtpre.LsfxCv --append --append" },
        { "-a --partial", "-logDtpre.LsfxCv --partial", "-logDtpre.LsfxCv" },
        { "-rtE", "-tEre.LsfxCv", "-tre.LsfxCv" },
        { "-rptE", "-tpre.LsfxCv", "-tpre.LsfxCv" },
        { "-aKmOJ", "-lKmOJogDtpre.LsfxCv", "-logDtpre.LsfxCv" },
        { "-aLk", "-logDtpre.LsfxCv", "-lLkogDtpre.LsfxCv" },
        { "-a -b -O", "-blogDtpre.LsfxCv", "-blogDtpre.LsfxCv" },
        {
            "-anu --size-only --stats --force --super --ignore-existing --existing",
            "-unlogDtpre.LsfxCv --force --super --size-only --stats --ignore-existing --existing",
            "-unlogDtpre.LsfxCv"
        },
        {
            "-a --ignore-errors --copy-unsafe-links --safe-links",
            "-logDtpre.LsfxCv --ignore-errors --copy-unsafe-links --safe-links",
            "-logDtpre.LsfxCv --ignore-errors --copy-unsafe-links --safe-links"
        },
        { "-a -R", "-logDtprRe.LsfxCv", "-logDtprRe.LsfxCv" },
        { "-a -c -I -x -x -S", "-logDtprcIxxSe.LsfxCv", "-logDtprcIxxSe.LsfxCv" },
        { "-a -X -X", "-logDtpXXre.LsfxCv", "-logDtpXXre.LsfxCv" },
        { "-a --remove-source-files", "-logDtpre.LsfxCv --remove-source-files", "-logDtpre.LsfxCv --remove-source-files" },
        { "-a --remove-sent-files", "-logDtpre.LsfxCv --remove-sent-files", "-logDtpre.LsfxCv --remove-sent-files" },
        { "-a --files-from={LIST}", "-logDtpRe.LsfxCv", "-logDtpRe.LsfxCv --files-from=- --from0" },
        { "-a --files-from={LIST} -r", "-logDtprRe.LsfxCv", "-logDtprRe.LsfxCv --files-from=- --from0" },
        { "-a --files-from={LIST} --no-R", "-logDtpe.LsfxCv", "-logDtpe.LsfxCv --files-from=- --from0 --no-relative" },
        {
            "-a --files-from=:/remote/list --from0",
            "-logDtpRe.LsfxCv --files-from /remote/list --from0",
            "-logDtpRe.LsfxCv --files-from /remote/list --from0"
        },
        { "-a --list-only", "-logDtpre.LsfxCv --list-only", "-logDtpre.LsfxCv --list-only" },
        { "-a --iconv=utf8,latin1", "-logDtpre.LsfxCv --iconv=latin1", "-logDtpre.LsfxCv --iconv=latin1" },
        { "-a --skip-compress=gz/jpg", "-logDtpre.LsfxCv", "-logDtpre.LsfxCv --skip-compress=gz/jpg" },
        { "-a -q -8 --chmod=Du+rwx --munge-links --blocking-io", "-logDtpre.LsfxCv", "-logDtpre.LsfxCv" },
        { "-a --compress-level=5", "-logDtprze.LsfxCv --compress-level=5", "-logDtprze.LsfxCv --compress-level=5" },
        { "-a --fake-super", "-logDtpre.LsfxCv", "-logDtpre.LsfxCv" },
        { "-a --no-super", "-logDtpre.LsfxCv", "-logDtpre.LsfxCv" },
        { "-a --exclude=*.o --delete -b", "-blogDtpre.LsfxCv --delete", "-blogDtpre.LsfxCv" },
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
    [InlineData("-r", "-re.LsfxCv")]
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
        Assert.Equal(["--server", "-logDtpre.LsfxCv", "--compress-choice=zstd"], Build("-a --zc=zstd", push: true));
        Assert.Equal(["--server", "-logDtprze.LsfxCv", "--old-compress"], Build("-a --zc=zlib", push: true));
        Assert.Equal(["--server", "-logDtpre.LsfxCv", "--checksum-choice=xxh64"], Build("-a --cc=xxh64", push: true));
        Assert.Equal(["--server", "-logDtpre.LsfxCv", "--new-compress"], Build("-a --zc=zlibx", push: true));
    }

    [Fact]
    public void CapabilityLettersLeaveOutIncrementalRecursion()
    {
        Assert.Equal("LsfxCv", ServerArgs.CapabilityFlags);
        Assert.All(Build("-a", push: true), a => Assert.DoesNotContain(".i", a, StringComparison.Ordinal));
    }
}
