using System.Text;
using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Text;
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

    /// <summary>Directories below the sources are listed one at a time, when the sender asks
    /// (incremental recursion: flist.c, send_file_list with FLAG_DIVERT_DIRS).</summary>
    public bool Incremental { get; init; }

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
    public static byte[] Unmunge(byte[] target) =>
        target.Length > PrefixBytes.Length && target.AsSpan().StartsWith(PrefixBytes) ? target[PrefixBytes.Length..] : target;
}

/// <summary>Reports from the walk, worded as rsync words them.</summary>
public interface IFileListReporter
{
    /// <summary>A per-file error that makes the run a partial transfer (FERROR_XFER).</summary>
    void TransferError(string message);

    /// <summary>A warning that does not make the run partial by itself (FWARNING), such as a vanished file.</summary>
    void Warning(string message) => Info(message);

    /// <summary>An informational line shown with -v (FINFO).</summary>
    void Info(string message);

    /// <summary>A path as messages quote it (util.c, full_fname): by default "/full/path".</summary>
    string Quote(string path) => $"\"{Path.GetFullPath(path)}\"";
}

/// <summary>Builds the sender's sorted file list from command-line sources.</summary>
public sealed class FileListBuilder(FileListScanOptions options, IFileListReporter reporter)
{
    private List<FileEntry> _entries = [];
    private FileEntryArena _arena = new();
    // Directories outlive the list that names them (their own list comes later), so incrementally
    // they share an arena of their own and a list's files go with it.
    private readonly FileEntryArena _directories = new();
    private readonly HashSet<byte[]> _impliedDirs = new(ByteNameComparer.Instance);
    // Sources and directories read into the list being built: a name can repeat only when there are several.
    private int _walks;

    public IoErrorFlags IoError { get; private set; }

    /// <summary>Adds one command-line source, as rsync's send_file_list treats each argument.</summary>
    public void AddSource(string argument)
    {
        (string root, string name) = SplitSource(argument);
        if (options.Relative && !_impliedDotSent && LeadsWithDotSlash(argument))
        {
            _impliedDotSent = true;
            AddImpliedDot(root);
        }
        // Under -R "NAME/" still means its contents, which -d then lists one level deep (flist.c, send_file_list: SLASH_ENDING_NAME).
        AddNamed(root, NameText.ToBytes(name), contents: options.Relative && argument.EndsWith('/'));
    }

    private bool _impliedDotSent;

    /// <summary>
    /// Under -R, "./NAME" (after any "/./") puts the source directory itself in the list as an
    /// implied ".", so the destination takes its attributes without its name in the paths
    /// (flist.c, send_file_list: implied_dot_dir).
    /// </summary>
    private static bool LeadsWithDotSlash(string argument)
    {
        int marker = argument.IndexOf("/./", StringComparison.Ordinal);
        string rest = marker < 0 ? argument : argument[(marker + 3)..].TrimStart('/');
        return rest.StartsWith("./", StringComparison.Ordinal) && rest.Length > 2;
    }

    private void AddImpliedDot(string root)
    {
        byte[] rootBytes = NameText.ToBytes(root);
        if (LStat(rootBytes, options.Jail is null ? null : InJail(rootBytes), out var st) == 0 && st.IsDirectory)
            Add(MakeEntry(root, Dot, st, EntryFlags.ImpliedDir));
    }

    /// <summary>Adds a name read from --files-from (bytes, as the list holds them), relative to <paramref name="root"/>.</summary>
    public void AddFromList(string root, ReadOnlySpan<byte> listedName)
    {
        // flist.c, send_file_list: leading slashes and "./" go, a trailing slash too, though it
        // still means the directory's contents.
        var name = listedName;
        bool slashEnding = name.EndsWith("/"u8);
        while (true)
        {
            if (name.Length > 0 && name[0] == (byte)'/')
                name = name[1..];
            else if (name.StartsWith("./"u8))
                name = name[2..];
            else
                break;
        }
        name = name.TrimEnd((byte)'/');
        // With -R a "/./" in a listed name marks where its relative path starts, as on the command
        // line (flist.c, send_file_list); what comes before it joins the source directory.
        int marker = options.Relative ? name.IndexOf("/./"u8) : -1;
        if (marker >= 0)
        {
            root = Path.Join(root, NameText.FromBytes(name[..marker]));
            name = name[(marker + 3)..];
        }
        else if (options.Relative && name.EndsWith("/."u8))
        {
            root = Path.Join(root, NameText.FromBytes(name[..^2]));
            name = default;
        }
        byte[] cleaned = WithoutDotComponents(name);
        AddNamed(root, cleaned.Length == 0 ? Dot : cleaned, contents: slashEnding);
    }

