using System.Text;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.FileList;

/// <summary>How the sender walks its sources (the options that shape flist.c's send_file_list).</summary>
public sealed record FileListScanOptions
{
    public bool Recursive { get; init; }
    public bool Dirs { get; init; }
    public bool Relative { get; init; }
    public bool ImpliedDirs { get; init; } = true;
    public bool PreserveLinks { get; init; }
    public bool CopyLinks { get; init; }
    public bool CopyUnsafeLinks { get; init; }
    public bool SafeLinks { get; init; }
    public bool PreserveDevices { get; init; }
    public bool PreserveSpecials { get; init; }
    public bool PreserveHardLinks { get; init; }
    public bool AlwaysChecksum { get; init; }

    /// <summary>The --checksum digest (the negotiated file checksum).</summary>
    public Checksums.ChecksumKind ChecksumKind { get; init; } = Checksums.ChecksumKind.Md5;
    public bool OneFileSystem { get; init; }
    public FilterList Filters { get; init; } = new();
    public Options.ChmodRules? Chmod { get; init; }

    /// <summary>A daemon's module: links are only followed (-L, --copy-unsafe-links) to places inside it.</summary>
    public string? ConfineTo { get; init; }

    /// <summary>The module's handle: with it every name is looked at beneath the module, and a symlink
    /// on the way (planted, or swapped in while the list is made) is never gone through.</summary>
    public Native.ConfinedRoot? Jail { get; init; }

    /// <summary>Symlinks were stored munged (--munge-links, "munge symlinks"): the prefix comes off before they are sent.</summary>
    public bool MungeLinks { get; init; }
}

/// <summary>rsync's symlink munging: a prefix that makes a stored link lead nowhere (rsync.h, SYMLINK_PREFIX).</summary>
public static class MungedSymlink
{
    public const string Prefix = "/rsyncd-munged/";

    private static readonly byte[] PrefixBytes = Encoding.ASCII.GetBytes(Prefix);

    /// <summary>The target as the receiver stores it (flist.c, recv_file_entry).</summary>
    public static byte[] Munge(byte[] target) => [.. PrefixBytes, .. target];

    /// <summary>The target as the sender sends it: the prefix taken off when there is more after it (flist.c, readlink_stat).</summary>
    public static string Unmunge(string target) =>
        target.Length > Prefix.Length && target.StartsWith(Prefix, StringComparison.Ordinal) ? target[Prefix.Length..] : target;
}

/// <summary>Reports from the walk, worded as rsync words them.</summary>
public interface IFileListReporter
{
    /// <summary>A per-file error that makes the run a partial transfer (FERROR_XFER).</summary>
    void TransferError(string message);

    /// <summary>An informational line shown with -v (FINFO).</summary>
    void Info(string message);

    /// <summary>A path as messages quote it (util.c, full_fname): by default "/full/path".</summary>
    string Quote(string path) => $"\"{Path.GetFullPath(path)}\"";
}

/// <summary>Builds the sender's sorted file list from command-line sources.</summary>
public sealed class FileListBuilder(FileListScanOptions options, IFileListReporter reporter)
{
    private readonly List<FileEntry> _entries = [];
    private readonly HashSet<string> _impliedDirs = new(StringComparer.Ordinal);

    public IoErrorFlags IoError { get; private set; }

    /// <summary>Adds one command-line source, as rsync's send_file_list treats each argument.</summary>
    public void AddSource(string argument)
    {
        (string root, string name) = SplitSource(argument);
        AddNamed(root, name);
    }

    /// <summary>Adds a name read from --files-from, relative to <paramref name="root"/>.</summary>
    public void AddFromList(string root, string listedName)
    {
        string name = listedName.TrimStart('/');
        while (name.StartsWith("./", StringComparison.Ordinal))
            name = name[2..];
        name = name.TrimEnd('/');
        if (name.Length == 0)
            name = ".";
        AddNamed(root, name);
    }

