namespace NetRsync.Protocol.Options;

/// <summary>When the receiver deletes extraneous files (--delete and --delete-WHEN).</summary>
public enum DeleteMode
{
    /// <summary>No deletion.</summary>
    None,

    /// <summary>
    /// --delete (or --delete-excluded) without a --delete-WHEN option; the timing is
    /// fixed only once the protocol is known, see <see cref="RsyncOptions.GetEffectiveDeleteMode"/>.
    /// </summary>
    Unspecified,

    /// <summary>--delete-before.</summary>
    Before,

    /// <summary>--delete-during (or --del).</summary>
    During,

    /// <summary>--delete-delay.</summary>
    Delay,

    /// <summary>--delete-after.</summary>
    After,
}

/// <summary>--super / --fake-super / --no-super (rsync's am_root override).</summary>
public enum SuperMode
{
    /// <summary>None of the options given: privileged behaviour follows the real user id.</summary>
    Unset,

    /// <summary>--super: act as if privileged.</summary>
    Super,

    /// <summary>--fake-super: store privileged attributes in xattrs.</summary>
    FakeSuper,

    /// <summary>--no-super: never act as if privileged.</summary>
    NoSuper,
}

/// <summary>
/// The result of parsing an rsync command line. Values are those rsync holds after
/// parse_arguments (options.c) has finished its cross-option adjustments, so for example
/// <see cref="Recursive"/> is already false for "-a --files-from=F".
/// </summary>
public sealed class RsyncOptions
{
    // ---- output ----

    /// <summary>--help, or -h given alone: print usage and exit 0. Parsing stopped there.</summary>
    public bool ShowHelp { get; set; }

    /// <summary>--version: print the version and exit 0. Parsing stopped there.</summary>
    public bool ShowVersion { get; set; }

    /// <summary>-v count.</summary>
    public int Verbose { get; set; }

    /// <summary>
    /// The --info and --debug levels in effect: what -v, --stats and --progress imply, and what
    /// --info and --debug set. Output decisions read these, not <see cref="Verbose"/>.
    /// </summary>
    public OutputLevels Output { get; } = new();

    /// <summary>
    /// Adds the words -v, --stats and --progress imply, below whatever --info and --debug said
    /// (options.c, parse_arguments). The parser does this; options built in code get it when a
    /// client starts. Doing it twice changes nothing.
    /// </summary>
    internal void ResolveOutputLevels(bool amServer)
    {
        Output.ApplyVerbosity(Verbose, OutputPriority.Default);
        if (Stats)
            Output.Apply(OutputWords.Info, Verbose > 1 ? "stats3" : "stats2", OutputPriority.Default);
        if (Progress && !amServer)
        {
            // Names logged before the transfer (-i, or a format without %b, %c or %C) need no second naming.
            bool logBeforeTransfer = OutFormat is { } format
                ? !OptionSyntax.LogFormatHas(format, 'b') && !OptionSyntax.LogFormatHas(format, 'c') && !OptionSyntax.LogFormatHas(format, 'C')
                : ItemizeChanges > 0;
            if (!logBeforeTransfer && Output[InfoFlag.Name] == 0)
                Output.Apply(OutputWords.Info, "name", OutputPriority.Default);
            Output.Apply(OutputWords.Info, "flist2,progress", OutputPriority.Default);
        }
    }

    /// <summary>--info=help or --debug=help: print this and exit 0. Parsing stopped there.</summary>
    public string? OutputHelp { get; set; }

    /// <summary>-q count.</summary>
    public int Quiet { get; set; }

    /// <summary>-i count.</summary>
    public int ItemizeChanges { get; set; }

    /// <summary>-h level; rsync starts at 1 and each -h adds one, --no-h sets 0.</summary>
    public int HumanReadable { get; set; } = 1;

    /// <summary>--progress (or -P).</summary>
    public bool Progress { get; set; }