    /// <summary>The name without empty and "." components (util.c, clean_fname).</summary>
    private static byte[] WithoutDotComponents(ReadOnlySpan<byte> name)
    {
        var kept = new List<byte>(name.Length);
        foreach (var range in name.Split((byte)'/'))
        {
            var part = name[range];
            if (part.IsEmpty || part is [(byte)'.'])
                continue;
            if (kept.Count > 0)
                kept.Add((byte)'/');
            kept.AddRange(part);
        }
        return [.. kept];
    }

    /// <summary>Adds a name read from --files-from, relative to <paramref name="root"/>.</summary>
    public void AddFromList(string root, string listedName) => AddFromList(root, NameText.ToBytes(listedName));

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

    private static readonly byte[] Dot = [(byte)'.'];

    private static bool IsDot(ReadOnlySpan<byte> name) => name.Length == 1 && name[0] == (byte)'.';

    private static byte[] Join(ReadOnlySpan<byte> dir, ReadOnlySpan<byte> name)
    {
        var joined = new byte[JoinedLength(dir, name)];
        WriteJoined(joined, dir, name);
        return joined;
    }

    /// <summary>Like <see cref="Join"/>, into a buffer kept for the purpose (grown when too small).</summary>
    private static ReadOnlySpan<byte> JoinInto(ref byte[] buffer, ReadOnlySpan<byte> dir, ReadOnlySpan<byte> name)
    {
        int length = JoinedLength(dir, name);
        if (buffer.Length < length)
            buffer = new byte[Math.Max(length, buffer.Length * 2)];
        WriteJoined(buffer, dir, name);
        return buffer.AsSpan(0, length);
    }

    private static bool EndsWithSlash(ReadOnlySpan<byte> dir) => dir.Length > 0 && dir[^1] == (byte)'/';

    private static int JoinedLength(ReadOnlySpan<byte> dir, ReadOnlySpan<byte> name) =>
        dir.Length + (EndsWithSlash(dir) ? 0 : 1) + name.Length;

    private static void WriteJoined(Span<byte> into, ReadOnlySpan<byte> dir, ReadOnlySpan<byte> name)
    {
        dir.CopyTo(into);
        int at = dir.Length;
        if (!EndsWithSlash(dir))
            into[at++] = (byte)'/';
        name.CopyTo(into[at..]);
    }

    private byte[]? _confineBytes;

    /// <summary>A path's name beneath the module, or null when it is not beneath it.</summary>
    private byte[]? InJail(byte[] fullPath) =>
        BeneathRoot(_confineBytes ??= NameText.ToBytes(options.ConfineTo!), fullPath);

    /// <summary><paramref name="path"/> relative to <paramref name="root"/> ("." for the root itself), or null when it is not beneath it.</summary>
    /// <remarks>Compared a component at a time, empty and "." ones skipped; ".." anywhere refuses. Runs per
    /// file a module sends, so nothing but the answer is allocated.</remarks>
    internal static byte[]? BeneathRoot(ReadOnlySpan<byte> root, ReadOnlySpan<byte> path)
    {
        while (NextComponent(ref root, out var rootPart))
        {
            if (rootPart.SequenceEqual(".."u8) || !NextComponent(ref path, out var pathPart) || !pathPart.SequenceEqual(rootPart))
                return null;
        }
        int length = -1;
        for (var rest = path; NextComponent(ref rest, out var part);)
        {
            if (part.SequenceEqual(".."u8))
                return null;
            length += part.Length + 1;
        }
        if (length < 0)
            return Dot;
        var rel = new byte[length];
        int at = 0;
        while (NextComponent(ref path, out var part))
        {
            if (at > 0)
                rel[at++] = (byte)'/';
            part.CopyTo(rel.AsSpan(at));
            at += part.Length;
        }
        return rel;
    }

