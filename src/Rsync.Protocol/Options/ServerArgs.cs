using System.Globalization;
using System.Text;

namespace NetRsync.Protocol.Options;

/// <summary>
/// Builds the argument list a client hands to the remote rsync, following rsync 3.1.1's
/// options.c, server_options.
/// </summary>
public static class ServerArgs
{
    /// <summary>
    /// The capability letters sent after "-e." (options.c, server_options; read back in
    /// compat.c, setup_protocol). 'I' and 'u' are left out because they are not implemented;
    /// older servers ignore the letters they do not know. 'i' goes first when it is sent
    /// (<see cref="AllowsIncrementalRecursion"/>).
    /// </summary>
    public const string CapabilityFlags =
        "L"    // we can set symlink times (CF_SYMLINK_TIMES)
        + "s"  // symlink targets take part in --iconv translation (CF_SYMLINK_ICONV)
        + "f"  // safe file-list I/O-error handling (CF_SAFE_FLIST)
        + "x"  // no xattr hardlink optimisation wanted (CF_AVOID_XATTR_OPTIM)
        + "C"  // checksum seed before the data (CF_CHKSUM_SEED_FIX)
        + "v"; // varint file-list flags and checksum/compression negotiation (CF_VARINT_FLIST_FLAGS)

    /// <summary>
    /// Whether this client offers incremental recursion (compat.c, set_allow_inc_recurse): it
    /// needs -r, and is not wanted with --no-inc-recursive; a receiver deleting before or after,
    /// or pruning empty directories, needs the whole list.
    /// </summary>
    public static bool AllowsIncrementalRecursion(RsyncOptions o, bool clientIsSender) =>
        o.Recursive && o.IncRecursive != false
        && (clientIsSender || !o.PruneEmptyDirs && o.DeleteMode is not (DeleteMode.Before or DeleteMode.After));

    /// <summary>
    /// The server's arguments, from "--server" up to but not including the "." that
    /// clientserver.c (start_inband_exchange) and main.c (do_cmd) put before the paths.
    /// </summary>
    /// <param name="options">The parsed command line.</param>
    /// <param name="protocol">Protocol version known before the transfer starts (after the daemon greeting).</param>
    /// <param name="clientIsSender">True for a push (the remote side receives).</param>
    public static List<string> Build(RsyncOptions options, int protocol, bool clientIsSender) =>
        Build(options, protocol, clientIsSender, out _);

