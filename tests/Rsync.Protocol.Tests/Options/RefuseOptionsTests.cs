using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Options;

/// <summary>
/// "refuse options" and the other refusals of a daemon. The tables hold what stock rsync daemons
/// answered: the argument vectors are what stock clients (rsync 3.1.1 and 3.5.0) sent to a
/// loopback listener speaking "@RSYNCD: 31.0", and the answers are the lines the daemons logged
/// for the same clients and options (rsync 3.1.1's daemon, and rsync 3.5.0's for the 3.2+
/// reading of the parameter), each module configured with the refusal in the first column.
/// </summary>
public sealed class RefuseOptionsTests
{
    private static string? Answer(string refuse, string[] args, string[]? protectedArgs, RefuseOptionsStyle style)
    {
        var settings = new ServerParseSettings
        {
            ModuleName = "mod",
            Refuse = new RefuseOptions(refuse, style: style),
            ProtectedArgs = protectedArgs,
        };
        try
        {
            OptionParser.ParseServer(args, settings);
            return null;
        }
        catch (RsyncUsageException ex)
        {
            Assert.Equal(RsyncUsageException.Unsupported, ex.ExitCode);
            return ex.Message;
        }
    }

    public static TheoryData<string, string[], string[]?, string?> Rsync311Daemon => new()
    {
        // 3.1.1 push -a --delete
        { "delete", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.1.1 push -a --delete-after
        { "delete", ["--server", "-logDtpre.iLsfx", "--delete-after", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.1.1 push -a --del
        { "delete", ["--server", "-logDtpre.iLsfx", "--delete-during", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.1.1 push -a --delete-excluded
        { "delete", ["--server", "-logDtpre.iLsfx", "--delete-excluded", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.1.1 push -a --remove-source-files
        { "delete", ["--server", "-logDtpre.iLsfx", "--remove-source-files", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a
        { "delete", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a --delete
        { "delete-*", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete-before" },
        // 3.1.1 push -a --remove-source-files
        { "delete-*", ["--server", "-logDtpre.iLsfx", "--remove-source-files", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a --delete
        { "delete-before", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a --delete
        { "delete-during", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a --delete
        { "delete-before delete-during", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete-before" },
        // 3.1.1 push -az
        { "compress", ["--server", "-logDtprze.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.1.1 push -a --compress-level=9
        { "compress", ["--server", "-logDtprze.iLsfx", "--compress-level=9", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.1.1 push -a --compress-level=0
        { "compress", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, null },
        // 3.1.1 push -az
        { "z", ["--server", "-logDtprze.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.1.1 push -ac
        { "c", ["--server", "-logDtprce.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --checksum (-c)" },
        // 3.1.1 push -a
        { "a", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a
        { "archive", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a
        { "r", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --recursive (-r)" },
        // 3.1.1 push -rt
        { "t", ["--server", "-tre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --times (-t)" },
        // 3.1.1 push -a
        { "D", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --(null) (-D)" },
        // 3.1.1 push -a --partial
        { "partial", ["--server", "-logDtpre.iLsfx", "--partial", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --partial" },
        // 3.1.1 push -a -P
        { "partial", ["--server", "-logDtpre.iLsfx", "--log-format=X", "--partial", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --partial" },
        // 3.1.1 push -a --inplace
        { "partial", ["--server", "-logDtpre.iLsfx", "--inplace", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --partial" },
        // 3.1.1 push -a --partial-dir=.p
        { "partial", ["--server", "-logDtpre.iLsfx", "--partial-dir", ".p", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -P
        { "progress", ["--server", "-logDtpre.iLsfx", "--log-format=X", "--partial", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a --append
        { "inplace", ["--server", "-logDtpre.iLsfx", "--append", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --inplace" },
        // 3.1.1 push -a --inplace
        { "inplace", ["--server", "-logDtpre.iLsfx", "--inplace", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --inplace" },
        // 3.1.1 push -a
        { "*", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --server" },
        // 3.1.1 push -a
        { "e", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --rsh (-e)" },
        // 3.1.1 push -a
        { "r*", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --recursive (-r)" },
        // 3.1.1 push -rt
        { "links", ["--server", "-tre.iLsfx", ".", "mod/dst/"], null, null },
        // 3.1.1 push -aH
        { "hard-links", ["--server", "-lHogDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --hard-links (-H)" },
        // 3.1.1 push -aH
        { "H", ["--server", "-lHogDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --hard-links (-H)" },
        // 3.1.1 push -a
        { "no-such-option", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, null },
        // 3.1.1 push -av
        { "v", ["--server", "-vlogDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --verbose (-v)" },
        // 3.1.1 push -a --checksum-seed=5
        { "checksum-seed", ["--server", "-logDtpre.iLsfx", "--checksum-seed=5", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --checksum-seed" },
        // 3.1.1 push -a --timeout=5
        { "timeout", ["--server", "-logDtpre.iLsfx", "--timeout=5", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --timeout" },
        // 3.1.1 push -a --bwlimit=10
        { "bwlimit", ["--server", "-logDtpre.iLsfx", "--bwlimit=10", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --bwlimit" },
        // 3.1.1 push -a --numeric-ids
        { "numeric-ids", ["--server", "-logDtpre.iLsfx", "--numeric-ids", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --numeric-ids" },
        // 3.1.1 push -ax
        { "x", ["--server", "-logDtprxe.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --one-file-system (-x)" },
        // 3.1.1 push -a --iconv=utf8
        { "iconv", ["--server", "-logDtpre.iLsfx", "--iconv=utf8", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --iconv" },
        // 3.1.1 push -a --iconv=utf8
        { "", ["--server", "-logDtpre.iLsfx", "--iconv=utf8", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --iconv" },
        // 3.1.1 push -an
        { "dry-run", ["--server", "-nlogDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --dry-run (-n)" },
        // 3.1.1 push -as
        { "s", ["--server", "-slogDtpre.iLsfx"], ["rsync", ".", "mod/dst/"], "rsync: The server is configured to refuse --protect-args (-s)" },
        // 3.1.1 push -as
        { "protect-args", ["--server", "-slogDtpre.iLsfx"], ["rsync", ".", "mod/dst/"], "rsync: The server is configured to refuse --protect-args (-s)" },
        // 3.1.1 push -as --delete
        { "delete", ["--server", "-slogDtpre.iLsfx"], ["rsync", "--delete", ".", "mod/dst/"], "rsync: The server is configured to refuse --delete" },
        // 3.1.1 push -a
        { "i*", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a
        { "p*", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --perms (-p)" },
        // 3.1.1 push -a --no-perms
        { "no-*", ["--server", "-logDtre.iLsfx", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --no-iconv" },
        // 3.1.1 pull -a --delete
        { "delete", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a --delete-after
        { "delete", ["--server", "--sender", "-logDtpre.Lsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a --remove-source-files
        { "delete", ["--server", "--sender", "-logDtpre.iLsfx", "--remove-source-files", ".", "mod/src/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.1.1 pull -a --delete
        { "delete-*", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a --remove-source-files
        { "delete-*", ["--server", "--sender", "-logDtpre.iLsfx", "--remove-source-files", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a --delete
        { "delete-before", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a --delete
        { "delete-during", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a --delete
        { "delete-before delete-during", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -az
        { "compress", ["--server", "--sender", "-logDtprze.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.1.1 pull -a --compress-level=9
        { "compress", ["--server", "--sender", "-logDtprze.iLsfx", "--compress-level=9", ".", "mod/src/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.1.1 pull -a --compress-level=0
        { "compress", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -az
        { "z", ["--server", "--sender", "-logDtprze.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.1.1 pull -ac
        { "c", ["--server", "--sender", "-logDtprce.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --checksum (-c)" },
        // 3.1.1 pull -a
        { "a", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a
        { "archive", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a
        { "r", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --recursive (-r)" },
        // 3.1.1 pull -rt
        { "t", ["--server", "--sender", "-tre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --times (-t)" },
        // 3.1.1 pull -a
        { "D", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --(null) (-D)" },
        // 3.1.1 pull -a --partial
        { "partial", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a --inplace
        { "partial", ["--server", "--sender", "-logDtpre.iLsfx", "--inplace", ".", "mod/src/"], null, "rsync: The server is configured to refuse --partial" },
        // 3.1.1 pull -a -P
        { "progress", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a --append
        { "inplace", ["--server", "--sender", "-logDtpre.iLsfx", "--append", ".", "mod/src/"], null, "rsync: The server is configured to refuse --inplace" },
        // 3.1.1 pull -a --inplace
        { "inplace", ["--server", "--sender", "-logDtpre.iLsfx", "--inplace", ".", "mod/src/"], null, "rsync: The server is configured to refuse --inplace" },
        // 3.1.1 pull -a
        { "*", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --server" },
        // 3.1.1 pull -a
        { "e", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --rsh (-e)" },
        // 3.1.1 pull -a
        { "r*", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --recursive (-r)" },
        // 3.1.1 pull -rt
        { "links", ["--server", "--sender", "-tre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -aH
        { "hard-links", ["--server", "--sender", "-lHogDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --hard-links (-H)" },
        // 3.1.1 pull -aH
        { "H", ["--server", "--sender", "-lHogDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --hard-links (-H)" },
        // 3.1.1 pull -a
        { "no-such-option", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -av
        { "v", ["--server", "--sender", "-vlogDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --verbose (-v)" },
        // 3.1.1 pull -a --checksum-seed=5
        { "checksum-seed", ["--server", "--sender", "-logDtpre.iLsfx", "--checksum-seed=5", ".", "mod/src/"], null, "rsync: The server is configured to refuse --checksum-seed" },
        // 3.1.1 pull -a --timeout=5
        { "timeout", ["--server", "--sender", "-logDtpre.iLsfx", "--timeout=5", ".", "mod/src/"], null, "rsync: The server is configured to refuse --timeout" },
        // 3.1.1 pull -a --bwlimit=10
        { "bwlimit", ["--server", "--sender", "-logDtpre.iLsfx", "--bwlimit=10", ".", "mod/src/"], null, "rsync: The server is configured to refuse --bwlimit" },
        // 3.1.1 pull -a --numeric-ids
        { "numeric-ids", ["--server", "--sender", "-logDtpre.iLsfx", "--numeric-ids", ".", "mod/src/"], null, "rsync: The server is configured to refuse --numeric-ids" },
        // 3.1.1 pull -ax
        { "x", ["--server", "--sender", "-logDtprxe.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --one-file-system (-x)" },
        // 3.1.1 pull -a --iconv=utf8
        { "iconv", ["--server", "--sender", "-logDtpre.iLsfx", "--iconv=utf8", ".", "mod/src/"], null, "rsync: The server is configured to refuse --iconv" },
        // 3.1.1 pull -a --iconv=utf8
        { "", ["--server", "--sender", "-logDtpre.iLsfx", "--iconv=utf8", ".", "mod/src/"], null, "rsync: The server is configured to refuse --iconv" },
        // 3.1.1 pull -an
        { "dry-run", ["--server", "--sender", "-nlogDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --dry-run (-n)" },
        // 3.1.1 pull -as
        { "s", ["--server", "--sender", "-slogDtpre.iLsfx"], ["rsync", ".", "mod/src/"], "rsync: The server is configured to refuse --protect-args (-s)" },
        // 3.1.1 pull -as
        { "protect-args", ["--server", "--sender", "-slogDtpre.iLsfx"], ["rsync", ".", "mod/src/"], "rsync: The server is configured to refuse --protect-args (-s)" },
        // 3.1.1 pull -as --delete
        { "delete", ["--server", "--sender", "-slogDtpre.iLsfx"], ["rsync", ".", "mod/src/"], null },
        // 3.1.1 pull -a
        { "i*", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a
        { "p*", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --perms (-p)" },
        // 3.1.1 pull -a --no-perms
        { "no-*", ["--server", "--sender", "-logDtre.iLsfx", ".", "mod/src/"], null, "rsync: The server is configured to refuse --no-iconv" },
        // 3.5.0 push -a --delete
        { "delete", ["--server", "-logDtpre.iLsfxCIvu", "--delete", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.5.0 push -a --delete-after
        { "delete", ["--server", "-logDtpre.iLsfxCIvu", "--delete-after", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.5.0 push -a --del
        { "delete", ["--server", "-logDtpre.iLsfxCIvu", "--delete-during", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.5.0 push -a --delete-excluded
        { "delete", ["--server", "-logDtpre.iLsfxCIvu", "--delete-excluded", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.5.0 push -a --remove-source-files
        { "delete", ["--server", "-logDtpre.iLsfxCIvu", "--remove-source-files", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a
        { "delete", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a --delete
        { "delete-*", ["--server", "-logDtpre.iLsfxCIvu", "--delete", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete-before" },
        // 3.5.0 push -a --remove-source-files
        { "delete-*", ["--server", "-logDtpre.iLsfxCIvu", "--remove-source-files", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a --delete
        { "delete-before", ["--server", "-logDtpre.iLsfxCIvu", "--delete", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a --delete
        { "delete-during", ["--server", "-logDtpre.iLsfxCIvu", "--delete", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a --delete
        { "delete-before delete-during", ["--server", "-logDtpre.iLsfxCIvu", "--delete", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --delete-before" },
        // 3.5.0 push -az
        { "compress", ["--server", "-logDtprze.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.5.0 push -a --compress-level=9
        { "compress", ["--server", "-logDtpre.iLsfxCIvu", "--compress-level=9", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.5.0 push -a --compress-level=0
        { "compress", ["--server", "-logDtpre.iLsfxCIvu", "--compress-level=0", ".", "mod/dst/"], null, null },
        // 3.5.0 push -az
        { "z", ["--server", "-logDtprze.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.5.0 push -ac
        { "c", ["--server", "-logDtprce.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --checksum (-c)" },
        // 3.5.0 push -a
        { "a", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a
        { "archive", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a
        { "r", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --recursive (-r)" },
        // 3.5.0 push -rt
        { "t", ["--server", "-tre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --times (-t)" },
        // 3.5.0 push -a
        { "D", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --(null) (-D)" },
        // 3.5.0 push -a --partial
        { "partial", ["--server", "-logDtpre.iLsfxCIvu", "--partial", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --partial" },
        // 3.5.0 push -a -P
        { "partial", ["--server", "-logDtpre.iLsfxCIvu", "--log-format=X", "--partial", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --partial" },
        // 3.5.0 push -a --inplace
        { "partial", ["--server", "-logDtpre.iLsfxCIvu", "--inplace", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --partial" },
        // 3.5.0 push -a --partial-dir=.p
        { "partial", ["--server", "-logDtpre.iLsfxCIvu", "--partial-dir", ".p", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a -P
        { "progress", ["--server", "-logDtpre.iLsfxCIvu", "--log-format=X", "--partial", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a --append
        { "inplace", ["--server", "-logDtpre.iLsfxCIvu", "--append", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --inplace" },
        // 3.5.0 push -a --inplace
        { "inplace", ["--server", "-logDtpre.iLsfxCIvu", "--inplace", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --inplace" },
        // 3.5.0 push -a
        { "*", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --server" },
        // 3.5.0 push -a
        { "e", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --rsh (-e)" },
        // 3.5.0 push -a
        { "r*", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --recursive (-r)" },
        // 3.5.0 push -rt
        { "links", ["--server", "-tre.iLsfxCIvu", ".", "mod/dst/"], null, null },
        // 3.5.0 push -aH
        { "hard-links", ["--server", "-lHogDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --hard-links (-H)" },
        // 3.5.0 push -aH
        { "H", ["--server", "-lHogDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --hard-links (-H)" },
        // 3.5.0 push -a
        { "no-such-option", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, null },
        // 3.5.0 push -av
        { "v", ["--server", "-vlogDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --verbose (-v)" },
        // 3.5.0 push -a --checksum-seed=5
        { "checksum-seed", ["--server", "-logDtpre.iLsfxCIvu", "--checksum-seed=5", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --checksum-seed" },
        // 3.5.0 push -a --timeout=5
        { "timeout", ["--server", "-logDtpre.iLsfxCIvu", "--timeout=5", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --timeout" },
        // 3.5.0 push -a --bwlimit=10
        { "bwlimit", ["--server", "-logDtpre.iLsfxCIvu", "--bwlimit=10", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --bwlimit" },
        // 3.5.0 push -a --numeric-ids
        { "numeric-ids", ["--server", "-logDtpre.iLsfxCIvu", "--numeric-ids", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --numeric-ids" },
        // 3.5.0 push -ax
        { "x", ["--server", "-logDtprxe.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --one-file-system (-x)" },
        // 3.5.0 push -a --iconv=utf8
        { "iconv", ["--server", "-logDtpre.iLsfxCIvu", "--iconv=utf8", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --iconv" },
        // 3.5.0 push -a --iconv=utf8
        { "", ["--server", "-logDtpre.iLsfxCIvu", "--iconv=utf8", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --iconv" },
        // 3.5.0 push -an
        { "dry-run", ["--server", "-nlogDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --dry-run (-n)" },
        // 3.5.0 push -as
        { "s", ["--server", "-slogDtpre.iLsfxCIvu"], ["rsync", ".", "mod/dst/"], "rsync: The server is configured to refuse --protect-args (-s)" },
        // 3.5.0 push -as
        { "protect-args", ["--server", "-slogDtpre.iLsfxCIvu"], ["rsync", ".", "mod/dst/"], "rsync: The server is configured to refuse --protect-args (-s)" },
        // 3.5.0 push -as --delete
        { "delete", ["--server", "-slogDtpre.iLsfxCIvu"], ["rsync", "--delete", ".", "mod/dst/"], "rsync: The server is configured to refuse --delete" },
        // 3.5.0 push -a
        { "i*", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a
        { "p*", ["--server", "-logDtpre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --perms (-p)" },
        // 3.5.0 push -a --no-perms
        { "no-*", ["--server", "-logDtre.iLsfxCIvu", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --no-iconv" },
        // 3.5.0 pull -a --delete
        { "delete", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a --delete-after
        { "delete", ["--server", "--sender", "-logDtpre.LsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a --remove-source-files
        { "delete", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--remove-source-files", ".", "mod/src/"], null, "rsync: The server is configured to refuse --delete" },
        // 3.5.0 pull -a --delete
        { "delete-*", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a --remove-source-files
        { "delete-*", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--remove-source-files", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a --delete
        { "delete-before", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a --delete
        { "delete-during", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a --delete
        { "delete-before delete-during", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -az
        { "compress", ["--server", "--sender", "-logDtprze.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.5.0 pull -a --compress-level=9
        { "compress", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--compress-level=9", ".", "mod/src/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.5.0 pull -a --compress-level=0
        { "compress", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--compress-level=0", ".", "mod/src/"], null, null },
        // 3.5.0 pull -az
        { "z", ["--server", "--sender", "-logDtprze.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.5.0 pull -ac
        { "c", ["--server", "--sender", "-logDtprce.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --checksum (-c)" },
        // 3.5.0 pull -a
        { "a", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a
        { "archive", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a
        { "r", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --recursive (-r)" },
        // 3.5.0 pull -rt
        { "t", ["--server", "--sender", "-tre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --times (-t)" },
        // 3.5.0 pull -a
        { "D", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --(null) (-D)" },
        // 3.5.0 pull -a --partial
        { "partial", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a --inplace
        { "partial", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--inplace", ".", "mod/src/"], null, "rsync: The server is configured to refuse --partial" },
        // 3.5.0 pull -a -P
        { "progress", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a --append
        { "inplace", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--append", ".", "mod/src/"], null, "rsync: The server is configured to refuse --inplace" },
        // 3.5.0 pull -a --inplace
        { "inplace", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--inplace", ".", "mod/src/"], null, "rsync: The server is configured to refuse --inplace" },
        // 3.5.0 pull -a
        { "*", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --server" },
        // 3.5.0 pull -a
        { "e", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --rsh (-e)" },
        // 3.5.0 pull -a
        { "r*", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --recursive (-r)" },
        // 3.5.0 pull -rt
        { "links", ["--server", "--sender", "-tre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -aH
        { "hard-links", ["--server", "--sender", "-lHogDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --hard-links (-H)" },
        // 3.5.0 pull -aH
        { "H", ["--server", "--sender", "-lHogDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --hard-links (-H)" },
        // 3.5.0 pull -a
        { "no-such-option", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -av
        { "v", ["--server", "--sender", "-vlogDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --verbose (-v)" },
        // 3.5.0 pull -a --checksum-seed=5
        { "checksum-seed", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--checksum-seed=5", ".", "mod/src/"], null, "rsync: The server is configured to refuse --checksum-seed" },
        // 3.5.0 pull -a --timeout=5
        { "timeout", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--timeout=5", ".", "mod/src/"], null, "rsync: The server is configured to refuse --timeout" },
        // 3.5.0 pull -a --bwlimit=10
        { "bwlimit", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--bwlimit=10", ".", "mod/src/"], null, "rsync: The server is configured to refuse --bwlimit" },
        // 3.5.0 pull -a --numeric-ids
        { "numeric-ids", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--numeric-ids", ".", "mod/src/"], null, "rsync: The server is configured to refuse --numeric-ids" },
        // 3.5.0 pull -ax
        { "x", ["--server", "--sender", "-logDtprxe.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --one-file-system (-x)" },
        // 3.5.0 pull -a --iconv=utf8
        { "iconv", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--iconv=utf8", ".", "mod/src/"], null, "rsync: The server is configured to refuse --iconv" },
        // 3.5.0 pull -a --iconv=utf8
        { "", ["--server", "--sender", "-logDtpre.iLsfxCIvu", "--iconv=utf8", ".", "mod/src/"], null, "rsync: The server is configured to refuse --iconv" },
        // 3.5.0 pull -an
        { "dry-run", ["--server", "--sender", "-nlogDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --dry-run (-n)" },
        // 3.5.0 pull -as
        { "s", ["--server", "--sender", "-slogDtpre.iLsfxCIvu"], ["rsync", ".", "mod/src/"], "rsync: The server is configured to refuse --protect-args (-s)" },
        // 3.5.0 pull -as
        { "protect-args", ["--server", "--sender", "-slogDtpre.iLsfxCIvu"], ["rsync", ".", "mod/src/"], "rsync: The server is configured to refuse --protect-args (-s)" },
        // 3.5.0 pull -as --delete
        { "delete", ["--server", "--sender", "-slogDtpre.iLsfxCIvu"], ["rsync", ".", "mod/src/"], null },
        // 3.5.0 pull -a
        { "i*", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, null },
        // 3.5.0 pull -a
        { "p*", ["--server", "--sender", "-logDtpre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --perms (-p)" },
        // 3.5.0 pull -a --no-perms
        { "no-*", ["--server", "--sender", "-logDtre.iLsfxCIvu", ".", "mod/src/"], null, "rsync: The server is configured to refuse --no-iconv" },
        // 3.5.0 push -a --mkpath
        { "", ["--server", "-logDtpre.iLsfxCIvu", "--mkpath", ".", "mod/dst/"], null, "rsync: on remote machine: --mkpath: unknown option" },
        // 3.5.0 push -a --no-msgs2stderr
        { "", ["--server", "-logDtpre.iLsfxCIvu", "--no-msgs2stderr", ".", "mod/dst/"], null, "rsync: on remote machine: --no-msgs2stderr: unknown option" },
        // 3.5.0 push -a --msgs2stderr
        { "", ["--server", "-logDtpre.iLsfxCIvu", "--msgs2stderr", ".", "mod/dst/"], null, null },
        // 3.5.0 push -aq
        { "", ["--server", "-qlogDtpre.iLsfxCIvu", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a --cc=md5 (a 3.1.1 daemon does not know the option; ours takes it)
        { "", ["--server", "-logDtpre.iLsfxCIvu", "--checksum-choice=md5", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a --zc=zstd against "refuse options = compress" (a 3.5.0 daemon answers the same)
        { "compress", ["--server", "-logDtpre.iLsfxCIvu", "--compress-choice=zstd", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --compress (-z)" },
        // 3.5.0 push -a --zc=zlib -z
        { "", ["--server", "-logDtprze.iLsfxCIvu", "--old-compress", ".", "mod/dst/"], null, null },
        // 3.5.0 push -a --open-noatime
        { "", ["--server", "-logDtpre.iLsfxCIvu", "--open-noatime", ".", "mod/dst/"], null, "rsync: on remote machine: --open-noatime: unknown option" },
        // 3.5.0 push -a --max-alloc=100M
        { "", ["--server", "-logDtpre.iLsfxCIvu", "--max-alloc=100M", ".", "mod/dst/"], null, "rsync: on remote machine: --max-alloc=100M: unknown option" },
        // 3.1.1 push -a -M--daemon
        { "", ["--server", "-logDtpre.iLsfx", "--daemon", ".", "mod/dst/"], null, "rsync: Attempt to hack rsync thwarted!" },
        // 3.1.1 push -a -M--config=/x
        { "", ["--server", "-logDtpre.iLsfx", "--config=/x", ".", "mod/dst/"], null, "rsync: Attempt to hack rsync thwarted!" },
        // 3.1.1 push -a -M--log-file=/tmp/d311/x
        { "", ["--server", "-logDtpre.iLsfx", "--log-file=/tmp/d311/x", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --log-file" },
        // 3.1.1 push -a -M--log-file-format=%n
        { "", ["--server", "-logDtpre.iLsfx", "--log-file-format=%n", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --log-file-format" },
        // 3.1.1 push -a -M--write-batch=x
        { "", ["--server", "-logDtpre.iLsfx", "--write-batch=x", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--read-batch=x
        { "", ["--server", "-logDtpre.iLsfx", "--read-batch=x", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--only-write-batch=x
        { "", ["--server", "-logDtpre.iLsfx", "--only-write-batch=x", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--files-from=host:/x
        { "", ["--server", "-logDtpre.iLsfx", "--files-from=host:/x", ".", "mod/dst/"], null, "rsync: The --files-from sent to the server cannot specify a host." },
        // 3.1.1 push -a -M--foo
        { "", ["--server", "-logDtpre.iLsfx", "--foo", ".", "mod/dst/"], null, "rsync: on remote machine: --foo: unknown option" },
        // 3.1.1 push -a -M-Z
        { "", ["--server", "-logDtpre.iLsfx", "-Z", ".", "mod/dst/"], null, "rsync: on remote machine: -Z: unknown option" },
        // 3.1.1 push -a -M--compress-level=10
        { "", ["--server", "-logDtpre.iLsfx", "--compress-level=10", ".", "mod/dst/"], null, "rsync: --compress-level value is invalid: 10" },
        // 3.1.1 push -a -M--bwlimit=abc
        { "", ["--server", "-logDtpre.iLsfx", "--bwlimit=abc", ".", "mod/dst/"], null, "rsync: --bwlimit value is invalid: abc" },
        // 3.1.1 push -a -M--timeout=abc
        { "", ["--server", "-logDtpre.iLsfx", "--timeout=abc", ".", "mod/dst/"], null, "rsync: on remote machine: --timeout=abc: invalid numeric value" },
        // 3.1.1 push -a -M--timeout=99999999999
        { "", ["--server", "-logDtpre.iLsfx", "--timeout=99999999999", ".", "mod/dst/"], null, "rsync: on remote machine: --timeout=99999999999: number too large or too small" },
        // 3.1.1 push -a -M--fake-super -XX
        { "", ["--server", "-logDtpXXre.iLsfx", "--fake-super", ".", "mod/dst/"], null, "rsync: --fake-super conflicts with -XX" },
        // 3.1.1 push -a -M--sparse --inplace
        { "", ["--server", "-logDtpre.iLsfx", "--inplace", "--sparse", ".", "mod/dst/"], null, "rsync: --sparse cannot be used with --inplace" },
        // 3.1.1 push -r -M--no-r -M--delete
        { "", ["--server", "-re.iLsfx", "--no-r", "--delete", ".", "mod/dst/"], null, "rsync: --delete does not work without --recursive (-r) or --dirs (-d)." },
        // 3.1.1 push -a -M--sender
        { "", ["--server", "-logDtpre.iLsfx", "--sender", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--server
        { "", ["--server", "-logDtpre.iLsfx", "--server", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--suffix=a/b
        { "", ["--server", "-logDtpre.iLsfx", "--suffix=a/b", ".", "mod/dst/"], null, "rsync: --suffix cannot contain slashes: a/b" },
        // 3.1.1 push -a -M--max-delete=-5
        { "", ["--server", "-logDtpre.iLsfx", "--max-delete=-5", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--append -M--append
        { "", ["--server", "-logDtpre.iLsfx", "--append", "--append", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--partial-dir=
        { "", ["--server", "-logDtpre.iLsfx", "--partial-dir=", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--partial-dir=. -M--partial
        { "", ["--server", "-logDtpre.iLsfx", "--partial-dir=.", "--partial", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--files-from=- -M--from0
        { "", ["--server", "-logDtpre.iLsfx", "--files-from=-", "--from0", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--iconv=-
        { "", ["--server", "-logDtpre.iLsfx", "--iconv=-", ".", "mod/dst/"], null, "rsync: The server is configured to refuse --iconv" },
        // 3.1.1 push -a -M--chmod=bad
        { "", ["--server", "-logDtpre.iLsfx", "--chmod=bad", ".", "mod/dst/"], null, "rsync: Invalid argument passed to --chmod (bad)" },
        // 3.1.1 push -a -M--outbuf=Q
        { "", ["--server", "-logDtpre.iLsfx", "--outbuf=Q", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M-h -M-h
        { "", ["--server", "-logDtpre.iLsfx", "-h", "-h", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--rsh=.LsfxC
        { "", ["--server", "-logDtpre.iLsfx", "--rsh=.LsfxC", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--write-batch=x -M--read-batch=y
        { "", ["--server", "-logDtpre.iLsfx", "--write-batch=x", "--read-batch=y", ".", "mod/dst/"], null, "rsync: --write-batch and --read-batch can not be used together" },
        // 3.1.1 push -a -M--no-iconv
        { "", ["--server", "-logDtpre.iLsfx", "--no-iconv", ".", "mod/dst/"], null, null },
        // 3.1.1 push -a -M--delete-before -M--delete-after
        { "", ["--server", "-logDtpre.iLsfx", "--delete-before", "--delete-after", ".", "mod/dst/"], null, "rsync: You may not combine multiple --delete-WHEN options." },
        // 3.1.1 push -a -M--append -M--partial-dir=x
        { "", ["--server", "-logDtpre.iLsfx", "--append", "--partial-dir=x", ".", "mod/dst/"], null, "rsync: --append cannot be used with --partial-dir" },
        // 3.1.1 push -a -M--backup-dir= -b
        { "", ["--server", "-blogDtpre.iLsfx", "--backup-dir=", ".", "mod/dst/"], null, "rsync: --suffix cannot be empty when --backup-dir is the same as the dest dir" },
        // 3.1.1 push -a -M--suffix= -b
        { "", ["--server", "-blogDtpre.iLsfx", "--suffix=", ".", "mod/dst/"], null, "rsync: --suffix cannot be empty without a --backup-dir" },
        // 3.1.1 push -a -M--sender -M--server
        { "", ["--server", "-logDtpre.iLsfx", "--sender", "--server", ".", "mod/dst/"], null, null },
        // 3.1.1 pull -a -M--delete-before -M--delete-after
        { "", ["--server", "--sender", "-logDtpre.iLsfx", "--delete-before", "--delete-after", ".", "mod/src/"], null, "rsync: You may not combine multiple --delete-WHEN options." },
        // 3.1.1 pull -a -M--append -M--partial-dir=x
        { "", ["--server", "--sender", "-logDtpre.iLsfx", "--append", "--partial-dir=x", ".", "mod/src/"], null, "rsync: --append cannot be used with --partial-dir" },
        // 3.1.1 pull -a -M--backup-dir= -b
        { "", ["--server", "--sender", "-blogDtpre.iLsfx", "--backup-dir=", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a -M--suffix= -b
        { "", ["--server", "--sender", "-blogDtpre.iLsfx", "--suffix=", ".", "mod/src/"], null, null },
        // 3.1.1 pull -a -M--sender -M--server
        { "", ["--server", "--sender", "-logDtpre.iLsfx", "--sender", "--server", ".", "mod/src/"], null, null },
    };

    [Theory]
    [MemberData(nameof(Rsync311Daemon))]
    public void AnswersAsRsync311sDaemonDid(string refuse, string[] args, string[]? protectedArgs, string? answer)
    {
        Assert.Equal(answer, Answer(refuse, args, protectedArgs, RefuseOptionsStyle.Rsync311));

        // Check reports the refusals, and only those.
        string? refusal = answer is not null && answer.Contains("configured to refuse", StringComparison.Ordinal) ? answer : null;
        Assert.Equal(refusal, new RefuseOptions(refuse).Check(args, protectedArgs));
    }

    public static TheoryData<string, string[], string?> Rsync32Daemon => new()
    {
        // push -a --delete
        { "delete", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], "rsync: The server is configured to refuse --delete" },
        // push -a --delete-after
        { "delete", ["--server", "-logDtpre.iLsfx", "--delete-after", ".", "mod/dst/"], "rsync: The server is configured to refuse --delete" },
        // push -a --remove-source-files
        { "delete", ["--server", "-logDtpre.iLsfx", "--remove-source-files", ".", "mod/dst/"], null },
        // push -a --delete
        { "delete-*", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], "rsync: The server is configured to refuse --delete-before" },
        // push -a --delete
        { "delete-* !delete-during", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], null },
        // push -a --delete-after
        { "delete-* !delete-during", ["--server", "-logDtpre.iLsfx", "--delete-after", ".", "mod/dst/"], "rsync: The server is configured to refuse --delete-after" },
        // push -a
        { "a", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --links (-l)" },
        // push -rt
        { "a", ["--server", "-tre.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --times (-t)" },
        // push -lt
        { "archive", ["--server", "-lte.Lsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --links (-l)" },
        // push -a
        { "archive*", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null },
        // push -a
        { "!a", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null },
        // push -a
        { "*", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --links (-l)" },
        // push -a
        { "* !a", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null },
        // push -av
        { "* !a", ["--server", "-vlogDtpre.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --verbose (-v)" },
        // push -av
        { "* !a !v", ["--server", "-vlogDtpre.iLsfx", ".", "mod/dst/"], null },
        // push -avz
        { "* !a !v !compress*", ["--server", "-vlogDtprze.iLsfx", ".", "mod/dst/"], null },
        // push -avz
        { "* !a !v", ["--server", "-vlogDtprze.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --compress (-z)" },
        // push -an
        { "* !a", ["--server", "-nlogDtpre.iLsfx", ".", "mod/dst/"], null },
        // push -as
        { "* !a", ["--server", "-slogDtpre.iLsfx"], null },
        // push -a --checksum-seed=3
        { "* !a", ["--server", "-logDtpre.iLsfx", "--checksum-seed=3", ".", "mod/dst/"], null },
        // push -a --iconv=utf8
        { "* !a", ["--server", "-logDtpre.iLsfx", "--iconv=utf8", ".", "mod/dst/"], "rsync: The server is configured to refuse --iconv" },
        // push -av
        { "* no-iconv !a !v", ["--server", "-vlogDtpre.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --no-iconv" },
        // push -a --delete
        { "* !a !delete !delete-during", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], null },
        // push -a --delete-after
        { "* !a !delete* delete-after", ["--server", "-logDtpre.iLsfx", "--delete-after", ".", "mod/dst/"], "rsync: The server is configured to refuse --delete-after" },
        // push -a --delete
        { "* !a !delete* delete-after", ["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"], null },
        // push -a
        { "e", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --rsh (-e)" },
        // push -a
        { "r*", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --recursive (-r)" },
        // push -ac
        { "c delete", ["--server", "-logDtprce.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --checksum (-c)" },
        // push -az
        { "z", ["--server", "-logDtprze.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --compress (-z)" },
        // push -a --compress-level=9
        { "compress", ["--server", "-logDtprze.iLsfx", "--compress-level=9", ".", "mod/dst/"], "rsync: The server is configured to refuse --compress (-z)" },
        // push -a --inplace
        { "partial", ["--server", "-logDtpre.iLsfx", "--inplace", ".", "mod/dst/"], "rsync: The server is configured to refuse --partial" },
        // push -a
        { "D", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], "rsync: The server is configured to refuse --(null) (-D)" },
        // push -a
        { "no-such", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null },
        // push -a
        { "!no-such", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null },
        // push -a
        { "!", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null },
        // push -a
        { "p* !perms", ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"], null },
        // pull -a --delete
        { "delete", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a --delete-after
        { "delete", ["--server", "--sender", "-logDtpre.Lsfx", ".", "mod/src/"], null },
        // pull -a --remove-source-files
        { "delete", ["--server", "--sender", "-logDtpre.iLsfx", "--remove-source-files", ".", "mod/src/"], "rsync: The server is configured to refuse --delete" },
        // pull -a --delete
        { "delete-*", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a --delete
        { "delete-* !delete-during", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a --delete-after
        { "delete-* !delete-during", ["--server", "--sender", "-logDtpre.Lsfx", ".", "mod/src/"], null },
        // pull -a
        { "a", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --links (-l)" },
        // pull -rt
        { "a", ["--server", "--sender", "-tre.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --times (-t)" },
        // pull -lt
        { "archive", ["--server", "--sender", "-lte.Lsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --links (-l)" },
        // pull -a
        { "archive*", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a
        { "!a", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a
        { "*", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --links (-l)" },
        // pull -a
        { "* !a", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -av
        { "* !a", ["--server", "--sender", "-vlogDtpre.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --verbose (-v)" },
        // pull -av
        { "* !a !v", ["--server", "--sender", "-vlogDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -avz
        { "* !a !v !compress*", ["--server", "--sender", "-vlogDtprze.iLsfx", ".", "mod/src/"], null },
        // pull -avz
        { "* !a !v", ["--server", "--sender", "-vlogDtprze.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --compress (-z)" },
        // pull -an
        { "* !a", ["--server", "--sender", "-nlogDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -as
        { "* !a", ["--server", "--sender", "-slogDtpre.iLsfx"], null },
        // pull -a --checksum-seed=3
        { "* !a", ["--server", "--sender", "-logDtpre.iLsfx", "--checksum-seed=3", ".", "mod/src/"], null },
        // pull -a --iconv=utf8
        { "* !a", ["--server", "--sender", "-logDtpre.iLsfx", "--iconv=utf8", ".", "mod/src/"], "rsync: The server is configured to refuse --iconv" },
        // pull -av
        { "* no-iconv !a !v", ["--server", "--sender", "-vlogDtpre.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --no-iconv" },
        // pull -a --delete
        { "* !a !delete !delete-during", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a --delete-after
        { "* !a !delete* delete-after", ["--server", "--sender", "-logDtpre.Lsfx", ".", "mod/src/"], null },
        // pull -a --delete
        { "* !a !delete* delete-after", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a
        { "e", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --rsh (-e)" },
        // pull -a
        { "r*", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --recursive (-r)" },
        // pull -ac
        { "c delete", ["--server", "--sender", "-logDtprce.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --checksum (-c)" },
        // pull -az
        { "z", ["--server", "--sender", "-logDtprze.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --compress (-z)" },
        // pull -a --compress-level=9
        { "compress", ["--server", "--sender", "-logDtprze.iLsfx", "--compress-level=9", ".", "mod/src/"], "rsync: The server is configured to refuse --compress (-z)" },
        // pull -a --inplace
        { "partial", ["--server", "--sender", "-logDtpre.iLsfx", "--inplace", ".", "mod/src/"], "rsync: The server is configured to refuse --partial" },
        // pull -a
        { "D", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], "rsync: The server is configured to refuse --(null) (-D)" },
        // pull -a
        { "no-such", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a
        { "!no-such", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a
        { "!", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
        // pull -a
        { "p* !perms", ["--server", "--sender", "-logDtpre.iLsfx", ".", "mod/src/"], null },
    };

    [Theory]
    [MemberData(nameof(Rsync32Daemon))]
    public void AnswersAsRsync35sDaemonDidInThe32Style(string refuse, string[] args, string? answer)
    {
        Assert.Equal(answer, new RefuseOptions(refuse, style: RefuseOptionsStyle.Rsync32).Check(args));
        Assert.Equal(answer, Answer(refuse, args, null, RefuseOptionsStyle.Rsync32));
    }

    private static readonly string[] PushA = ["--server", "-logDtpre.iLsfx", ".", "mod/dst/"];

    [Fact]
    public void TheDaemonAlwaysRefusesLogFilesAndIconvWithoutACharset()
    {
        Assert.Equal(["--log-file", "--log-file-format", "--iconv"], RefuseOptions.Default.RefusedOptions);
        Assert.Equal(["--log-file", "--log-file-format"], new RefuseOptions(null, charsetConfigured: true).RefusedOptions);
        Assert.Empty(RefuseOptions.Default.UnmatchedTerms);

        string[] iconv = ["--server", "-logDtpre.iLsfx", "--iconv=utf8", ".", "mod/dst/"];
        Assert.Equal("rsync: The server is configured to refuse --iconv", RefuseOptions.Default.Check(iconv));
        Assert.Null(new RefuseOptions("", charsetConfigured: true).Check(iconv));
        Assert.Equal("utf8", OptionParser.ParseServer(iconv, new ServerParseSettings
        {
            Refuse = new RefuseOptions(null, charsetConfigured: true),
        }).Options.Iconv);

        // Not even "!log-file*" takes that back.
        Assert.True(new RefuseOptions("!log-file*", style: RefuseOptionsStyle.Rsync32).Refuses("log-file"));
    }

    [Theory]
    [InlineData("c delete", new[] { "--delete", "--checksum" })]
    [InlineData("delete", new[] { "--delete" })]
    [InlineData("del", new[] { "--del" })]
    [InlineData("delete*", new[] { "--delete", "--delete-before", "--delete-during", "--delete-delay", "--delete-after", "--delete-excluded", "--delete-missing-args" })]
    [InlineData("z", new[] { "--compress" })]
    [InlineData("?", new[] { "--verbose", "--quiet", "--human-readable", "--dry-run", "--archive", "--recursive", "--dirs", "--perms", "--executability", "--acls", "--xattrs", "--times", "--omit-dir-times", "--omit-link-times", "--modify-window", "--owner", "--group", "-D", "--links", "--copy-links", "--copy-dirlinks", "--keep-dirlinks", "--hard-links", "--relative", "--ignore-times", "--one-file-system", "--update", "--sparse", "-F", "--filter", "--cvs-exclude", "--whole-file", "--checksum", "--block-size", "--fuzzy", "--compress", "-P", "--prune-empty-dirs", "--itemize-changes", "--backup", "--from0", "--protect-args", "--rsh", "--temp-dir", "--ipv4", "--ipv6", "--8-bit-output", "--remote-option" })]
    [InlineData("a", new[] { "--archive" })]
    [InlineData("[rt]", new[] { "--recursive", "--times" })]
    public void TermsNameOptionsByLongOrShortNameOrWildcard(string terms, string[] refused)
    {
        var r = new RefuseOptions(terms, charsetConfigured: true);
        Assert.Equal(refused.Concat(["--log-file", "--log-file-format"]).Order(StringComparer.Ordinal),
            r.RefusedOptions.Order(StringComparer.Ordinal));
        Assert.All(refused, o => Assert.True(r.Refuses(o)));
    }

    [Fact]
    public void TermsAreSeparatedBySpacesOnly()
    {
        var r = new RefuseOptions("  c\tz  delete ", charsetConfigured: true);
        Assert.Equal(["c\tz"], r.UnmatchedTerms);
        Assert.True(r.Refuses("--delete"));
        Assert.False(r.Refuses("c"));
    }

    [Fact]
    public void UnmatchedTermsAreReportedForTheLog()
    {
        Assert.Equal(["no-such", "mkpath"], new RefuseOptions("no-such delete mkpath").UnmatchedTerms);
        Assert.Equal(["no-such", "!"], new RefuseOptions("!no-such !", style: RefuseOptionsStyle.Rsync32).UnmatchedTerms);
    }

    [Fact]
    public void Rsync311RefusesOnlyTheArchiveOptionForA()
    {
        // Stock clients never send -a itself, so this refuses nothing they send.
        var a = new RefuseOptions("a");
        Assert.Null(a.Check(PushA));
        Assert.Equal("rsync: The server is configured to refuse --archive (-a)",
            a.Check(["--server", "-ae.Lsfx", ".", "mod/"]));

        // Refusing a part of -a refuses -a too (options.c, the 'a' case).
        Assert.Equal("rsync: The server is configured to refuse --times (-t)",
            new RefuseOptions("t").Check(["--server", "-ae.Lsfx", ".", "mod/"]));
        Assert.Null(new RefuseOptions("t").Check(["--server", "-lre.Lsfx", ".", "mod/"]));
    }

    [Fact]
    public void Rsync32RefusesEverythingArchiveImpliesForA()
    {
        var a = new RefuseOptions("a", style: RefuseOptionsStyle.Rsync32);
        Assert.Equal(["--archive", "--recursive", "--dirs", "--perms", "--times", "--owner", "--group", "-D", "--links", "--log-file", "--log-file-format", "--iconv"],
            a.RefusedOptions);
        Assert.Equal("rsync: The server is configured to refuse --links (-l)", a.Check(PushA));

        // "archive*" is only a wildcard over the long names.
        Assert.Equal(["--archive", "--log-file", "--log-file-format", "--iconv"],
            new RefuseOptions("archive*", style: RefuseOptionsStyle.Rsync32).RefusedOptions);
    }

    [Fact]
    public void Rsync32WildcardsLeaveTheVitalOptionsAlone()
    {
        var all = new RefuseOptions("*", charsetConfigured: true, style: RefuseOptionsStyle.Rsync32);
        foreach (string vital in new[] { "--server", "--sender", "-e", "-s", "-n", "-0", "--iconv", "--no-iconv", "--checksum-seed", "--log-format" })
            Assert.False(all.Refuses(vital), vital);
        Assert.True(all.Refuses("--log-file"));
        Assert.True(all.Refuses("--out-format"));

        // ... but their exact names refuse them.
        Assert.True(new RefuseOptions("* server", style: RefuseOptionsStyle.Rsync32).Refuses("--server"));

        // In 3.1.1 a wildcard reaches everything, so "*" turns every client away at --server.
        Assert.Equal("rsync: The server is configured to refuse --server", new RefuseOptions("*").Check(PushA));
    }

    [Theory]
    [InlineData("delete-before", DeleteMode.During)]
    [InlineData("delete-during", DeleteMode.Before)]
    [InlineData("delete-after", DeleteMode.Unspecified)]
    [InlineData("", DeleteMode.Unspecified)]
    public void APlainDeleteAvoidsARefusedTiming(string refuse, DeleteMode mode)
    {
        var inv = OptionParser.ParseServer(["--server", "-logDtpre.iLsfx", "--delete", ".", "mod/dst/"],
            new ServerParseSettings { Refuse = new RefuseOptions(refuse) });
        Assert.Equal(mode, inv.Options.DeleteMode);
    }

    [Theory]
    [InlineData("partial", "rsync: The server is configured to refuse --partial")]
    [InlineData("progress", "rsync: The server is configured to refuse --progress")]
    [InlineData("P", "rsync: The server is configured to refuse --(null) (-P)")]
    [InlineData("partial progress", "rsync: The server is configured to refuse --partial")]
    [InlineData("partial-dir", null)]
    public void DashPCountsAsPartialAndProgress(string refuse, string? answer)
    {
        // No stock client sends -P to a server; it arrives through -M.
        Assert.Equal(answer, new RefuseOptions(refuse).Check(["--server", "-logDtpre.iLsfx", "-P", ".", "mod/dst/"]));
    }

    [Theory]
    [InlineData("--timeout=abc", "rsync: on remote machine: --timeout=abc: invalid numeric value")]
    [InlineData("--timeout", "rsync: on remote machine: --timeout: missing argument")]
    [InlineData("--timeout=5", "rsync: The server is configured to refuse --timeout")]
    public void PoptReadsTheValueBeforeTheRefusalCounts(string option, string answer)
    {
        string[] args = option == "--timeout" ? ["--server", "-le.Lsfx", option] : ["--server", "-le.Lsfx", option, ".", "mod/"];
        var ex = Assert.Throws<RsyncUsageException>(() => OptionParser.ParseServer(args,
            new ServerParseSettings { Refuse = new RefuseOptions("timeout") }));
        Assert.Equal(answer, ex.Message);
    }

    [Fact]
    public void CheckIgnoresOtherProblemsAndWaitsForTheProtectedBatch()
    {
        var delete = new RefuseOptions("delete");
        Assert.Null(delete.Check(["--server", "-lre.Lsfx", "--mkpath", "--delete", ".", "mod/"]));
        Assert.Null(delete.Check(["--server", "-slre.Lsfx"]));
        Assert.Equal("rsync: The server is configured to refuse --delete",
            delete.Check(["--server", "-slre.Lsfx"], ["rsync", "--delete", ".", "mod/"]));

        // An implied refusal is checked after --delete's need for recursion; the option itself at once.
        Assert.Null(delete.Check(["--server", "-le.Lsfx", "--delete-after", ".", "mod/"]));
        Assert.NotNull(delete.Check(["--server", "-le.Lsfx", "--delete", ".", "mod/"]));
    }
}