    /// <summary>--stats.</summary>
    public bool Stats { get; set; }

    /// <summary>-8, --8-bit-output.</summary>
    public bool EightBitOutput { get; set; }

    /// <summary>--out-format / --log-format, as given.</summary>
    public string? OutFormat { get; set; }

    /// <summary>-n, --dry-run.</summary>
    public bool DryRun { get; set; }

    /// <summary>--list-only given explicitly.</summary>
    public bool ListOnly { get; set; }

    /// <summary>
    /// Listing mode in effect: --list-only, or fewer than two path arguments
    /// (options.c, parse_arguments).
    /// </summary>
    public bool IsListOnly { get; set; }

    // ---- file selection ----

    /// <summary>-r (also implied by -a unless --files-from is used without an explicit -r).</summary>
    public bool Recursive { get; set; }

    /// <summary>
    /// Directories are transferred (rsync's xfer_dirs != 0): implied by -r, by listing and
    /// by --files-from, or asked for with -d.
    /// </summary>
    public bool Dirs { get; set; }

    /// <summary>-d / --dirs given and not overridden by recursion.</summary>
    public bool DirsRequested { get; set; }

    /// <summary>-R; defaults to on with --files-from.</summary>
    public bool Relative { get; set; }

    /// <summary>--no-implied-dirs turns off sending the parents of -R paths.</summary>
    public bool ImpliedDirs { get; set; } = true;

    /// <summary>-u, --update.</summary>
    public bool Update { get; set; }

    /// <summary>-c, --checksum.</summary>
    public bool Checksum { get; set; }

    /// <summary>--size-only.</summary>
    public bool SizeOnly { get; set; }

    /// <summary>-I, --ignore-times.</summary>
    public bool IgnoreTimes { get; set; }

    /// <summary>--existing, --ignore-non-existing.</summary>
    public bool IgnoreNonExisting { get; set; }

    /// <summary>--ignore-existing.</summary>
    public bool IgnoreExisting { get; set; }

    /// <summary>-x count (-xx also skips mount-point directories).</summary>
    public int OneFileSystem { get; set; }

    /// <summary>-m, --prune-empty-dirs.</summary>
    public bool PruneEmptyDirs { get; set; }

    // ---- preservation ----

    /// <summary>-l.</summary>
    public bool PreserveLinks { get; set; }

    /// <summary>-p.</summary>
    public bool PreservePerms { get; set; }

    /// <summary>-t.</summary>
    public bool PreserveTimes { get; set; }

    /// <summary>-g.</summary>
    public bool PreserveGroup { get; set; }

    /// <summary>-o.</summary>
    public bool PreserveOwner { get; set; }

    /// <summary>--devices (or -D).</summary>
    public bool PreserveDevices { get; set; }

    /// <summary>--specials (or -D).</summary>
    public bool PreserveSpecials { get; set; }

    /// <summary>-H count.</summary>
    public int HardLinks { get; set; }

    /// <summary>-E, --executability.</summary>
    public bool Executability { get; set; }

    /// <summary>-A, --acls (also turns on -p, as rsync does).</summary>
    public bool Acls { get; set; }

    /// <summary>-X count.</summary>
    public int Xattrs { get; set; }

    /// <summary>-O, --omit-dir-times (cleared by -b without --backup-dir, as rsync does).</summary>
    public bool OmitDirTimes { get; set; }

    /// <summary>-J, --omit-link-times.</summary>
    public bool OmitLinkTimes { get; set; }

    /// <summary>-L, --copy-links.</summary>
    public bool CopyLinks { get; set; }

    /// <summary>
    /// Not an rsync option: a listed file replaced before it is read is not sent (reported as vanished),
    /// rather than sent with the new bytes under the listed size and time. A watcher pushing a tree
    /// that changes under it wants this: the new version has an event of its own and follows.
    /// </summary>
    public bool SendOnlyAsListed { get; set; }