    private static bool NextComponent(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> part)
    {
        while (!rest.IsEmpty)
        {
            int slash = rest.IndexOf((byte)'/');
            part = slash < 0 ? rest : rest[..slash];
            rest = slash < 0 ? default : rest[(slash + 1)..];
            if (!part.IsEmpty && !IsDot(part))
                return true;
        }
        part = default;
        return false;
    }

    /// <summary>-L and --copy-unsafe-links walk through links; in a module only while they stay inside it.</summary>
    private bool FollowsLinks => options.CopyLinks || options.CopyUnsafeLinks;

    /// <param name="rel">The name beneath the module, with a jail; empty when it is not beneath it.</param>
    private int LStat(ReadOnlySpan<byte> fullPath, ReadOnlySpan<byte> rel, out FileStatus st)
    {
        if (options.Jail is null)
            return Confined.StatAt(Confined.AtFdCwd, fullPath, Confined.AtSymlinkNoFollow, out st);
        st = default;
        return !rel.IsEmpty ? options.Jail.LStat(rel, out st, FollowsLinks) : Posix.EXDEV;
    }

    private void AddNamed(string root, string name) => AddNamed(root, NameText.ToBytes(name));

    /// <param name="listed">Under -R with incremental recursion, how much of <paramref name="name"/>
    /// lists before this one have sent as implied directories (0 for a command-line source).</param>
    /// <param name="contents">Named with a trailing slash: a directory's contents are sent even
    /// without -r, one level deep, when directories are (-d, --files-from).</param>
    private void AddNamed(string root, byte[] name, int listed = 0, bool contents = false)
    {
        _walks++;
        byte[] rootBytes = NameText.ToBytes(root);
        bool isDotDir = IsDot(name);
        byte[] fullPath = isDotDir ? rootBytes : Join(rootBytes, name);
        byte[]? rel = options.Jail is null ? null : InJail(fullPath);
        int errno = LStat(fullPath, rel, out var st);
        // "NAME/" is looked at as "NAME/.", through a link (flist.c, send_file_list).
        if (errno == 0 && isDotDir && st.IsSymlink)
            errno = options.Jail is null ? Confined.StatAt(Confined.AtFdCwd, fullPath, 0, out st) : Posix.ELOOP;
        if (errno != 0)
        {
            // "NAME/" is entered with chdir, and is reported as such (flist.c, send_file_list).
            if (isDotDir)
            {
                IoError |= IoErrorFlags.General;
                reporter.TransferError($"change_dir {Quote(fullPath)} failed: {Posix.StrError(errno)} ({errno})");
                HadMissingSource = true;
                return;
            }
            LinkStatFailed(fullPath, errno);
            return;
        }

        if (!isDotDir && options.Filters.IsExcludedBySender(name, st.IsDirectory))
            return;

        int nextSlash = Array.IndexOf(name, (byte)'/', listed == 0 ? 0 : listed + 1);
        if (options.Relative && options.Incremental && nextSlash > 0)
        {
            AddImpliedLevel(root, name, nextSlash);
            return;
        }

        if (options.Relative && options.ImpliedDirs && !options.Incremental)
        {
            int slash = -1;
            while ((slash = Array.IndexOf(name, (byte)'/', slash + 1)) > 0)
            {
                byte[] parent = name[..slash];
                if (!_impliedDirs.Add(parent))
                    continue;
                byte[] parentPath = Join(rootBytes, parent);
                if (LStat(parentPath, options.Jail is null ? null : InJail(parentPath), out var pst) == 0 && pst.IsDirectory)
                    Add(MakeEntry(root, parent, pst, EntryFlags.ImpliedDir));
            }
        }

        if (st.IsDirectory && !options.Recursive && !(options.Dirs || isDotDir))
        {
            reporter.Info($"skipping directory {NameText.FromBytes(name)}");
            return;
        }

        bool contentDir = options.Recursive || isDotDir || (contents && options.Dirs);
        var flags = st.IsDirectory && contentDir ? EntryFlags.TopDir | EntryFlags.ContentDir : EntryFlags.None;
        if (MakeFileEntry(root, name, fullPath, rel, st, flags) is not { } entry)
            return;
        Add(entry);
        // Incrementally, "NAME/" is listed now and "NAME" later, in a list of its own. Without -r
        // a content directory is listed one level deep (flist.c, send_if_directory).
        if (entry.IsDirectory && (options.Recursive ? !options.Incremental || isDotDir : contentDir && options.Dirs))
            Walk(root, name, fullPath, rel, st.Device);
    }