    private (string Root, string Name) SplitSource(string argument)
    {
        string arg = argument;
        if (options.Relative)
        {
            int marker = arg.IndexOf("/./", StringComparison.Ordinal);
            string root;
            string name;
            if (marker >= 0)
            {
                root = arg[..marker];
                name = arg[(marker + 3)..];
                if (root.Length == 0)
                    root = "/";
            }
            else if (arg.StartsWith('/'))
            {
                root = "/";
                name = arg.TrimStart('/');
            }
            else
            {
                root = ".";
                name = arg.StartsWith("./", StringComparison.Ordinal) ? arg[2..] : arg;
            }
            name = CleanName(name);
            return (root, name);
        }

        bool contentsOnly = arg.EndsWith('/') || arg == "." || arg.EndsWith("/.", StringComparison.Ordinal);
        string trimmed = arg.TrimEnd('/');
        if (trimmed.EndsWith("/.", StringComparison.Ordinal))
            trimmed = trimmed[..^2];
        if (trimmed.Length == 0)
            trimmed = "/";
        if (contentsOnly)
            return (trimmed, ".");
        int slash = trimmed.LastIndexOf('/');
        if (slash < 0)
            return (".", trimmed);
        return (slash == 0 ? "/" : trimmed[..slash], trimmed[(slash + 1)..]);
    }

    private static string CleanName(string name)
    {
        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").ToArray();
        if (parts.Any(p => p == ".."))
            throw new RsyncException($"found \"..\" dir in relative path: {name}", ExitCodes.Syntax);
        return parts.Length == 0 ? "." : string.Join('/', parts);
    }

    /// <summary>A path's name beneath the module, or null when it is not beneath it.</summary>
    private byte[]? InJail(string fullPath)
    {
        string rel = Path.GetRelativePath(options.ConfineTo!, fullPath);
        if (rel == ".." || rel.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(rel))
            return null;
        return Encoding.UTF8.GetBytes(rel);
    }

    /// <summary>-L and --copy-unsafe-links walk through links; in a module only while they stay inside it.</summary>
    private bool FollowsLinks => options.CopyLinks || options.CopyUnsafeLinks;

    private int LStat(string fullPath, out FileStatus st)
    {
        if (options.Jail is null)
            return Posix.TryLStat(fullPath, out st);
        st = default;
        return InJail(fullPath) is { } rel ? options.Jail.LStat(rel, out st, FollowsLinks) : Posix.EXDEV;
    }

    private void AddNamed(string root, string name)
    {
        string fullPath = name == "." ? root : Path.Join(root, name);
        int errno = LStat(fullPath, out var st);
        // "NAME/" is looked at as "NAME/.", through a link (flist.c, send_file_list).
        if (errno == 0 && name == "." && st.IsSymlink)
            errno = options.Jail is null ? Posix.TryStat(fullPath, out st) : Posix.ELOOP;
        if (errno != 0)
        {
            LinkStatFailed(fullPath, errno);
            return;
        }
        bool isDotDir = name == ".";

        if (!isDotDir && options.Filters.IsExcludedBySender(Encoding.UTF8.GetBytes(name), st.IsDirectory))
            return;

        if (options.Relative && options.ImpliedDirs)
        {
            int slash = -1;
            while ((slash = name.IndexOf('/', slash + 1)) > 0)
            {
                string parent = name[..slash];
                if (!_impliedDirs.Add(parent))
                    continue;
                if (LStat(Path.Join(root, parent), out var pst) == 0 && pst.IsDirectory)
                    Add(MakeEntry(root, parent, pst, EntryFlags.ImpliedDir), parent);
            }
        }

        if (st.IsDirectory && !options.Recursive && !(options.Dirs || isDotDir))
        {
            reporter.Info($"skipping directory {name}");
            return;
        }

        var flags = st.IsDirectory && (options.Recursive || isDotDir) ? EntryFlags.TopDir | EntryFlags.ContentDir : EntryFlags.None;
        var entry = MakeFileEntry(root, name, fullPath, st, flags);
        if (entry is null)
            return;
        Add(entry, name);
        if (entry.IsDirectory && options.Recursive)
            Walk(root, name, fullPath, st.Device);
    }

