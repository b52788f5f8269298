using System.Diagnostics;
using System.Text;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Roles;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

public sealed partial class RsyncClient
{
    /// <summary>Fetches a daemon module's files into <paramref name="destination"/>, as rsync rsync://HOST/MODULE/PATH DEST does.</summary>
    public Task<TransferResult> PullAsync(string source, string destination, CancellationToken cancellationToken = default)
    {
        var url = DaemonUrl.TryParse(source)
            ?? throw new RsyncException($"not a daemon source: {source}", ExitCodes.Syntax);
        return RunOnThread(() => Pull(url, destination, cancellationToken));
    }

    private TransferResult Pull(DaemonUrl url, string destination, CancellationToken cancellationToken)
    {
        RejectUnsupported();
        int requested = RequestedProtocol();
        var clock = Stopwatch.StartNew();
        var filters = FilterList.Parse(_options.FilterRules);

        using var connection = Connect(url, cancellationToken);
        var reader = connection.Reader;
        try
        {
            if (StartSession(connection, url, requested, clientIsSender: false) is not { } ctx)
                return new TransferResult(ExitCodes.Ok, new TransferStats());

            SendReceiverFilterList(ctx, filters);
            if (_options.FilesFrom is { } list && _options.FilesFromHost is null)
                ForwardFilesFrom(ctx, list);
            var result = Receive(ctx, destination, filters, ChmodRules(), local: false, abort: connection.Abort,
                validate: files => ReceivingSide.ValidateRequested(files, RequestedPaths([url.Path]), _options.Relative, filters));
            reader.WaitForPeerToClose(TimeSpan.FromSeconds(5));
            ctx.Stats.Elapsed = clock.Elapsed;
            return result with { ExitCode = connection.ExitCode(result.ExitCode, failed: false) };
        }
        catch (RsyncException ex) when (connection.TimedOut)
        {
            throw new RsyncException($"[receiver] io timeout after {connection.TimeoutSeconds} seconds -- exiting", ExitCodes.Timeout, ex);
        }
        catch (RsyncException ex) when (connection.Context is { RemoteExitCode: > 0 } c)
        {
            throw new RsyncException(ex.Message, c.RemoteExitCode, ex);
        }
        catch (RsyncException ex) when (connection.Shell is not null)
        {
            connection.Abort();
            throw new RsyncException(ex.Message, connection.ExitCode(ex.ExitCode, failed: true), ex);
        }
    }

    /// <summary>
    /// Sends a local --files-from list to the remote sender as NUL-terminated names ending with an
    /// empty one; before protocol 31 it travels outside the multiplexing (io.c, forward_filesfrom_data).
    /// </summary>
    private void ForwardFilesFrom(TransferContext ctx, string list)
    {
        bool raw = ctx.Protocol < 31;
        if (raw)
            ctx.Writer.StopMultiplexing();
        foreach (byte[] name in ReadFilesFrom(list, _options.From0))
        {
            ctx.Writer.WriteBytes(name);
            ctx.Writer.WriteByte(0);
        }
        ctx.Writer.WriteByte(0);
        ctx.Writer.Flush();
        if (raw)
            ctx.Writer.StartMultiplexing();
    }

    /// <summary>A receiving client always sends its rules; receiver-only ones stay home (exclude.c, send_filter_list).</summary>
    private static void SendReceiverFilterList(TransferContext ctx, FilterList filters)
    {
        foreach (var rule in filters.Rules)
        {
            if (rule.ReceiverOnly)
                continue;
            byte[] text = NameText.ToBytes(rule.WireText);
            ctx.Writer.WriteInt32(text.Length);
            ctx.Writer.WriteBytes(text);
        }
        ctx.Writer.WriteInt32(0);
        ctx.Writer.Flush();
    }

    /// <summary>Reads the file list, then runs the generator and receiver side by side over the connection.</summary>
    internal static TransferResult Receive(TransferContext ctx, string destination, FilterList filters, Options.ChmodRules? chmod, bool local, Action abort,
        Action<List<FileEntry>>? validate = null) =>
        Receive(ctx, destination, filters, chmod, new ReceiveMode(SenderSendsStats: !local, WholeFileByDefault: local, LogsItems: !local), abort, validate);

    /// <summary>How the host of the receiving side differs: a client, a local copy, or a daemon.</summary>
    internal readonly record struct ReceiveMode(bool SenderSendsStats, bool WholeFileByDefault, bool LogsItems, bool DeletionsAsMessages = false);

