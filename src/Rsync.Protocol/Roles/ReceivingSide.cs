using System.Buffers;
using System.Text;
using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.TwoWay;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Roles;

/// <summary>What the receiver tells the generator (rsync sends these over the error pipe).</summary>
internal readonly record struct ReceiverEvent(ReceiverEventKind Kind, int Ndx);

internal enum ReceiverEventKind
{
    Done,
    Redo,
    Success,
    /// <summary>A file asked for will not arrive (MSG_NO_SEND): the sender could not send it or the receiver failed it.</summary>
    NoSend,
    /// <summary>A directory's list arrived, or the last did (incremental recursion).</summary>
    ListArrived,
}

/// <summary>Which file a transfer's basis came from (rsync.h, FNAMECMP_*).</summary>
/// <summary>A name beneath a root: where a partial file or a backup lives.</summary>
internal readonly record struct Place(ConfinedRoot Root, byte[] Name);

internal static class BasisType
{
    public const byte Name = 0x80;
    public const byte PartialDir = 0x81;
    public const byte Backup = 0x82;
    public const byte Fuzzy = 0x83;
}

/// <summary>
/// State shared by the generator and receiver of one transfer: the received list, where it
/// lands, and the rules both apply when writing (no name may leave the destination).
/// </summary>
internal sealed partial class ReceivingSide
{
    public ReceivingSide(TransferContext ctx, ReceivedFiles files, string destination, FilterList filters,
        IReadOnlyDictionary<int, string> userNames, IReadOnlyDictionary<int, string> groupNames)
    {
        Ctx = ctx;
        Files = files;
        Destination = destination;
        Filters = filters;
        // Asked now: a daemon's connection process may have given up root since it started.
        IsRoot = Posix.EffectiveUserId() == 0;
        _ourGroups = IsRoot ? null : Posix.CurrentGroups();
        _userNames = userNames;
        _groupNames = groupNames;
        UidMap = BuildIdMap(userNames, Posix.UserId);
        GidMap = BuildIdMap(groupNames, Posix.GroupId);
        Umask = Posix.Umask();
    }

    public TransferContext Ctx { get; }
    public ReceivedFiles Files { get; }

    /// <summary>
    /// Reads one directory's list off the wire, checked, adjusted and sorted as the first was, given
    /// its first index and the directory (incremental recursion; set by whoever read the first list).
    /// </summary>
    public Func<int, FileEntry, (List<FileEntry> Files, IoErrorFlags IoError)>? ReadDirectoryList { get; init; }
    public string Destination { get; }
    public FilterList Filters { get; }
    public bool IsRoot { get; }
    public int Umask { get; }
    public ReceiverEvents Events { get; } = new();

    /// <summary>Hard-link followers: entry index → the index of the member that is transferred.</summary>
    public Dictionary<int, int> HardLinkTargets { get; } = [];

    private Dictionary<int, int> UidMap { get; }
    private Dictionary<int, int> GidMap { get; }

    private Dictionary<int, int> BuildIdMap(IReadOnlyDictionary<int, string> names, Func<string, int?> lookup)
    {
        var map = new Dictionary<int, int>();
        if (Ctx.Options.NumericIds || Ctx.Options.IdsWithoutNames)
            return map;
        foreach (var (id, name) in names)
        {
            if (lookup(name) is int local)
                map[id] = local;
        }
        return map;
    }

    private readonly IReadOnlyDictionary<int, string> _userNames;
    private readonly IReadOnlyDictionary<int, string> _groupNames;

    public int LocalUid(int remote) => MapId(UidMap, _userNames, remote, Posix.UserId);
    public int LocalGid(int remote) => MapId(GidMap, _groupNames, remote, Posix.GroupId);