    private void Walk(string root, string dirName, string dirPath, long device)
    {
        IEnumerable<string> children;
        if (options.Jail is not null)
        {
            var names = new List<byte[]>();
            int listErr = InJail(dirPath) is { } rel ? options.Jail.List(rel, names, FollowsLinks) : Posix.EXDEV;
            if (listErr != 0)
            {
                IoError |= IoErrorFlags.General;
                reporter.TransferError($"opendir {reporter.Quote(dirPath)} failed: {Posix.StrError(listErr)} ({listErr})");
                return;
            }
            children = names.Select(n => Encoding.UTF8.GetString(n)).ToList();
        }
        else
        {
            try
            {
                children = Directory.EnumerateFileSystemEntries(dirPath).Select(Path.GetFileName).ToList()!;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                IoError |= IoErrorFlags.General;
                reporter.TransferError($"opendir {reporter.Quote(dirPath)} failed: {Posix.StrError(Posix.EACCES)} ({Posix.EACCES})");
                return;
            }
        }

        foreach (string child in children)
        {
            string name = dirName == "." ? child : dirName + "/" + child;
            string path = Path.Join(dirPath, child);
            int errno = LStat(path, out var st);
            if (errno != 0)
            {
                if (errno == Posix.ENOENT)
                    continue; // vanished between readdir and lstat; rsync says nothing either
                LinkStatFailed(path, errno);
                continue;
            }
            if (options.Filters.IsExcludedBySender(Encoding.UTF8.GetBytes(name), st.IsDirectory))
                continue;
            var entry = MakeFileEntry(root, name, path, st, st.IsDirectory ? EntryFlags.ContentDir : EntryFlags.None);
            if (entry is null)
                continue;
            Add(entry, name);
            if (entry.IsDirectory)
            {
                if (options.OneFileSystem && st.Device != device)
                    continue;
                Walk(root, name, path, device);
            }
        }
    }