    /// <summary>
    /// A daemon's receiving side: the module's handle, and the destination as a name beneath it
    /// (sanitized, "." for the module itself). Every write then stays inside the module.
    /// </summary>
    /// <param name="TwoWay">Set when a watcher of this node covers the module: changes are announced, local ones kept.</param>
    internal sealed record ModuleTarget(ConfinedRoot Jail, byte[] Destination, bool PartialDirIsModuleRelative, TwoWay.TwoWayModule? TwoWay = null)
    {
        /// <summary>The module's exclude, include and filter parameters: names the daemon refuses to receive.</summary>
        public FilterList? DaemonFilters { get; init; }
    }

    internal static TransferResult Receive(TransferContext ctx, string destination, FilterList filters, Options.ChmodRules? chmod, ReceiveMode mode, Action abort,
        Action<List<FileEntry>>? validate = null, ModuleTarget? module = null)
    {
        var settings = ctx.FileListSettings();
        var decoder = new FileListDecoder(ctx.Reader, settings);
        // A client says what it is receiving; a server, or a local copy's receiving half, does not (flist.c, recv_file_list).
        bool tellsList = mode.SenderSendsStats && ctx.Options.Output[InfoFlag.Flist] > 0;
        if (tellsList && ctx.IncrementalRecursion)
            ctx.Info("receiving incremental file list");
        decoder.ReadAll();
        if (tellsList && !ctx.IncrementalRecursion && (ctx.Options.Recursive || ctx.Options.Dirs))
            ctx.Info("receiving file list ... done");
        var noted = IoErrorFlags.None;
        var listError = IoErrorFlags.None;

        // Under --iconv the two sides' names sort differently, so indexes on the wire follow the
        // order sent (flist.c, recv_file_list with need_unsorted_flist): a single list is mapped
        // to this side's order; incrementally each list stays as sent and the generator walks it
        // sorted. A single list's hard links are grouped by the indexes as sent, too.
        bool listsAsSent = settings.Iconv is not null && ctx.IncrementalRecursion;
        bool keepsSentOrder = !ctx.IncrementalRecursion && (settings.Iconv is not null || ctx.Options.HardLinks > 0);

        // Every list is checked, adjusted and sorted the same way (flist.c, recv_file_list).
        List<FileEntry> Prepare(List<FileEntry> received, FileEntry? directory)
        {
            ReceivingSide.ValidateNames(received);
            if (ctx.IncrementalRecursion)
                ReceivingSide.ValidateInside(received, directory);
            validate?.Invoke(received);
            if (ctx.Options.MungeLinks)
            {
                // Every received link is stored so that following it leads nowhere (flist.c, recv_file_entry).
                foreach (var entry in received)
                {
                    if (entry.IsSymlink && entry.LinkTarget is { } target)
                        entry.LinkTarget = MungedSymlink.Munge(target);
                }
            }
            listError = decoder.IoError & ~noted;
            if (listError != IoErrorFlags.None)
            {
                noted |= listError;
                // A directory's list carries its error to the generator, which takes it in on reaching the list.
                if (directory is null)
                    ctx.NoteRemoteIoError((int)listError);
                else
                    ctx.NoteListIoError((int)listError);
            }
            if (chmod is not null)
            {
                foreach (var entry in received)
                    entry.Mode = chmod.Apply(entry.Mode);
            }
            // The order as sent is kept apart only while something still needs it.
            var sorted = keepsSentOrder ? new List<FileEntry>(received) : received;
            if (!listsAsSent)
                sorted.Sort(FileNameComparer.Instance);
            if (keepsSentOrder && settings.Iconv is not null)
                FollowSenderOrder(ctx, received, sorted);
            DropDuplicateNames(sorted, isSorted: !listsAsSent, ctx);
            ctx.Stats.NumFiles += sorted.Count;
            foreach (var f in sorted)
            {
                ctx.Stats.CountListed(f);
                if (f.IsRegular || f.IsSymlink)
                    ctx.Stats.TotalSize += f.Size;
            }
            return sorted;
        }

        var received = decoder.Entries;
        var files = Prepare(received, null);
        bool listOnly = destination.Length == 0;
        if (files.Count == 0 && mode.SenderSendsStats)
        {
            // A daemon's sender stops after an empty list, and so does its client (main.c, client_run).
            return new TransferResult(ctx.FinalExitCode(), ctx.Stats);
        }
        var table = ctx.IncrementalRecursion ? ReceivedFiles.First(files, settings.MaxEntries, settings.MaxNameBytes, listsAsSent) : ReceivedFiles.Whole(files);
        int total = files.Count;
        // One entry may be a lone file: the next list, or the end of them, tells (main.c, do_recv: recv_additional_file_list).
        if (ctx.IncrementalRecursion && files.Count == 1)
        {
            int ndx = ctx.Reader.ReadNdx();
            if (ndx == Ndx.FileListEof)
                table.EndOfLists();
            else
            {
                int dirNdx = Ndx.FileListOffset - ndx;
                if (dirNdx < 0 || dirNdx >= table.DirectoryCount)
                    throw new RsyncProtocolException($"Invalid dir index: {ndx} ({Ndx.FileListOffset} - {Ndx.FileListOffset - table.DirectoryCount + 1}) [receiver]");
                var more = Prepare(decoder.ReadList(table.NextStart), table.Directory(dirNdx));
                table.Add(more, dirNdx, listError);
                total += more.Count;
            }
        }

        string? solo = null;
        var (destExists, destIsDir) = listOnly ? (false, false) : ProbeDestination(destination, module);
        if (listOnly)
        {
        }
        // One file, or none, into a name without a slash: the destination is that name (main.c, get_local_name).
        else if ((total == 0 || (total == 1 && !files[0].IsDirectory)) && !destIsDir && !destination.EndsWith('/'))
            solo = destination;
        // A destination named with a trailing slash is made even for an empty list (main.c, get_local_name).
        else if ((files.Count > 0 || destination.EndsWith('/')) && !ctx.Options.DryRun && !destExists)
        {
            if (module?.TwoWay is { } twoWay && twoWay.AbsolutePath(module.Jail, module.Destination) is { } made)
                twoWay.Publish(TwoWay.WrittenKind.Directory, made, 0, 0, 0, 0);
            int errno = module is null ? Posix.MakeDirectory(destination.TrimEnd('/'), 0x1FF) : module.Jail.MakeDirectory(module.Destination, 0x1FF);
            if (errno != 0)
                throw new RsyncException($"mkdir \"{destination}\" failed: {Posix.StrError(errno)} ({errno})", ExitCodes.FileIo);
            // At --info=name1 and up, as rsync 3.1 says it (main.c, get_local_name); -i alone does not.
            if (ctx.Options.Output[InfoFlag.Name] > 0)
                ctx.Info($"created directory {destination.TrimEnd('/')}");
            // The generator then shows "." as new (main.c, get_local_name).
            if (files.Count > 0 && files[0] is { Name.IsDot: true } dot)
                dot.Flags |= EntryFlags.DirCreated;
        }
        else if (total > 0 && destExists && !destIsDir)
            throw new RsyncException($"ERROR: destination must be a directory when copying more than 1 file", ExitCodes.FileSelect);

        using var root = listOnly ? null : OpenReceivingRoot(ctx, destination, solo, module);
        var side = new ReceivingSide(ctx, table, listOnly ? "/nonexistent" : destination.TrimEnd('/') is { Length: > 0 } t ? t : "/", filters, decoder.UserNames, decoder.GroupNames)
        {
            Root = root,
            Jail = module?.Jail,
            TwoWay = module?.TwoWay,
            DaemonFilters = module?.DaemonFilters,
            PartialDirIsModuleRelative = module?.PartialDirIsModuleRelative ?? false,
            SoloPath = solo,
            ListOnly = listOnly,
            SenderSendsStats = mode.SenderSendsStats,
            LogsItems = mode.LogsItems,
            DeletionsAsMessages = mode.DeletionsAsMessages,
            WholeFileByDefault = mode.WholeFileByDefault,
            ReadDirectoryList = (start, dir) => (Prepare(decoder.ReadList(start), dir), listError),
        };
        if (keepsSentOrder)
        {
            MatchHardLinks(side, received);
            if (settings.Iconv is null)
                received.Clear();
        }

        // From here two threads share the connection: only the generator writes, and it flushes
        // for itself, so the receiver's reads must never flush the writer under it.
        ctx.Reader.FlushBeforeWaiting = null;
        var generator = new Generator(side);
        var receiver = new Receiver(side);
        Exception? generatorFailure = null;
        var generatorThread = new Thread(() =>
        {
            try
            {
                generator.Run();
            }
            catch (Exception ex)
            {
                generatorFailure = ex;
                // The receiver may be waiting on the peer for data that will now never come.
                abort();
            }
            finally
            {
                ConfinedRoot.ReleaseThreadCache();
            }
        })
        { IsBackground = true, Name = "rsync-generator" };
        generatorThread.Start();
        try
        {
            receiver.Run();
        }
        catch (Exception ex)
        {
            side.Events.Complete(ex);
            receiver.CleanUpInterrupted();
            generatorThread.Join(TimeSpan.FromSeconds(5));
            if (generatorFailure is RsyncException first)
                throw first;
            throw;
        }
        generatorThread.Join();
        if (generatorFailure is not null)
            throw generatorFailure is RsyncException ? generatorFailure : new RsyncException(generatorFailure.Message, ExitCodes.Ipc, generatorFailure);
        return new TransferResult(ctx.FinalExitCode(), ctx.Stats);
    }

