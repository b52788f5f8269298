using System.Text;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Roles;

/// <summary>
/// The generator: walks the received list, decides what the sender must send (quick check,
/// -c, --size-only, -I, -u, --existing, --ignore-existing), makes directories, links and
/// devices itself, sends block sums of each basis file, and runs the end-of-transfer phases
/// (generator.c, generate_files and recv_generator).
/// </summary>
internal sealed class Generator(ReceivingSide side)
{
    private readonly RsyncWriter _out = side.Ctx.Writer;
    private readonly RsyncOptions _o = side.Ctx.Options;
    private readonly StrongChecksum _strong = side.Ctx.NewStrongChecksum();
    private int _doneCount;
    private int _deletions;
    private int _skippedDeletions;
    private bool _deleteLimitHit;

    public void Run()
    {
        var deleteMode = _o.GetEffectiveDeleteMode(side.Ctx.Protocol);
        bool deleting = deleteMode != DeleteMode.None && !side.ListOnly;
        if (deleting && deleteMode == DeleteMode.Before)
            DeletePass();

        for (int i = 0; i < side.Files.Count; i++)
        {
            Generate(i, redo: false);
            if (deleting && deleteMode is DeleteMode.During or DeleteMode.Unspecified && side.Files[i].IsDirectory
                && (side.Files[i].Flags & EntryFlags.ContentDir) != 0)
                DeleteExtraneous(i);
        }
        _out.WriteNdx(Ndx.Done);
        _out.Flush();

        // Redo phase: files whose whole-file sum failed are asked for again with full sums.
        WaitForDone(1, handleRedo: true);
        _out.WriteNdx(Ndx.Done);
        // No --delay-updates: its phase ends at once (generator.c, EARLY_DELAY_DONE_MSG).
        _out.WriteNdx(Ndx.Done);
        bool lateDelete = deleting && deleteMode is DeleteMode.After or DeleteMode.Delay;
        if (side.Ctx.Protocol >= 31 && !lateDelete)
            _out.WriteNdx(Ndx.Done);
        _out.Flush();
        WaitForDone(2, handleRedo: false);
        WaitForDone(3, handleRedo: false);
        if (lateDelete)
            DeletePass();
        if (_deleteLimitHit)
        {
            side.Ctx.Error($"Deletions stopped due to --max-delete limit ({_skippedDeletions} skipped)");
            side.Ctx.IoError |= IoErrorFlags.DeleteLimit;
        }
        if (side.Ctx.Protocol >= 31)
        {
            if (lateDelete)
            {
                _out.WriteNdx(Ndx.Done);
                _out.Flush();
            }
            WaitForDone(4, handleRedo: false);
        }

        if (!side.ListOnly)
        {
            FinishHardLinks();
            TouchUpDirectories();
        }
        _out.WriteNdx(Ndx.Done);
        _out.Flush();
    }

    private void WaitForDone(int count, bool handleRedo)
    {
        var reader = side.Events.Reader;
        while (_doneCount < count)
        {
            _out.Flush();
            if (!reader.TryRead(out var ev))
            {
                if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
                    throw new RsyncProtocolException("the receiver stopped early", ExitCodes.Ipc);
                continue;
            }
            if (ev.Kind == ReceiverEventKind.Done)
                _doneCount++;
            else if (ev.Kind == ReceiverEventKind.Redo && handleRedo)
                Generate(ev.Ndx, redo: true);
            else if (ev.Kind == ReceiverEventKind.Success)
                _out.WriteMessageInt(MessageCode.Success, ev.Ndx);
        }
    }

    private void Generate(int ndx, bool redo)
    {
        FileEntry file = side.Files[ndx];
        if (side.ListOnly)
        {
            ListEntry(file);
            return;
        }
        if ((file.Flags & EntryFlags.Sent) != 0 && !redo)
            return; // a duplicate name
        string path = side.PathOf(file);
        if (side.CheckParents(file) is { } problem)
        {
            side.Ctx.TransferError(problem);
            return;
        }
        int statErr = Posix.TryLStat(path, out var st);
        bool exists = statErr == 0;

        if (file.IsDirectory)
            GenerateDirectory(ndx, file, path, exists, st);
        else if (file.IsSymlink)
            GenerateSymlink(ndx, file, path, exists, st);
        else if (file.IsDevice || file.IsSpecial)
            GenerateNode(ndx, file, path, exists, st);
        else if (file.IsRegular)
            GenerateFile(ndx, file, path, exists, st, redo);
    }

