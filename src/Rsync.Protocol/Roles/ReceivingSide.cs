using System.Text;
using System.Threading.Channels;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Roles;

/// <summary>What the receiver tells the generator (rsync sends these over the error pipe).</summary>
internal readonly record struct ReceiverEvent(ReceiverEventKind Kind, int Ndx);

internal enum ReceiverEventKind { Done, Redo, Success }

/// <summary>Which file a transfer's basis came from (rsync.h, FNAMECMP_*).</summary>
internal static class BasisType
{
    public const byte Name = 0x80;
    public const byte PartialDir = 0x81;
    public const byte Backup = 0x82;
}

/// <summary>
/// State shared by the generator and receiver of one transfer: the received list, where it
/// lands, and the rules both apply when writing (no name may leave the destination).
/// </summary>
internal sealed class ReceivingSide
{
    public ReceivingSide(TransferContext ctx, List<FileEntry> files, string destination, FilterList filters,
        IReadOnlyDictionary<int, string> userNames, IReadOnlyDictionary<int, string> groupNames)
    {
        Ctx = ctx;
        Files = files;
        Destination = destination;
        Filters = filters;
        // Asked now: a daemon's connection process may have given up root since it started.
        IsRoot = Posix.EffectiveUserId() == 0;
        _ourGroups = IsRoot ? null : Posix.CurrentGroups();
        UidMap = BuildIdMap(userNames, Posix.UserId);
        GidMap = BuildIdMap(groupNames, Posix.GroupId);
        Umask = Posix.Umask();
    }

    public TransferContext Ctx { get; }
    public List<FileEntry> Files { get; }
    public string Destination { get; }
    public FilterList Filters { get; }
    public bool IsRoot { get; }
    public int Umask { get; }
    public Channel<ReceiverEvent> Events { get; } = Channel.CreateUnbounded<ReceiverEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

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

    public int LocalUid(int remote) => UidMap.TryGetValue(remote, out int local) ? local : remote;
    public int LocalGid(int remote) => GidMap.TryGetValue(remote, out int local) ? local : remote;

    private readonly HashSet<int>? _ourGroups;

    /// <summary>
    /// Whether the entry's group is left alone: without root only our own groups can be given, and
    /// the others are neither set nor reported (uidlist.c, match_gid: FLAG_SKIP_GROUP).
    /// </summary>
    public bool SkipsGroup(FileEntry file) => _ourGroups is not null && !_ourGroups.Contains(LocalGid(file.Gid));

    /// <summary>The destination path of an entry. Names were checked when the list arrived.</summary>
    public string PathOf(FileEntry file) => SoloPath ?? (file.Name is [(byte)'.'] ? Destination : Path.Join(Destination, file.NameString));

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
    /// directory (the class of CVE-2024-12087). Returns an error text or null.
    /// </summary>
    public string? CheckParents(FileEntry file)
    {
        if (SoloPath is not null)
            return null;
        string name = file.NameString;
        int slash = -1;
        while ((slash = name.IndexOf('/', slash + 1)) > 0)
        {
            string parent = Path.Join(Destination, name[..slash]);
            int errno = Posix.TryLStat(parent, out var st);
            if (errno == Posix.ENOENT)
                return null;
            if (errno != 0)
                return $"lstat {parent} failed: {Posix.StrError(errno)} ({errno})";
            if (!st.IsDirectory)
                return $"refusing to write {name}: {name[..slash]} is not a directory (a symlink or file is in the way)";
        }
        return null;
    }

    /// <summary>Applies owner, permissions and mtime the options ask for (rsync.c, set_file_attrs).</summary>
    public bool SetAttributes(string path, FileEntry file, bool isNew)
    {
        var o = Ctx.Options;
        bool ok = true;
        if ((o.PreserveOwner && IsRoot) || o.PreserveGroup)
        {
            int uid = o.PreserveOwner && IsRoot ? LocalUid(file.Uid) : -1;
            int gid = o.PreserveGroup && !SkipsGroup(file) ? LocalGid(file.Gid) : -1;
            int errno = Posix.LChown(path, uid, gid);
            if (errno != 0 && IsRoot)
            {
                Ctx.TransferError($"chown \"{path}\" failed: {Posix.StrError(errno)} ({errno})");
                ok = false;
            }
        }
        if (!file.IsSymlink)
        {
            int mode = ModeFor(file, isNew, path);
            int errno = Posix.Chmod(path, mode);
            if (errno != 0)
            {
                Ctx.TransferError($"failed to set permissions on \"{path}\": {Posix.StrError(errno)} ({errno})");
                ok = false;
            }
        }
        bool keepTime = o.PreserveTimes && !(file.IsDirectory && !PreserveDirectoryTimes) && !(file.IsSymlink && o.OmitLinkTimes);
        if (keepTime)
        {
            int errno = Posix.SetModTime(path, file.ModTime, Ctx.Protocol >= 31 ? file.ModNanoseconds : 0);
            if (errno != 0 && !file.IsSymlink)
            {
                Ctx.TransferError($"failed to set times on \"{path}\": {Posix.StrError(errno)} ({errno})");
                ok = false;
            }
        }
        return ok;
    }