    /// <summary>Does the destination exist, and is it a directory (followed as named; for a daemon, only inside the module)?</summary>
    private static (bool Exists, bool IsDirectory) ProbeDestination(string destination, ModuleTarget? module)
    {
        if (module is null)
        {
            bool exists = Posix.TryStat(destination, out var st) == 0;
            return (exists, exists && st.IsDirectory);
        }
        if (module.Jail.TryOpenBeneath(module.Destination, out var probe, followInside: true) == 0)
        {
            probe!.Dispose();
            return (true, true);
        }
        return (module.Jail.LStat(module.Destination, out _) == 0, false);
    }

    /// <summary>The handle every write goes through: the destination, or a single file's parent.</summary>
    private static ConfinedRoot? OpenReceivingRoot(TransferContext ctx, string destination, string? solo, ModuleTarget? module)
    {
        int errno;
        ConfinedRoot? root;
        if (module is null)
        {
            string dir = solo is null ? destination : Path.GetDirectoryName(solo) is { Length: > 0 } parent ? parent : solo.StartsWith('/') ? "/" : ".";
            errno = ConfinedRoot.TryOpen(dir, out root);
        }
        else
        {
            ReadOnlySpan<byte> rel = module.Destination;
            if (solo is not null)
            {
                int slash = rel.LastIndexOf((byte)'/');
                rel = slash < 0 ? "."u8 : rel[..slash];
            }
            errno = module.Jail.TryOpenBeneath(rel, out root, followInside: true);
        }
        if (errno == 0)
            return root;
        if (ctx.Options.DryRun && errno == Posix.ENOENT)
            return null;
        throw new RsyncException($"change_dir#3 \"{destination}\" failed: {Posix.StrError(errno)} ({errno})", ExitCodes.FileSelect);
    }