    // Under incremental recursion a name arrives with the first entry that has the id, so the
    // map grows as lists come in; the receiver adds to the names while the generator asks.
    private int MapId(Dictionary<int, int> map, IReadOnlyDictionary<int, string> names, int remote, Func<string, int?> lookup)
    {
        lock (map)
        {
            if (map.TryGetValue(remote, out int local))
                return local;
            if (!Files.Incremental || Ctx.Options.NumericIds || Ctx.Options.IdsWithoutNames)
                return remote;
            string? name;
            lock (names)
                names.TryGetValue(remote, out name);
            if (name is null)
                return remote;
            local = lookup(name) ?? remote;
            map[remote] = local;
            return local;
        }
    }

    private readonly HashSet<int>? _ourGroups;

    /// <summary>
    /// Whether the entry's group is left alone: without root only our own groups can be given, and
    /// the others are neither set nor reported (uidlist.c, match_gid: FLAG_SKIP_GROUP).
    /// </summary>
    public bool SkipsGroup(FileEntry file) => _ourGroups is not null && !_ourGroups.Contains(LocalGid(file.Gid));

    /// <summary>The destination path of an entry, for messages. Names were checked when the list arrived.</summary>
    public string PathOf(FileEntry file) => SoloPath ?? (file.Name.IsDot ? Destination : Path.Join(Destination, file.NameString));

    /// <summary>
    /// The directory every write stays beneath: the destination, or the parent of a single file's
    /// own name. Null only when it does not exist (a dry run into a new destination).
    /// </summary>
    public ConfinedRoot? Root { get; init; }

    /// <summary>A daemon's module: where --backup-dir and an absolute --partial-dir land, already
    /// sanitized to names relative to it (util1.c, sanitize_path).</summary>
    public ConfinedRoot? Jail { get; init; }

    private byte[]? _soloLeaf;

    /// <summary>An entry's name relative to <see cref="Root"/>, in an array of its own when it has a directory part.</summary>
    public ReadOnlySpan<byte> NameOf(FileEntry file) =>
        SoloPath is not null ? SoloLeaf : file.Name is { Directory.IsEmpty: true } name ? name.Base : file.Name.ToArray();

    /// <summary>An entry's name relative to <see cref="Root"/>, joined in <paramref name="scratch"/> when it has a directory part.</summary>
    public ReadOnlySpan<byte> NameOf(FileEntry file, ref byte[]? scratch) =>
        SoloPath is null ? file.Name.Joined(ref scratch) : SoloLeaf;

    private byte[] SoloLeaf => _soloLeaf ??= NameText.ToBytes(Path.GetFileName(SoloPath!));

    /// <summary>Another name in <paramref name="file"/>'s directory, relative to <see cref="Root"/>.</summary>
    public byte[] BesideName(FileEntry file, ReadOnlySpan<byte> sibling) =>
        SoloPath is not null || file.Name.Directory.IsEmpty ? sibling.ToArray() : [.. file.Name.Directory, (byte)'/', .. sibling];

    /// <summary>lstat of an entry beneath the root; a symlink on the way is ELOOP.</summary>
    public int Stat(ReadOnlySpan<byte> name, out FileStatus status)
    {
        if (Root is null)
        {
            status = default;
            return Posix.ENOENT;
        }
        return Root.LStat(name, out status);
    }

    /// <summary>A remote sender reports its totals at the end; our own in-process sender does not (main.c, handle_stats).</summary>
    public bool SenderSendsStats { get; init; } = true;

    /// <summary>A daemon tells its client of each deletion with MSG_DELETED and lets it word the line (log.c, log_delete).</summary>
    public bool DeletionsAsMessages { get; init; }

    /// <summary>--list-only: the list is printed and nothing is fetched or changed.</summary>
    public bool ListOnly { get; init; }

    /// <summary>In a local copy the sender already names each file; the receiving side, like rsync's server half, stays quiet.</summary>
    public bool LogsItems { get; init; } = true;

    /// <summary>Local copies send whole files unless --no-W (generator.c: whole_file for a local transfer).</summary>
    public bool WholeFileByDefault { get; init; }