    /// <summary>
    /// One directory's entries, for the list sent for it (flist.c, send1extra). Directories of the
    /// same name from several sources are listed together. Duplicate directories among the result
    /// are reported to <paramref name="merged"/> so their contents are not lost.
    /// </summary>
    public List<FileEntry> ListDirectory(FileEntry directory, IEnumerable<FileEntry> sameNamed, Action<FileEntry, FileEntry>? merged)
    {
        ListOneDirectory(directory);
        foreach (var other in sameNamed)
            ListOneDirectory(other);
        if (_awaitingParent is not null && _awaitingParent.GetAlternateLookup<ReadOnlySpan<byte>>().Remove(directory.Name.Joined(ref _joinedName), out _, out var below))
        {
            foreach (var (root, name) in below)
                AddNamed(root, name, listed: directory.Name.Length);
        }
        return Build(merged);
    }

    // -R under incremental recursion: a list holds only its directory's children (3.5's receiver
    // aborts on anything else), so a source's parents go one per list, each an implied directory,
    // and the source itself in its parent's list (flist.c, send_implied_dirs and send1extra).
    // Sources waiting below a directory, by the directory's name: same-named directories of
    // several sources share one list.
    private Dictionary<byte[], List<(string Root, byte[] Name)>>? _awaitingParent;

    /// <summary>Adds the implied directory <paramref name="name"/>[..<paramref name="slash"/>] to this list, the source to wait for its list.</summary>
    private void AddImpliedLevel(string root, byte[] name, int slash)
    {
        byte[] parent = name[..slash];
        _awaitingParent ??= new Dictionary<byte[], List<(string, byte[])>>(ByteNameComparer.Instance);
        if (!_awaitingParent.TryGetValue(parent, out var below))
            _awaitingParent[parent] = below = [];
        below.Add((root, name));
        if (!_impliedDirs.Add(parent))
            return;
        _walks++;
        byte[] parentPath = Join(NameText.ToBytes(root), parent);
        int errno = LStat(parentPath, options.Jail is null ? null : InJail(parentPath), out var pst);
        if (errno == 0 && pst.IsDirectory)
        {
            Add(MakeEntry(root, parent, pst, EntryFlags.ImpliedDir));
            return;
        }
        // Gone since the source was looked at, or replaced: its sources go with it, each reported.
        _awaitingParent.Remove(parent);
        _impliedDirs.Remove(parent);
        LinkStatFailed(parentPath, errno != 0 ? errno : Posix.ENOTDIR);
    }

    private void ListOneDirectory(FileEntry directory)
    {
        _walks++;
        if ((directory.Flags & EntryFlags.ContentDir) == 0 || directory.Root is null)
            return;
        byte[] rootBytes = NameText.ToBytes(directory.Root);
        byte[] dirName = directory.Name.ToArray();
        byte[] fullPath = IsDot(dirName) ? rootBytes : Join(rootBytes, dirName);
        byte[]? rel = options.Jail is null ? null : InJail(fullPath);
        long device = 0;
        if (options.OneFileSystem)
        {
            int errno = LStat(fullPath, rel, out var st);
            if (errno != 0)
            {
                NoteStatError(fullPath, errno);
                return;
            }
            device = st.Device;
        }
        Walk(directory.Root, dirName, fullPath, rel, device);
    }

