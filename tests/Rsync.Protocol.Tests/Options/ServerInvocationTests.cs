using System.Text;
using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Options;

/// <summary>
/// Parsing what a client sends to the daemon. The vectors in <see cref="Captured"/> are what stock
/// clients (rsync 3.1.1 and 3.5.0) sent, word for word, to a loopback listener that greeted them
/// with "@RSYNCD: 31.0" (see <see cref="StockClientCaptureTests"/>, which captures them afresh).
/// </summary>
public sealed class ServerInvocationTests
{
    private static readonly ServerParseSettings Mod = new() { ModuleName = "mod" };

    private static ServerInvocation Parse(params string[] args) => OptionParser.ParseServer(args, Mod);

    private static RsyncUsageException Fails(params string[] args) =>
        Assert.Throws<RsyncUsageException>(() => OptionParser.ParseServer(args, Mod));

    /// <summary>
    /// One line for everything a test wants to compare: the role, the short options in effect,
    /// the long ones, the capability string and the paths.
    /// </summary>
    internal static string Describe(ServerInvocation inv)
    {
        RsyncOptions o = inv.Options;
        var f = new StringBuilder();
        void Flag(bool on, char c)
        {
            if (on)
                f.Append(c);
        }

        void Count(int n, char c) => f.Append(c, Math.Max(0, n));
        Flag(o.Recursive, 'r');
        Flag(o.DirsRequested, 'd');
        Flag(o.PreserveLinks, 'l');
        Flag(o.PreservePerms, 'p');
        Flag(o.PreserveTimes, 't');
        Flag(o.PreserveGroup, 'g');
        Flag(o.PreserveOwner, 'o');
        Flag(o.PreserveDevices && o.PreserveSpecials, 'D');
        Count(o.HardLinks, 'H');
        Flag(o.Acls, 'A');
        Count(o.Xattrs, 'X');
        Flag(o.Executability, 'E');
        Flag(o.OmitDirTimes, 'O');
        Flag(o.OmitLinkTimes, 'J');
        Flag(o.CopyLinks, 'L');
        Flag(o.CopyDirLinks, 'k');
        Flag(o.KeepDirLinks, 'K');
        Flag(o.PruneEmptyDirs, 'm');
        Flag(o.Relative, 'R');
        Count(o.OneFileSystem, 'x');
        Flag(o.Sparse, 'S');
        Flag(o.IgnoreTimes, 'I');
        Flag(o.Checksum, 'c');
        Flag(o.Update, 'u');
        Flag(o.DryRun, 'n');
        Flag(o.WholeFile == true, 'W');
        Flag(o.Backup, 'b');
        Count(o.Verbose, 'v');
        Count(o.Compress, 'z');
        Count(o.ItemizeChanges, 'i');
        Flag(o.ProtectArgs, 's');

        var words = new List<string> { inv.IsSender ? "sender" : "receiver" };
        if (f.Length > 0)
            words.Add("-" + f);
        void Word(bool on, string w)
        {
            if (on)
                words.Add(w);
        }

        Word(o.PreserveDevices != o.PreserveSpecials, o.PreserveDevices ? "--devices" : "--specials");
        Word(o.DeleteMode != DeleteMode.None, "--delete=" + o.DeleteMode);
        Word(o.DeleteExcluded, "--delete-excluded");
        Word(o.MaxDelete is not null, $"--max-delete={o.MaxDelete}");
        Word(o.Partial, "--partial");
        Word(o.PartialDir is not null, $"--partial-dir={o.PartialDir}");
        Word(o.Inplace, "--inplace");
        Word(o.Append != 0, o.Append == 2 ? "--append-verify" : "--append");
        Word(o.BandwidthLimit != 0, $"--bwlimit={o.BandwidthLimit}");
        Word(o.CompressLevel is not null, $"--compress-level={o.CompressLevel}");
        Word(o.SkipCompress is not null, $"--skip-compress={o.SkipCompress}");
        Word(o.Timeout != 0, $"--timeout={o.Timeout}");
        Word(o.ModifyWindow is not null, $"--modify-window={o.ModifyWindow}");
        Word(o.ChecksumSeed != 0, $"--checksum-seed={o.ChecksumSeed}");
        Word(o.BackupDir is not null, $"--backup-dir={o.BackupDir}");
        Word(o.BackupSuffix != (o.BackupDir is null ? "~" : ""), $"--suffix={o.BackupSuffix}");
        Word(o.FilesFrom is not null, $"--files-from={o.FilesFrom}");
        Word(o.From0, "--from0");
        Word(o.ListOnly, "--list-only");
        Word(o.Iconv is not null, $"--iconv={o.Iconv}");
        Word(o.OutFormat is not null, $"--log-format={o.OutFormat}");
        Word(o.NumericIds, "--numeric-ids");
        Word(o.SizeOnly, "--size-only");
        Word(o.IgnoreExisting, "--ignore-existing");
        Word(o.IgnoreNonExisting, "--existing");
        Word(o.RemoveSourceFiles == 1, "--remove-source-files");
        Word(o.RemoveSourceFiles == 2, "--remove-sent-files");
        Word(o.Super != SuperMode.Unset, "--super=" + o.Super);
        Word(o.Force, "--force");
        Word(o.IgnoreErrors, "--ignore-errors");
        Word(o.CopyUnsafeLinks, "--copy-unsafe-links");
        Word(o.SafeLinks, "--safe-links");
        Word(o.Stats, "--stats");
        foreach (string c in o.Chmod)
            words.Add("--chmod=" + c);
        foreach (string r in o.FilterRules)
            words.Add("rule=" + r);
        words.Add("caps=" + (inv.ClientInfo ?? "none"));
        if (inv.Directory != ".")
            words.Add("dir=" + inv.Directory);
        words.Add("paths=" + string.Join("|", inv.Paths));
        return string.Join(' ', words);
    }