    /// <summary>
    /// A name the sender listed twice is received once: a directory wins over anything else of the
    /// same name (its contents may follow in the list), otherwise the first is kept; the others are
    /// marked inactive (flist.c, flist_sort_and_clean).
    /// </summary>
    internal static void DropDuplicateNames(List<FileEntry> files, bool isSorted, TransferContext? ctx = null)
    {
        if (isSorted)
        {
            DropDuplicateNamesSorted(files, ctx);
            return;
        }
        var kept = new Dictionary<byte[], FileEntry>(files.Count, ByteNameComparer.Instance).GetAlternateLookup<ReadOnlySpan<byte>>();
        byte[]? joined = null;
        foreach (var file in files)
        {
            var key = file.Name.Joined(ref joined);
            if (!kept.TryGetValue(key, out var first))
            {
                kept[key] = file;
                continue;
            }
            FileEntry drop = file;
            if (file.IsDirectory && !first.IsDirectory)
            {
                drop = first;
                kept[key] = file;
            }
            else if (file.IsDirectory && first.IsDirectory)
            {
                // The kept directory takes on what the other one carried.
                first.Flags |= file.Flags & (EntryFlags.TopDir | EntryFlags.ContentDir);
                if ((file.Flags & EntryFlags.ImpliedDir) == 0)
                    first.Flags &= ~EntryFlags.ImpliedDir;
            }
            Drop(drop, ctx);
        }
    }