    /// <summary>--copy-unsafe-links.</summary>
    public bool CopyUnsafeLinks { get; set; }

    /// <summary>--safe-links.</summary>
    public bool SafeLinks { get; set; }

    /// <summary>--munge-links.</summary>
    public bool MungeLinks { get; set; }

    /// <summary>-k, --copy-dirlinks.</summary>
    public bool CopyDirLinks { get; set; }

    /// <summary>-K, --keep-dirlinks.</summary>
    public bool KeepDirLinks { get; set; }

    /// <summary>--super / --fake-super / --no-super.</summary>
    public SuperMode Super { get; set; }

    /// <summary>--numeric-ids.</summary>
    public bool NumericIds { get; set; }

    /// <summary>
    /// A daemon's "numeric ids": no user or group names are looked up or mapped, while the id lists
    /// still travel as the client's own --numeric-ids setting expects (clientserver.c, numeric_ids = -1).
    /// </summary>
    public bool IdsWithoutNames { get; set; }

    /// <summary>--chmod values in order (each already checked for syntax).</summary>
    public List<string> Chmod { get; } = [];

    // ---- transfer ----

    /// <summary>-W: null when neither -W nor --no-W was given.</summary>
    public bool? WholeFile { get; set; }

    /// <summary>--inc-recursive / --no-inc-recursive; null leaves it to the options (options.c, allow_inc_recurse).</summary>
    public bool? IncRecursive { get; set; }

    /// <summary>
    /// rsync's do_compression: 0 none, 1 for -z, 2 or more for -zz / --new-compress.
    /// --compress-level=N (N != 0) without -z sets 1; --compress-level=0 sets 0.
    /// </summary>
    public int Compress { get; set; }

    /// <summary>--compress-level as given (null when not given).</summary>
    public int? CompressLevel { get; set; }

    /// <summary>--skip-compress.</summary>
    public string? SkipCompress { get; set; }

    /// <summary>--compress-choice / --zc (rsync 3.2 option; stored only).</summary>
    public string? CompressChoice { get; set; }

    /// <summary>--checksum-choice / --cc (rsync 3.2 option; stored only).</summary>
    public string? ChecksumChoice { get; set; }

    /// <summary>--inplace (also set by --append).</summary>
    public bool Inplace { get; set; }

    /// <summary>0 none, 1 --append, 2 --append-verify.</summary>
    public int Append { get; set; }

    /// <summary>-S, --sparse.</summary>
    public bool Sparse { get; set; }

    /// <summary>-y, --fuzzy: a file new here is sent as a delta against the most similar file in its directory.</summary>
    public bool Fuzzy { get; set; }

    /// <summary>Keep partially transferred files (--partial, -P, or --partial-dir); off with --inplace.</summary>
    public bool Partial { get; set; }

    /// <summary>--partial-dir after name cleaning; null when unset, empty or ".".</summary>
    public string? PartialDir { get; set; }

    /// <summary>
    /// --max-alloc: what this side holds for a peer's file list, 1 GiB by default as rsync's default
    /// limit on one allocation (options.c, max_alloc): names up to that many bytes, and as many
    /// entries as pointers fit in it. 0 is no limit.
    /// </summary>
    public long MaxAlloc { get; set; } = 1L << 30;

    /// <summary>--bwlimit in KiB per second (0 = no limit), rounded as rsync rounds it.</summary>
    public int BandwidthLimit { get; set; }

    /// <summary>--block-size / -B: a fixed delta block length (0 = rsync's square-root rule).</summary>
    public int BlockSize { get; set; }

    /// <summary>--modify-window (null when not given).</summary>
    public int? ModifyWindow { get; set; }

    /// <summary>--checksum-seed (0 = let the server choose).</summary>
    public int ChecksumSeed { get; set; }

    /// <summary>--protocol (null when not given).</summary>
    public int? Protocol { get; set; }