    /// <summary>
    /// Client version, its command line (push: "src/ rsync://h/mod/dst/"; pull:
    /// "rsync://h/mod/src/ dst/", unless paths are shown), the words it sent, the protected batch
    /// it sent after -s, and the parse. Options such as --exclude, --chmod, -F or -q (3.1.1) do
    /// not reach the server at all. Parsed for a module with a "charset", so --iconv is allowed.
    /// </summary>
    public static TheoryData<string, string, string[], string[]?, string> Captured => new()
    {
        { "3.1.1", "push -a", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null,
            "receiver -rlptgoD caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -avz", ["--server", "-vlogDtprze.iLsfx", ".", "mod/dst/"], null,
            "receiver -rlptgoDvz caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -aH --delete", ["--server", "-lHogDtpre.iLsfx", "--delete", ".", "mod/dst/"], null,
            "receiver -rlptgoDH --delete=Unspecified caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -aR", ["--server", "-logDtprRe.iLsfx", ".", "mod/dst/"], null,
            "receiver -rlptgoDR caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -au", ["--server", "-ulogDtpre.iLsfx", ".", "mod/dst/"], null,
            "receiver -rlptgoDu caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -a --partial", ["--server", "-logDtpre.iLsfx", "--partial", ".", "mod/dst/"], null,
            "receiver -rlptgoD --partial caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -a --inplace", ["--server", "-logDtpre.iLsfx", "--inplace", ".", "mod/dst/"], null,
            "receiver -rlptgoD --inplace caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -a --checksum", ["--server", "-logDtprce.iLsfx", ".", "mod/dst/"], null,
            "receiver -rlptgoDc caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -artuz", ["--server", "-ulogDtprze.iLsfx", ".", "mod/dst/"], null,
            "receiver -rlptgoDuz caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -a --protocol=29", ["--server", "-logDtpr", ".", "mod/dst/"], null,
            "receiver -rlptgoD caps=none paths=/dst/" },
        { "3.1.1", "push -as", ["--server", "-slogDtpre.iLsfx"], ["rsync", ".", "mod/dst/"],
            "receiver -rlptgoDs caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -aP", ["--server", "-logDtpre.iLsfx", "--log-format=X", "--partial", ".", "mod/dst/"], null,
            "receiver -rlptgoD --partial --log-format=X caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -avv --delete-excluded --bwlimit=100", ["--server", "-vvlogDtpre.iLsfx", "--bwlimit=100", "--delete-excluded", ".", "mod/dst/"], null,
            "receiver -rlptgoDvv --delete=Unspecified --delete-excluded --bwlimit=100 caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -rlt --files-from=/tmp/cap/list", ["--server", "-ltrRe.iLsfx", ".", "mod/dst/"], null,
            "receiver -rltR caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -ai --del --backup --backup-dir=old", ["--server", "-blogDtpre.iLsfx", "--log-format=%i", "--backup-dir", "old", "--delete-during", ".", "mod/dst/"], null,
            "receiver -rlptgoDb --delete=During --backup-dir=old --log-format=%i caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -aHX", ["--server", "-lHogDtpXre.iLsfx", ".", "mod/dst/"], null,
            "receiver -rlptgoDHX caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -rtz --compress-level=9 --skip-compress=gz/zip", ["--server", "-trze.iLsfx", "--compress-level=9", ".", "mod/dst/"], null,
            "receiver -rtz --compress-level=9 caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -a --protocol=29 -z", ["--server", "-logDtprz", ".", "mod/dst/"], null,
            "receiver -rlptgoDz caps=none paths=/dst/" },
        { "3.1.1", "push -vvv -a", ["--server", "-vvvlogDtpre.iLsfx", ".", "mod/dst/"], null,
            "receiver -rlptgoDvvv caps=.iLsfx paths=/dst/" },
        { "3.1.1", "pull -a", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoD caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -avz", ["--server", "--sender", "-vlogDtprze.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoDvz caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -aH --delete", ["--server", "--sender", "-lHogDtpre.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoDH caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -aR", ["--server", "--sender", "-logDtprRe.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoDR caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -au", ["--server", "--sender", "-ulogDtpre.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoDu caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -a --inplace", ["--server", "--sender", "-logDtpre.iLsfx", "--inplace", ".", "mod/src/"], null,
            "sender -rlptgoD --inplace caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -a --checksum", ["--server", "--sender", "-logDtprce.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoDc caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -artuz", ["--server", "--sender", "-ulogDtprze.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoDuz caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -a --protocol=29", ["--server", "--sender", "-logDtpr", ".", "mod/src/"], null,
            "sender -rlptgoD caps=none paths=/src/" },
        { "3.1.1", "pull -as", ["--server", "--sender", "-slogDtpre.iLsfx"], ["rsync", ".", "mod/src/"],
            "sender -rlptgoDs caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -avv --delete-excluded --bwlimit=100", ["--server", "--sender", "-vvlogDtpre.iLsfx", "--bwlimit=100", ".", "mod/src/"], null,
            "sender -rlptgoDvv --bwlimit=100 caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -rlt --files-from=/tmp/cap/list", ["--server", "--sender", "-ltrRe.iLsfx", "--files-from=-", "--from0", ".", "mod/src/"], null,
            "sender -rltR --files-from=- --from0 caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -ai --del --backup --backup-dir=old", ["--server", "--sender", "-blogDtpre.iLsfx", "--backup-dir", "old", ".", "mod/src/"], null,
            "sender -rlptgoDb --backup-dir=old caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -aHX", ["--server", "--sender", "-lHogDtpXre.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoDHX caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -rtz --compress-level=9 --skip-compress=gz/zip", ["--server", "--sender", "-trze.iLsfx", "--compress-level=9", "--skip-compress=gz/zip", ".", "mod/src/"], null,
            "sender -rtz --compress-level=9 --skip-compress=gz/zip caps=.iLsfx paths=/src/" },
        { "3.1.1", "pull -a --protocol=29 -z", ["--server", "--sender", "-logDtprz", ".", "mod/src/"], null,
            "sender -rlptgoDz caps=none paths=/src/" },
        { "3.1.1", "pull -vvv -a", ["--server", "--sender", "-vvvlogDtpre.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoDvvv caps=.iLsfx paths=/src/" },
        { "3.5.0", "push -a", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoD caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -avz", ["--server", "-vlogDtprze.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoDvz caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -aH --delete", ["--server", "-lHogDtpre.iLsfxCIvu", "--delete", ".", "mod/dst/"], null,
            "receiver -rlptgoDH --delete=Unspecified caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -aR", ["--server", "-logDtprRe.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoDR caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -au", ["--server", "-ulogDtpre.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoDu caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -a --partial", ["--server", "-logDtpre.iLsfxCIvu", "--partial", ".", "mod/dst/"], null,
            "receiver -rlptgoD --partial caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -a --inplace", ["--server", "-logDtpre.iLsfxCIvu", "--inplace", ".", "mod/dst/"], null,
            "receiver -rlptgoD --inplace caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -a --checksum", ["--server", "-logDtprce.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoDc caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -artuz", ["--server", "-ulogDtprze.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoDuz caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -as", ["--server", "-slogDtpre.iLsfxCIvu"], ["rsync", ".", "mod/dst/"],
            "receiver -rlptgoDs caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -aP", ["--server", "-logDtpre.iLsfxCIvu", "--log-format=X", "--partial", ".", "mod/dst/"], null,
            "receiver -rlptgoD --partial --log-format=X caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -avv --delete-excluded --bwlimit=100", ["--server", "-vvlogDtpre.iLsfxCIvu", "--bwlimit=100", "--delete-excluded", ".", "mod/dst/"], null,
            "receiver -rlptgoDvv --delete=Unspecified --delete-excluded --bwlimit=100 caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -rlt --files-from=/tmp/cap/list", ["--server", "-ltrRe.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rltR caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -ai --del --backup --backup-dir=old", ["--server", "-blogDtpre.iLsfxCIvu", "--log-format=%i", "--backup-dir", "old", "--delete-during", ".", "mod/dst/"], null,
            "receiver -rlptgoDb --delete=During --backup-dir=old --log-format=%i caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -aHX", ["--server", "-lHogDtpXre.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoDHX caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -rtz --compress-level=9 --skip-compress=gz/zip", ["--server", "-trze.iLsfxCIvu", "--compress-level=9", ".", "mod/dst/"], null,
            "receiver -rtz --compress-level=9 caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -vvv -a", ["--server", "-vvvlogDtpre.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoDvvv caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "pull -a", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoD caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -avz", ["--server", "--sender", "-vlogDtprze.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoDvz caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -aH --delete", ["--server", "--sender", "-lHogDtpre.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoDH caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -aR", ["--server", "--sender", "-logDtprRe.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoDR caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -au", ["--server", "--sender", "-ulogDtpre.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoDu caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -a --inplace", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--inplace", ".", "mod/src/"], null,
            "sender -rlptgoD --inplace caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -a --checksum", ["--server", "--sender", "-logDtprce.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoDc caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -artuz", ["--server", "--sender", "-ulogDtprze.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoDuz caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -as", ["--server", "--sender", "-slogDtpre.iLsfxCIvu"], ["rsync", ".", "mod/src/"],
            "sender -rlptgoDs caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -avv --delete-excluded --bwlimit=100", ["--server", "--sender", "-vvlogDtpre.iLsfxCIvu", "--bwlimit=100", ".", "mod/src/"], null,
            "sender -rlptgoDvv --bwlimit=100 caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -rlt --files-from=/tmp/cap/list", ["--server", "--sender", "-ltrRe.iLsfxCIvu", "--files-from=-", "--from0", ".", "mod/src/"], null,
            "sender -rltR --files-from=- --from0 caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -ai --del --backup --backup-dir=old", ["--server", "--sender", "-blogDtpre.iLsfxCIvu", "--backup-dir", "old", ".", "mod/src/"], null,
            "sender -rlptgoDb --backup-dir=old caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -aHX", ["--server", "--sender", "-lHogDtpXre.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoDHX caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -rtz --compress-level=9 --skip-compress=gz/zip", ["--server", "--sender", "-trze.iLsfxCIvu", "--compress-level=9", "--skip-compress=gz/zip", ".", "mod/src/"], null,
            "sender -rtz --compress-level=9 --skip-compress=gz/zip caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "pull -vvv -a", ["--server", "--sender", "-vvvlogDtpre.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoDvvv caps=.iLsfxCIvu paths=/src/" },
        { "3.1.1", "pull -a rsync://h/mod/src/a rsync://h/mod/src/sub dst/", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/a", "mod/src/sub"], null,
            "sender -rlptgoD caps=.iLsfx paths=/src/a|/src/sub" },
        { "3.1.1", "pull rsync://h/mod/", ["--server", "--sender", "-de.Lsfx", ".", "mod/"], null,
            "sender -d caps=.Lsfx paths=/" },
        { "3.1.1", "pull -r rsync://h/mod/src", ["--server", "--sender", "-re.iLsfx", ".", "mod/src"], null,
            "sender -r caps=.iLsfx paths=/src" },
        { "3.1.1", "pull -a rsync://h/mod dst/", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/"], null,
            "sender -rlptgoD caps=.iLsfx paths=/" },
        { "3.1.1", "pull -a rsync://h/mod/with space/-dash dst/", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/with space/-dash"], null,
            "sender -rlptgoD caps=.iLsfx paths=/with space/-dash" },
        { "3.1.1", "pull -as rsync://h/mod/with space/-dash rsync://h/mod/ dst/", ["--server", "--sender", "-slogDtpre.iLsfx"], ["rsync", ".", "mod/with space/-dash", "mod/"],
            "sender -rlptgoDs caps=.iLsfx paths=/with space/-dash|/" },
        { "3.1.1", "push -a src/ rsync://h/mod", ["--server", "-logDtpre.iLsfx", ".", "mod/"], null,
            "receiver -rlptgoD caps=.iLsfx paths=/" },
        { "3.1.1", "push -d --delete -F -F --exclude-from=/tmp/cap/list", ["--server", "-de.Lsfx", "--no-r", "--delete", ".", "mod/dst/"], null,
            "receiver -d --delete=Unspecified caps=.Lsfx paths=/dst/" },
        { "3.1.1", "push -a --list-only", ["--server", "-logDtpre.iLsfx", "--list-only", ".", "mod/dst/"], null,
            "receiver -rlptgoD --list-only caps=.iLsfx paths=/dst/" },
        { "3.1.1", "pull -a --files-from=:/remote/list --from0", ["--server", "--sender", "-logDtpRe.Lsfx", "--files-from", "/remote/list", "--from0", ".", "mod/src/"], null,
            "sender -lptgoDR --files-from=/remote/list --from0 caps=.Lsfx paths=/src/" },
        { "3.1.1", "pull -a --out-format=%n%L -vi -h --stats --progress -8 --no-motd", ["--server", "--sender", "-vlogDtpre.iLsfx", ".", "mod/src/"], null,
            "sender -rlptgoDv caps=.iLsfx paths=/src/" },
        { "3.5.0", "pull -a rsync://h/mod/src/a rsync://h/mod/src/sub dst/", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/a", "mod/src/sub"], null,
            "sender -rlptgoD caps=.iLsfxCIvu paths=/src/a|/src/sub" },
        { "3.5.0", "pull rsync://h/mod/", ["--server", "--sender", "-de.LsfxCIvu", ".", "mod/"], null,
            "sender -d caps=.LsfxCIvu paths=/" },
        { "3.5.0", "pull -r rsync://h/mod/src", ["--server", "--sender", "-re.iLsfxCIvu", ".", "mod/src"], null,
            "sender -r caps=.iLsfxCIvu paths=/src" },
        { "3.5.0", "pull -a rsync://h/mod dst/", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/"], null,
            "sender -rlptgoD caps=.iLsfxCIvu paths=/" },
        { "3.5.0", "pull -a rsync://h/mod/with space/-dash dst/", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/with space/-dash"], null,
            "sender -rlptgoD caps=.iLsfxCIvu paths=/with space/-dash" },
        { "3.5.0", "pull -as rsync://h/mod/with space/-dash rsync://h/mod/ dst/", ["--server", "--sender", "-slogDtpre.iLsfxCIvu"], ["rsync", ".", "mod/with space/-dash", "mod/"],
            "sender -rlptgoDs caps=.iLsfxCIvu paths=/with space/-dash|/" },
        { "3.5.0", "push -a src/ rsync://h/mod", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/"], null,
            "receiver -rlptgoD caps=.iLsfxCIvu paths=/" },
        { "3.5.0", "push -d --delete -F -F --exclude-from=/tmp/cap/list", ["--server", "-de.LsfxCIvu", "--no-r", "--delete", ".", "mod/dst/"], null,
            "receiver -d --delete=Unspecified caps=.LsfxCIvu paths=/dst/" },
        { "3.5.0", "push -a --list-only", ["--server", "-logDtpre.iLsfxCIvu", "--list-only", ".", "mod/dst/"], null,
            "receiver -rlptgoD --list-only caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "pull -a --files-from=:/remote/list --from0", ["--server", "--sender", "-logDtpRe.LsfxCIvu", "--files-from", "/remote/list", "--from0", ".", "mod/src/"], null,
            "sender -lptgoDR --files-from=/remote/list --from0 caps=.LsfxCIvu paths=/src/" },
        { "3.5.0", "pull -a --out-format=%n%L -vi -h --stats --progress -8 --no-motd", ["--server", "--sender", "-vlogDtpre.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoDv caps=.iLsfxCIvu paths=/src/" },
        { "3.1.1", "push -a --timeout=30 --iconv=utf8,latin1 --numeric-ids --max-delete=3 --delete-after --partial-dir=.p --chmod=Du+x --remove-source-files --size-only --ignore-existing --existing --modify-window=1 --checksum-seed=5 --copy-unsafe-links --safe-links -x -S -O -J -K -m -W -E --super", ["--server", "-lKmOJWogDtprxSe.iLsfx", "--iconv=utf8", "--timeout=30", "--max-delete=3", "--delete-after", "--super", "--size-only", "--modify-window=1", "--checksum-seed=5", "--partial-dir", ".p", "--copy-unsafe-links", "--safe-links", "--numeric-ids", "--ignore-existing", "--existing", "--remove-source-files", ".", "mod/dst/"], null,
            "receiver -rlptgoDOJKmxSW --delete=After --max-delete=3 --partial --partial-dir=.p --timeout=30 --modify-window=1 --checksum-seed=5 --iconv=utf8 --numeric-ids --size-only --ignore-existing --existing --remove-source-files --super=Super --copy-unsafe-links --safe-links caps=.iLsfx paths=/dst/" },
        { "3.1.1", "pull -a --timeout=30 --iconv=utf8,latin1 --numeric-ids --max-delete=3 --delete-after --chmod=Du+x --remove-source-files --size-only --ignore-existing --existing --modify-window=1 --checksum-seed=5 --copy-unsafe-links --safe-links -x -O -J -K -m -L -k -n --append-verify", ["--server", "--sender", "-nlLkogDtprxe.Lsfx", "--iconv=utf8", "--timeout=30", "--modify-window=1", "--checksum-seed=5", "--copy-unsafe-links", "--safe-links", "--numeric-ids", "--append", "--append", "--remove-source-files", ".", "mod/src/"], null,
            "sender -rlptgoDLkxn --inplace --append-verify --timeout=30 --modify-window=1 --checksum-seed=5 --iconv=utf8 --numeric-ids --remove-source-files --copy-unsafe-links --safe-links caps=.Lsfx paths=/src/" },
        { "3.1.1", "push -a --link-dest=/x -y -T /tmp --min-size=1 --max-size=2M --delay-updates --usermap=a:b --groupmap=c:d --delete-missing-args -C --preallocate --no-implied-dirs --no-inc-recursive", ["--server", "-lyogDtprCe.Lsfx", "--min-size", "1", "--max-size", "2M", "--delete-missing-args", "--delay-updates", "--usermap=a:b", "--groupmap=c:d", "--temp-dir", "/tmp", "--link-dest", "/x", "--preallocate", ".", "mod/dst/"], null,
            "ERROR rsync: The server does not support --cvs-exclude (-C)" },
        { "3.1.1", "pull -a --copy-dest=/x -yy --min-size=1 --max-size=2M --ignore-missing-args -C --no-implied-dirs --chown=u:g", ["--server", "--sender", "-logDtprCe.iLsfx", "--ignore-missing-args", ".", "mod/src/"], null,
            "ERROR rsync: The server does not support --cvs-exclude (-C)" },
        { "3.1.1", "push -rptE --append", ["--server", "-tpre.iLsfx", "--append", ".", "mod/dst/"], null,
            "receiver -rpt --inplace --append caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -a -b --suffix=.bak --delete-before", ["--server", "-blogDtpre.iLsfx", "--suffix=.bak", "--delete-before", ".", "mod/dst/"], null,
            "receiver -rlptgoDb --delete=Before --suffix=.bak caps=.iLsfx paths=/dst/" },
        { "3.1.1", "push -a --no-D --specials --no-perms -W", ["--server", "-lWogtre.iLsfx", "--specials", ".", "mod/dst/"], null,
            "receiver -rltgoW --specials caps=.iLsfx paths=/dst/" },
        { "3.5.0", "push -a --timeout=30 --iconv=utf8,latin1 --numeric-ids --max-delete=3 --delete-after --partial-dir=.p --chmod=Du+x --remove-source-files --size-only --ignore-existing --existing --modify-window=1 --checksum-seed=5 --copy-unsafe-links --safe-links -x -S -O -J -K -m -W -E --super", ["--server", "-lKmOJWogDtprxSe.iLsfxCIvu", "--iconv=utf8", "--timeout=30", "--max-delete=3", "--delete-after", "--super", "--size-only", "--modify-window=1", "--checksum-seed=5", "--partial-dir", ".p", "--copy-unsafe-links", "--safe-links", "--numeric-ids", "--ignore-existing", "--existing", "--remove-source-files", ".", "mod/dst/"], null,
            "receiver -rlptgoDOJKmxSW --delete=After --max-delete=3 --partial --partial-dir=.p --timeout=30 --modify-window=1 --checksum-seed=5 --iconv=utf8 --numeric-ids --size-only --ignore-existing --existing --remove-source-files --super=Super --copy-unsafe-links --safe-links caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "pull -a --timeout=30 --iconv=utf8,latin1 --numeric-ids --max-delete=3 --delete-after --chmod=Du+x --remove-source-files --size-only --ignore-existing --existing --modify-window=1 --checksum-seed=5 --copy-unsafe-links --safe-links -x -O -J -K -m -L -k -n --append-verify", ["--server", "--sender", "-nlLkogDtprxe.LsfxCIvu", "--iconv=utf8", "--timeout=30", "--checksum-seed=5", "--copy-unsafe-links", "--safe-links", "--numeric-ids", "--append", "--append", "--remove-source-files", ".", "mod/src/"], null,
            "sender -rlptgoDLkxn --inplace --append-verify --timeout=30 --checksum-seed=5 --iconv=utf8 --numeric-ids --remove-source-files --copy-unsafe-links --safe-links caps=.LsfxCIvu paths=/src/" },
        { "3.5.0", "push -a --link-dest=/x -y -T /tmp --min-size=1 --max-size=2M --delay-updates --usermap=a:b --groupmap=c:d --delete-missing-args -C --preallocate --no-implied-dirs --no-inc-recursive", ["--server", "-lyogDtprCe.LsfxCIvu", "--min-size=1", "--max-size=2097152", "--delete-missing-args", "--delay-updates", "--usermap=a:b", "--groupmap=c:d", "--temp-dir", "/tmp", "--link-dest", "/x", "--preallocate", ".", "mod/dst/"], null,
            "ERROR rsync: The server does not support --cvs-exclude (-C)" },
        { "3.5.0", "pull -a --copy-dest=/x -yy --min-size=1 --max-size=2M --ignore-missing-args -C --no-implied-dirs --chown=u:g", ["--server", "--sender", "-logDtprCe.iLsfxCIvu", "--ignore-missing-args", ".", "mod/src/"], null,
            "ERROR rsync: The server does not support --cvs-exclude (-C)" },
        { "3.5.0", "push -rptE --append", ["--server", "-tpre.iLsfxCIvu", "--append", ".", "mod/dst/"], null,
            "receiver -rpt --inplace --append caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -a -b --suffix=.bak --delete-before", ["--server", "-blogDtpre.iLsfxCIvu", "--suffix=.bak", "--delete-before", ".", "mod/dst/"], null,
            "receiver -rlptgoDb --delete=Before --suffix=.bak caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -a --no-D --specials --no-perms -W", ["--server", "-lWogtre.iLsfxCIvu", "--specials", ".", "mod/dst/"], null,
            "receiver -rltgoW --specials caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -aq", ["--server", "-qlogDtpre.iLsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoD caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "pull -aq", ["--server", "--sender", "-qlogDtpre.iLsfxCIvu", ".", "mod/src/"], null,
            "sender -rlptgoD caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "push -a --msgs2stderr", ["--server", "-logDtpre.iLsfxCIvu", "--msgs2stderr", ".", "mod/dst/"], null,
            "receiver -rlptgoD caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push -a --no-msgs2stderr", ["--server", "-logDtpre.iLsfxCIvu", "--no-msgs2stderr", ".", "mod/dst/"], null,
            "ERROR rsync: on remote machine: --no-msgs2stderr: unknown option" },
        { "3.5.0", "pull -a --stderr=all", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--msgs2stderr", ".", "mod/src/"], null,
            "sender -rlptgoD caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "push -a --mkpath --open-noatime", ["--server", "-logDtpre.iLsfxCIvu", "--open-noatime", "--mkpath", ".", "mod/dst/"], null,
            "ERROR rsync: on remote machine: --open-noatime: unknown option" },
        { "3.5.0", "pull -a --zc=zlib -z", ["--server", "--sender", "-logDtprze.iLsfxCIvu", "--old-compress", ".", "mod/src/"], null,
            "sender -rlptgoDz caps=.iLsfxCIvu paths=/src/" },
        // Unlike a 3.1.1 daemon, ours takes the 3.2+ choice options.
        { "3.5.0", "pull -a --cc=md5", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--checksum-choice=md5", ".", "mod/src/"], null,
            "sender -rlptgoD caps=.iLsfxCIvu paths=/src/" },
        { "3.5.0", "push -a --no-i-r", ["--server", "-logDtpre.LsfxCIvu", ".", "mod/dst/"], null,
            "receiver -rlptgoD caps=.LsfxCIvu paths=/dst/" },
        { "3.5.0", "push -a -M--no-implied-dirs -M--ignore-errors", ["--server", "-logDtpre.iLsfxCIvu", "--no-implied-dirs", "--ignore-errors", ".", "mod/dst/"], null,
            "receiver -rlptgoD --ignore-errors caps=.iLsfxCIvu paths=/dst/" },
        { "3.5.0", "push --bwlimit=1.5M -a --max-alloc=100M", ["--server", "-logDtpre.iLsfxCIvu", "--bwlimit=1536", "--max-alloc=100M", ".", "mod/dst/"], null,
            "ERROR rsync: on remote machine: --max-alloc=100M: unknown option" },
    };

    [Theory]
    [MemberData(nameof(Captured))]
    public void ParsesWhatStockClientsSend(string client, string command, string[] args, string[]? protectedArgs, string expected)
    {
        _ = client;
        _ = command;
        var settings = new ServerParseSettings
        {
            ModuleName = "mod",
            ProtectedArgs = protectedArgs,
            Refuse = new RefuseOptions(null, charsetConfigured: true),
        };
        string actual;
        try
        {
            actual = Describe(OptionParser.ParseServer(args, settings));
        }
        catch (RsyncUsageException ex)
        {
            Assert.Equal(RsyncUsageException.Unsupported, ex.ExitCode);
            actual = "ERROR " + ex.Message;
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void CapabilityLettersOfA311Client()
    {
        var caps = Parse("--server", "-logDtpre.iLsfx", ".", "mod/dst/").Capabilities;
        Assert.Equal(".iLsfx", caps.Text);
        Assert.Equal("iLsfx", caps.Letters);
        Assert.Null(caps.PreRelease);
        Assert.True(caps.IncrementalRecursion && caps.SymlinkTimes && caps.SymlinkIconv && caps.SafeFileList && caps.AvoidXattrOptimization);
        Assert.False(caps.ChecksumSeedFix || caps.InplacePartialDir || caps.VarintFileListFlags || caps.Id0Names || caps.PreReleaseVarintFlags);
    }

    [Fact]
    public void CapabilityLettersOfA35Client()
    {
        var caps = Parse("--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/").Capabilities;
        Assert.Equal("iLsfxCIvu", caps.Letters);
        Assert.True(caps.IncrementalRecursion && caps.SymlinkTimes && caps.SymlinkIconv && caps.SafeFileList && caps.AvoidXattrOptimization);
        Assert.True(caps.ChecksumSeedFix && caps.InplacePartialDir && caps.VarintFileListFlags && caps.Id0Names);
        Assert.False(caps.PreReleaseVarintFlags);
    }

    [Fact]
    public void CapabilityLettersOfA309Client()
    {
        // rsync 3.0.9 (options.c, server_options there) sends no 'x'.
        var inv = Parse("--server", "-logDtpre.iLsf", ".", "mod/dst/");
        Assert.Equal("iLsf", inv.Capabilities.Letters);
        Assert.True(inv.Capabilities.SafeFileList);
        Assert.False(inv.Capabilities.AvoidXattrOptimization);
        Assert.Equal("receiver -rlptgoD caps=.iLsf paths=/dst/", Describe(inv));
    }

    [Theory]
    [InlineData("31.14iLsfx", 31, 14, "iLsfx")]
    [InlineData("32.1LsfxCIvu", 32, 1, "LsfxCIvu")]
    [InlineData("31.0iLsfx", null, null, "iLsfx")]
    [InlineData(".iLsfx", null, null, "iLsfx")]
    [InlineData("", null, null, "")]
    public void APreReleaseClientPutsItsProtocolFirst(string info, int? protocol, int? sub, string letters)
    {
        var caps = new ClientCapabilities(info);
        Assert.Equal(protocol is null ? null : (protocol.Value, sub!.Value), caps.PreRelease);
        Assert.Equal(letters, caps.Letters);
    }

    [Fact]
    public void WithoutTheEOptionThereAreNoCapabilities()
    {
        // What clients send with --protocol=29 (newline-separated on the wire).
        var inv = Parse("--server", "-logDtpr", ".", "mod/dst/");
        Assert.Null(inv.ClientInfo);
        Assert.Same(ClientCapabilities.None, inv.Capabilities);
        Assert.False(inv.Capabilities.SafeFileList);
        Assert.False(inv.IncrementalRecursionAllowed);
    }

    [Fact]
    public void TheLastEOptionWins()
    {
        Assert.Equal(".LsfxC", Parse("--server", "-le.Lsfx", "--rsh=.LsfxC", ".", "mod/").ClientInfo);
    }

    [Fact]
    public void ProtectedArgumentsArriveInASecondBatch()
    {
        string[] first = ["--server", "-slogDtpre.iLsfx"];
        var pending = Parse(first);
        Assert.True(pending.ProtectedArgsPending);
        Assert.True(pending.Options.ProtectArgs);
        Assert.Empty(pending.Paths);
        Assert.Null(pending.Request);

        var inv = OptionParser.ParseServer(first, new ServerParseSettings
        {
            ModuleName = "mod",
            ProtectedArgs = ["rsync", "--delete", "--suffix=.x", ".", "mod/a mod/b", "mod/c"],
        });
        Assert.False(inv.ProtectedArgsPending);
        Assert.Equal("receiver -rlptgoDs --delete=Unspecified --suffix=.x caps=.iLsfx paths=/a mod/b|/c", Describe(inv));
        Assert.Equal("mod/a mod/b mod/c", inv.Request);
    }

    [Fact]
    public void UnprotectedWordsAreSplitAtEachModulePrefix()
    {
        // Old clients put several paths in one word (util.c, glob_expand_module).
        var inv = Parse("--server", "--sender", "-re.iLsfx", ".", "mod/a mod/b", "mod/c d", "mod");
        Assert.Equal(["/a", "/b", "/c d"], inv.Paths);
        Assert.Equal("mod/a mod/b mod/c d mod", inv.Request);

        // The prefix is removed even without a slash after it.
        Assert.Equal(["x/y"], Parse("--server", "--sender", "-re.iLsfx", ".", "modx/y").Paths);

        // Only words after the "." are paths.
        Assert.Equal(["/p"], Parse("--server", "--sender", "--backup-dir", "mod/x", "-bre.iLsfx", ".", "mod/p").Paths);

        // Without a module name the words stay as sent.
        Assert.Equal(["mod/dst/"], OptionParser.ParseServer(["--server", "-re.Lsfx", ".", "mod/dst/"]).Paths);
    }

    [Fact]
    public void TheRequestForTheLogStopsGrowingPastOneKibibyte()
    {
        string big = "mod/" + new string('x', 1100);
        var inv = Parse("--server", "--sender", "-re.Lsfx", ".", "mod/a", big, "mod/b");
        Assert.Equal("mod/a " + big, inv.Request);
        Assert.Equal(3, inv.Paths.Count);
    }

    [Fact]
    public void ErrorsUseTheDaemonsWordingAndExitCode()
    {
        var unknown = Fails("--server", "-logDtpre.iLsfx", "--mkpath", ".", "mod/");
        Assert.Equal("rsync: on remote machine: --mkpath: unknown option", unknown.Message);
        Assert.Equal(RsyncUsageException.Unsupported, unknown.ExitCode);
        Assert.False(unknown.ShowUsage);

        Assert.Equal("rsync: on remote machine: -logDtpQre.iLsfx: unknown option", Fails("--server", "-logDtpQre.iLsfx", ".", "mod/").Message);
        Assert.Equal("rsync: Attempt to hack rsync thwarted!", Fails("--server", "-le.Lsfx", "--daemon", ".", "mod/").Message);
        Assert.Equal("rsync: Attempt to hack rsync thwarted!", Fails("--server", "-le.Lsfx", "--config=/etc/passwd", ".", "mod/").Message);
        Assert.Equal("rsync: --compress-level value is invalid: 10", Fails("--server", "-le.Lsfx", "--compress-level=10", ".", "mod/").Message);
        Assert.Equal("rsync: Remote option must start with a dash: x", Fails("--server", "-le.Lsfx", "-Mx", ".", "mod/").Message);
        Assert.Equal("rsync: The --files-from sent to the server cannot specify a host.",
            Fails("--server", "--sender", "-re.Lsfx", "--files-from=host:/list", ".", "mod/").Message);
        Assert.Equal("rsync: The --files-from sent to the server cannot specify a host.",
            Fails("--server", "--sender", "-re.Lsfx", "--files-from=rsync://host/mod/list", ".", "mod/").Message);
    }

    [Theory]
    [InlineData("--link-dest=/x", "--link-dest")]
    [InlineData("-C", "--cvs-exclude (-C)")]
    [InlineData("-T/tmp", "--temp-dir (-T)")]
    [InlineData("--max-size=1M", "--max-size")]
    [InlineData("--delay-updates", "--delay-updates")]
    [InlineData("--usermap=a:b", "--usermap")]
    [InlineData("--chown=a:b", "--chown")]
    [InlineData("--ignore-missing-args", "--ignore-missing-args")]
    [InlineData("--exclude-from=/etc/passwd", "--exclude-from")]
    public void OptionsThisServerDoesNotCarryOutAreRefusedByName(string option, string name)
    {
        var ex = Fails("--server", "-re.Lsfx", option, ".", "mod/");
        Assert.Equal($"rsync: The server does not support {name}", ex.Message);
        Assert.Equal(RsyncUsageException.Unsupported, ex.ExitCode);
    }

    [Theory]
    [InlineData("--msgs2stderr")]
    [InlineData("--no-motd")]
    [InlineData("--preallocate")]
    [InlineData("-4")]
    [InlineData("--rsync-path=/bin/rsync")]
    [InlineData("--no-fuzzy")]
    [InlineData("--implied-dirs")]
    [InlineData("--info=name2,del")]
    [InlineData("--debug=RECV2")]
    public void HarmlessOptionsAreAccepted(string option)
    {
        Assert.Equal("receiver -r caps=.Lsfx paths=/", Describe(Parse("--server", "-re.Lsfx", option, ".", "mod/")));
    }

    [Fact]
    public void SenderNeedsServerFirst()
    {
        var ex = Fails("--sender", "--server", "-re.Lsfx", ".", "mod/");
        Assert.True(ex.ShowUsage);
        Assert.Equal(RsyncUsageException.SyntaxError, ex.ExitCode);
    }

    [Fact]
    public void TheFirstServerOptionStartsParsingOver()
    {
        // options.c, OPT_SERVER: popt begins again, so options before it count twice.
        var inv = Parse("-v", "--server", "-ve.Lsfx", ".", "mod/");
        Assert.True(inv.IsServer);
        Assert.Equal(3, inv.Options.Verbose);
        Assert.Equal(["/"], inv.Paths);
    }

    [Fact]
    public void WithoutServerTheClientRulesApply()
    {
        var inv = Parse("-re.Lsfx", ".", "mod/");
        Assert.False(inv.IsServer);
        Assert.Equal("rsync: -Q: unknown option", Fails("-Q", ".", "mod/").Message);
    }

    [Fact]
    public void BatchOptionsAreIgnoredExceptOnlyWriteBatchMeansDryRun()
    {
        var write = Parse("--server", "-re.Lsfx", "--write-batch=x", ".", "mod/");
        Assert.Equal(["ignoring --write-batch option sent to server"], write.Notices);
        Assert.False(write.Options.DryRun);
        Assert.Equal(["ignoring --read-batch option sent to server"], Parse("--server", "-re.Lsfx", "--read-batch=x", ".", "mod/").Notices);

        var onlyWrite = Parse("--server", "-re.Lsfx", "--only-write-batch=X", ".", "mod/");
        Assert.Empty(onlyWrite.Notices);
        Assert.True(onlyWrite.Options.DryRun);

        Assert.Equal("rsync: --write-batch and --read-batch can not be used together",
            Fails("--server", "-re.Lsfx", "--write-batch=x", "--read-batch=y", ".", "mod/").Message);
    }

    [Fact]
    public void ASendingServerAcceptsAnEmptySuffix()
    {
        // 3.1.1's daemon accepted "-M--suffix= -b" when sending and refused it when receiving.
        Assert.Equal("", Parse("--server", "--sender", "-bre.Lsfx", "--suffix=", ".", "mod/").Options.BackupSuffix);
        Assert.Equal("rsync: --suffix cannot be empty without a --backup-dir",
            Fails("--server", "-bre.Lsfx", "--suffix=", ".", "mod/").Message);
        Assert.Equal("rsync: --suffix cannot be empty when --backup-dir is the same as the dest dir",
            Fails("--server", "-bre.Lsfx", "--backup-dir=", ".", "mod/").Message);
    }

    [Fact]
    public void ABackupProtectRuleIsTheClientsBusiness()
    {
        Assert.Empty(Parse("--server", "-bre.Lsfx", "--delete", ".", "mod/").Options.FilterRules);
    }

    [Theory]
    [InlineData(new[] { "--append" }, 1)]
    [InlineData(new[] { "--append", "--append" }, 2)]
    [InlineData(new[] { "--append", "--append", "--append" }, 1)]
    [InlineData(new[] { "--append-verify" }, 2)]
    [InlineData(new[] { "--append-verify", "--append" }, 1)]
    [InlineData(new[] { "--append", "--no-append" }, 0)]
    public void AServerCountsAppend(string[] options, int append)
    {
        var inv = Parse(["--server", "-re.Lsfx", .. options, ".", "mod/"]);
        Assert.Equal(append, inv.Options.Append);
        Assert.Equal(append != 0, inv.Options.Inplace);
    }

    [Fact]
    public void TheDaemonOverridesQuietAndMunging()
    {
        var inv = Parse("--server", "-qre.Lsfx", "--munge-links", ".", "mod/");
        Assert.Equal(0, inv.Options.Quiet);
        Assert.False(inv.Options.MungeLinks);
    }

    [Fact]
    public void AServerKeepsADashIconv()
    {
        var inv = OptionParser.ParseServer(["--server", "-re.Lsfx", "--iconv=-", ".", "mod/"],
            new ServerParseSettings { Refuse = new RefuseOptions(null, charsetConfigured: true) });
        Assert.Equal("-", inv.Options.Iconv);
    }

    [Fact]
    public void OldDirsIsOneLevelOfRecursion()
    {
        Assert.Equal("sender -r rule=- /*/* caps=.Lsfx paths=/", Describe(Parse("--server", "--sender", "--old-d", "-e.Lsfx", ".", "mod/")));
    }

    [Theory]
    [InlineData(new[] { "--server", "--sender", "-re.iLsfx" }, true)]
    [InlineData(new[] { "--server", "--sender", "-re.Lsfx" }, false)]
    [InlineData(new[] { "--server", "--sender", "-de.iLsfx" }, false)]
    [InlineData(new[] { "--server", "--sender", "-re.iLsfx", "--qsort" }, false)]
    [InlineData(new[] { "--server", "--sender", "-re.iLsfx", "--no-i-r" }, false)]
    [InlineData(new[] { "--server", "--sender", "-re.iLsfx", "--delete-after" }, true)]
    [InlineData(new[] { "--server", "-re.iLsfx", "--delete-after" }, false)]
    [InlineData(new[] { "--server", "-re.iLsfx", "--delete-before" }, false)]
    [InlineData(new[] { "--server", "-re.iLsfx", "--delete" }, true)]
    [InlineData(new[] { "--server", "-rme.iLsfx" }, false)]
    public void IncrementalRecursionNeedsTheClientsLetterAndSuitableOptions(string[] options, bool allowed)
    {
        Assert.Equal(allowed, Parse([.. options, ".", "mod/"]).IncrementalRecursionAllowed);
    }

    [Theory]
    [InlineData("-vvve.Lsfx", 1, 1)]
    [InlineData("-vvve.Lsfx", 2, 2)]
    [InlineData("-vvve.Lsfx", 5, 3)]
    [InlineData("-vvve.Lsfx", 0, 0)]
    [InlineData("-vvvvvvve.Lsfx", 5, 5)]
    [InlineData("-vvvvvvve.Lsfx", 9, 5)]
    [InlineData("-e.Lsfx", 1, 0)]
    public void MaxVerbosityLimitsTheDaemonsOwnVerbosity(string letters, int max, int level)
    {
        Assert.Equal(level, Parse("--server", letters, ".", "mod/").LimitVerbosity(max));
    }

    [Fact]
    public void EveryOptionSharedWithTheClientTableTakesTheSameKindOfValue()
    {
        foreach (CatalogEntry entry in OptionCatalog.Entries)
        {
            if (ServerOptionTable.Shared(entry) is { } shared)
                Assert.True(shared.Kind == ServerOptionTable.KindOf(entry), entry.DisplayName);
        }

        // The client table's only names a 3.1.1 server does not know are 3.2's.
        Assert.Equal(["cc", "checksum-choice", "compress-choice", "max-alloc", "zc"],
            OptionTable.Long.Keys.Where(k => !OptionCatalog.ByLong.ContainsKey(k)).Order(StringComparer.Ordinal));
        Assert.Equal(219, OptionCatalog.Entries.Count);
    }
}
