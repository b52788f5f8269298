using System.Text;

namespace NetRsync.Protocol.Options;

/// <summary>
/// Parses an rsync client command line the way rsync 3.1.1 does (popt in options.c,
/// parse_arguments), for the options this implementation supports.
/// </summary>
public static partial class OptionParser
{
    /// <summary>Program name used in error messages when none is given.</summary>
    public const string DefaultProgramName = "netrsync";

    /// <summary>Parses <paramref name="args"/> (without the program name).</summary>
    /// <exception cref="RsyncUsageException">The command line is invalid.</exception>
    public static RsyncOptions Parse(IReadOnlyList<string> args) => Parse(args, DefaultProgramName);

    /// <summary>Parses <paramref name="args"/> (without the program name).</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="programName">Name that starts error messages, as "rsync" does in rsync's own.</param>
    /// <param name="standardInput">Opens the stream read for "--exclude-from=-"; defaults to the console.</param>
    /// <exception cref="RsyncUsageException">The command line is invalid.</exception>
    public static RsyncOptions Parse(IReadOnlyList<string> args, string programName, Func<Stream>? standardInput = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(programName);
        var st = new ParseState(programName, standardInput);
        // RSYNC_ICONV stands in for --iconv, which the command line may still set or undo (options.c, parse_arguments).
        if (Environment.GetEnvironmentVariable("RSYNC_ICONV") is { Length: > 0 } iconv)
            st.O.Iconv = iconv;
        if (!ReadOptions(st, args, OptionTable.Long, OptionTable.Short))
            return st.O;
        if (st.O.HumanReadable > 1 && args.Count == 1)
        {
            // options.c, parse_arguments: a lone -h keeps its old meaning of --help.
            st.O.ShowHelp = true;
            return st.O;
        }

        Finish(st);
        return st.O;
    }

    // Returns false when --help or --version stopped parsing.
    private static bool ReadOptions(
        ParseState st, IReadOnlyList<string> args, Dictionary<string, OptionSpec> longTable, Dictionary<char, OptionSpec> shortTable)
    {
        int next = 0;
        bool onlyPositional = false;
        while (next < args.Count)
        {
            string arg = args[next++];

            // popt permutes: words not starting with '-' (and "") are positional wherever they appear.
            if (onlyPositional || arg.Length == 0 || arg[0] != '-')
            {
                st.O.Positional.Add(arg);
                continue;
            }

            if (arg == "--")
            {
                onlyPositional = true;
                continue;
            }

            if (arg.Length > 1 && arg[1] == '-')
            {
                string name = arg[2..];
                string? inline = null;
                int eq = name.IndexOf('=');
                if (eq >= 0)
                {
                    inline = name[(eq + 1)..];
                    name = name[..eq];
                }

                if (!longTable.TryGetValue(name, out var spec))
                    throw st.Popt(arg, "unknown option");
                if (spec.Kind == ArgKind.None)
                {
                    if (inline is not null)
                        throw st.Popt(arg, "option does not take an argument");
                    spec.OnFlag!(st);
                }
                else
                {
                    if (inline is null)
                    {
                        if (next >= args.Count)
                            throw st.Popt(arg, "missing argument");
                        inline = args[next++];
                    }

                    ApplyValue(st, spec, inline, args[next - 1]);
                }

                if (st.Stop)
                    return false;
                if (st.Server is { RestartRequested: true } server)
                {
                    // options.c, OPT_SERVER: a first --server starts popt over from the first argument.
                    server.RestartRequested = false;
                    next = 0;
                    onlyPositional = false;
                    st.O.Positional.Clear();
                }

                continue;
            }

            // A cluster of short options; a lone "-" is no option at all in popt.
            if (arg.Length == 1)
                throw st.Popt(arg, "unknown option");
            int pos = 1;
            while (pos < arg.Length)
            {
                char c = arg[pos++];
                if (!shortTable.TryGetValue(c, out var spec))
                    throw st.Popt(arg, "unknown option");
                if (spec.Kind == ArgKind.None)
                {
                    if (pos < arg.Length && arg[pos] == '=')
                        throw st.Popt(arg, "option does not take an argument");
                    spec.OnFlag!(st);
                }
                else
                {
                    string value;
                    if (pos < arg.Length)
                    {
                        // The rest of the word is the value ("-f- *.o"); popt drops one leading '='.
                        value = arg[(arg[pos] == '=' ? pos + 1 : pos)..];
                        pos = arg.Length;
                    }
                    else if (next < args.Count)
                    {
                        value = args[next++];
                    }
                    else
                    {
                        throw st.Popt(arg, "missing argument");
                    }

                    ApplyValue(st, spec, value, args[next - 1]);
                }

                if (st.Stop)
                    return false;
            }
        }

        return true;
    }