    /// <summary>-s, --protect-args.</summary>
    public bool ProtectArgs { get; set; }

    /// <summary>--iconv; null when not given, --no-iconv, or "-".</summary>
    public string? Iconv { get; set; }

    // ---- deletion ----

    /// <summary>Deletion requested on the command line; see <see cref="GetEffectiveDeleteMode"/>.</summary>
    public DeleteMode DeleteMode { get; set; }

    /// <summary>--delete-excluded.</summary>
    public bool DeleteExcluded { get; set; }

    /// <summary>--max-delete: null when not given; negative values become 0 ("no deletions").</summary>
    public int? MaxDelete { get; set; }

    /// <summary>--force.</summary>
    public bool Force { get; set; }

    /// <summary>--ignore-errors.</summary>
    public bool IgnoreErrors { get; set; }

    /// <summary>0 none, 1 --remove-source-files, 2 the old --remove-sent-files.</summary>
    public int RemoveSourceFiles { get; set; }

    // ---- backups ----

    /// <summary>-b, --backup.</summary>
    public bool Backup { get; set; }

    /// <summary>--backup-dir without leading "./" parts; null when unset or it names the destination itself.</summary>
    public string? BackupDir { get; set; }

    /// <summary>Backup suffix in effect: --suffix, or "~" (or "" when --backup-dir was given).</summary>
    public string BackupSuffix { get; set; } = "~";

    // ---- filters and file lists ----

    /// <summary>
    /// Filter rules in command-line order, each in rsync's filter-rule syntax: --exclude=X
    /// becomes "- X", --include=X "+ X" (honouring the old "- "/"+ " prefixes and a lone "!"),
    /// --filter rules and -F rules are kept as text, and the lines of --exclude-from /
    /// --include-from files are already read in.
    /// </summary>
    public List<string> FilterRules { get; } = [];

    /// <summary>--files-from as given.</summary>
    public string? FilesFrom { get; set; }

    /// <summary>Host part of a remote --files-from ("" for ":path"); null for a local file or "-".</summary>
    public string? FilesFromHost { get; set; }

    /// <summary>--files-from without its host part.</summary>
    public string? FilesFromPath { get; set; }

    /// <summary>-0, --from0.</summary>
    public bool From0 { get; set; }

    // ---- connection ----

    /// <summary>-e, --rsh.</summary>
    public string? RemoteShell { get; set; }

    /// <summary>--rsync-path: the program the remote shell runs at the far end ("rsync"); the far end's shell reads it.</summary>
    public string? RsyncPath { get; set; }

    /// <summary>--password-file.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>--address.</summary>
    public string? BindAddress { get; set; }

    /// <summary>--port (0 = default).</summary>
    public int Port { get; set; }

    /// <summary>--sockopts.</summary>
    public string? SocketOptions { get; set; }

    /// <summary>--timeout in seconds (0 = none).</summary>
    public int Timeout { get; set; }

    /// <summary>--contimeout in seconds (0 = none).</summary>
    public int ConnectTimeout { get; set; }

    /// <summary>--blocking-io / --no-blocking-io; null when neither was given.</summary>
    public bool? BlockingIo { get; set; }

    /// <summary>--outbuf (first letter checked: N, U, L, B or F).</summary>
    public string? OutputBuffering { get; set; }

    /// <summary>Non-option arguments in order.</summary>
    public List<string> Positional { get; } = [];

    /// <summary>
    /// The deletion timing actually used once the protocol is negotiated: plain --delete
    /// means before-transfer under protocol 29 and during-transfer from 30 on
    /// (compat.c, setup_protocol).
    /// </summary>
    public DeleteMode GetEffectiveDeleteMode(int protocol)
    {
        if (DeleteMode != DeleteMode.Unspecified)
            return DeleteMode;
        return protocol < 30 ? DeleteMode.Before : DeleteMode.During;
    }
}