    /// <summary>One line of --list-only output (generator.c, list_file_entry).</summary>
    private void ListEntry(FileEntry file)
    {
        string size = _o.HumanReadable > 0 ? file.Size.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : file.Size.ToString(System.Globalization.CultureInfo.InvariantCulture);
        int width = _o.HumanReadable > 0 ? 14 : 11;
        string time = DateTimeOffset.FromUnixTimeSeconds(file.ModTime).ToLocalTime().ToString("yyyy/MM/dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        string line = $"{PermString(file.Mode)} {size.PadLeft(width)} {time} {Client.LogFormat.Escape(file.NameString)}";
        if (_o.PreserveLinks && file.IsSymlink)
            line += " -> " + Client.LogFormat.Escape(Encoding.UTF8.GetString(file.LinkTarget ?? []));
        side.Ctx.Info(line);
    }

    /// <summary>"drwxr-xr-x" and friends (lib/permstring.c).</summary>
    internal static string PermString(int mode)
    {
        Span<char> p = stackalloc char[10];
        "----------".CopyTo(p);
        const string map = "rwxrwxrwx";
        for (int i = 0; i < 9; i++)
        {
            if ((mode & (1 << i)) != 0)
                p[9 - i] = map[8 - i];
        }
        if ((mode & 0x800) != 0)
            p[3] = (mode & 0x40) != 0 ? 's' : 'S';
        if ((mode & 0x400) != 0)
            p[6] = (mode & 0x8) != 0 ? 's' : 'S';
        if ((mode & 0x200) != 0)
            p[9] = (mode & 0x1) != 0 ? 't' : 'T';
        p[0] = (mode & Posix.S_IFMT) switch
        {
            Posix.S_IFDIR => 'd',
            Posix.S_IFLNK => 'l',
            Posix.S_IFBLK => 'b',
            Posix.S_IFCHR => 'c',
            Posix.S_IFSOCK => 's',
            Posix.S_IFIFO => 'p',
            _ => '-',
        };
        return new string(p);
    }

    private void GenerateDirectory(int ndx, FileEntry file, string path, bool exists, FileStatus st)
    {
        if (exists && !st.IsDirectory)
        {
            if (!RemoveInTheWay(path, st, file))
                return;
            exists = false;
        }
        // The destination made for this transfer still counts as new (generator.c, recv_generator: FLAG_DIR_CREATED).
        bool madeForUs = exists && (file.Flags & EntryFlags.DirCreated) != 0;
        if (madeForUs)
            exists = false;
        if (!exists)
        {
            if (_o.IgnoreNonExisting)
                return;
            if (!_o.DryRun && !madeForUs)
            {
                int errno = Posix.MakeDirectory(path, 0x1C0);
                if (errno != 0)
                {
                    side.Ctx.TransferError($"recv_generator: mkdir \"{path}\" failed: {Posix.StrError(errno)} ({errno})");
                    return;
                }
            }
            // A directory the generator made itself is a local change (generator.c, recv_generator).
            Itemize(ndx, file, ItemFlags.IsNew | ItemFlags.LocalChange, default, exists: false);
            return;
        }
        // With --no-implied-dirs an existing parent named only to hold a -R path is left as it is (generator.c, recv_generator).
        if ((file.Flags & EntryFlags.ImpliedDir) != 0 && !_o.ImpliedDirs)
            return;
        Itemize(ndx, file, ItemFlags.None, st, exists: true);
    }

    private void GenerateSymlink(int ndx, FileEntry file, string path, bool exists, FileStatus st)
    {
        if (!_o.PreserveLinks)
            return;
        string target = Encoding.UTF8.GetString(file.LinkTarget ?? []);
        if (_o.SafeLinks && FileListBuilder.IsUnsafeSymlink(target, file.NameString))
        {
            if (_o.Verbose > 0)
                side.Ctx.Info($"ignoring unsafe symlink \"{path}\" -> \"{target}\"");
            return;
        }
        bool same = exists && st.IsSymlink && new FileInfo(path).LinkTarget == target;
        MakeNonRegular(ndx, file, path, exists, st, same, () => Posix.Symlink(target, path), $"symlink \"{path}\" -> \"{target}\"");
    }

    private void GenerateNode(int ndx, FileEntry file, string path, bool exists, FileStatus st)
    {
        if ((file.IsDevice && (!_o.PreserveDevices || !side.IsRoot)) || (file.IsSpecial && !_o.PreserveSpecials))
            return;
        bool same = exists && st.FileType == file.FileType && (!file.IsDevice || st.Rdev == file.Rdev);
        MakeNonRegular(ndx, file, path, exists, st, same, () => Posix.MakeNode(path, file.FileType | 0x180, file.IsDevice ? file.Rdev : 0), $"mknod \"{path}\"");
    }

    /// <summary>
    /// Links, devices and specials the generator makes itself: kept when already right, else
    /// replaced, and reported as a local change (generator.c, recv_generator).
    /// </summary>
    private void MakeNonRegular(int ndx, FileEntry file, string path, bool exists, FileStatus st, bool alreadyRight, Func<int> create, string what)
    {
        if (alreadyRight)
        {
            if (!_o.DryRun)
                side.SetAttributes(path, file, isNew: false);
            Itemize(ndx, file, ItemFlags.None, st, exists: true);
            return;
        }
        if ((_o.IgnoreExisting && exists) || (_o.IgnoreNonExisting && !exists))
            return;
        if (exists && !RemoveInTheWay(path, st, file))
            return;
        if (!_o.DryRun)
        {
            int errno = create();
            if (errno != 0)
            {
                side.Ctx.TransferError($"{what} failed: {Posix.StrError(errno)} ({errno})");
                return;
            }
            side.SetAttributes(path, file, isNew: true);
        }
        Itemize(ndx, file, ItemFlags.LocalChange | (exists ? ItemFlags.None : ItemFlags.IsNew), default, exists: false);
    }

    private void GenerateFile(int ndx, FileEntry file, string path, bool exists, FileStatus st, bool redo)
    {
        if (side.HardLinkTargets.ContainsKey(ndx))
            return; // linked to its group's transferred member at the end
        if (exists && !st.IsRegular)
        {
            if (!RemoveInTheWay(path, st, file))
            {
                side.Ctx.TransferError($"could not make way for new regular file: {file.NameString}");
                return;
            }
            exists = false;
        }
        if (!exists && _o.IgnoreNonExisting)
            return;
        if (exists && _o.IgnoreExisting)
            return;
        if (!redo && exists && _o.Update && st.MtimeSeconds > file.ModTime)
            return;

        if (!redo && exists && Unchanged(file, path, st))
        {
            if (!_o.DryRun)
                side.SetAttributes(path, file, isNew: false);
            Itemize(ndx, file, ItemFlags.None, st, exists: true);
            return;
        }

        file.Flags |= EntryFlags.Sent;
        _out.WriteNdx(ndx);
        var iflags = ItemFlags.Transfer | (_o.Checksum ? ItemFlags.ReportChange : ItemFlags.None) | ReportFlags(file, st, exists);
        bool fromPartial = !redo && side.PartialPath(file, path) is { } pp && File.Exists(pp);
        if (fromPartial)
            iflags |= ItemFlags.BasisTypeFollows;
        _out.WriteShortInt((int)(iflags & (ItemFlags)0xFFFF));
        if (fromPartial)
            _out.WriteByte(BasisType.PartialDir);
        if (_o.DryRun)
            return;

        bool wholeFile = _o.WholeFile ?? side.WholeFileByDefault;
        string basisPath = path;
        long basisSize = exists ? st.Size : 0;
        if (side.PartialPath(file, path) is { } partial && Posix.TryLStat(partial, out var pst) == 0 && pst.IsRegular && !redo)
        {
            basisPath = partial;
            basisSize = pst.Size;
        }
        if (basisSize <= 0 || wholeFile)
        {
            SumHead.Empty.Write(_out);
            _out.Flush();
            return;
        }
        try
        {
            using var basis = File.OpenHandle(basisPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            SumHead head = SumHead.For(basisSize, fullStrongSums: redo, fixedBlockLength: side.Ctx.Options.BlockSize, maxStrongLength: Math.Min(StrongChecksum.Md5Length, _strong.Length));
            SumHead.WriteSums(_out, basis, basisSize, head, _strong);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No basis: the sender sends everything as literal data.
            SumHead.Empty.Write(_out);
        }
        // The sender can start on this file now rather than when the buffer fills.
        _out.Flush();
    }

    /// <summary>rsync's quick check (generator.c, unchanged_file).</summary>
    private bool Unchanged(FileEntry file, string path, FileStatus st)
    {
        if (st.Size != file.Size)
            return false;
        if (_o.Checksum)
        {
            Span<byte> sum = stackalloc byte[ChecksumKinds.Length(side.Ctx.Algorithms.FileChecksum)];
            try
            {
                StrongChecksum.FileSum(side.Ctx.Algorithms.FileChecksum, path, sum);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return false;
            }
            return file.Checksum is not null && sum.SequenceEqual(file.Checksum);
        }
        if (_o.SizeOnly)
            return true;
        if (_o.IgnoreTimes)
            return false;
        return SameTime(st.MtimeSeconds, file.ModTime);
    }

    private bool SameTime(long local, long remote)
    {
        int window = _o.ModifyWindow ?? 0;
        return window <= 0 ? local == remote : Math.Abs(local - remote) <= window;
    }

    private ItemFlags ReportFlags(FileEntry file, FileStatus st, bool exists)
    {
        if (!exists)
            return ItemFlags.IsNew;
        var f = ItemFlags.None;
        if (file.IsRegular && file.Size != st.Size)
            f |= ItemFlags.ReportSize;
        bool keepTime = _o.PreserveTimes && !(file.IsDirectory && !side.PreserveDirectoryTimes) && !(file.IsSymlink && _o.OmitLinkTimes);
        if (keepTime && !SameTime(st.MtimeSeconds, file.ModTime))
            f |= ItemFlags.ReportTime;
        if (!file.IsSymlink && _o.PreservePerms && (st.Mode & 0xFFF) != (file.Mode & 0xFFF))
            f |= ItemFlags.ReportPerms;
        if (_o.PreserveOwner && side.IsRoot && st.Uid != side.LocalUid(file.Uid))
            f |= ItemFlags.ReportOwner;
        if (_o.PreserveGroup && !side.SkipsGroup(file) && st.Gid != side.LocalGid(file.Gid))
            f |= ItemFlags.ReportGroup;
        return f;
    }

    /// <summary>Fixes attributes and tells the sender what changed, so the client sees it itemized (generator.c, itemize).</summary>
    private void Itemize(int ndx, FileEntry file, ItemFlags iflags, FileStatus st, bool exists)
    {
        string path = side.PathOf(file);
        if (exists)
        {
            iflags |= ReportFlags(file, st, exists: true);
            if (!_o.DryRun && !file.IsDirectory && !file.IsSymlink && !file.IsDevice && !file.IsSpecial)
                side.SetAttributes(path, file, isNew: false);
            else if (!_o.DryRun && file.IsDirectory)
                Posix.Chmod(path, side.ModeFor(file, isNew: false, path) | 0x1C0);
        }
        else if (file.IsDirectory && !_o.DryRun)
            Posix.Chmod(path, (side.ModeFor(file, isNew: true, path) | 0x1C0) & 0xFFF);

        if ((iflags & ItemFlags.Significant) != 0 || _o.ItemizeChanges > 1 || _o.Verbose > 1)
        {
            _out.WriteNdx(ndx);
            _out.WriteShortInt((int)(iflags & (ItemFlags)0xFFFF));
        }
        if ((iflags & ItemFlags.IsNew) != 0)
        {
            // Counted when the sender's echo comes back to the receiver.
        }
    }

    /// <summary>
    /// Clears something of another type out of the way. An empty directory always goes; one with
    /// contents only with --force or --delete (generator.c, delete_item with DEL_FOR_*).
    /// </summary>
    private bool RemoveInTheWay(string path, FileStatus st, FileEntry file)
    {
        if (st.IsDirectory)
        {
            bool hasContents;
            try
            {
                hasContents = Directory.EnumerateFileSystemEntries(path).Any();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                hasContents = true;
            }
            bool deleting = _o.GetEffectiveDeleteMode(side.Ctx.Protocol) != DeleteMode.None;
            if (hasContents && !_o.Force && !deleting)
            {
                side.Ctx.TransferError($"cannot delete non-empty directory: {file.NameString}");
                return false;
            }
        }
        if (_o.DryRun)
            return true;
        return DeleteTree(path, file.NameString, st, log: false);
    }

    /// <summary>
    /// Deletes a file or a directory tree, contents first, counting and naming each item as rsync
    /// does, and stopping at --max-delete (delete.c, delete_item and delete_dir_contents).
    /// </summary>
    private bool DeleteTree(string full, string rel, FileStatus st, bool log)
    {
        bool ok = true;
        if (st.IsDirectory)
        {
            List<string> children;
            try
            {
                children = DeletionOrder(full, Directory.EnumerateFileSystemEntries(full).Select(p => Path.GetFileName(p)!));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                side.Ctx.TransferError($"opendir \"{full}\" failed: {ex.Message}");
                return false;
            }
            foreach (string child in children)
            {
                string childFull = Path.Join(full, child);
                if (Posix.TryLStat(childFull, out var cst) != 0)
                    continue;
                string childRel = rel + "/" + child;
                if (log && IsProtected(childRel, cst.IsDirectory))
                {
                    ok = false;
                    continue;
                }
                ok &= DeleteTree(childFull, childRel, cst, log);
            }
        }
        if (!ok)
            return false;
        if (log)
        {
            if (_o.MaxDelete is int max && _deletions >= max)
            {
                _deleteLimitHit = true;
                _skippedDeletions++;
                return false;
            }
            _deletions++;
            side.Ctx.ItemLog?.Deleted(full, st.Mode);
            if (side.DeletionsAsMessages)
            {
                // A directory's name carries a trailing NUL so the client can tell (log.c, log_delete).
                byte[] name = Encoding.UTF8.GetBytes(rel);
                _out.WriteMessage(MessageCode.Deleted, st.IsDirectory ? [.. name, 0] : name);
            }
            else if (_o.ItemizeChanges > 0)
                side.Ctx.Info($"*deleting   {rel}{(st.IsDirectory ? "/" : "")}");
            else if (_o.Verbose > 0)
                side.Ctx.Info($"deleting {rel}{(st.IsDirectory ? "/" : "")}");
            var stats = side.Ctx.Stats;
            if (st.IsDirectory)
                stats.DeletedDirs++;
            else if (st.IsSymlink)
                stats.DeletedSymlinks++;
            else if (Posix.IsDevice(st.Mode))
                stats.DeletedDevices++;
            else if (Posix.IsSpecial(st.Mode))
                stats.DeletedSpecials++;
            stats.DeletedFiles++;
        }
        if (_o.DryRun)
            return true;
        try
        {
            if (st.IsDirectory)
                Directory.Delete(full);
            else if (log && _o.Backup)
                side.MakeBackup(new FileEntry(Encoding.UTF8.GetBytes(rel), st.Mode, st.Size, st.MtimeSeconds), full);
            else
                File.Delete(full);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            side.Ctx.TransferError($"delete_file: unlink \"{full}\" failed: {ex.Message}");
            return false;
        }
    }

    /// <summary>Children named in the list, per directory name, for deletion.</summary>
    private Dictionary<string, HashSet<string>>? _children;

    private Dictionary<string, HashSet<string>> Children()
    {
        if (_children is not null)
            return _children;
        _children = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var file in side.Files)
        {
            string name = file.NameString;
            if (name == ".")
                continue;
            int slash = name.LastIndexOf('/');
            string dir = slash < 0 ? "." : name[..slash];
            if (!_children.TryGetValue(dir, out var set))
                _children[dir] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(slash < 0 ? name : name[(slash + 1)..]);
        }
        return _children;
    }

    private void DeletePass()
    {
        for (int i = 0; i < side.Files.Count; i++)
        {
            var file = side.Files[i];
            if (file.IsDirectory && (file.Flags & EntryFlags.ContentDir) != 0)
                DeleteExtraneous(i);
        }
    }

    /// <summary>Removes what the sender's directory no longer has (generator.c, delete_in_dir).</summary>
    private void DeleteExtraneous(int dirNdx)
    {
        var dir = side.Files[dirNdx];
        string dirName = dir.NameString;
        string dirPath = side.PathOf(dir);
        if (Posix.TryLStat(dirPath, out var dst) != 0 || !dst.IsDirectory)
            return;
        var keep = Children().GetValueOrDefault(dirName) ?? [];
        IEnumerable<string> present;
        try
        {
            present = Directory.EnumerateFileSystemEntries(dirPath).Select(p => Path.GetFileName(p)!).ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return;
        }
        foreach (string name in DeletionOrder(dirPath, present))
        {
            if (keep.Contains(name))
                continue;
            string rel = dirName == "." ? name : dirName + "/" + name;
            if (side.IsPartialDir(rel))
                continue;
            string full = Path.Join(dirPath, name);
            if (Posix.TryLStat(full, out var st) != 0)
                continue;
            if (IsProtected(rel, st.IsDirectory))
                continue;
            DeleteTree(full, rel, st, log: true);
        }
    }

    /// <summary>
    /// rsync deletes a directory's entries last to first in file-list order, where a directory's
    /// files come before its subdirectories (delete.c, delete_dir_contents; generator.c,
    /// delete_in_dir; flist.c, f_name_cmp).
    /// </summary>
    private static List<string> DeletionOrder(string dirPath, IEnumerable<string> names) =>
        names.Select(n => (Name: n, IsDirectory: Posix.TryLStat(Path.Join(dirPath, n), out var st) == 0 && st.IsDirectory))
            .OrderByDescending(e => e.IsDirectory)
            .ThenByDescending(e => e.Name, StringComparer.Ordinal)
            .Select(e => e.Name)
            .ToList();

    /// <summary>Excluded names are kept unless --delete-excluded; protect rules always keep (exclude.c).</summary>
    private bool IsProtected(string rel, bool isDirectory)
    {
        byte[] name = Encoding.UTF8.GetBytes(rel);
        foreach (var rule in side.Filters.Rules)
        {
            if (rule.SenderOnly && rule.Action is not FilterAction.Protect and not FilterAction.Risk)
                continue;
            if (!rule.Matches(name, isDirectory))
                continue;
            return rule.Action switch
            {
                FilterAction.Protect => true,
                FilterAction.Risk => false,
                FilterAction.Exclude => !_o.DeleteExcluded,
                _ => false,
            };
        }
        return false;
    }

    private void FinishHardLinks()
    {
        if (_o.DryRun)
            return;
        foreach (var (follower, leader) in side.HardLinkTargets)
        {
            string target = side.PathOf(side.Files[leader]);
            string path = side.PathOf(side.Files[follower]);
            if (side.CheckParents(side.Files[follower]) is { } problem)
            {
                side.Ctx.TransferError(problem);
                continue;
            }
            if (Posix.TryLStat(target, out var t) != 0)
                continue;
            if (Posix.TryLStat(path, out var p) == 0)
            {
                if (p.Device == t.Device && p.Inode == t.Inode)
                    continue;
                if (p.IsDirectory)
                {
                    side.Ctx.TransferError($"\"{path}\" is a directory; not replacing it with a hard link");
                    continue;
                }
                File.Delete(path);
            }
            int errno = Posix.HardLink(target, path);
            if (errno != 0)
                side.Ctx.TransferError($"link \"{path}\" => \"{target}\" failed: {Posix.StrError(errno)} ({errno})");
            else
                side.LogItem(side.Files[follower], ItemFlags.LocalChange | ItemFlags.XnameFollows | ItemFlags.IsNew, side.Files[leader].NameString);
        }
    }

    /// <summary>Directory times and modes last, deepest first, once their contents stopped changing (generator.c, touch_up_dirs).</summary>
    private void TouchUpDirectories()
    {
        if (_o.DryRun)
            return;
        for (int i = side.Files.Count - 1; i >= 0; i--)
        {
            var file = side.Files[i];
            if (!file.IsDirectory || ((file.Flags & EntryFlags.ImpliedDir) != 0 && !_o.ImpliedDirs))
                continue;
            string path = side.PathOf(file);
            if (Posix.TryLStat(path, out var st) != 0 || !st.IsDirectory)
                continue;
            side.SetAttributes(path, file, isNew: false);
        }
    }
}