    /// <summary>
    /// As <see cref="Build(RsyncOptions, int, bool)"/>; <paramref name="protectedArgsStart"/>
    /// is the index from which arguments travel only in the --protect-args second stage
    /// (where rsync puts a NULL in the list), or -1 without -s.
    /// </summary>
    public static List<string> Build(RsyncOptions options, int protocol, bool clientIsSender, out int protectedArgsStart)
    {
        ArgumentNullException.ThrowIfNull(options);
        RsyncOptions o = options;
        bool deleting = o.DeleteMode != DeleteMode.None;
        var args = new List<string> { "--server" };
        if (!clientIsSender)
            args.Add("--sender");

        var letters = new StringBuilder("-");
        if (o.ProtectArgs)
            letters.Append('s');
        letters.Append('v', Math.Max(0, o.Verbose));

        // -q is deliberately not passed on.
        if (o.Backup)
            letters.Append('b');
        if (o.Update)
            letters.Append('u');
        if (o.DryRun)
            letters.Append('n');
        if (o.PreserveLinks)
            letters.Append('l');
        if (o.DirsRequested || (o.Dirs && !o.Recursive && (o.IsListOnly || (deleting && clientIsSender))))
            letters.Append('d');
        if (clientIsSender)
        {
            // Options only a receiving server acts on.
            if (o.KeepDirLinks)
                letters.Append('K');
            if (o.PruneEmptyDirs)
                letters.Append('m');
            if (o.OmitDirTimes)
                letters.Append('O');
            if (o.OmitLinkTimes)
                letters.Append('J');
            if (o.Fuzzy)
                letters.Append('y');
        }
        else
        {
            // Options only a sending server acts on.
            if (o.CopyLinks)
                letters.Append('L');
            if (o.CopyDirLinks)
                letters.Append('k');
        }

        // --no-W is the remote default, and old servers would not understand it.
        if (o.WholeFile == true)
            letters.Append('W');
        AppendCounted(letters, 'H', o.HardLinks);
        if (o.PreserveOwner)
            letters.Append('o');
        if (o.PreserveGroup)
            letters.Append('g');
        if (o.PreserveDevices)
            letters.Append('D');
        if (o.PreserveTimes)
            letters.Append('t');
        if (o.PreservePerms)
            letters.Append('p');
        else if (o.Executability && clientIsSender)
            letters.Append('E');
        if (o.Acls)
            letters.Append('A');
        AppendCounted(letters, 'X', o.Xattrs);
        if (o.Recursive)
            letters.Append('r');
        if (o.Checksum)
            letters.Append('c');
        if (o.IgnoreTimes)
            letters.Append('I');
        if (o.Relative)
            letters.Append('R');
        AppendCounted(letters, 'x', o.OneFileSystem);
        if (o.Sparse)
            letters.Append('S');

        // Plain -z (and an explicit zlib) travels as a letter; other choices as options below.
        string? compressChoice = o.CompressChoice is { } c && !c.Equals("auto", StringComparison.OrdinalIgnoreCase) ? c
            : o.Compress > 1 ? "zlibx" : null;
        bool compressing = o.Compress > 0 || o.CompressLevel is not null || compressChoice is not null;
        if (compressing && (compressChoice is null || compressChoice.Equals("zlib", StringComparison.OrdinalIgnoreCase)))
            letters.Append('z');
        if (protocol >= 30)
        {
            // 'e' carries the sub-protocol ("." for a release) and the capability letters;
            // rsync gates it on the pre-negotiated protocol so --protocol=29 avoids it.
            letters.Append("e.");
            if (AllowsIncrementalRecursion(o, clientIsSender))
                letters.Append('i');
            letters.Append(CapabilityFlags);
        }

        if (letters.Length > 1)
            args.Add(letters.ToString());
        if (compressing && o.CompressLevel is int level && level != -1)
            args.Add("--compress-level=" + Num(level));
        if (o.BlockSize > 0)
            args.Add("-B" + Num(o.BlockSize));

        if (o.Iconv is not null)
        {
            // Only the remote charset (after the comma) is the server's business.
            int comma = o.Iconv.IndexOf(',');
            args.Add("--iconv=" + (comma >= 0 ? o.Iconv[(comma + 1)..] : o.Iconv));
        }

        protectedArgsStart = o.ProtectArgs ? args.Count : -1;

        if (o.ListOnly)
            args.Add("--list-only");

        // Lets the server handle deleting with -d but no -r (--no-r came with that support).
        if (o.Dirs && !o.Recursive && deleting && clientIsSender)
            args.Add("--no-r");

        // "--devices" alone would not be understood by old servers, so -D plus a correction.
        if (o.PreserveDevices)
        {
            if (!o.PreserveSpecials)
                args.Add("--no-specials");
        }
        else if (o.PreserveSpecials)
        {
            args.Add("--specials");
        }

        if (clientIsSender)
            AddLogFormat(o, args);

        if (o.Timeout != 0)
            args.Add("--timeout=" + Num(o.Timeout));
        if (o.BandwidthLimit != 0)
            args.Add("--bwlimit=" + Num(o.BandwidthLimit));
        if (o.BackupDir is not null)
        {
            args.Add("--backup-dir");
            args.Add(o.BackupDir);
        }

        // The "=" form keeps a leading '~' from being expanded by a remote shell.
        if (o.BackupSuffix != (o.BackupDir is not null ? "" : "~"))
            args.Add("--suffix=" + o.BackupSuffix);

        // options.c, server_options (3.2+): explicit choices travel by name.
        if (o.ChecksumChoice is { } checksumChoice && !checksumChoice.StartsWith("auto", StringComparison.OrdinalIgnoreCase))
            args.Add("--checksum-choice=" + checksumChoice);
        if (compressChoice is not null)
        {
            if (compressChoice.Equals("zlibx", StringComparison.OrdinalIgnoreCase))
                args.Add("--new-compress");
            else if (compressChoice.Equals("zlib", StringComparison.OrdinalIgnoreCase))
                args.Add("--old-compress");
            else
                args.Add("--compress-choice=" + compressChoice);
        }

        if (clientIsSender)
        {
            if (o.MaxDelete is int maxDelete)
                args.Add(maxDelete > 0 ? "--max-delete=" + Num(maxDelete) : "--max-delete=-1");
            switch (o.DeleteMode)
            {
                case DeleteMode.Before:
                    args.Add("--delete-before");
                    break;
                case DeleteMode.Delay:
                    args.Add("--delete-delay");
                    break;
                case DeleteMode.During:
                    args.Add("--delete-during");
                    break;
                case DeleteMode.After:
                    args.Add("--delete-after");
                    break;

                // --delete-excluded already implies --delete on the server.
                case DeleteMode.Unspecified when !o.DeleteExcluded:
                    args.Add("--delete");
                    break;
            }

            if (o.DeleteExcluded)
                args.Add("--delete-excluded");
            if (o.Force)
                args.Add("--force");
            if (o.Super == SuperMode.Super)
                args.Add("--super");
            if (o.SizeOnly)
                args.Add("--size-only");
            if (o.Stats)
                args.Add("--stats");
        }
        else if (o.SkipCompress is not null)
        {
            args.Add("--skip-compress=" + o.SkipCompress);
        }

        if (o.ModifyWindow is int window)
            args.Add("--modify-window=" + Num(window));
        if (o.ChecksumSeed != 0)
            args.Add("--checksum-seed=" + Num(o.ChecksumSeed));
        if (clientIsSender)
        {
            if (o.PartialDir is not null)
            {
                args.Add("--partial-dir");
                args.Add(o.PartialDir);
            }
            else if (o.Partial)
            {
                args.Add("--partial");
            }
        }

        if (o.IgnoreErrors)
            args.Add("--ignore-errors");
        if (o.CopyUnsafeLinks)
            args.Add("--copy-unsafe-links");
        if (o.SafeLinks)
            args.Add("--safe-links");
        if (o.NumericIds)
            args.Add("--numeric-ids");
        if (clientIsSender)
        {
            if (o.IgnoreExisting)
                args.Add("--ignore-existing");

            // Old servers know only the short spelling.
            if (o.IgnoreNonExisting)
                args.Add("--existing");
        }

        // The words the server's end needs beyond what its -v implies (options.c, server_options).
        var where = OutputWhere.Server | (clientIsSender ? OutputWhere.Receiver : OutputWhere.Sender);
        if (o.Output.ToOption(OutputWords.Info, where) is { } info)
            args.Add(info);
        if (o.Output.ToOption(OutputWords.Debug, where) is { } debug)
            args.Add(debug);

        if (o.Append != 0)
        {
            if (o.Append > 1)
                args.Add("--append");
            args.Add("--append");
        }
        else if (o.Inplace)
        {
            args.Add("--inplace");
        }

        if (o.FilesFrom is not null && (!clientIsSender || o.FilesFromHost is not null))
        {
            if (o.FilesFromHost is not null)
            {
                args.Add("--files-from");
                args.Add(o.FilesFromPath ?? o.FilesFrom);
                if (o.From0)
                    args.Add("--from0");
            }
            else
            {
                // A local list is forwarded over the connection, always NUL-separated.
                args.Add("--files-from=-");
                args.Add("--from0");
            }

            if (!o.Relative)
                args.Add("--no-relative");
        }

        // options.c, server_options: upper-bound check of the protocol is fine here.
        if (o.Relative && !o.ImpliedDirs && (!clientIsSender || protocol >= 30))
            args.Add("--no-implied-dirs");

        if (o.RemoveSourceFiles == 1)
            args.Add("--remove-source-files");
        else if (o.RemoveSourceFiles != 0)
            args.Add("--remove-sent-files");

        return args;
    }