    /// <summary>Turns an lstat result into an entry, or null when the type is not being sent (flist.c, make_file).</summary>
    private FileEntry? MakeFileEntry(string root, string name, string path, FileStatus st, EntryFlags flags)
    {
        if (st.IsSymlink)
        {
            string? target = ReadLink(path, options.Jail is null ? null : InJail(path));
            if (target is null)
                return null;
            if (options.MungeLinks)
                target = MungedSymlink.Unmunge(target);
            bool unsafeLink = IsUnsafeSymlink(target, name);
            if (options.CopyLinks || (options.CopyUnsafeLinks && unsafeLink))
            {
                if (options.ConfineTo is { } jail && (Posix.RealPath(path) is not { } real || !Posix.IsWithin(real, jail)))
                {
                    IoError |= IoErrorFlags.General;
                    reporter.TransferError($"symlink \"{name}\" leads outside the module; not following it");
                    return null;
                }
                int errno = Posix.TryStat(path, out var followed);
                if (errno != 0)
                {
                    IoError |= IoErrorFlags.General;
                    reporter.TransferError($"symlink has no referent: {reporter.Quote(path)}");
                    return null;
                }
                return MakeFileEntry(root, name, path, followed, followed.IsDirectory ? flags | EntryFlags.ContentDir : flags);
            }
            if (!options.PreserveLinks)
            {
                reporter.Info($"skipping non-regular file \"{name}\"");
                return null;
            }
            if (options.SafeLinks && unsafeLink)
            {
                reporter.Info($"ignoring unsafe symlink \"{name}\" -> \"{target}\"");
                return null;
            }
            var link = MakeEntry(root, name, st, flags);
            link.LinkTarget = Encoding.UTF8.GetBytes(target);
            link.Size = link.LinkTarget.Length;
            return link;
        }
        if ((Posix.IsDevice(st.Mode) && !options.PreserveDevices) || (Posix.IsSpecial(st.Mode) && !options.PreserveSpecials))
        {
            reporter.Info($"skipping non-regular file \"{name}\"");
            return null;
        }

        var entry = MakeEntry(root, name, st, flags);
        if (Posix.IsDevice(st.Mode))
            entry.Rdev = st.Rdev;
        if (!entry.IsRegular && !entry.IsDirectory)
            entry.Size = 0;
        if (options.PreserveHardLinks && !st.IsDirectory && st.LinkCount > 1)
        {
            entry.Flags |= EntryFlags.HardLinked;
            entry.Device = st.Device;
            entry.Inode = st.Inode;
        }
        if (options.AlwaysChecksum && entry.IsRegular)
        {
            entry.Checksum = new byte[ChecksumKinds.Length(options.ChecksumKind)];
            try
            {
                if (options.Jail is null)
                    StrongChecksum.FileSum(options.ChecksumKind, path, entry.Checksum);
                else if (InJail(path) is { } rel && options.Jail.OpenRead(rel, out var handle, FollowsLinks) == 0)
                {
                    using (handle)
                        StrongChecksum.FileSum(options.ChecksumKind, handle!, entry.Checksum);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // rsync leaves the sum zeroed and reports the read error at transfer time.
            }
        }
        return entry;
    }

    private FileEntry MakeEntry(string root, string name, FileStatus st, EntryFlags flags) =>
        new(Encoding.UTF8.GetBytes(name), options.Chmod?.Apply(st.Mode) ?? st.Mode, st.IsDirectory || st.IsRegular || st.IsSymlink ? st.Size : 0, st.MtimeSeconds)
        {
            ModNanoseconds = st.MtimeNanoseconds,
            Uid = st.Uid,
            Gid = st.Gid,
            Flags = flags,
            Root = root,
        };

    private string? ReadLink(string path, byte[]? inJail)
    {
        if (options.Jail is not null)
            return inJail is not null && options.Jail.ReadLink(inJail, out var target, FollowsLinks) == 0 ? Encoding.UTF8.GetString(target!) : null;
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A link is unsafe when it could lead out of the transfer (util1.c, unsafe_symlink).</summary>
    public static bool IsUnsafeSymlink(string target, string linkName) =>
        UnsafeSymlink.IsUnsafe(Encoding.UTF8.GetBytes(target), Encoding.UTF8.GetBytes(linkName));

    private void LinkStatFailed(string path, int errno)
    {
        if (errno != Posix.ENOENT)
            IoError |= IoErrorFlags.General;
        reporter.TransferError($"link_stat {reporter.Quote(path)} failed: {Posix.StrError(errno)} ({errno})");
        HadMissingSource = true;
    }

    /// <summary>A named source could not be read (got_xfer_error in rsync: the run ends with code 23).</summary>
    public bool HadMissingSource { get; private set; }

    private void Add(FileEntry entry, string name) => _entries.Add(entry);

    /// <summary>The list in rsync's order; indexes into it are the file indexes on the wire.</summary>
    public List<FileEntry> Build()
    {
        _entries.Sort(FileNameComparer.Instance);
        // A name given twice (or an implied directory also named) is sent once: a directory wins
        // over anything else of that name, else the fuller entry, else the first; a receiver
        // would drop the others (flist.c, flist_sort_and_clean).
        var chosen = new Dictionary<string, FileEntry>(StringComparer.Ordinal);
        foreach (var entry in _entries)
        {
            string key = Encoding.Latin1.GetString(entry.Name);
            if (!chosen.TryGetValue(key, out var first))
                chosen[key] = entry;
            else if ((entry.IsDirectory && !first.IsDirectory)
                || ((first.Flags & EntryFlags.ImpliedDir) != 0 && (entry.Flags & EntryFlags.ImpliedDir) == 0 && entry.IsDirectory == first.IsDirectory))
                chosen[key] = entry;
        }
        int kept = 0;
        for (int i = 0; i < _entries.Count; i++)
        {
            var entry = _entries[i];
            if (ReferenceEquals(chosen[Encoding.Latin1.GetString(entry.Name)], entry))
                _entries[kept++] = entry;
        }
        _entries.RemoveRange(kept, _entries.Count - kept);
        _impliedDirs.Clear();
        return _entries;
    }
}