    private static void ApplyValue(ParseState st, OptionSpec spec, string value, string lastWord)
    {
        if (spec.Kind == ArgKind.Int)
        {
            // popt reports the last word it consumed, which is the value when it stood alone.
            switch (OptionSyntax.ParseInt(value, out int n))
            {
                case OptionSyntax.NumberStatus.BadNumber:
                    throw st.Popt(lastWord, "invalid numeric value");
                case OptionSyntax.NumberStatus.Overflow:
                    throw st.Popt(lastWord, "number too large or too small");
            }

            spec.OnInt!(st, n);
        }
        else
        {
            spec.OnString!(st, value);
        }
    }

    // options.c, parse_arguments: the checks and adjustments made after all options are read.
    private static void Finish(ParseState st)
    {
        FinishEarly(st);
        FinishLate(st);
    }

    // The part a server also runs on the first batch of --protect-args before it stops.
    private static void FinishEarly(ParseState st)
    {
        RsyncOptions o = st.O;
        ServerState? server = st.Server;

        // A level alone turns compression on; level 0 turns zlib off. Zlib levels are checked as
        // 3.1.1 checks them; zstd has its own range (token.c, init_compression_level clamps it).
        bool zlibFamily = o.CompressChoice is null || o.CompressChoice.StartsWith("zlib", StringComparison.OrdinalIgnoreCase)
            || o.CompressChoice.Equals("auto", StringComparison.OrdinalIgnoreCase);
        if (o.CompressLevel is int level && zlibFamily)
        {
            if (level < -1 || level > 9)
                throw st.Error($"--compress-level value is invalid: {level}");
            if (level == 0)
            {
                o.Compress = 0;
                o.CompressChoice = null;
            }
            else if (o.Compress == 0)
                o.Compress = 1;
        }

        bool compressing = o.Compress != 0
            || (o.CompressChoice is { } choice && !choice.Equals("none", StringComparison.OrdinalIgnoreCase));
        if (compressing && server?.Refuse.Compress is { } refusedCompress)
            throw server.Refused(st, refusedCompress);

        if (o.OutputBuffering is not null && server?.AmServer != true)
        {
            char mode = o.OutputBuffering.Length > 0 ? char.ToUpperInvariant(o.OutputBuffering[0]) : '\0';
            if (mode is not ('N' or 'U' or 'L' or 'B' or 'F'))
                throw st.Error("Invalid --outbuf setting -- specify N, L, or B.");
        }

        // Only a client treats "-" as "no conversion"; a server keeps the remote charset given.
        if (o.Iconv == "-" && server?.AmServer != true)
            o.Iconv = null;
        if (o.Iconv is null && server?.Refuse.NoIconv is { } refusedNoIconv)
            throw server.Refused(st, refusedNoIconv);
    }