    private void NoteStatError(byte[] path, int errno)
    {
        if (errno == Posix.ENOENT)
        {
            IoError |= IoErrorFlags.Vanished;
            reporter.Warning($"file has vanished: {Quote(path)}");
            return;
        }
        IoError |= IoErrorFlags.General;
        reporter.TransferError($"link_stat {Quote(path)} failed: {Posix.StrError(errno)} ({errno})");
    }

    /// <summary>The names in a directory, as bytes; the errno when it cannot be read.</summary>
    private int List(byte[] dirPath, byte[]? dirRel, List<byte[]> names)
    {
        if (options.Jail is not null)
            return dirRel is not null ? options.Jail.List(dirRel, names, FollowsLinks) : Posix.EXDEV;
        int errno = Confined.OpenAt(Confined.AtFdCwd, dirPath, Confined.ORdOnly | Confined.ODirectory, 0, 0, out var handle);
        return errno != 0 ? errno : Confined.ReadDirectory(handle!, names);
    }

    // Where a child's name and paths are put together: a walk allocates nothing per file but its
    // entry, and a copy of the names of the directories it goes down into.
    private byte[] _childName = new byte[256];
    private byte[] _childPath = new byte[256];
    private byte[] _childRel = new byte[256];
    private byte[]? _joinedName;

    // The lists a directory's names are read into, one per level a walk is down, kept for the next
    // directory unless a wide one made them large.
    private readonly Stack<List<byte[]>> _spareNameLists = new();

    private void Walk(string root, byte[] dirName, byte[] dirPath, byte[]? dirRel, long device)
    {
        var children = _spareNameLists.TryPop(out var spare) ? spare : new List<byte[]>();
        try
        {
            Walk(root, dirName, dirPath, dirRel, device, children);
        }
        finally
        {
            children.Clear();
            if (children.Capacity <= 1024)
                _spareNameLists.Push(children);
        }
    }

    private void Walk(string root, byte[] dirName, byte[] dirPath, byte[]? dirRel, long device, List<byte[]> children)
    {
        int listErr = List(dirPath, dirRel, children);
        if (listErr == Posix.ENOENT)
            return; // gone since it was listed: its entry is already sent (flist.c, send_directory)
        if (listErr != 0)
        {
            IoError |= IoErrorFlags.General;
            reporter.TransferError($"opendir {Quote(dirPath)} failed: {Posix.StrError(listErr)} ({listErr})");
            return;
        }

        // Sized for what the directory holds, so neither the list nor the arena grows by doubling.
        int nameBytes = 0;
        foreach (byte[] child in children)
            nameBytes += child.Length;
        _entries.EnsureCapacity(_entries.Count + children.Count);
        _arena.Expect(children.Count, nameBytes);

        // Outside a module each child is looked at through its directory's handle, by its own name,
        // as rsync does from inside the directory (flist.c, send_directory): the kernel walks one
        // component, not the whole path, a million times.
        SafeFileHandle? directory = null;
        if (options.Jail is null)
            Confined.OpenAt(Confined.AtFdCwd, dirPath, Confined.ORdOnly | Confined.ODirectory, 0, 0, out directory);
        using var closeDirectory = directory;
        foreach (byte[] child in children)
        {
            ReadOnlySpan<byte> name = IsDot(dirName) ? child : JoinInto(ref _childName, dirName, child);
            ReadOnlySpan<byte> path = JoinInto(ref _childPath, dirPath, child);
            ReadOnlySpan<byte> rel = dirRel is null ? default : IsDot(dirRel) ? child : JoinInto(ref _childRel, dirRel, child);
            int errno = directory is not null
                ? Confined.StatAt((int)directory.DangerousGetHandle(), child, Confined.AtSymlinkNoFollow, out var st)
                : LStat(path, rel, out st);
            if (errno != 0)
            {
                // An excluded name is not reported; one that vanished since readdir makes the run
                // end with code 24 (flist.c, make_file).
                if (options.Filters.IsExcludedBySender(name, false) || options.Filters.IsExcludedBySender(name, true))
                    continue;
                if (errno == Posix.ENOENT)
                {
                    IoError |= IoErrorFlags.Vanished;
                    reporter.Warning($"file has vanished: {Quote(path)}");
                    continue;
                }
                IoError |= IoErrorFlags.General;
                reporter.TransferError($"readlink_stat({Quote(path)}) failed: {Posix.StrError(errno)} ({errno})");
                continue;
            }
            if (options.Filters.IsExcludedBySender(name, st.IsDirectory))
                continue;
            // A mount point is listed but not entered, and says so, so no receiver deletes in it (flist.c, make_file: FLAG_MOUNT_DIR).
            bool mountPoint = st.IsDirectory && options.OneFileSystem && st.Device != device;
            if (MakeFileEntry(root, name, path, rel, st, st.IsDirectory && !mountPoint ? EntryFlags.ContentDir : EntryFlags.None) is not { } entry)
                continue;
            Add(entry);
            if (entry.IsDirectory && !mountPoint && !options.Incremental && options.Recursive)
                Walk(root, name.ToArray(), path.ToArray(), dirRel is null ? null : rel.ToArray(), device);
        }
    }

