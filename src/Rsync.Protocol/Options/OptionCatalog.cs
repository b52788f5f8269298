namespace NetRsync.Protocol.Options;

/// <summary>How popt takes an option (popt.h, POPT_ARG_*).</summary>
internal enum PoptKind
{
    /// <summary>POPT_ARG_NONE: a flag.</summary>
    None,

    /// <summary>POPT_ARG_VAL: a flag that stores a fixed value.</summary>
    Val,

    /// <summary>POPT_BIT_SET: a flag that sets bits.</summary>
    BitSet,

    /// <summary>POPT_ARG_STRING.</summary>
    String,

    /// <summary>POPT_ARG_INT.</summary>
    Int,

    /// <summary>POPT_ARG_LONG.</summary>
    Long,
}

/// <summary>One row of rsync's option table; <see cref="Index"/> is its position there.</summary>
internal sealed record CatalogEntry(int Index, string? Long, char Short, PoptKind Kind)
{
    /// <summary>True when popt takes a value for the option.</summary>
    public bool TakesValue => Kind is PoptKind.String or PoptKind.Int or PoptKind.Long;

    /// <summary>
    /// How options.c, create_refuse_error names the option: "--LONG", plus " (-S)" when it has a
    /// short name. A short-only option prints the C library's "(null)" for the missing long name.
    /// </summary>
    public string RefuseName => "--" + (Long ?? "(null)") + (Short != '\0' ? $" (-{Short})" : "");

    /// <summary>"--LONG" or, for a short-only option, "-S".</summary>
    public string DisplayName => Long is not null ? "--" + Long : "-" + Short;
}

/// <summary>
/// rsync 3.1.1's complete option table (options.c, long_options), in its order: the daemon
/// matches "refuse options" against it and a server knows exactly these options. Built with
/// iconv support and setvbuf, as the stock 3.1.1 binary is.
/// </summary>
internal static class OptionCatalog
{
    private static readonly List<CatalogEntry> List = [];

