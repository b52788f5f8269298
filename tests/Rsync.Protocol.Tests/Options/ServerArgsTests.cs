using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Options;

/// <summary>
/// Expected vectors were produced by rsync 3.1.1 itself (remote shell replaced by a script that
/// prints its arguments), then adjusted for the two deliberate differences: no 'i' capability
/// letter and no compression options.
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
        { "-a", "-logDtpre.Lsfx", "-logDtpre.Lsfx" },
        { "-av --delete", "-vlogDtpre.Lsfx --delete", "-vlogDtpre.Lsfx" },
        { "-avz", "-vlogDtpre.Lsfx", "-vlogDtpre.Lsfx" },
        { "-avH --delete-after --numeric-ids", "-vlHogDtpre.Lsfx --delete-after --numeric-ids", "-vlHogDtpre.Lsfx --numeric-ids" },
        { "-rlptgoD -vvv", "-vvvlogDtpre.Lsfx", "-vvvlogDtpre.Lsfx" },
        { "-a --progress", "-logDtpre.Lsfx --log-format=X", "-logDtpre.Lsfx" },
        { "-a -P", "-logDtpre.Lsfx --log-format=X --partial", "-logDtpre.Lsfx" },
        { "-ai", "-logDtpre.Lsfx --log-format=%i", "-logDtpre.Lsfx" },
        { "-aii", "-logDtpre.Lsfx --log-format=%i%I", "-logDtpre.Lsfx" },
        { "-a --out-format=%n", "-logDtpre.Lsfx --log-format=X", "-logDtpre.Lsfx" },
        { "-a --out-format=%o%n", "-logDtpre.Lsfx --log-format=%o", "-logDtpre.Lsfx" },
        { "-a -v --out-format=%i%n", "-vlogDtpre.Lsfx --log-format=%i", "-vlogDtpre.Lsfx" },
        { "-a --delete-excluded", "-logDtpre.Lsfx --delete-excluded", "-logDtpre.Lsfx" },
        { "-a --delete --delete-excluded", "-logDtpre.Lsfx --delete-excluded", "-logDtpre.Lsfx" },
        { "-a --delete-delay --max-delete=5", "-logDtpre.Lsfx --max-delete=5 --delete-delay", "-logDtpre.Lsfx" },
        { "-a --max-delete=0", "-logDtpre.Lsfx --max-delete=-1", "-logDtpre.Lsfx" },
        { "-a --del", "-logDtpre.Lsfx --delete-during", "-logDtpre.Lsfx" },
        { "-a --delete-before", "-logDtpre.Lsfx --delete-before", "-logDtpre.Lsfx" },
        { "-d --delete", "-de.Lsfx --no-r --delete", "-de.Lsfx" },
        { "-a --no-D --specials", "-logtpre.Lsfx --specials", "-logtpre.Lsfx --specials" },
        { "-a --no-specials", "-logDtpre.Lsfx --no-specials", "-logDtpre.Lsfx --no-specials" },
        { "-aW", "-lWogDtpre.Lsfx", "-lWogDtpre.Lsfx" },
        { "-a --no-W", "-logDtpre.Lsfx", "-logDtpre.Lsfx" },
        {
            "-a --timeout=30 --bwlimit=1.5M --modify-window=2 --checksum-seed=7",
            "-logDtpre.Lsfx --timeout=30 --bwlimit=1536 --modify-window=2 --checksum-seed=7",
            "-logDtpre.Lsfx --timeout=30 --bwlimit=1536 --modify-window=2 --checksum-seed=7"
        },
        { "-a -b --suffix=.bak", "-blogDtpre.Lsfx --suffix=.bak", "-blogDtpre.Lsfx --suffix=.bak" },
        { "-a -b --backup-dir=./old", "-blogDtpre.Lsfx --backup-dir old", "-blogDtpre.Lsfx --backup-dir old" },
        { "-a -b --backup-dir=old --suffix=.x", "-blogDtpre.Lsfx --backup-dir old --suffix=.x", "-blogDtpre.Lsfx --backup-dir old --suffix=.x" },
        { "-a --partial-dir=.part//x/", "-logDtpre.Lsfx --partial-dir .part/x", "-logDtpre.Lsfx" },
        { "-a --inplace", "-logDtpre.Lsfx --inplace", "-logDtpre.Lsfx --inplace" },
        { "-a --append", "-logDtpre.Lsfx --append", "-logDtpre.Lsfx --append" },
        { "-a --append-verify", "-logDtpre.Lsfx --append --append", "-logDtpre.Lsfx --append --append" },
        { "-a --partial", "-logDtpre.Lsfx --partial", "-logDtpre.Lsfx" },
        { "-rtE", "-tEre.Lsfx", "-tre.Lsfx" },
        { "-rptE", "-tpre.Lsfx", "-tpre.Lsfx" },
        { "-aKmOJ", "-lKmOJogDtpre.Lsfx", "-logDtpre.Lsfx" },
        { "-aLk", "-logDtpre.Lsfx", "-lLkogDtpre.Lsfx" },
        { "-a -b -O", "-blogDtpre.Lsfx", "-blogDtpre.Lsfx" },
        {
            "-anu --size-only --stats --force --super --ignore-existing --existing",
            "-unlogDtpre.Lsfx --force --super --size-only --stats --ignore-existing --existing",
            "-unlogDtpre.Lsfx"
        },
        {
            "-a --ignore-errors --copy-unsafe-links --safe-links",
            "-logDtpre.Lsfx --ignore-errors --copy-unsafe-links --safe-links",
            "-logDtpre.Lsfx --ignore-errors --copy-unsafe-links --safe-links"
        },
        { "-a -R", "-logDtprRe.Lsfx", "-logDtprRe.Lsfx" },
        { "-a -c -I -x -x -S", "-logDtprcIxxSe.Lsfx", "-logDtprcIxxSe.Lsfx" },
        { "-a -X -X", "-logDtpXXre.Lsfx", "-logDtpXXre.Lsfx" },
        { "-a --remove-source-files", "-logDtpre.Lsfx --remove-source-files", "-logDtpre.Lsfx --remove-source-files" },
        { "-a --remove-sent-files", "-logDtpre.Lsfx --remove-sent-files", "-logDtpre.Lsfx --remove-sent-files" },
        { "-a --files-from={LIST}", "-logDtpRe.Lsfx", "-logDtpRe.Lsfx --files-from=- --from0" },
        { "-a --files-from={LIST} -r", "-logDtprRe.Lsfx", "-logDtprRe.Lsfx --files-from=- --from0" },
        { "-a --files-from={LIST} --no-R", "-logDtpe.Lsfx", "-logDtpe.Lsfx --files-from=- --from0 --no-relative" },
        {
            "-a --files-from=:/remote/list --from0",
            "-logDtpRe.Lsfx --files-from /remote/list --from0",
            "-logDtpRe.Lsfx --files-from /remote/list --from0"
        },
        { "-a --list-only", "-logDtpre.Lsfx --list-only", "-logDtpre.Lsfx --list-only" },
        { "-a --iconv=utf8,latin1", "-logDtpre.Lsfx --iconv=latin1", "-logDtpre.Lsfx --iconv=latin1" },
        { "-a --skip-compress=gz/jpg", "-logDtpre.Lsfx", "-logDtpre.Lsfx --skip-compress=gz/jpg" },
        { "-a -q -8 --chmod=Du+rwx --munge-links --blocking-io", "-logDtpre.Lsfx", "-logDtpre.Lsfx" },
        { "-a --compress-level=5", "-logDtpre.Lsfx", "-logDtpre.Lsfx" },
        { "-a --fake-super", "-logDtpre.Lsfx", "-logDtpre.Lsfx" },
        { "-a --no-super", "-logDtpre.Lsfx", "-logDtpre.Lsfx" },
        { "-a --exclude=*.o --delete -b", "-blogDtpre.Lsfx --delete", "-blogDtpre.Lsfx" },
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
        Assert.Equal(["--server", "--sender", "-e.Lsfx"], Build("-r --no-r", push: false, 31, "h:a", "b"));
        Assert.Equal(["--server"], Build("-r --no-r", push: true, 29));
    }

    [Theory]
    [InlineData("", "-de.Lsfx")]
    [InlineData("-r", "-re.Lsfx")]
    [InlineData("-v", "-vde.Lsfx")]
    public void ListingAModule(string options, string letters)
    {
        Assert.Equal(["--server", "--sender", letters], Build(options, push: false, 31, "h::mod"));
    }

    [Fact]
    public void ProtectArgsMarksWhereTheSecondStageStarts()
    {
        var options = OptionParser.Parse(["-s", "-v", "--iconv=utf8", "--timeout=5", "src", "h:dst"]);
        var args = ServerArgs.Build(options, 31, clientIsSender: true, out int start);
        Assert.Equal(["--server", "-sve.Lsfx", "--iconv=utf8", "--timeout=5"], args);
        Assert.Equal(3, start);

        ServerArgs.Build(OptionParser.Parse(["-v", "a", "b"]), 31, true, out int none);
        Assert.Equal(-1, none);
    }

    [Fact]
    public void CompressionIsNeverSent()
    {
        var args = Build("-zz --compress-level=9 --new-compress", push: true);
        Assert.DoesNotContain(args, a => a.Contains('z', StringComparison.Ordinal) || a.Contains("compress", StringComparison.Ordinal));
    }

    [Fact]
    public void CapabilityLettersAreTheRsync311SetWithoutIncrementalRecursion()
    {
        Assert.Equal("Lsfx", ServerArgs.CapabilityFlags);
        Assert.All(Build("-a", push: true), a => Assert.DoesNotContain(".i", a, StringComparison.Ordinal));
    }
}