    private static void Drop(FileEntry drop, TransferContext? ctx)
    {
        drop.Flags |= EntryFlags.Inactive;
        if (ctx is not null && ctx.Options.Output[DebugFlag.Dup] > 0)
            ctx.Info($"removing duplicate name {drop.NameString} from file list");
    }

    // In f_name_cmp order a name's copies of one kind sit together, and a directory sorts after a
    // non-directory of its name, so a neighbour and a search before it find every copy with no
    // table of names (flist.c, flist_sort_and_clean).
    private static void DropDuplicateNamesSorted(List<FileEntry> files, TransferContext? ctx)
    {
        int first = 0;
        for (int i = 1; i <= files.Count; i++)
        {
            if (i < files.Count && FileNameComparer.Instance.Compare(files[first], files[i]) == 0)
            {
                var copy = files[i];
                if (copy.IsDirectory)
                {
                    var kept = files[first];
                    kept.Flags |= copy.Flags & (EntryFlags.TopDir | EntryFlags.ContentDir);
                    if ((copy.Flags & EntryFlags.ImpliedDir) == 0)
                        kept.Flags &= ~EntryFlags.ImpliedDir;
                }
                Drop(copy, ctx);
                continue;
            }
            if (files[first].IsDirectory && FindNonDirectory(files, first, files[first].Name) is { } other)
                Drop(other, ctx);
            first = i;
        }
    }

    /// <summary>The kept non-directory named <paramref name="name"/> among the first <paramref name="count"/> entries of a sorted list.</summary>
    private static FileEntry? FindNonDirectory(List<FileEntry> sorted, int count, EntryName name)
    {
        int found = FileNameComparer.IndexOf(sorted, count, name, isDirectory: false);
        if (found < 0)
            return null;
        // The first of the run is the one kept.
        while (found > 0 && FileNameComparer.SameName(sorted[found - 1], name, isDirectory: false))
            found--;
        return sorted[found];
    }

    /// <summary>
    /// Under --iconv the names sort differently on each side, so indexes on the wire keep the
    /// sender's order while this side works through its own sorted list (flist.c, recv_file_list
    /// with need_unsorted_flist).
    /// </summary>
    private static void FollowSenderOrder(TransferContext ctx, List<FileEntry> received, List<FileEntry> sorted)
    {
        var wireIndex = new Dictionary<FileEntry, int>(received.Count);
        for (int i = 0; i < received.Count; i++)
            wireIndex[received[i]] = i;
        var toWire = new int[sorted.Count];
        var fromWire = new int[received.Count];
        for (int i = 0; i < sorted.Count; i++)
        {
            int w = wireIndex[sorted[i]];
            toWire[i] = w;
            fromWire[w] = i;
        }
        ctx.Writer.NdxToWire = toWire;
        ctx.Reader.NdxFromWire = fromWire;
    }

    /// <summary>Groups hard links; the first of each group in list order is transferred, the rest linked to it (hlink.c, match_hard_links).</summary>
    private static void MatchHardLinks(ReceivingSide side, List<FileEntry> received)
    {
        if (side.Files.Incremental)
            return;
        // Only linked entries are looked up, so the table is as big as the links are many.
        var sortedIndex = new Dictionary<FileEntry, int>();
        foreach (var f in received)
        {
            if ((f.Flags & (EntryFlags.HardLinkFollower | EntryFlags.HardLinkFirst)) != 0 && !f.IsDirectory)
                sortedIndex[f] = -1;
        }
        if (sortedIndex.Count == 0)
            return;
        var files = side.Files.FirstList;
        for (int i = 0; i < files.Count; i++)
        {
            if (sortedIndex.ContainsKey(files[i]))
                sortedIndex[files[i]] = i;
        }
        var groups = new Dictionary<int, List<int>>();
        for (int r = 0; r < received.Count; r++)
        {
            var f = received[r];
            int leader = (f.Flags & EntryFlags.HardLinkFollower) != 0 ? f.HardLinkIndex
                : (f.Flags & EntryFlags.HardLinkFirst) != 0 ? r : -1;
            if (leader < 0 || f.IsDirectory)
                continue;
            if (!groups.TryGetValue(leader, out var members))
                groups[leader] = members = [];
            members.Add(sortedIndex[f]);
        }
        foreach (var members in groups.Values)
        {
            members.Sort();
            for (int i = 1; i < members.Count; i++)
                side.HardLinkTargets[members[i]] = members[0];
        }
    }
}