    static OptionCatalog()
    {
        E("help", '\0', PoptKind.None);
        E("version", '\0', PoptKind.None);
        E("verbose", 'v', PoptKind.None);
        E("no-verbose", '\0', PoptKind.Val);
        E("no-v", '\0', PoptKind.Val);
        E("info", '\0', PoptKind.String);
        E("debug", '\0', PoptKind.String);
        E("msgs2stderr", '\0', PoptKind.None);
        E("quiet", 'q', PoptKind.None);
        E("motd", '\0', PoptKind.Val);
        E("no-motd", '\0', PoptKind.Val);
        E("stats", '\0', PoptKind.None);
        E("human-readable", 'h', PoptKind.None);
        E("no-human-readable", '\0', PoptKind.Val);
        E("no-h", '\0', PoptKind.Val);
        E("dry-run", 'n', PoptKind.None);
        E("archive", 'a', PoptKind.None);
        E("recursive", 'r', PoptKind.Val);
        E("no-recursive", '\0', PoptKind.Val);
        E("no-r", '\0', PoptKind.Val);
        E("inc-recursive", '\0', PoptKind.Val);
        E("no-inc-recursive", '\0', PoptKind.Val);
        E("i-r", '\0', PoptKind.Val);
        E("no-i-r", '\0', PoptKind.Val);
        E("dirs", 'd', PoptKind.Val);
        E("no-dirs", '\0', PoptKind.Val);
        E("no-d", '\0', PoptKind.Val);
        E("old-dirs", '\0', PoptKind.Val);
        E("old-d", '\0', PoptKind.Val);
        E("perms", 'p', PoptKind.Val);
        E("no-perms", '\0', PoptKind.Val);
        E("no-p", '\0', PoptKind.Val);
        E("executability", 'E', PoptKind.None);
        E("acls", 'A', PoptKind.None);
        E("no-acls", '\0', PoptKind.Val);
        E("no-A", '\0', PoptKind.Val);
        E("xattrs", 'X', PoptKind.None);
        E("no-xattrs", '\0', PoptKind.Val);
        E("no-X", '\0', PoptKind.Val);
        E("times", 't', PoptKind.Val);
        E("no-times", '\0', PoptKind.Val);
        E("no-t", '\0', PoptKind.Val);
        E("omit-dir-times", 'O', PoptKind.Val);
        E("no-omit-dir-times", '\0', PoptKind.Val);
        E("no-O", '\0', PoptKind.Val);
        E("omit-link-times", 'J', PoptKind.Val);
        E("no-omit-link-times", '\0', PoptKind.Val);
        E("no-J", '\0', PoptKind.Val);
        E("modify-window", '@', PoptKind.Int);
        E("super", '\0', PoptKind.Val);
        E("no-super", '\0', PoptKind.Val);
        E("fake-super", '\0', PoptKind.Val);
        E("owner", 'o', PoptKind.Val);
        E("no-owner", '\0', PoptKind.Val);
        E("no-o", '\0', PoptKind.Val);
        E("group", 'g', PoptKind.Val);
        E("no-group", '\0', PoptKind.Val);
        E("no-g", '\0', PoptKind.Val);
        E(null, 'D', PoptKind.None);
        E("no-D", '\0', PoptKind.None);
        E("devices", '\0', PoptKind.Val);
        E("no-devices", '\0', PoptKind.Val);
        E("specials", '\0', PoptKind.Val);
        E("no-specials", '\0', PoptKind.Val);
        E("links", 'l', PoptKind.Val);
        E("no-links", '\0', PoptKind.Val);
        E("no-l", '\0', PoptKind.Val);
        E("copy-links", 'L', PoptKind.None);
        E("copy-unsafe-links", '\0', PoptKind.None);
        E("safe-links", '\0', PoptKind.None);
        E("munge-links", '\0', PoptKind.Val);
        E("no-munge-links", '\0', PoptKind.Val);
        E("copy-dirlinks", 'k', PoptKind.None);
        E("keep-dirlinks", 'K', PoptKind.None);
        E("hard-links", 'H', PoptKind.None);
        E("no-hard-links", '\0', PoptKind.Val);
        E("no-H", '\0', PoptKind.Val);
        E("relative", 'R', PoptKind.Val);
        E("no-relative", '\0', PoptKind.Val);
        E("no-R", '\0', PoptKind.Val);
        E("implied-dirs", '\0', PoptKind.Val);
        E("no-implied-dirs", '\0', PoptKind.Val);
        E("i-d", '\0', PoptKind.Val);
        E("no-i-d", '\0', PoptKind.Val);
        E("chmod", '\0', PoptKind.String);
        E("ignore-times", 'I', PoptKind.None);
        E("size-only", '\0', PoptKind.None);
        E("one-file-system", 'x', PoptKind.None);
        E("no-one-file-system", '\0', PoptKind.Val);
        E("no-x", '\0', PoptKind.Val);
        E("update", 'u', PoptKind.None);
        E("existing", '\0', PoptKind.None);
        E("ignore-non-existing", '\0', PoptKind.None);
        E("ignore-existing", '\0', PoptKind.None);
        E("max-size", '\0', PoptKind.String);
        E("min-size", '\0', PoptKind.String);
        E("sparse", 'S', PoptKind.Val);
        E("no-sparse", '\0', PoptKind.Val);
        E("no-S", '\0', PoptKind.Val);
        E("preallocate", '\0', PoptKind.None);
        E("inplace", '\0', PoptKind.Val);
        E("no-inplace", '\0', PoptKind.Val);
        E("append", '\0', PoptKind.None);
        E("append-verify", '\0', PoptKind.Val);
        E("no-append", '\0', PoptKind.Val);
        E("del", '\0', PoptKind.None);
        E("delete", '\0', PoptKind.None);
        E("delete-before", '\0', PoptKind.None);
        E("delete-during", '\0', PoptKind.Val);
        E("delete-delay", '\0', PoptKind.Val);
        E("delete-after", '\0', PoptKind.None);
        E("delete-excluded", '\0', PoptKind.None);
        E("delete-missing-args", '\0', PoptKind.BitSet);
        E("ignore-missing-args", '\0', PoptKind.BitSet);
        E("remove-sent-files", '\0', PoptKind.Val);
        E("remove-source-files", '\0', PoptKind.Val);
        E("force", '\0', PoptKind.Val);
        E("no-force", '\0', PoptKind.Val);
        E("ignore-errors", '\0', PoptKind.Val);
        E("no-ignore-errors", '\0', PoptKind.Val);
        E("max-delete", '\0', PoptKind.Int);
        E(null, 'F', PoptKind.None);
        E("filter", 'f', PoptKind.String);
        E("exclude", '\0', PoptKind.String);
        E("include", '\0', PoptKind.String);
        E("exclude-from", '\0', PoptKind.String);
        E("include-from", '\0', PoptKind.String);
        E("cvs-exclude", 'C', PoptKind.None);
        E("whole-file", 'W', PoptKind.Val);
        E("no-whole-file", '\0', PoptKind.Val);
        E("no-W", '\0', PoptKind.Val);
        E("checksum", 'c', PoptKind.Val);
        E("no-checksum", '\0', PoptKind.Val);
        E("no-c", '\0', PoptKind.Val);
        E("block-size", 'B', PoptKind.Long);
        E("compare-dest", '\0', PoptKind.String);
        E("copy-dest", '\0', PoptKind.String);
        E("link-dest", '\0', PoptKind.String);
        E("fuzzy", 'y', PoptKind.None);
        E("no-fuzzy", '\0', PoptKind.Val);
        E("no-y", '\0', PoptKind.Val);
        E("compress", 'z', PoptKind.None);
        E("old-compress", '\0', PoptKind.Val);
        E("new-compress", '\0', PoptKind.Val);
        E("no-compress", '\0', PoptKind.Val);
        E("no-z", '\0', PoptKind.Val);
        E("skip-compress", '\0', PoptKind.String);
        E("compress-level", '\0', PoptKind.Int);
        E(null, 'P', PoptKind.None);
        E("progress", '\0', PoptKind.Val);
        E("no-progress", '\0', PoptKind.Val);
        E("partial", '\0', PoptKind.Val);
        E("no-partial", '\0', PoptKind.Val);
        E("partial-dir", '\0', PoptKind.String);
        E("delay-updates", '\0', PoptKind.Val);
        E("no-delay-updates", '\0', PoptKind.Val);
        E("prune-empty-dirs", 'm', PoptKind.Val);
        E("no-prune-empty-dirs", '\0', PoptKind.Val);
        E("no-m", '\0', PoptKind.Val);
        E("log-file", '\0', PoptKind.String);
        E("log-file-format", '\0', PoptKind.String);
        E("out-format", '\0', PoptKind.String);
        E("log-format", '\0', PoptKind.String);
        E("itemize-changes", 'i', PoptKind.None);
        E("no-itemize-changes", '\0', PoptKind.Val);
        E("no-i", '\0', PoptKind.Val);
        E("bwlimit", '\0', PoptKind.String);
        E("no-bwlimit", '\0', PoptKind.Val);
        E("backup", 'b', PoptKind.Val);
        E("no-backup", '\0', PoptKind.Val);
        E("backup-dir", '\0', PoptKind.String);
        E("suffix", '\0', PoptKind.String);
        E("list-only", '\0', PoptKind.Val);
        E("read-batch", '\0', PoptKind.String);
        E("write-batch", '\0', PoptKind.String);
        E("only-write-batch", '\0', PoptKind.String);
        E("files-from", '\0', PoptKind.String);
        E("from0", '0', PoptKind.Val);
        E("no-from0", '\0', PoptKind.Val);
        E("protect-args", 's', PoptKind.Val);
        E("no-protect-args", '\0', PoptKind.Val);
        E("no-s", '\0', PoptKind.Val);
        E("numeric-ids", '\0', PoptKind.Val);
        E("no-numeric-ids", '\0', PoptKind.Val);
        E("usermap", '\0', PoptKind.String);
        E("groupmap", '\0', PoptKind.String);
        E("chown", '\0', PoptKind.String);
        E("timeout", '\0', PoptKind.Int);
        E("no-timeout", '\0', PoptKind.Val);
        E("contimeout", '\0', PoptKind.Int);
        E("no-contimeout", '\0', PoptKind.Val);
        E("rsh", 'e', PoptKind.String);
        E("rsync-path", '\0', PoptKind.String);
        E("temp-dir", 'T', PoptKind.String);
        E("iconv", '\0', PoptKind.String);
        E("no-iconv", '\0', PoptKind.None);
        E("ipv4", '4', PoptKind.Val);
        E("ipv6", '6', PoptKind.Val);
        E("8-bit-output", '8', PoptKind.Val);
        E("no-8-bit-output", '\0', PoptKind.Val);
        E("no-8", '\0', PoptKind.Val);
        E("qsort", '\0', PoptKind.None);
        E("address", '\0', PoptKind.String);
        E("port", '\0', PoptKind.Int);
        E("sockopts", '\0', PoptKind.String);
        E("password-file", '\0', PoptKind.String);
        E("blocking-io", '\0', PoptKind.Val);
        E("no-blocking-io", '\0', PoptKind.Val);
        E("outbuf", '\0', PoptKind.String);
        E("remote-option", 'M', PoptKind.String);
        E("protocol", '\0', PoptKind.Int);
        E("checksum-seed", '\0', PoptKind.Int);
        E("server", '\0', PoptKind.None);
        E("sender", '\0', PoptKind.None);
        E("config", '\0', PoptKind.String);
        E("daemon", '\0', PoptKind.None);
        E("dparam", '\0', PoptKind.String);
        E("detach", '\0', PoptKind.None);
        E("no-detach", '\0', PoptKind.None);

        ByLong = List.Where(e => e.Long is not null).ToDictionary(e => e.Long!, StringComparer.Ordinal);
        ByShort = List.Where(e => e.Short != '\0').ToDictionary(e => e.Short);
    }

    public static IReadOnlyList<CatalogEntry> Entries => List;

    public static Dictionary<string, CatalogEntry> ByLong { get; }

    public static Dictionary<char, CatalogEntry> ByShort { get; }

    private static void E(string? longName, char shortName, PoptKind kind) =>
        List.Add(new CatalogEntry(List.Count, longName, shortName, kind));
}