    private static void FinishLate(ParseState st)
    {
        st.O.ResolveOutputLevels(amServer: st.Server?.AmServer == true);
        RsyncOptions o = st.O;
        ServerState? server = st.Server;
        RefuseOptions? refuse = server?.Refuse;
        bool amServer = server?.AmServer == true;

        if (o.Super == SuperMode.FakeSuper && o.Xattrs > 1)
            throw st.Error("--fake-super conflicts with -XX");

        server?.FinishBatch(st);

        if (st.MaxDelete != int.MinValue)
            o.MaxDelete = st.MaxDelete < 0 ? 0 : st.MaxDelete;

        if (o.FilesFrom is not null)
        {
            // An explicit -r (recurse == 2) survives --files-from; the one implied by -a does not.
            if (st.Recurse == 1)
                st.Recurse = 0;
            if (st.XferDirs < 0)
                st.XferDirs = 1;
        }

        // A server lists only when told to with --list-only.
        o.IsListOnly = o.ListOnly || (!amServer && o.Positional.Count < 2);

        if (st.XferDirs >= 4)
        {
            // --old-dirs: one level of recursion, the way rsync before 2.6.4 did -d.
            o.FilterRules.Add("- /*/*");
            st.Recurse = 1;
            st.XferDirs = 1;
        }
        else if (st.Recurse != 0)
        {
            st.XferDirs = 1;
        }
        else if (st.XferDirs < 0)
        {
            st.XferDirs = o.IsListOnly ? 1 : 0;
        }

        o.Recursive = st.Recurse != 0;
        o.Dirs = st.XferDirs != 0;
        o.DirsRequested = st.XferDirs == 2;

        o.Relative = st.RelativePaths < 0 ? o.FilesFrom is not null : st.RelativePaths != 0;

        int whens = st.DeleteBefore + (st.DeleteDuring != 0 ? 1 : 0) + st.DeleteAfter;
        if (whens > 1)
            throw st.Error("You may not combine multiple --delete-WHEN options.");
        bool deleting = whens > 0 || st.DeleteRequested || o.DeleteExcluded;
        if (whens == 0 && deleting && refuse is not null)
        {
            // A plain --delete picks whichever of before and during the daemon allows.
            if (refuse.DeleteBefore is { } refusedBefore)
            {
                if (refuse.DeleteDuring is not null)
                    throw server!.Refused(st, refusedBefore);
                st.DeleteDuring = 1;
            }
            else if (refuse.DeleteDuring is not null)
            {
                st.DeleteBefore = 1;
            }
        }

        if (!o.Dirs && deleting)
            throw st.Error("--delete does not work without --recursive (-r) or --dirs (-d).");
        if (deleting && refuse?.Delete is { } refusedDelete)
            throw server!.Refused(st, refusedDelete);

        // Refusing "delete" also protects a sending daemon's files from --remove-source-files.
        if (o.RemoveSourceFiles != 0 && server?.AmSender == true && refuse?.Delete is { } refusedRemove)
            throw server.Refused(st, refusedRemove);

        o.DeleteMode = !deleting ? DeleteMode.None
            : st.DeleteBefore != 0 ? DeleteMode.Before
            : st.DeleteDuring == 2 ? DeleteMode.Delay
            : st.DeleteDuring != 0 ? DeleteMode.During
            : st.DeleteAfter != 0 ? DeleteMode.After
            : DeleteMode.Unspecified;

        // A daemon decides about munging itself (clientserver.c, rsync_module).
        if (server is null && o.MungeLinks && Directory.Exists("/rsyncd-munged"))
        {
            throw new RsyncUsageException(
                "Symlink munging is unsafe when a /rsyncd-munged directory exists.",
                RsyncUsageException.Unsupported);
        }

        FinishBackup(st, deleting);

        if (o.Sparse && o.Inplace)
            throw st.Error("--sparse cannot be used with --inplace");
        if (o.Append != 0)
        {
            if (o.WholeFile == true)
                throw st.Error("--append cannot be used with --whole-file");
            if (refuse?.Inplace is { } refusedInplace)
                throw server!.Refused(st, refusedInplace);
            o.Inplace = true;
        }

        if (o.Inplace)
        {
            if (o.PartialDir is not null)
                throw st.Error($"--{(o.Append != 0 ? "append" : "inplace")} cannot be used with --partial-dir");

            // --inplace counts as --partial when refusing.
            if (refuse?.Partial is { } refusedPartial)
                throw server!.Refused(st, refusedPartial);

            // --inplace writes straight into the destination, so there is no partial file to keep.
            o.Partial = false;
        }
        else if (o.PartialDir is not null)
        {
            string dir = o.PartialDir.Length > 0 ? OptionSyntax.CleanFileName(o.PartialDir) : "";
            o.PartialDir = dir.Length == 0 || dir == "." ? null : dir;
            if (o.PartialDir is null && refuse?.Partial is { } refusedPartial)
                throw server!.Refused(st, refusedPartial);
            o.Partial = true;
        }

        if (o.FilesFrom is not null)
        {
            if (server is null)
                FinishFilesFrom(st);
            else
                server.FinishFilesFrom(st);
        }
    }

    private static void FinishBackup(ParseState st, bool deleting)
    {
        RsyncOptions o = st.O;
        bool amServer = st.Server?.AmServer == true;

        // The default suffix is chosen before "./" parts are stripped from the directory.
        string suffix = st.BackupSuffix ?? (st.BackupDir is not null ? "" : "~");
        if (suffix.Contains('/'))
            throw st.Error($"--suffix cannot contain slashes: {suffix}");

        string? dir = st.BackupDir;
        bool dirIsDest = false;
        if (dir is not null)
        {
            while (dir.StartsWith("./", StringComparison.Ordinal))
                dir = dir[2..];
            if (dir == ".")
                dir = "";
            if (dir.Length == 0)
            {
                dirIsDest = true;
                dir = null;
            }
        }

        if (dir is null)
        {
            // A sending server makes no backups, so it does not mind an empty suffix.
            if (suffix.Length == 0 && !(amServer && st.Server!.AmSender))
            {
                throw st.Error("--suffix cannot be empty " + (dirIsDest
                    ? "when --backup-dir is the same as the dest dir"
                    : "without a --backup-dir"));
            }

            // Keep deletions from removing the backups made next to the files (the client's
            // rule reaches the server with the other filter rules).
            if (o.Backup && deleting && !o.DeleteExcluded && !amServer)
                o.FilterRules.Add("P *" + suffix);
        }

        o.BackupDir = dir;
        o.BackupSuffix = suffix;

        // Backups made in place would change directory times, so -O is dropped (options.c).
        if (o.Backup && dir is null)
            o.OmitDirTimes = false;
    }