    private string Quote(ReadOnlySpan<byte> path) => reporter.Quote(NameText.FromBytes(path));

    /// <summary>Turns an lstat result into an entry, or null when the type is not being sent (flist.c, make_file).</summary>
    private FileEntry? MakeFileEntry(string root, ReadOnlySpan<byte> name, ReadOnlySpan<byte> path, ReadOnlySpan<byte> rel, FileStatus st, EntryFlags flags)
    {
        if (st.IsSymlink)
        {
            byte[]? target = ReadLink(path, rel);
            if (target is null)
                return null;
            if (options.MungeLinks)
                target = MungedSymlink.Unmunge(target);
            bool unsafeLink = UnsafeSymlink.IsUnsafe(target, name);
            if (options.CopyLinks || (options.CopyUnsafeLinks && unsafeLink))
            {
                string pathText = NameText.FromBytes(path);
                if (options.ConfineTo is { } jail && (Posix.RealPath(pathText) is not { } real || !Posix.IsWithin(real, jail)))
                {
                    IoError |= IoErrorFlags.General;
                    reporter.TransferError($"symlink \"{NameText.FromBytes(name)}\" leads outside the module; not following it");
                    return null;
                }
                int errno = Confined.StatAt(Confined.AtFdCwd, path, 0, out var followed);
                if (errno != 0)
                {
                    IoError |= IoErrorFlags.General;
                    reporter.TransferError($"symlink has no referent: {Quote(path)}");
                    return null;
                }
                return MakeFileEntry(root, name, path, rel, followed, followed.IsDirectory ? flags | EntryFlags.ContentDir : flags);
            }
            if (!options.PreserveLinks)
            {
                reporter.Info($"skipping non-regular file \"{NameText.FromBytes(name)}\"");
                return null;
            }
            if (options.SafeLinks && unsafeLink)
            {
                reporter.Info($"ignoring unsafe symlink \"{NameText.FromBytes(name)}\" -> \"{NameText.FromBytes(target)}\"");
                return null;
            }
            var link = MakeEntry(root, name, st, flags);
            link.LinkTarget = target;
            link.Size = target.Length;
            return link;
        }
        if ((Posix.IsDevice(st.Mode) && !options.PreserveDevices) || (Posix.IsSpecial(st.Mode) && !options.PreserveSpecials))
        {
            reporter.Info($"skipping non-regular file \"{NameText.FromBytes(name)}\"");
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
            SafeFileHandle? handle = null;
            int openErr = options.Jail is null
                ? Confined.OpenAt(Confined.AtFdCwd, path, Confined.ORdOnly | Confined.ONoFollowIf(!FollowsLinks), 0, 0, out handle)
                : !rel.IsEmpty ? options.Jail.OpenRead(rel, out handle, FollowsLinks) : Posix.EXDEV;
            // On failure rsync leaves the sum zeroed and reports the read error at transfer time.
            if (openErr == 0)
            {
                try
                {
                    using (handle)
                        StrongChecksum.FileSum(options.ChecksumKind, handle!, entry.Checksum);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                }
            }
        }
        return entry;
    }