    /// <summary>Set when a single file lands under a name of its own (main.c, get_local_name).</summary>
    public string? SoloPath { get; init; }

    /// <summary>
    /// Refuses to write through a symlink: every parent below the destination must be a real
    /// directory (the class of CVE-2024-12087 and CVE-2014-9512). Returns an error text or null.
    /// </summary>
    public string? CheckParents(FileEntry file)
    {
        if (SoloPath is not null || Root is null)
            return null;
        var name = file.Name;
        var parent = name.Directory;
        if (parent.IsEmpty)
            return null;
        int layout = Root.LayoutVersion;
        if (_checkedParent is { } last && last.Layout == layout && parent.SequenceEqual(last.Name))
            return null;
        int errno = Root.LStat(parent, out var st);
        if (errno == 0 && st.IsDirectory)
            _checkedParent = new CheckedParent(parent.ToArray(), layout);
        if (errno == Posix.ENOENT)
            return null;
        if (errno is Posix.ELOOP or Posix.EXDEV or Posix.ENOTDIR || (errno == 0 && !st.IsDirectory))
            return $"refusing to write {Show(name.ToArray())}: {Show(parent)} is not a directory (a symlink or file is in the way)";
        if (errno != 0)
            return $"lstat {Show(parent)} failed: {Posix.StrError(errno)} ({errno})";
        return null;
    }

    // The parent the last check found to be a directory. Entries come in list order, so most share
    // it; while nothing beneath the root is removed or moved it still is one, and every call that
    // follows refuses a symlink on the way regardless.
    private sealed record CheckedParent(byte[] Name, int Layout);

    private CheckedParent? _checkedParent;

    /// <summary>A name for a message.</summary>
    public static string Show(ReadOnlySpan<byte> name) => NameText.FromBytes(name);

    /// <summary>Applies owner, permissions and mtime the options ask for, never through a symlink (rsync.c, set_file_attrs).</summary>
    /// <param name="temporary">The name is a temporary file not yet in place, which no watcher is told about.</param>
    /// <param name="current">What lstat just said of the name: only what differs is then changed, as
    /// rsync's set_file_attrs does, so an unchanged tree costs no system calls beyond the stat.</param>
    public bool SetAttributes(ReadOnlySpan<byte> name, FileEntry file, bool isNew, bool temporary = false, FileStatus? current = null)
    {
        var o = Ctx.Options;
        var root = Root!;
        bool ok = true;
        bool chown = (o.PreserveOwner && IsRoot) || o.PreserveGroup;
        int uid = o.PreserveOwner && IsRoot ? LocalUid(file.Uid) : -1;
        int gid = o.PreserveGroup && !SkipsGroup(file) ? LocalGid(file.Gid) : -1;
        bool chmod = !file.IsSymlink;
        bool keepTime = o.PreserveTimes && !(file.IsDirectory && !PreserveDirectoryTimes) && !(file.IsSymlink && o.OmitLinkTimes);
        int nanoseconds = Ctx.Protocol >= 31 ? file.ModNanoseconds : 0;
        // Plain rsync reads a kept local mode after the chown; a two-way module must know it first.
        int? mode = null;
        if (TwoWay is not null && !temporary)
        {
            mode = chmod ? ModeFor(file, isNew, name) : 0;
            OnlyChangedAttributes(name, file, uid, gid, mode.Value, nanoseconds, ref chown, ref chmod, ref keepTime);
        }
        else if (current is { } now)
        {
            mode = chmod ? ModeFor(file, isNew, name) : 0;
            chown &= (uid != -1 && now.Uid != uid) || (gid != -1 && now.Gid != gid);
            // A change of owner clears the set-id bits, which the mode then puts back.
            chmod &= chown || (now.Mode & 0xFFF) != (mode.Value & 0xFFF);
            keepTime &= now.MtimeSeconds != file.ModTime || (Ctx.Protocol >= 31 && now.MtimeNanoseconds != nanoseconds);
        }
        if (chown)
        {
            int errno = root.LChown(name, uid, gid);
            if (errno != 0 && IsRoot)
            {
                Ctx.TransferError($"chown \"{Display(name)}\" failed: {Posix.StrError(errno)} ({errno})");
                ok = false;
            }
        }
        if (chmod)
        {
            int errno = root.Chmod(name, mode ?? ModeFor(file, isNew, name));
            if (errno != 0)
            {
                Ctx.TransferError($"failed to set permissions on \"{Display(name)}\": {Posix.StrError(errno)} ({errno})");
                ok = false;
            }
        }
        if (keepTime)
        {
            int errno = root.SetModTime(name, file.ModTime, nanoseconds);
            if (errno != 0 && !file.IsSymlink)
            {
                Ctx.TransferError($"failed to set times on \"{Display(name)}\": {Posix.StrError(errno)} ({errno})");
                ok = false;
            }
        }
        return ok;
    }