    private static void FinishFilesFrom(ParseState st)
    {
        RsyncOptions o = st.O;
        string filesFrom = o.FilesFrom!;
        int argc = o.Positional.Count;
        if (argc > 2 || argc == 1)
        {
            throw new RsyncUsageException(
                $"{st.Program}: --files-from needs a source and a destination argument",
                RsyncUsageException.SyntaxError,
                showUsage: true);
        }

        if (filesFrom == "-")
        {
            o.FilesFromPath = filesFrom;
        }
        else if (OptionSyntax.TrySplitHostSpec(filesFrom, out string host, out string path))
        {
            if (path == "-")
                throw st.Error("Invalid --files-from remote filename");
            o.FilesFromHost = host;
            o.FilesFromPath = path;
        }
        else
        {
            o.FilesFromPath = filesFrom;
            // Opened by its bytes: the list's own name may be any name.
            int errno = Native.Confined.OpenAt(Native.Confined.AtFdCwd, Text.NameText.ToBytes(filesFrom), Native.Confined.ORdOnly, 0, 0, out var probe);
            probe?.Dispose();
            if (errno != 0)
                throw st.Error($"failed to open files-from file {filesFrom}: {Native.Posix.StrError(errno)}");
        }
    }

    // ---- rule helpers used by the option table ----

    internal static void AddOldStyleRule(ParseState st, string text, bool include)
    {
        string? rule = OldStyleRule(text, include);
        if (rule is not null)
            st.O.FilterRules.Add(rule);
    }

    /// <summary>
    /// An --exclude/--include pattern (or a line of an exclude/include file) as a filter rule.
    /// These accept only the old "- " / "+ " prefixes and a lone "!" (exclude.c, parse_rule_tok
    /// with XFLG_OLD_PREFIXES). Returns null for an empty pattern, which adds no rule.
    /// </summary>
    internal static string? OldStyleRule(string text, bool include)
    {
        if (text.Length == 0)
            return null;
        string pattern = text;
        if (text.StartsWith("- ", StringComparison.Ordinal))
        {
            include = false;
            pattern = text[2..];
        }
        else if (text.StartsWith("+ ", StringComparison.Ordinal))
        {
            include = true;
            pattern = text[2..];
        }
        else if (text == "!")
        {
            return "!";
        }

        if (pattern.Length == 0)
            throw new RsyncUsageException($"unexpected end of filter rule: {text}");
        return (include ? "+ " : "- ") + pattern;
    }

    // exclude.c, parse_filter_file: one rule per line (or per NUL-terminated item with
    // --from0 given earlier), blank lines and lines starting with ';' or '#' skipped.
    internal static void ReadRuleFile(ParseState st, string fileName, bool include)
    {
        if (fileName.Length == 0)
            return;
        byte[] data;
        if (fileName == "-")
        {
            using Stream input = st.StandardInput?.Invoke() ?? Console.OpenStandardInput();
            using var buffer = new MemoryStream();
            input.CopyTo(buffer);
            data = buffer.ToArray();
        }
        else
        {
            // Opened by its bytes: the file's own name may be any name.
            int errno = Native.Confined.OpenAt(Native.Confined.AtFdCwd, Text.NameText.ToBytes(fileName), Native.Confined.ORdOnly, 0, 0, out var handle);
            if (errno != 0)
            {
                throw new RsyncUsageException(
                    $"{st.Program}: failed to open {(include ? "in" : "ex")}clude file {fileName}: {Native.Posix.StrError(errno)} ({errno})",
                    RsyncUsageException.FileIoError);
            }
            try
            {
                using var stream = new FileStream(handle!, FileAccess.Read, 1);
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                data = buffer.ToArray();
            }
            catch (IOException)
            {
                // fopen succeeds on a directory and the first read fails, so rsync gets no rules.
                return;
            }
        }

        bool nulSeparated = st.O.From0;
        int start = 0;
        for (int i = 0; i <= data.Length; i++)
        {
            bool end = i == data.Length
                || (nulSeparated ? data[i] == 0 : data[i] is (byte)'\n' or (byte)'\r');
            if (!end)
                continue;
            // The line is used as a C string, so it ends at an embedded NUL.
            int length = Array.IndexOf(data, (byte)0, start, i - start) is int nul and >= 0 ? nul - start : i - start;
            if (length > 0 && data[start] != ';' && data[start] != '#')
                AddOldStyleRule(st, Text.NameText.FromBytes(data.AsSpan(start, length)), include);
            start = i + 1;
        }
    }
}

/// <summary>strerror-style text and errno for the few failures option parsing can meet.</summary>
internal static class Errno
{
    internal static (string Text, int Number) Describe(Exception ex) => ex switch
    {
        FileNotFoundException or DirectoryNotFoundException => ("No such file or directory", 2),
        UnauthorizedAccessException => ("Permission denied", 13),
        PathTooLongException => ("File name too long", 36),
        _ => ("Input/output error", 5),
    };
}
