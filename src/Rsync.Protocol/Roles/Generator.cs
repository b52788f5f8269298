using System.Text;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.TwoWay;
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
    // The name of the entry being generated, when it has a directory part to join.
    private byte[]? _joinedName;
    private int _deletions;
    private int _skippedDeletions;
    private bool _deleteLimitHit;
    private bool _warnedIoError;
    // Hard-link groups under incremental recursion: each group's transferred member, and the others.
    private readonly Dictionary<int, FileEntry> _groupLeaders = [];
    private readonly List<(FileEntry Follower, FileEntry Leader)> _pendingLinks = [];
    // The error bits of the lists reached so far (incremental recursion).
    private IoErrorFlags _listIoError;

    public void Run()
    {
        var deleteMode = _o.GetEffectiveDeleteMode(side.Ctx.Protocol);
        bool deleting = deleteMode != DeleteMode.None && !side.ListOnly;
        if (deleting && deleteMode == DeleteMode.Before)
            DeletePass();

        bool deletingDuring = deleting && deleteMode is DeleteMode.During or DeleteMode.Unspecified;
        if (side.Files.Incremental)
        {
            // The last list's NDX_DONE also ends the first phase (generator.c, generate_files).
            GenerateIncrementally(deletingDuring, delaying: deleting && deleteMode == DeleteMode.Delay);
        }
        else
        {
            var files = side.Files.FirstList;
            for (int i = 0; i < files.Count; i++)
            {
                Generate(i, redo: false);
                var file = files[i];
                if (deletingDuring && file.IsDirectory && (file.Flags & EntryFlags.ContentDir) != 0)
                    DeleteExtraneous(file, files);
            }
            _out.WriteNdx(Ndx.Done);
        }
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
        {
            if (_delayed is not null)
                DeleteDelayed();
            else
                DeletePass();
        }
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
            // Incrementally each directory was fixed as its list was let go, unless deletions waited
            // (generator.c, generate_files), or links made since changed it again.
            if (!side.Files.Incremental || _delayed is not null || _pendingLinks.Count > 0)
                TouchUpDirectories();
        }
        _out.WriteNdx(Ndx.Done);
        _out.Flush();
    }

    // ---------------------------------------------------------------- incremental recursion

    // The list being worked through (cur_flist), and the oldest one not yet let go (first_flist).
    // How long a request may wait in the buffer: long enough that a run of small or empty files goes
    // out in a few writes, short enough that the sender never idles noticeably.
    private static readonly TimeSpan RequestFlushInterval = TimeSpan.FromMilliseconds(5);

    private int _currentList = -1;
    private int _firstHeld;
    private readonly Queue<int> _redo = new();

    /// <summary>
    /// Works through the lists as they arrive: a directory's own entry first, with the deletions
    /// in it, then its contents; each list is let go, and its directory's time and mode fixed, once
    /// everything asked for from it is done (generator.c, generate_files and check_for_finished_files).
    /// </summary>
    private void GenerateIncrementally(bool deletingDuring, bool delaying)
    {
        if (delaying)
            _delayed = [];
        for (int next = 0; ; next++)
        {
            var list = WaitForList(next);
            if (list is null)
                break;
            _currentList = next;
            _listIoError |= list.IoError;
            if (list.ParentDir >= 0)
            {
                var dir = side.Files.Directory(list.ParentDir);
                GenerateEntry(list.NdxStart - 1, dir, redo: false, earlyDirectory: false);
                if ((deletingDuring || delaying) && (dir.Flags & EntryFlags.ContentDir) != 0)
                    DeleteExtraneous(dir, side.Files.AsSent ? Sorted(list.Files) : list.Files);
            }
            // A list held as sent is still worked through in this side's order (generator.c,
            // generate_files: cur_flist->sorted).
            int[]? order = side.Files.AsSent ? SortedOrder(list.Files) : null;
            for (int k = 0; k < list.Files.Count; k++)
            {
                int i = order is null ? k : order[k];
                GenerateEntry(list.NdxStart + i, list.Files[i], redo: false, earlyDirectory: true);
                LetGoOfFinishedLists(redo: false);
            }
            LetGoOfFinishedLists(redo: true);
        }
        _currentList = -1;
        while (true)
        {
            LetGoOfFinishedLists(redo: true);
            if (_firstHeld >= side.Files.ListCount)
                break;
            WaitForEvent();
        }
    }

    private static int[] SortedOrder(List<FileEntry> files)
    {
        var order = new int[files.Count];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        Array.Sort(order, (a, b) => FileNameComparer.Instance.Compare(files[a], files[b]));
        return order;
    }

    private static List<FileEntry> Sorted(List<FileEntry> files)
    {
        var sorted = new List<FileEntry>(files);
        sorted.Sort(FileNameComparer.Instance);
        return sorted;
    }

    /// <summary>List number <paramref name="position"/>, waiting for the receiver to read it; null when no more come.</summary>
    private ReceivedFiles.Segment? WaitForList(int position)
    {
        while (true)
        {
            if (side.Files.List(position) is { } list)
                return list;
            if (side.Files.AllReceived && position >= side.Files.ListCount)
                return null;
            LetGoOfFinishedLists(redo: true);
            WaitForEvent();
        }
    }

    /// <summary>
    /// Handles what the receiver reported, then lets go of every list before the current one that
    /// has nothing outstanding: NDX_DONE tells the sender, and the list's directory gets its final
    /// time and mode (generator.c, check_for_finished_files and touch_up_dirs).
    /// </summary>
    private void LetGoOfFinishedLists(bool redo)
    {
        var events = side.Events;
        while (true)
        {
            while (events.TryTake(out var ev))
                Handle(ev, handleRedo: true);
            if (redo && _redo.TryDequeue(out int again))
            {
                Generate(again, redo: true);
                if (side.Files.Find(again, out var owner) is not null)
                    owner!.ToRedo--;
                continue;
            }
            if (_firstHeld == _currentList || _firstHeld >= side.Files.ListCount)
                return;
            var first = side.Files.List(_firstHeld);
            if (first is null || first.InProgress > 0 || first.ToRedo > 0)
                return;
            _out.WriteNdx(Ndx.Done);
            if (first.ParentDir >= 0 && _delayed is null && !side.ListOnly)
                TouchUpDirectory(side.Files.Directory(first.ParentDir));
            _firstHeld++;
        }
    }

    private void WaitForEvent()
    {
        _out.Flush();
        if (side.Events.Take(out var ev))
        {
            Handle(ev, handleRedo: true);
            return;
        }
        throw new RsyncProtocolException("the receiver stopped early", ExitCodes.Ipc);
    }

    /// <summary>Deletions --delete-delay found, done after the transfer (generator.c, do_delayed_deletions).</summary>
    private List<(byte[] Name, FileStatus Status)>? _delayed;

    private void DeleteDelayed()
    {
        foreach (var (name, st) in _delayed!)
        {
            if (side.Root!.LStat(name, out var now) == 0 && now.IsDirectory == st.IsDirectory)
                DeleteTree(name, now, log: true);
        }
    }

    private void WaitForDone(int count, bool handleRedo)
    {
        while (_doneCount < count)
        {
            _out.Flush();
            if (!side.Events.Take(out var ev))
                throw new RsyncProtocolException("the receiver stopped early", ExitCodes.Ipc);
            Handle(ev, handleRedo);
        }
    }

    private void Handle(ReceiverEvent ev, bool handleRedo)
    {
        bool incremental = side.Files.Incremental;
        switch (ev.Kind)
        {
            case ReceiverEventKind.Done:
                _doneCount++;
                break;
            case ReceiverEventKind.Redo when incremental:
                if (side.Files.Find(ev.Ndx, out var seg) is not null)
                {
                    seg!.InProgress--;
                    seg.ToRedo++;
                }
                _redo.Enqueue(ev.Ndx);
                break;
            case ReceiverEventKind.Redo when handleRedo:
                Generate(ev.Ndx, redo: true);
                break;
            case ReceiverEventKind.Success:
                if (incremental && side.Files.Find(ev.Ndx, out var done) is not null)
                    done!.InProgress--;
                if (_o.RemoveSourceFiles > 0)
                    _out.WriteMessageInt(MessageCode.Success, _out.WireNdx(ev.Ndx));
                break;
            case ReceiverEventKind.NoSend:
                if (incremental && side.Files.Find(ev.Ndx, out var skipped) is not null)
                    skipped!.InProgress--;
                break;
        }
    }

    private void Generate(int ndx, bool redo) => GenerateEntry(ndx, side.Files[ndx], redo, earlyDirectory: side.Files.Incremental);

    /// <param name="earlyDirectory">A directory met in its parent's list under incremental recursion: only
    /// made, so its parent's time can be fixed; it is handled in full when its own list starts
    /// (generator.c, recv_generator with is_dir &lt; 0).</param>
    private void GenerateEntry(int ndx, FileEntry file, bool redo, bool earlyDirectory)
    {
        GenerateOne(ndx, file, redo, earlyDirectory);
        // After every entry, not only a request: a request followed by a long run of unchanged
        // files still reaches the sender within the interval.
        _out.FlushUnlessRecent(RequestFlushInterval);
    }

    private void GenerateOne(int ndx, FileEntry file, bool redo, bool earlyDirectory)
    {
        // A refused directory is not made early either; it is reported once, in its full pass
        // (generator.c, recv_generator: is_dir < 0 returns quietly).
        if (side.DaemonFilters is { } daemonFilters && !side.ListOnly && RefusedByDaemon(file, daemonFilters, quietly: earlyDirectory && file.IsDirectory))
            return;
        if (earlyDirectory && file.IsDirectory)
        {
            if (!side.ListOnly)
                MakeDirectoryEarly(file);
            return;
        }
        if (side.ListOnly)
        {
            ListEntry(file);
            return;
        }
        if ((file.Flags & EntryFlags.Sent) != 0 && !redo)
            return; // a duplicate name
        if ((file.Flags & EntryFlags.Inactive) != 0)
            return;
        if (side.CheckParents(file) is { } problem)
        {
            side.Ctx.TransferError(problem);
            return;
        }
        int statErr = side.Stat(side.NameOf(file, ref _joinedName), out var st);
        bool exists = statErr == 0;

        if (file.IsDirectory)
            GenerateDirectory(ndx, file, exists, st);
        else if (file.IsSymlink)
            GenerateSymlink(ndx, file, exists, st);
        else if (file.IsDevice || file.IsSpecial)
            GenerateNode(ndx, file, exists, st);
        else if (file.IsRegular)
            GenerateFile(ndx, file, exists, st, redo);
    }

    /// <summary>One line of --list-only output (generator.c, list_file_entry).</summary>
    private void ListEntry(FileEntry file)
    {
        string size = _o.HumanReadable > 0 ? file.Size.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : file.Size.ToString(System.Globalization.CultureInfo.InvariantCulture);
        int width = _o.HumanReadable > 0 ? 14 : 11;
        string time = DateTimeOffset.FromUnixTimeSeconds(file.ModTime).ToLocalTime().ToString("yyyy/MM/dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        string line = $"{PermString(file.Mode)} {size.PadLeft(width)} {time} {file.NameString}";
        if (_o.PreserveLinks && file.IsSymlink)
            line += " -> " + NameText.FromBytes(file.LinkTarget ?? []);
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

    private void MakeDirectoryEarly(FileEntry file)
    {
        if (!_o.PreserveTimes || !side.PreserveDirectoryTimes || _o.DryRun || _o.IgnoreNonExisting || (file.Flags & EntryFlags.Inactive) != 0)
            return;
        if ((file.Flags & EntryFlags.ImpliedDir) != 0 && !_o.ImpliedDirs)
            return;
        ReadOnlySpan<byte> name = side.NameOf(file);
        if (side.CheckParents(file) is not null)
            return;
        int errno = side.Stat(name, out var st);
        // A non-directory in the way goes now too, so the parent's time settles with its own list
        // (generator.c, recv_generator: delete_item with DEL_FOR_DIR). In a two-way module the full
        // visit decides, as a local change there may have to be kept.
        if (errno == 0 && !st.IsDirectory && side.TwoWay is null && RemoveInTheWay(st, file))
            errno = Posix.ENOENT;
        if (errno != Posix.ENOENT)
            return;
        side.AnnounceCreated(WrittenKind.Directory, name);
        if (side.Root!.MakeDirectory(name, file.Mode & 0x1C0) == 0)
            file.Flags |= EntryFlags.DirCreated;
    }

    private void GenerateDirectory(int ndx, FileEntry file, bool exists, FileStatus st)
    {
        if (exists && !st.IsDirectory)
        {
            // In a two-way module a local change not yet delivered cannot become the copy of a directory: it is moved aside.
            bool movedAside = false;
            if (side.TwoWay is { ConflictCopies: true } && !_o.DryRun && side.AskAndRemember(ndx, side.NameOf(file), st) == LocalChange.Pending)
            {
                if (!side.MoveLocalAside(side.NameOf(file).ToArray(), st, "a directory arrives; the local version, changed here,"))
                    return;
                movedAside = true;
            }
            if (!movedAside && !RemoveInTheWay(st, file))
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
                side.AnnounceCreated(WrittenKind.Directory, side.NameOf(file));
                int errno = side.Root!.MakeDirectory(side.NameOf(file), 0x1C0);
                // Another session may have made it meanwhile; rsync lets EEXIST pass (generator.c, recv_generator).
                if (errno == Posix.EEXIST && side.Root.LStat(side.NameOf(file), out var made) == 0 && made.IsDirectory)
                    errno = 0;
                if (errno != 0)
                {
                    side.Ctx.TransferError($"recv_generator: mkdir \"{side.PathOf(file)}\" failed: {Posix.StrError(errno)} ({errno})");
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

    private void GenerateSymlink(int ndx, FileEntry file, bool exists, FileStatus st)
    {
        string path = side.PathOf(file);
        if (!_o.PreserveLinks)
        {
            SkippingNonRegular(file);
            return;
        }
        byte[] target = file.LinkTarget ?? [];
        string shown = ReceivingSide.Show(target);
        if (_o.SafeLinks && UnsafeSymlink.IsUnsafe(target, file.Name.ToArray()))
        {
            if (_o.Output[InfoFlag.Name] > 0)
                side.Ctx.Info($"ignoring unsafe symlink \"{path}\" -> \"{shown}\"");
            return;
        }
        ReadOnlySpan<byte> name = side.NameOf(file);
        bool same = exists && st.IsSymlink && side.Root!.ReadLink(name, out var current) == 0 && current.AsSpan().SequenceEqual(target);
        MakeNonRegular(ndx, file, exists, st, same, at => side.Root!.Symlink(target, at), $"symlink \"{path}\" -> \"{shown}\"");
    }

    private void GenerateNode(int ndx, FileEntry file, bool exists, FileStatus st)
    {
        string path = side.PathOf(file);
        if ((file.IsDevice && (!_o.PreserveDevices || !side.IsRoot)) || (file.IsSpecial && !_o.PreserveSpecials))
        {
            SkippingNonRegular(file);
            return;
        }
        bool same = exists && st.FileType == file.FileType && (!file.IsDevice || st.Rdev == file.Rdev);
        ReadOnlySpan<byte> name = side.NameOf(file);
        MakeNonRegular(ndx, file, exists, st, same, at => side.Root!.MakeNode(at, file.FileType | 0x180, file.IsDevice ? file.Rdev : 0), $"mknod \"{path}\"");
    }

    /// <summary>A link or node this side will not make is said so, not dropped quietly (generator.c, recv_generator).</summary>
    private void SkippingNonRegular(FileEntry file) => side.Ctx.Info($"skipping non-regular file \"{file.NameString}\"");

    /// <summary>
    /// Links, devices and specials the generator makes itself: kept when already right, else
    /// replaced, and reported as a local change (generator.c, recv_generator).
    /// </summary>
    private void MakeNonRegular(int ndx, FileEntry file, bool exists, FileStatus st, bool alreadyRight, Func<byte[], int> create, string what)
    {
        if (alreadyRight)
        {
            if (!_o.DryRun)
                side.SetAttributes(side.NameOf(file), file, isNew: false, current: st);
            Itemize(ndx, file, ItemFlags.None, st, exists: true);
            Settled(ndx, newlyMadeLink: false);
            return;
        }
        if ((_o.IgnoreExisting && exists) || (_o.IgnoreNonExisting && !exists))
            return;
        ReadOnlySpan<byte> name = side.NameOf(file);
        bool movedAside = false;
        if (exists && !st.IsDirectory && side.TwoWay is not null && !_o.DryRun)
        {
            // A local change not yet delivered: the newer keeps the name (ReceivingSide.ResolveIncomingNode).
            if (side.ResolveIncomingNode(ndx, file, name.ToArray(), st, create))
                return;
            movedAside = side.Root!.LStat(name, out _) == Posix.ENOENT;
        }
        if (exists && !movedAside && !RemoveInTheWay(st, file))
            return;
        if (!_o.DryRun)
        {
            side.AnnounceCreated(file.IsSymlink ? WrittenKind.Symlink : WrittenKind.File, name);
            int errno = create(name.ToArray());
            if (errno != 0)
            {
                side.Ctx.TransferError($"{what} failed: {Posix.StrError(errno)} ({errno})");
                return;
            }
            side.SetAttributes(side.NameOf(file), file, isNew: true);
        }
        // Replacing one of the same kind shows what changed ("cLc.t", "cDc.T"); anything else in the
        // way made it new (generator.c, recv_generator: statret = -1 for another kind).
        bool sameKind = exists && !movedAside && (file.IsSymlink ? st.IsSymlink : file.IsDevice ? Posix.IsDevice(st.Mode) : Posix.IsSpecial(st.Mode));
        Itemize(ndx, file, ItemFlags.LocalChange | ItemFlags.ReportChange | (sameKind ? ItemFlags.None : ItemFlags.IsNew), st, exists: sameKind);
        Settled(ndx, newlyMadeLink: file.IsSymlink);
    }

    // Directories the module's filters refused: nothing beneath them is received either.
    private readonly List<byte[]> _refusedDirectories = [];

    /// <summary>
    /// A name the module's own exclude rules cover is refused with an error, and a directory's
    /// contents with it (generator.c, recv_generator: "daemon refused to receive").
    /// </summary>
    private bool RefusedByDaemon(FileEntry file, FilterList daemonFilters, bool quietly)
    {
        if (file.Name.IsDot)
            return false;
        ReadOnlySpan<byte> name = file.Name.Joined(ref _joinedName);
        foreach (byte[] dir in _refusedDirectories)
        {
            if (name.Length > dir.Length && name[dir.Length] == (byte)'/' && name.StartsWith(dir))
                return true;
        }
        if (!daemonFilters.IsExcludedBySender(name, file.IsDirectory))
            return false;
        if (quietly)
            return true;
        if (file.IsDirectory)
            _refusedDirectories.Add(name.ToArray());
        side.Ctx.TransferError($"ERROR: daemon refused to receive {(file.IsDirectory ? "directory" : "file")} \"{file.NameString}\"");
        return true;
    }

    /// <summary>
    /// An entry that needed no transfer is as good as sent for --remove-source-files, and the
    /// sender may remove it; a link just made also for --remove-sent-files (generator.c,
    /// recv_generator: return_with_success).
    /// </summary>
    private void Settled(int ndx, bool newlyMadeLink)
    {
        if (!_o.DryRun && (_o.RemoveSourceFiles == 1 || (newlyMadeLink && _o.RemoveSourceFiles > 0)))
            _out.WriteMessageInt(MessageCode.Success, _out.WireNdx(ndx));
    }

    /// <summary>
    /// -u's test (generator.c, recv_generator: a newer destination file is skipped). Whole seconds,
    /// as rsync 3.1 compares; in a two-way module nanoseconds too where the protocol carries them,
    /// so that "the newer wins" there means what the conflict rules mean by it, to the nanosecond.
    /// </summary>
    private bool LocalIsNewer(in FileStatus st, FileEntry file)
    {
        if (st.MtimeSeconds != file.ModTime || side.TwoWay is null || side.Ctx.Protocol < 31 || !_o.PreserveTimes)
            return st.MtimeSeconds > file.ModTime;
        return st.MtimeNanoseconds > file.ModNanoseconds;
    }

    /// <summary>
    /// In a two-way module, whether the newer local file is a version a peer sent here, unchanged
    /// since: a peer now sending an older one had that version and replaced it (an older file
    /// renamed over it), so its change is the later one and -u does not apply.
    /// </summary>
    private bool ReplacedKnowingly(int ndx, ReadOnlySpan<byte> fileName, in FileStatus st) =>
        side.TwoWay is { } twoWay && !_o.DryRun && st.IsRegular
        && twoWay.HadVersion(side.Root!, fileName.ToArray(), st.Size, st.MtimeSeconds, st.MtimeNanoseconds)
        && side.AskAndRemember(ndx, fileName.ToArray(), st) != LocalChange.Pending;

    private void GenerateFile(int ndx, FileEntry file, bool exists, FileStatus st, bool redo)
    {
        if (side.HardLinkTargets.ContainsKey(ndx))
            return; // linked to its group's transferred member at the end
        // Incrementally a group's members arrive list by list: the first met is transferred, the rest
        // are linked to it at the end, whichever list each came in (hlink.c, match_hard_links).
        if (side.Files.Incremental && _o.HardLinks > 0 && !redo && (file.Flags & (EntryFlags.HardLinkFirst | EntryFlags.HardLinkFollower)) != 0)
        {
            if (_groupLeaders.TryGetValue(file.HardLinkIndex, out var leader))
            {
                _pendingLinks.Add((file, leader));
                return;
            }
            _groupLeaders[file.HardLinkIndex] = file;
        }
        ReadOnlySpan<byte> fileName = side.NameOf(file, ref _joinedName);
        // In a two-way module a local link or node changed here and not yet delivered stays until the
        // receiver decides, with the received file in hand, which one keeps the name.
        bool conflictInTheWay = exists && !st.IsRegular && !st.IsDirectory && side.TwoWay is not null && !_o.DryRun
            && side.AskAndRemember(ndx, fileName, st) == LocalChange.Pending;
        if (exists && !st.IsRegular && !conflictInTheWay)
        {
            if (!RemoveInTheWay(st, file))
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
        if (!redo && exists && _o.Update && LocalIsNewer(st, file) && !ReplacedKnowingly(ndx, fileName, st))
        {
            // -u keeps a newer local file. In a two-way module, when that file is a change not yet
            // delivered, the older incoming one is fetched all the same, to be kept as a conflict copy.
            if (!(side.TwoWay is { ConflictCopies: true } && !_o.DryRun && side.AskAndRemember(ndx, fileName, st) == LocalChange.Pending))
            {
                // Nothing else would bring the newer local version to the peer: the watcher is asked to push it.
                if (side.TwoWay is not { } twoWay || _o.DryRun)
                    return;
                twoWay.PushBack(side.Root!, fileName);
                // An older version this node never held here is the peer's own change, made without
                // seeing the newer one: it is kept as a copy, not dropped.
                if (!twoWay.ConflictCopies || !st.IsRegular || twoWay.HadVersion(side.Root!, fileName, file.Size, file.ModTime,
                        side.Ctx.Protocol >= 31 ? file.ModNanoseconds : null))
                    return;
                twoWay.Answers[ndx] = (st, LocalChange.Pending);
            }
        }

        if (!redo && exists && !conflictInTheWay && Unchanged(file, fileName, st))
        {
            // Itemize sets what differs (generator.c, recv_generator: set_file_attrs via itemize).
            Itemize(ndx, file, ItemFlags.None, st, exists: true);
            Settled(ndx, newlyMadeLink: false);
            return;
        }

        file.Flags |= EntryFlags.Sent;
        if (side.Files.Incremental && !_o.DryRun && side.Files.Find(ndx, out var owner) is not null)
            owner!.InProgress++;
        _out.WriteNdx(ndx);
        var iflags = ItemFlags.Transfer | (_o.Checksum ? ItemFlags.ReportChange : ItemFlags.None);
        iflags |= ReportFlags(file, st, exists, iflags);
        var partialPlace = redo ? null : side.PartialPlace(file);
        FileStatus pst = default;
        bool fromPartial = partialPlace is { } pp && pp.Root.LStat(pp.Name, out pst) == 0 && pst.IsRegular;
        // Without the file or a partial piece of it, the most similar file beside it may serve (generator.c, recv_generator).
        FuzzyBasis.Candidate? fuzzy = !exists && !fromPartial && !redo && _o.Fuzzy ? FindFuzzy(file) : null;
        MarkChanging(file);
        if (fromPartial || fuzzy is not null)
            iflags |= ItemFlags.BasisTypeFollows;
        if (fuzzy is not null)
            iflags |= ItemFlags.XnameFollows;
        _out.WriteShortInt((int)(iflags & (ItemFlags)0xFFFF));
        if (fromPartial)
            _out.WriteByte(BasisType.PartialDir);
        if (fuzzy is { } similar)
        {
            _out.WriteByte(BasisType.Fuzzy);
            _out.WriteVString(similar.Name);
        }
        if (_o.DryRun)
            return;

        bool wholeFile = _o.WholeFile ?? side.WholeFileByDefault;
        var basisPlace = new Place(side.Root!, fileName.ToArray());
        long basisSize = exists && st.IsRegular ? st.Size : 0;
        if (fromPartial)
        {
            basisPlace = partialPlace!.Value;
            basisSize = pst.Size;
        }
        else if (fuzzy is { } near)
        {
            basisPlace = new Place(side.Root!, side.BesideName(file, near.Name));
            basisSize = near.Size;
        }
        if (basisSize <= 0 || wholeFile)
        {
            SumHead.Empty.Write(_out);
            return;
        }
        try
        {
            int openErr = basisPlace.Root.OpenRead(basisPlace.Name, out var opened);
            if (openErr != 0)
                throw new IOException(Posix.StrError(openErr));
            using var basis = opened!;
            SumHead head = SumHead.For(basisSize, fullStrongSums: redo, fixedBlockLength: side.Ctx.Options.BlockSize, maxStrongLength: Math.Min(StrongChecksum.Md5Length, _strong.Length));
            SumHead.WriteSums(_out, basis, basisSize, head, _strong);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No basis: the sender sends everything as literal data.
            SumHead.Empty.Write(_out);
        }
    }

    // --fuzzy: the regular files of the directory last looked in, and which of them are about to change.
    private byte[]? _fuzzyDirectory;
    private List<FuzzyBasis.Candidate> _fuzzyCandidates = [];
    private HashSet<byte[]> _fuzzyChanging = new(ByteNameComparer.Instance);

    /// <summary>The file beside <paramref name="file"/> to send it against, or null (generator.c, find_fuzzy).</summary>
    private FuzzyBasis.Candidate? FindFuzzy(FileEntry file)
    {
        LoadFuzzyDirectory(file.Name.Directory);
        int chosen = FuzzyBasis.Choose(file.Name.Base, file.Size, file.ModTime, _fuzzyCandidates, i => !_fuzzyChanging.Contains(_fuzzyCandidates[i].Name));
        return chosen < 0 ? null : _fuzzyCandidates[chosen];
    }

    /// <summary>A file being replaced is no basis for another (generator.c, recv_generator: FLAG_FILE_SENT).</summary>
    private void MarkChanging(FileEntry file)
    {
        if (_fuzzyDirectory is null || !file.Name.Directory.SequenceEqual(_fuzzyDirectory))
            return;
        _fuzzyChanging.GetAlternateLookup<ReadOnlySpan<byte>>().Add(file.Name.Base);
    }

    private void LoadFuzzyDirectory(ReadOnlySpan<byte> directory)
    {
        if (_fuzzyDirectory is not null && directory.SequenceEqual(_fuzzyDirectory))
            return;
        _fuzzyDirectory = directory.ToArray();
        _fuzzyCandidates = [];
        _fuzzyChanging.Clear();
        var names = new List<byte[]>();
        byte[] inDestination = directory.IsEmpty || side.SoloPath is not null ? [(byte)'.'] : _fuzzyDirectory;
        if (side.Root!.List(inDestination, names) != 0)
            return;
        foreach (byte[] name in names)
        {
            byte[] path = inDestination is [(byte)'.'] ? name : [.. inDestination, (byte)'/', .. name];
            if (side.Root.LStat(path, out var st) == 0 && st.IsRegular && st.Size > 0)
                _fuzzyCandidates.Add(new FuzzyBasis.Candidate(name, st.Size, st.MtimeSeconds));
        }
    }

    /// <summary>rsync's quick check (generator.c, unchanged_file).</summary>
    private bool Unchanged(FileEntry file, ReadOnlySpan<byte> name, FileStatus st)
    {
        if (st.Size != file.Size)
            return false;
        if (_o.Checksum)
        {
            Span<byte> sum = stackalloc byte[ChecksumKinds.Length(side.Ctx.Algorithms.FileChecksum)];
            if (side.Root!.OpenRead(name, out var handle) != 0)
                return false;
            using (handle)
            {
                try
                {
                    StrongChecksum.FileSum(side.Ctx.Algorithms.FileChecksum, handle!, sum);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    return false;
                }
            }
            return file.Checksum is not null && sum.SequenceEqual(file.Checksum);
        }
        if (_o.SizeOnly)
            return true;
        if (_o.IgnoreTimes)
            return false;
        return SameTime(st.MtimeSeconds, file.ModTime) && (!NanosecondsCount || st.MtimeNanoseconds == file.ModNanoseconds);
    }

    /// <summary>
    /// Whether the quick check compares nanoseconds too: with --modify-window=-1 (util1.c, same_time),
    /// and in a two-way module, where two edits in one second must not pass for one version.
    /// </summary>
    private bool NanosecondsCount =>
        side.Ctx.Protocol >= 31 && _o.PreserveTimes && ((_o.ModifyWindow ?? 0) < 0 || side.TwoWay is not null);

    private bool SameTime(long local, long remote)
    {
        int window = _o.ModifyWindow ?? 0;
        return window <= 0 ? local == remote : Math.Abs(local - remote) <= window;
    }

    /// <param name="iflags">What is already known: a transfer or local change without -t shows "T",
    /// the time becoming the time of writing (generator.c, itemize: keep_time).</param>
    private ItemFlags ReportFlags(FileEntry file, FileStatus st, bool exists, ItemFlags iflags)
    {
        if (!exists)
            return ItemFlags.IsNew;
        var f = ItemFlags.None;
        if (file.IsRegular && file.Size != st.Size)
            f |= ItemFlags.ReportSize;
        bool keepTime = _o.PreserveTimes && !(file.IsDirectory && !side.PreserveDirectoryTimes) && !(file.IsSymlink && _o.OmitLinkTimes);
        if (keepTime ? !SameTime(st.MtimeSeconds, file.ModTime) : (iflags & (ItemFlags.Transfer | ItemFlags.LocalChange)) != 0)
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
        ReadOnlySpan<byte> name = side.NameOf(file);
        if (exists)
        {
            iflags |= ReportFlags(file, st, exists: true, iflags);
            if (!_o.DryRun && !file.IsDirectory && !file.IsSymlink && !file.IsDevice && !file.IsSpecial)
                side.SetAttributes(name, file, isNew: false, current: st);
            else if (!_o.DryRun && file.IsDirectory)
                side.ChmodDirectory(name, side.ModeFor(file, isNew: false, name) | 0x1C0);
        }
        else if (file.IsDirectory && !_o.DryRun)
            side.ChmodDirectory(name, (side.ModeFor(file, isNew: true, name) | 0x1C0) & 0xFFF);

        if ((iflags & ItemFlags.Significant) != 0 || _o.ItemizeChanges > 1 || _o.Output[InfoFlag.Name] > 1)
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
    private bool RemoveInTheWay(FileStatus st, FileEntry file)
    {
        ReadOnlySpan<byte> name = side.NameOf(file);
        if (st.IsDirectory)
        {
            var children = new List<byte[]>();
            bool hasContents = side.Root!.List(name, children) != 0 || children.Count > 0;
            bool deleting = _o.GetEffectiveDeleteMode(side.Ctx.Protocol) != DeleteMode.None;
            if (hasContents && !_o.Force && !deleting)
            {
                side.Ctx.TransferError($"cannot delete non-empty directory: {file.NameString}");
                return false;
            }
        }
        if (_o.DryRun)
            return true;
        // The item itself was weighed by the caller; what a directory holds is still asked about.
        return DeleteTree(name.ToArray(), st, log: false, askFirst: false);
    }

    /// <summary>
    /// Deletes a file or a directory tree, contents first, counting and naming each item as rsync
    /// does, and stopping at --max-delete (delete.c, delete_item and delete_dir_contents). Every
    /// step is relative to the destination's handle and follows no symlink, so a link swapped in
    /// for a directory is removed itself, never what it points to.
    /// </summary>
    /// <param name="askFirst">In a two-way module, a non-directory changed here and not yet delivered is kept.</param>
    private bool DeleteTree(byte[] rel, FileStatus st, bool log, bool askFirst = true)
    {
        var root = side.Root!;
        string shown = ReceivingSide.Show(rel);
        bool ok = true;
        if (askFirst && side.KeepsFromDeletion(rel, st))
            return false;
        if (st.IsDirectory)
        {
            var names = new List<byte[]>();
            int errno = root.List(rel, names);
            if (errno != 0)
            {
                side.Ctx.TransferError($"opendir \"{side.Display(rel)}\" failed: {Posix.StrError(errno)} ({errno})");
                return false;
            }
            foreach (var (child, cst) in DeletionOrder(rel, names))
            {
                byte[] childRel = [.. rel, (byte)'/', .. child];
                if (log && IsProtected(childRel, cst.IsDirectory))
                {
                    ok = false;
                    continue;
                }
                ok &= DeleteTree(childRel, cst, log);
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
            side.Ctx.ItemLog?.Deleted(side.Display(rel), st.Mode);
            if (side.DeletionsAsMessages)
            {
                // A directory's name carries a trailing NUL so the client can tell (log.c, log_delete).
                // Under --iconv the name goes as UTF-8, as every message text does (io.c, send_msg).
                byte[] sent = side.Ctx.Iconv?.MessageToWire(rel) ?? rel;
                _out.WriteMessage(MessageCode.Deleted, st.IsDirectory ? [.. sent, 0] : sent);
            }
            else if (_o.ItemizeChanges > 0)
                side.Ctx.Info($"*deleting   {shown}{(st.IsDirectory ? "/" : "")}");
            else if (_o.Output[InfoFlag.Del] > 0)
                side.Ctx.Info($"deleting {shown}{(st.IsDirectory ? "/" : "")}");
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
        side.AnnounceDeleted(rel);
        if (!st.IsDirectory && log && _o.Backup)
            return side.MakeBackup(rel);
        int err = st.IsDirectory ? root.RemoveDirectory(rel) : root.Unlink(rel);
        if (err != 0)
        {
            side.Ctx.TransferError($"delete_file: {(st.IsDirectory ? "rmdir" : "unlink")} \"{side.Display(rel)}\" failed: {Posix.StrError(err)} ({err})");
            return false;
        }
        return true;
    }

    private void DeletePass()
    {
        var files = side.Files.FirstList;
        foreach (var file in files)
        {
            if (file.IsDirectory && (file.Flags & EntryFlags.ContentDir) != 0)
                DeleteExtraneous(file, files);
        }
    }

    /// <summary>
    /// Whether an entry of the sorted list still in use has this name, as a file or as a
    /// directory: what delete_in_dir keeps (flist.c, flist_find_ignore_dirness). A binary search
    /// of the list itself, so deletion needs no table of names beside it.
    /// </summary>
    internal static bool Listed(List<FileEntry> sorted, ReadOnlySpan<byte> name) =>
        Listed(sorted, name, isDirectory: false) || Listed(sorted, name, isDirectory: true);

    private static bool Listed(List<FileEntry> sorted, ReadOnlySpan<byte> name, bool isDirectory)
    {
        int found = FileNameComparer.IndexOf(sorted, sorted.Count, name, isDirectory);
        if (found < 0)
            return false;
        // A name sent twice sits together, one copy dropped (flist.c, flist_sort_and_clean).
        for (int i = found; i >= 0 && FileNameComparer.SameName(sorted[i], name, isDirectory); i--)
        {
            if ((sorted[i].Flags & EntryFlags.Inactive) == 0)
                return true;
        }
        for (int i = found + 1; i < sorted.Count && FileNameComparer.SameName(sorted[i], name, isDirectory); i++)
        {
            if ((sorted[i].Flags & EntryFlags.Inactive) == 0)
                return true;
        }
        return false;
    }


    /// <summary>Removes what the sender's directory no longer has, as <paramref name="listed"/>
    /// names it (generator.c, delete_in_dir); with --delete-delay under incremental recursion,
    /// notes it for the end.</summary>
    private void DeleteExtraneous(FileEntry dir, List<FileEntry> listed)
    {
        if ((dir.Flags & EntryFlags.Inactive) != 0 || side.Root is null)
            return;
        // A sender that could not read everything sent an incomplete list: nothing is deleted
        // on its word from then on (generator.c, delete_in_dir).
        var known = side.Files.Incremental ? side.Ctx.IoError | side.Ctx.MessageIoError | _listIoError : side.Ctx.IoError | side.Ctx.RemoteIoError;
        if ((known & IoErrorFlags.General) != 0 && !_o.IgnoreErrors)
        {
            if (!_warnedIoError)
                side.Ctx.Info("IO error encountered -- skipping file deletion");
            _warnedIoError = true;
            return;
        }
        ReadOnlySpan<byte> dirName = side.NameOf(dir);
        // The directory must be a real one beneath the destination; a symlink in its place, or on
        // its way, is never listed through (stock rsync fails with ELOOP here too).
        if (side.CheckParents(dir) is not null || side.Root.LStat(dirName, out var dst) != 0 || !dst.IsDirectory)
            return;
        var present = new List<byte[]>();
        if (side.Root.List(dirName, present) != 0)
            return;
        bool top = dirName is [(byte)'.'];
        foreach (var (name, st) in DeletionOrder(dirName, present))
        {
            byte[] rel = top ? name : [.. dirName, (byte)'/', .. name];
            if (Listed(listed, rel))
                continue;
            if (side.IsPartialDir(ReceivingSide.Show(rel)))
                continue;
            if (IsProtected(rel, st.IsDirectory))
                continue;
            if (_delayed is not null)
                _delayed.Add((rel, st));
            else
                DeleteTree(rel, st, log: true);
        }
    }

    /// <summary>
    /// rsync deletes a directory's entries last to first in file-list order, where a directory's
    /// files come before its subdirectories (delete.c, delete_dir_contents; generator.c,
    /// delete_in_dir; flist.c, f_name_cmp). Entries that vanished meanwhile are left out.
    /// </summary>
    private List<(byte[] Name, FileStatus Status)> DeletionOrder(ReadOnlySpan<byte> dirName, List<byte[]> names)
    {
        bool top = dirName is [(byte)'.'];
        var entries = new List<(byte[] Name, FileStatus Status)>(names.Count);
        foreach (byte[] n in names)
        {
            byte[] rel = top ? n : [.. dirName, (byte)'/', .. n];
            if (side.Root!.LStat(rel, out var st) == 0)
                entries.Add((n, st));
        }
        entries.Sort((a, b) => a.Status.IsDirectory != b.Status.IsDirectory
            ? (a.Status.IsDirectory ? -1 : 1)
            : b.Name.AsSpan().SequenceCompareTo(a.Name));
        return entries;
    }

    /// <summary>Excluded names are kept unless --delete-excluded; protect rules always keep (exclude.c).</summary>
    private bool IsProtected(byte[] name, bool isDirectory)
    {
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
        if (_o.DryRun || side.Root is null)
            return;
        var root = side.Root;
        var pairs = side.Files.Incremental ? _pendingLinks
            : side.HardLinkTargets.Select(p => (Follower: side.Files.FirstList[p.Key], Leader: side.Files.FirstList[p.Value]));
        foreach (var (followerFile, leaderFile) in pairs)
        {
            if ((leaderFile.Flags & EntryFlags.Inactive) != 0 || (followerFile.Flags & EntryFlags.Inactive) != 0)
                continue;
            ReadOnlySpan<byte> target = side.NameOf(leaderFile);
            ReadOnlySpan<byte> name = side.NameOf(followerFile);
            string path = side.PathOf(followerFile);
            if ((side.CheckParents(followerFile) ?? side.CheckParents(leaderFile)) is { } problem)
            {
                side.Ctx.TransferError(problem);
                continue;
            }
            if (root.LStat(target, out var t) != 0 || !t.IsRegular)
                continue;
            bool present = root.LStat(name, out var p) == 0;
            if (present)
            {
                if (p.Device == t.Device && p.Inode == t.Inode)
                    continue;
                if (p.IsDirectory)
                {
                    side.Ctx.TransferError($"\"{path}\" is a directory; not replacing it with a hard link");
                    continue;
                }
                if (side.KeepsFromDeletion(name, p))
                    continue;
            }
            // The name will be the group's file: same inode, size and time.
            side.AnnounceState(WrittenKind.File, name, t);
            if (present)
                root.Unlink(name);
            int errno = root.HardLink(target, name);
            if (errno != 0)
                side.Ctx.TransferError($"link \"{path}\" => \"{side.PathOf(leaderFile)}\" failed: {Posix.StrError(errno)} ({errno})");
            else
                side.LogItem(followerFile, ItemFlags.LocalChange | ItemFlags.XnameFollows | ItemFlags.IsNew, leaderFile.NameString);
        }
    }

    /// <summary>Directory times and modes last, deepest first, once their contents stopped changing (generator.c, touch_up_dirs).</summary>
    private void TouchUpDirectories()
    {
        if (side.Files.Incremental)
        {
            for (int i = side.Files.DirectoryCount - 1; i >= 0; i--)
                TouchUpDirectory(side.Files.Directory(i));
            return;
        }
        var files = side.Files.FirstList;
        for (int i = files.Count - 1; i >= 0; i--)
            TouchUpDirectory(files[i]);
    }

    private void TouchUpDirectory(FileEntry file)
    {
        if (_o.DryRun || side.Root is null || side.SoloPath is not null)
            return;
        if (!file.IsDirectory || (file.Flags & EntryFlags.Inactive) != 0 || ((file.Flags & EntryFlags.ImpliedDir) != 0 && !_o.ImpliedDirs))
            return;
        ReadOnlySpan<byte> name = side.NameOf(file);
        if (side.CheckParents(file) is not null || side.Root.LStat(name, out var st) != 0 || !st.IsDirectory)
            return;
        // Only what differs is changed, as rsync's touch_up_dirs does through set_file_attrs.
        side.SetAttributes(name, file, isNew: false, current: st);
    }
}