    /// <summary>The full path of a name beneath the root, for messages.</summary>
    public string Display(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("."u8) ? Root?.Path ?? Destination : Path.Join(Root?.Path ?? Destination, Show(name));

    /// <summary>-O, and also -b without --backup-dir, leave directory times alone (options.c).</summary>
    public bool PreserveDirectoryTimes => !Ctx.Options.OmitDirTimes && !(Ctx.Options.Backup && Ctx.Options.BackupDir is null);

    /// <summary>The permissions a file gets: the sender's with -p, else the local ones (rsync.c, dest_mode).</summary>
    public int ModeFor(FileEntry file, bool isNew, ReadOnlySpan<byte> name)
    {
        int mode = file.Mode & 0xFFF;
        if (Ctx.Options.PreservePerms)
            return mode;
        if (!isNew && Stat(name, out var st) == 0)
        {
            int local = st.Mode & 0xFFF;
            if (Ctx.Options.Executability && file.IsRegular)
            {
                if ((mode & 0x49) == 0)
                    local &= ~0x49;
                else if ((st.Mode & 0x49) == 0)
                    local |= (local & 0x124) >> 2;
            }
            return local;
        }
        int fresh = mode & 0x1FF & ~Umask;
        // A directory just made under a setgid parent keeps the setgid bit it got from it (rsync.c, set_file_attrs: inherit).
        if (file.IsDirectory && Stat(name, out var made) == 0 && (made.Mode & 0x400) != 0)
            fresh |= 0x400;
        return fresh;
    }

    private ConfinedRoot? _backupRoot;

    /// <summary>
    /// Moves an existing file out of the way before it is replaced or deleted: NAME~ beside it,
    /// or the same relative path under --backup-dir (backup.c, make_backup). Both ends stay
    /// beneath their roots and no symlink is followed.
    /// </summary>
    public bool MakeBackup(ReadOnlySpan<byte> name) => MakeBackup(name, keepOriginal: false);

    /// <summary>
    /// With --inplace the file is about to be written where it lies, so its backup is a copy, with
    /// its permissions and modification time (backup.c, make_backup when renaming is no option).
    /// </summary>
    public bool CopyToBackup(ReadOnlySpan<byte> name) => MakeBackup(name, keepOriginal: true);

    private bool MakeBackup(ReadOnlySpan<byte> name, bool keepOriginal)
    {
        var o = Ctx.Options;
        if (!o.Backup || o.DryRun || Root is null)
            return true;
        if (Root.LStat(name, out var st) != 0 || st.IsDirectory)
            return true;
        byte[] suffix = NameText.ToBytes(o.BackupSuffix);
        ConfinedRoot targetRoot = Root;
        byte[] target = [.. name, .. suffix];
        if (o.BackupDir is { } dir)
        {
            string? error = null;
            _backupRoot ??= OpenAuxDirectory(dir, out error);
            if (_backupRoot is null)
            {
                Ctx.TransferError($"backup dir \"{dir}\" unusable: {error}");
                return false;
            }
            targetRoot = _backupRoot;
            int errno = MakeParents(targetRoot, target, this);
            if (errno != 0)
            {
                Ctx.TransferError($"make_bak_dir \"{Show(target)}\" failed: {Posix.StrError(errno)} ({errno})");
                return false;
            }
        }
        if (targetRoot.LStat(target, out var old) == 0 && old.IsDirectory)
            RemoveTree(targetRoot, target);
        // The backup appears where the watchers may see it: they are told first.
        AnnounceState(KindOf(st), target, st, targetRoot);
        int err;
        if (keepOriginal)
        {
            targetRoot.Unlink(target);
            err = st.IsRegular ? CopyFile(Root, name, targetRoot, target, st) : 0;
        }
        else
        {
            err = Root.Rename(name, targetRoot, target);
            if (err == Posix.EXDEV && o.BackupDir is not null)
                err = CopyThenUnlink(Root, name, targetRoot, target);
        }
        if (err != 0)
        {
            Ctx.TransferError($"backup \"{Display(name)}\" -> \"{Show(target)}\" failed: {Posix.StrError(err)} ({err})");
            return false;
        }
        // Named as rsync names it: under --backup-dir, that directory as given, then the name (backup.c, make_backup).
        if (o.Output[InfoFlag.Backup] > 0)
            Ctx.Info($"backed up {Show(name)} to {(o.BackupDir is { } shownDir ? shownDir.TrimEnd('/') + "/" : "")}{Show(target)}");
        return true;
    }

    /// <summary>A backup dir on another file system: a copy, then the original goes.</summary>
    private static int CopyThenUnlink(ConfinedRoot fromRoot, ReadOnlySpan<byte> from, ConfinedRoot toRoot, ReadOnlySpan<byte> to)
    {
        toRoot.Unlink(to);
        int errno = CopyToNew(fromRoot, from, toRoot, to);
        return errno != 0 ? errno : fromRoot.Unlink(from);
    }

    /// <summary>A copy of a regular file with its permissions and modification time; the original stays.</summary>
    private static int CopyFile(ConfinedRoot fromRoot, ReadOnlySpan<byte> from, ConfinedRoot toRoot, ReadOnlySpan<byte> to, FileStatus st)
    {
        int errno = CopyToNew(fromRoot, from, toRoot, to);
        if (errno != 0)
            return errno;
        toRoot.Chmod(to, st.Mode & 0xFFF);
        return toRoot.SetModTime(to, st.MtimeSeconds, st.MtimeNanoseconds);
    }

    /// <summary>The contents of one file into a new one, which must not exist yet.</summary>
    private static int CopyToNew(ConfinedRoot fromRoot, ReadOnlySpan<byte> from, ConfinedRoot toRoot, ReadOnlySpan<byte> to)
    {
        int errno = fromRoot.OpenRead(from, out var input);
        if (errno != 0)
            return errno;
        using (input)
        {
            errno = toRoot.CreateExclusive(to, 0x180, out var output);
            if (errno != 0)
                return errno;
            using (output)
                CopyContents(input!, output!);
        }
        return 0;
    }

    /// <summary>Copies one open file into another from the start, through a pooled buffer.</summary>
    private static void CopyContents(SafeFileHandle input, SafeFileHandle output)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        try
        {
            long offset = 0;
            int n;
            while ((n = RandomAccess.Read(input, buffer, offset)) > 0)
            {
                RandomAccess.Write(output, buffer.AsSpan(0, n), offset);
                offset += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// A directory named by an option (--backup-dir, an absolute --partial-dir), created when
    /// missing. For a daemon it lies beneath the module, the name already sanitized; a client's own
    /// option is taken as given, relative to the destination.
    /// </summary>
    public ConfinedRoot? OpenAuxDirectory(string dir, out string? error)
    {
        error = null;
        if (Jail is not null)
        {
            byte[] rel = NameText.ToBytes(dir);
            int errno = MakeParents(Jail, [.. rel, (byte)'/', (byte)'x'], this);
            if (errno == 0 && Jail.TryOpenBeneath(rel, out var sub) is var e && e == 0)
                return sub;
            error = $"{Posix.StrError(errno != 0 ? errno : Posix.ELOOP)}";
            return null;
        }
        string full = Path.IsPathRooted(dir) ? dir : Path.Join(Root?.Path ?? Destination, dir);
        // mkdir -p, by bytes: the option's name may be any bytes.
        for (int slash = full.IndexOf('/', 1); ; slash = full.IndexOf('/', slash + 1))
        {
            string step = slash < 0 ? full : full[..slash];
            int mkErr = step.Length == 0 ? 0 : Posix.MakeDirectory(step, 0x1FF);
            if (mkErr != 0 && mkErr != Posix.EEXIST)
            {
                error = Posix.StrError(mkErr);
                return null;
            }
            if (slash < 0)
                break;
        }
        int openErr = ConfinedRoot.TryOpen(full, out var root);
        if (openErr != 0)
            error = Posix.StrError(openErr);
        return root;
    }

    /// <summary>Creates the missing directories above <paramref name="name"/>, one component at a time, never through a symlink.</summary>
    /// <param name="announcer">In a two-way module, the side that tells the watchers of each directory first.</param>
    public static int MakeParents(ConfinedRoot root, ReadOnlySpan<byte> name, ReceivingSide? announcer = null)
    {
        int slash = -1;
        while ((slash = IndexOfSlash(name, slash + 1)) > 0)
        {
            var parent = name[..slash];
            int errno = root.LStat(parent, out var st);
            if (errno == Posix.ENOENT)
            {
                announcer?.AnnounceCreated(WrittenKind.Directory, parent, root);
                errno = root.MakeDirectory(parent, 0x1FF);
                if (errno == Posix.EEXIST)
                    errno = root.LStat(parent, out st) == 0 && st.IsDirectory ? 0 : Posix.ENOTDIR;
            }
            else if (errno == 0 && !st.IsDirectory)
                errno = Posix.ENOTDIR;
            if (errno != 0)
                return errno;
        }
        return 0;
    }

    private static int IndexOfSlash(ReadOnlySpan<byte> name, int from)
    {
        if (from >= name.Length)
            return -1;
        int i = name[from..].IndexOf((byte)'/');
        return i < 0 ? -1 : from + i;
    }

    /// <summary>Removes a tree beneath a root without following any symlink in it.</summary>
    public static void RemoveTree(ConfinedRoot root, ReadOnlySpan<byte> name)
    {
        if (root.LStat(name, out var st) != 0)
            return;
        if (!st.IsDirectory)
        {
            root.Unlink(name);
            return;
        }
        var children = new List<byte[]>();
        root.List(name, children);
        byte[] prefix = [.. name, (byte)'/'];
        foreach (byte[] child in children)
            RemoveTree(root, [.. prefix, .. child]);
        root.RemoveDirectory(name);
    }

    private ConfinedRoot? _partialRoot;

    /// <summary>Where --partial-dir keeps an interrupted file: beside it, or in one absolute directory (receiver.c, partial_dir_fname).</summary>
    public Place? PartialPlace(FileEntry file)
    {
        string? dir = Ctx.Options.PartialDir;
        if (dir is null || SoloPath is not null || Root is null)
            return null;
        var name = NameOf(file);
        int slash = name.LastIndexOf((byte)'/');
        var leaf = name[(slash + 1)..];
        bool absolute = Path.IsPathRooted(dir) || Jail is not null && PartialDirIsModuleRelative;
        if (absolute)
        {
            _partialRoot ??= OpenAuxDirectory(dir, out _);
            return _partialRoot is null ? null : new Place(_partialRoot, leaf.ToArray());
        }
        byte[] d = NameText.ToBytes(dir.TrimEnd('/'));
        return new Place(Root, slash < 0 ? [.. d, (byte)'/', .. leaf] : [.. name[..(slash + 1)], .. d, (byte)'/', .. leaf]);
    }

    /// <summary>Set by a daemon whose client gave an absolute --partial-dir: it now names a directory of the module.</summary>
    public bool PartialDirIsModuleRelative { get; init; }

    /// <summary>A daemon module's own filter rules: what they exclude is refused, not received (generator.c, recv_generator).</summary>
    public FilterList? DaemonFilters { get; init; }

    /// <summary>Is this name the relative --partial-dir, which deletion leaves alone?</summary>
    public bool IsPartialDir(string relativeName)
    {
        string? dir = Ctx.Options.PartialDir;
        if (dir is null || Path.IsPathRooted(dir) || PartialDirIsModuleRelative)
            return false;
        string last = relativeName[(relativeName.LastIndexOf('/') + 1)..];
        return last == dir.TrimEnd('/');
    }

    public void LogItem(FileEntry file, ItemFlags iflags, string hardLinkTarget)
    {
        Ctx.ItemLog?.Item(file, iflags, hardLinkTarget, PathOf(file));
        ShowItem(file, iflags, hardLinkTarget);
    }

    private void ShowItem(FileEntry file, ItemFlags iflags, string hardLinkTarget)
    {
        if (!LogsItems)
            return;
        string? format = Ctx.Options.OutFormat
            ?? (Ctx.Options.ItemizeChanges > 0 ? LogFormat.Itemized : Ctx.Options.Output[InfoFlag.Name] > 0 ? LogFormat.Names : null);
        if (format is null)
            return;
        bool symlinkTimes = true;
        Ctx.Info(LogFormat.Format(format, file, iflags, hardLinkTarget, sender: false, Ctx.Options.PreserveTimes, symlinkTimes, 0));
    }

    public bool Itemizing =>
        (Ctx.Options.OutFormat ?? (Ctx.Options.ItemizeChanges > 0 ? LogFormat.Itemized : "")).Contains("%i", StringComparison.Ordinal);

    /// <summary>Which untransferred items the client shows (log.c, maybe_log_item).</summary>
    public void MaybeLogItem(FileEntry file, ItemFlags iflags, string xname)
    {
        Ctx.ItemLog?.Item(file, iflags, xname, PathOf(file));
        ItemFlags significant = iflags & ItemFlags.Significant;
        bool seeItem = Itemizing && (significant != 0 || xname.Length > 0 || Ctx.Options.ItemizeChanges > 1);
        bool localChange = (iflags & ItemFlags.LocalChange) != 0 && significant != 0;
        if (seeItem || localChange || xname.Length > 0 || (file.IsDirectory && significant != 0))
            ShowItem(file, iflags, xname);
    }

    /// <summary>
    /// Names from the sender must stay below the destination: no absolute paths, no "..", no
    /// empty components (flist.c, recv_file_entry; the class of CVE-2022-29154).
    /// </summary>
    public static void ValidateNames(List<FileEntry> files)
    {
        foreach (var file in files)
        {
            var name = file.Name;
            bool dot = name.IsDot;
            bool bad = !dot && (HasBadComponent(name.Base) || (!name.Directory.IsEmpty && HasBadComponent(name.Directory)));
            // "." is the transfer's top directory and nothing else (flist.c, recv_file_entry).
            if (dot && !file.IsDirectory)
                bad = true;
            if (bad)
                throw new RsyncProtocolException($"ERROR: rejecting unsafe file name from the sender: \"{file.NameString}\"", ExitCodes.Protocol);
        }
    }

    // An empty, "." or ".." component, or a NUL; a leading slash is an empty first component.
    private static bool HasBadComponent(ReadOnlySpan<byte> path)
    {
        if (path.Contains((byte)0))
            return true;
        foreach (var range in path.Split((byte)'/'))
        {
            var part = path[range];
            if (part.IsEmpty || part is [(byte)'.'] || part is [(byte)'.', (byte)'.'])
                return true;
        }
        return false;
    }

    /// <summary>
    /// Under incremental recursion a list holds only its directory's own entries, and the first
    /// list only top-level names: a sender cannot use a list to reach elsewhere (flist.c,
    /// recv_file_list, 3.5: "ABORTING due to invalid path from sender").
    /// </summary>
    /// <param name="directory">The list's directory; null for the first list.</param>
    public static void ValidateInside(List<FileEntry> files, FileEntry? directory)
    {
        ReadOnlySpan<byte> dir = directory is not { } d || d.Name.IsDot ? [] : d.Name.ToArray();
        foreach (var file in files)
        {
            var name = file.Name;
            bool inside = name.Directory.SequenceEqual(dir) && !(directory is not null && name.IsDot);
            if (!inside)
                throw new RsyncProtocolException($"ABORTING due to invalid path from sender: {Show(name.ToArray())}", ExitCodes.Unsupported);
        }
    }

    /// <summary>
    /// A sender may only send what was asked for: names under the requested path, and nothing the
    /// receiver's own rules exclude (flist.c, recv_file_entry; the fix for CVE-2022-29154).
    /// </summary>
    public static void ValidateRequested(List<FileEntry> files, string requestedPath, bool relative, FilterList filters) =>
        ValidateRequested(files, [requestedPath], relative, filters);

    /// <summary>The same for several requested paths (HOST:a HOST:b): a name under any of them will do.</summary>
    public static void ValidateRequested(List<FileEntry> files, IReadOnlyList<string> requestedPaths, bool relative, FilterList filters)
    {
        var requests = requestedPaths.Select(requested =>
        {
            string path = requested.Trim('/');
            bool wholeTree = path.Length == 0 || requested.EndsWith('/') || path == ".";
            return (WholeTree: wholeTree, Root: relative ? path : path[(path.LastIndexOf('/') + 1)..]);
        }).ToList();
        bool anyWholeTree = requests.Any(r => r.WholeTree);
        byte[]? joined = null;
        foreach (var file in files)
        {
            bool dot = file.Name.IsDot;
            bool implied = (file.Flags & EntryFlags.ImpliedDir) != 0;
            if (!implied && !dot && filters.IsExcludedBySender(file.Name.Joined(ref joined), file.IsDirectory))
                throw new RsyncProtocolException($"ERROR: rejecting excluded file-list name: {file.NameString}", ExitCodes.Protocol);
            if (anyWholeTree || dot)
                continue;
            string name = file.NameString;
            bool requested = requests.Any(r => IsUnderRequest(name, file.IsDirectory, r.Root, relative));
            if (!requested)
                throw new RsyncProtocolException($"ERROR: rejecting unrequested file-list name: {name}", ExitCodes.Protocol);
        }
    }

    /// <summary>
    /// Whether a name is the requested path, beneath it, or (with -R) a directory above it. A
    /// request with wildcards, which the sender expands, is matched component by component
    /// (flist.c, add_implied_include: wildcards stay wildcards in the implied rule).
    /// </summary>
    private static bool IsUnderRequest(string name, bool isDirectory, string root, bool relative)
    {
        if (!Daemon.ModuleGlob.HasWildcards(root))
        {
            return name == root || name.StartsWith(root + "/", StringComparison.Ordinal)
                || (relative && isDirectory && (root + "/").StartsWith(name + "/", StringComparison.Ordinal));
        }
        string[] patterns = root.Split('/');
        string[] parts = name.Split('/');
        if (parts.Length < patterns.Length && !(relative && isDirectory))
            return false;
        for (int i = 0; i < Math.Min(parts.Length, patterns.Length); i++)
        {
            if (!WildMatch.Match(NameText.ToBytes(patterns[i]), NameText.ToBytes(parts[i])))
                return false;
        }
        return true;
    }
}