    /// <summary>-O, and also -b without --backup-dir, leave directory times alone (options.c).</summary>
    public bool PreserveDirectoryTimes => !Ctx.Options.OmitDirTimes && !(Ctx.Options.Backup && Ctx.Options.BackupDir is null);

    /// <summary>The permissions a file gets: the sender's with -p, else the local ones (rsync.c, dest_mode).</summary>
    public int ModeFor(FileEntry file, bool isNew, string path)
    {
        int mode = file.Mode & 0xFFF;
        if (Ctx.Options.PreservePerms)
            return mode;
        if (!isNew && Posix.TryLStat(path, out var st) == 0)
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
        return mode & 0x1FF & ~Umask;
    }

    /// <summary>
    /// Moves an existing file out of the way before it is replaced or deleted: NAME~ beside it,
    /// or the same relative path under --backup-dir (backup.c, make_backup).
    /// </summary>
    public bool MakeBackup(FileEntry file, string path)
    {
        var o = Ctx.Options;
        if (!o.Backup || o.DryRun)
            return true;
        if (Posix.TryLStat(path, out var st) != 0 || st.IsDirectory)
            return true;
        string target;
        if (o.BackupDir is { } dir)
        {
            // A relative --backup-dir is relative to the destination (the receiver works from there).
            string root = Path.IsPathRooted(dir) ? dir : Path.Join(Destination, dir);
            target = Path.Join(root, file.NameString) + o.BackupSuffix;
            string? parent = Path.GetDirectoryName(target);
            if (parent is not null)
                Directory.CreateDirectory(parent);
        }
        else
            target = path + o.BackupSuffix;
        if (Posix.TryLStat(target, out var old) == 0 && old.IsDirectory)
            Directory.Delete(target, recursive: true);
        int errno = Posix.Rename(path, target);
        if (errno == 18)
        {
            // A backup dir on another file system: copy, then remove.
            File.Copy(path, target, overwrite: true);
            File.Delete(path);
            errno = 0;
        }
        if (errno != 0)
        {
            Ctx.TransferError($"backup \"{path}\" -> \"{target}\" failed: {Posix.StrError(errno)} ({errno})");
            return false;
        }
        if (o.Verbose > 1)
            Ctx.Info($"backed up {file.NameString} to {target}");
        return true;
    }

    /// <summary>Where --partial-dir keeps an interrupted file (receiver.c, partial_dir_fname).</summary>
    public string? PartialPath(FileEntry file, string path)
    {
        string? dir = Ctx.Options.PartialDir;
        if (dir is null || SoloPath is not null)
            return null;
        string parent = Path.GetDirectoryName(path) ?? Destination;
        string partialDir = Path.IsPathRooted(dir) ? dir : Path.Join(parent, dir);
        return Path.Join(partialDir, Path.GetFileName(path));
    }

    /// <summary>Is this name the relative --partial-dir, which deletion leaves alone?</summary>
    public bool IsPartialDir(string relativeName)
    {
        string? dir = Ctx.Options.PartialDir;
        if (dir is null || Path.IsPathRooted(dir))
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
            ?? (Ctx.Options.ItemizeChanges > 0 ? LogFormat.Itemized : Ctx.Options.Verbose > 0 ? LogFormat.Names : null);
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
            string name = file.NameString;
            bool bad = name.Length == 0 || name[0] == '/' || name.Contains('\0');
            if (!bad && name != ".")
            {
                foreach (string part in name.Split('/'))
                {
                    if (part.Length == 0 || part == "." || part == "..")
                    {
                        bad = true;
                        break;
                    }
                }
            }
            // "." is the transfer's top directory and nothing else (flist.c, recv_file_entry).
            if (name == "." && !file.IsDirectory)
                bad = true;
            if (bad)
                throw new RsyncProtocolException($"ERROR: rejecting unsafe file name from the sender: \"{name}\"", ExitCodes.Protocol);
        }
    }

    /// <summary>
    /// A sender may only send what was asked for: names under the requested path, and nothing the
    /// receiver's own rules exclude (flist.c, recv_file_entry; the fix for CVE-2022-29154).
    /// </summary>
    public static void ValidateRequested(List<FileEntry> files, string requestedPath, bool relative, FilterList filters)
    {
        string path = requestedPath.Trim('/');
        bool wholeTree = path.Length == 0 || requestedPath.EndsWith('/') || path == ".";
        string root = relative ? path : path[(path.LastIndexOf('/') + 1)..];
        foreach (var file in files)
        {
            string name = file.NameString;
            bool implied = (file.Flags & EntryFlags.ImpliedDir) != 0;
            if (!implied && name != "." && filters.IsExcludedBySender(file.Name, file.IsDirectory))
                throw new RsyncProtocolException($"ERROR: rejecting excluded file-list name: {name}", ExitCodes.Protocol);
            if (wholeTree || name == ".")
                continue;
            bool under = name == root || name.StartsWith(root + "/", StringComparison.Ordinal);
            bool parent = relative && file.IsDirectory && (root + "/").StartsWith(name + "/", StringComparison.Ordinal);
            if (!under && !parent)
                throw new RsyncProtocolException($"ERROR: rejecting unrequested file-list name: {name}", ExitCodes.Protocol);
        }
    }
}