    // options.c, server_options and parse_arguments: a receiving server only needs to know
    // whether the client's output wants itemize (%i) or other per-file (%o) details.
    private static void AddLogFormat(RsyncOptions o, List<string> args)
    {
        string? format = o.OutFormat;
        int hasI = 0;
        if (format is not null)
        {
            if (OptionSyntax.LogFormatHas(format, 'i'))
                hasI = o.ItemizeChanges | 1;
        }
        else if (o.ItemizeChanges > 0)
        {
            format = "%i %n%L";
            hasI = o.ItemizeChanges;
        }

        // Names are shown at --info=name1 and up, which -v and (when nothing else names files) --progress imply.
        bool namesShown = o.Output[InfoFlag.Name] > 0;
        if (namesShown && format is null)
            format = "%n%L";
        if (format is null)
            return;

        bool hasOorI = hasI != 0 || OptionSyntax.LogFormatHas(format, 'o');
        if (hasI > 1)
            args.Add("--log-format=%i%I");
        else if (hasI != 0)
            args.Add("--log-format=%i");
        else if (hasOorI)
            args.Add("--log-format=%o");
        else if (o.Verbose == 0)
            args.Add("--log-format=X");
    }

    private static void AppendCounted(StringBuilder letters, char letter, int count)
    {
        if (count > 0)
            letters.Append(letter);
        if (count > 1)
            letters.Append(letter);
    }

    private static string Num(int value) => value.ToString(CultureInfo.InvariantCulture);
}