    private FileEntry MakeEntry(string root, EntryName name, FileStatus st, EntryFlags flags)
    {
        var arena = options.Incremental && st.IsDirectory ? _directories : _arena;
        var entry = arena.Add(name, options.Chmod?.Apply(st.Mode) ?? st.Mode, st.IsDirectory || st.IsRegular || st.IsSymlink ? st.Size : 0, st.MtimeSeconds);
        entry.ModNanoseconds = st.MtimeNanoseconds;
        entry.Uid = st.Uid;
        entry.Gid = st.Gid;
        entry.Flags = flags;
        entry.Root = root;
        return entry;
    }

    private byte[]? ReadLink(ReadOnlySpan<byte> path, ReadOnlySpan<byte> rel)
    {
        byte[]? target;
        if (options.Jail is not null)
            return !rel.IsEmpty && options.Jail.ReadLink(rel, out target, FollowsLinks) == 0 ? target : null;
        return Confined.ReadLinkAt(Confined.AtFdCwd, path, out target) == 0 ? target : null;
    }

    /// <summary>A link is unsafe when it could lead out of the transfer (util1.c, unsafe_symlink).</summary>
    public static bool IsUnsafeSymlink(string target, string linkName) =>
        UnsafeSymlink.IsUnsafe(NameText.ToBytes(target), NameText.ToBytes(linkName));

    private void LinkStatFailed(byte[] path, int errno)
    {
        if (errno != Posix.ENOENT)
            IoError |= IoErrorFlags.General;
        reporter.TransferError($"link_stat {Quote(path)} failed: {Posix.StrError(errno)} ({errno})");
        HadMissingSource = true;
    }

    /// <summary>A named source could not be read (got_xfer_error in rsync: the run ends with code 23).</summary>
    public bool HadMissingSource { get; private set; }

    private void Add(FileEntry entry) => _entries.Add(entry);

    /// <summary>The list in rsync's order; indexes into it are the file indexes on the wire.</summary>
    /// <param name="merged">Told of a directory dropped as a duplicate of a kept one, whose contents
    /// an incremental sender still owes (flist.c, flist_sort_and_clean: FLAG_DUPLICATE).</param>
    public List<FileEntry> Build(Action<FileEntry, FileEntry>? merged = null)
    {
        _entries.Sort(FileNameComparer.Instance);
        if (_walks > 1)
            DropRepeatedNames(merged);
        _walks = 0;
        _impliedDirs.Clear();
        var list = _entries;
        _entries = [];
        _arena.Seal();
        _arena = new FileEntryArena();
        // Held while the list is in flight: the handles' slack would cost as much as a name.
        if (list.Capacity - list.Count > 16)
            list.Capacity = list.Count;
        return list;
    }

    private void DropRepeatedNames(Action<FileEntry, FileEntry>? merged)
    {
        // A name given twice (or an implied directory also named) is sent once: a directory wins
        // over anything else of that name, else the fuller entry, else the first; a receiver
        // would drop the others (flist.c, flist_sort_and_clean).
        var chosen = new Dictionary<byte[], FileEntry>(_entries.Count, ByteNameComparer.Instance).GetAlternateLookup<ReadOnlySpan<byte>>();
        foreach (var entry in _entries)
        {
            var key = entry.Name.Joined(ref _joinedName);
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
            var keeper = chosen[entry.Name.Joined(ref _joinedName)];
            if (keeper == entry)
                _entries[kept++] = entry;
            else if (merged is not null && entry.IsDirectory && keeper.IsDirectory && (entry.Flags & EntryFlags.ContentDir) != 0)
                merged(keeper, entry);
        }
        _entries.RemoveRange(kept, _entries.Count - kept);
    }
}
