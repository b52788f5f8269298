using System.Diagnostics;
using System.Text;
using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Roles;

/// <summary>
/// The sender role after the file list: answers each of the generator's requests with a delta
/// against the block sums it sent, through the phases, then says goodbye (sender.c, send_files;
/// main.c, read_final_goodbye).
/// </summary>
internal sealed class Sender(TransferContext ctx, SendingList files)
{
    /// <summary>A daemon's sender reports its totals here, before the goodbye (main.c, handle_stats).</summary>
    public Action? BeforeGoodbye { get; init; }

    private readonly RsyncReader _in = ctx.Reader;
    private readonly RsyncWriter _out = ctx.Writer;
    private const int SmallFilesFlush = 32 * 1024;
    private int _transferIndex;

    // Which files go out at level 0 (token.c, set_compression); only the sender needs to know.
    private readonly SkipCompress? _skipCompress = ctx.Algorithms.Compression == CompressionKind.None ? null
        : SkipCompress.Create(ctx.Options.SkipCompress, ctx.ModuleDontCompress, inDaemonModule: ctx.ModuleDontCompress is not null);

    private string? StdoutFormat => ctx.Options.OutFormat
        ?? (ctx.Options.ItemizeChanges > 0 ? LogFormat.Itemized : ctx.Options.Output[InfoFlag.Name] > 0 ? LogFormat.Names : null);

    private bool Itemizing => StdoutFormat?.Contains("%i", StringComparison.Ordinal) == true;

    // A file's name goes above its progress line, not after it (sender.c, send_files).
    private bool NamedBeforeProgress =>
        ctx.Options.Progress && ctx.Options.Output[InfoFlag.Name] > 0 && ctx.Options.Output[InfoFlag.Progress] == 1 && !Itemizing;

    public void Run()
    {
        int phase = 0;
        const int maxPhase = 2;
        var ioErrorAtStart = ctx.IoError;
        using var delta = new DeltaSender(_out, ctx.NewStrongChecksum(), TokenCodecs.CreateSender(ctx)) { UpdatingBasisInPlace = ctx.Options.Inplace };

        while (true)
        {
            files.SendMore();
            // rsync's sender writes through a 32 KiB buffer (io.c, IO_BUFFER_SIZE), so a receiver
            // working through many small files is never kept waiting for a quarter megabyte of
            // them; a large file still goes out a whole buffer at a time.
            if (_out.Buffered >= SmallFilesFlush)
                _out.Flush();
            int ndx = ReadNdxAndAttrs(out ItemFlags iflags, out byte basisType, out byte[]? xname);
            if (ndx == Ndx.Done)
            {
                // Under incremental recursion each list the generator finishes ends with one (sender.c, send_files).
                if (files.DropFirst())
                {
                    _out.WriteNdx(Ndx.Done);
                    continue;
                }
                if (++phase > maxPhase)
                    break;
                _out.WriteNdx(Ndx.Done);
                continue;
            }
            files.SendMore();

            FileEntry file = files[ndx];
            // An untransferred item's extra name is its hard link's target; a transfer's is the
            // fuzzy basis, which no log shows (sender.c, send_files: log_item with no hlink).
            string hardLinkTarget = xname is null || (iflags & ItemFlags.Transfer) != 0 ? "" : NameText.FromBytes(xname);
            if ((iflags & ItemFlags.Transfer) == 0)
            {
                ctx.ItemLog?.Item(file, iflags, hardLinkTarget, file.LocalPath);
                MaybeLogItem(file, iflags, hardLinkTarget);
                WriteNdxAndAttrs(ndx, iflags, basisType, xname);
                if ((iflags & ItemFlags.IsNew) != 0)
                    ctx.Stats.CountCreated(file);
                continue;
            }
            if (phase == 2)
                throw new RsyncProtocolException("got transfer request in phase 2 [sender]");

            bool firstAttempt = (file.Flags & EntryFlags.Sent) == 0;
            if (firstAttempt && (iflags & ItemFlags.IsNew) != 0)
                ctx.Stats.CreatedFiles++;
            ctx.Stats.TransferredFiles++;
            ctx.Stats.TotalTransferredSize += file.Size;

            if (ctx.Options.DryRun)
            {
                LogItem(file, iflags, hardLinkTarget, 0);
                WriteNdxAndAttrs(ndx, iflags, basisType, xname);
                continue;
            }

            var sums = BlockSums.Read(_in, ctx.Protocol, Math.Min(16, Checksums.ChecksumKinds.Length(ctx.Algorithms.Checksum)));
            SendOne(delta, ndx, file, iflags, basisType, xname, sums, hardLinkTarget);
        }

        if (ctx.IoError != ioErrorAtStart)
            _out.WriteMessageInt(MessageCode.IoError, (int)ctx.IoError);
        _out.WriteNdx(Ndx.Done);
        BeforeGoodbye?.Invoke();
        _out.Flush();
        ReadFinalGoodbye();
    }

    /// <summary>A daemon's module: every file is opened beneath it, with no symlink on the way.</summary>
    public ConfinedRoot? Jail { get; init; }

    /// <summary>The receiver is in this process too: itemized lines show files as arriving.</summary>
    public bool LocalCopy { get; init; }

    /// <summary>The module's real path, which <see cref="FileEntry.LocalPath"/> starts with.</summary>
    public string? JailPath { get; init; }

    /// <summary>
    /// Opens a listed file without following a symlink that was swapped in for it since the list was
    /// made (sender.c, send_files: do_open_nofollow; CVE-2024-12747). With -L links are the point,
    /// and inside a module they are still only followed while they stay in it.
    /// </summary>
    private int OpenSource(FileEntry file, out SafeFileHandle? handle)
    {
        bool followLinks = ctx.Options.CopyLinks || ctx.Options.CopyUnsafeLinks;
        handle = null;
        if (!SourcePath(file, out var path))
            return Posix.EXDEV;
        if (InJail)
            return Jail!.OpenRead(path, out handle, followInside: followLinks);
        return Confined.OpenAt(Confined.AtFdCwd, path, Confined.ORdOnly | Confined.ONoFollowIf(!followLinks), 0, 0, out handle);
    }

    private bool InJail => Jail is not null && JailPath is not null;

    // The root of the last file opened, as bytes (beneath the module, with a jail; null when outside
    // it), and a buffer the paths are put together in: nothing is allocated per file.
    private string? _sourceRoot;
    private byte[]? _sourceRootBytes;
    private byte[] _pathBuffer = new byte[256];

    /// <summary>Where a listed file is: its path, or its name beneath the module with a jail; false when outside it.</summary>
    private bool SourcePath(FileEntry file, out ReadOnlySpan<byte> path)
    {
        path = default;
        if (file.Root is null)
        {
            if (!InJail)
            {
                path = file.Name.Joined(ref _pathBuffer!);
                return true;
            }
            byte[]? rel = FileListBuilder.BeneathRoot(NameText.ToBytes(JailPath!), file.Name.Joined(ref _pathBuffer!));
            path = rel;
            return rel is not null;
        }
        if (!ReferenceEquals(file.Root, _sourceRoot))
        {
            _sourceRoot = file.Root;
            _sourceRootBytes = InJail
                ? FileListBuilder.BeneathRoot(NameText.ToBytes(JailPath!), NameText.ToBytes(file.Root))
                : NameText.ToBytes(file.Root);
        }
        if (_sourceRootBytes is not { } root)
            return false;
        var name = file.Name;
        if (name.IsDot)
        {
            path = root;
            return true;
        }
        bool under = !(root is [(byte)'.'] && InJail);
        int length = (under ? root.Length + 1 : 0) + name.Length;
        if (_pathBuffer.Length < length)
            _pathBuffer = new byte[Math.Max(length, 2 * _pathBuffer.Length)];
        int at = 0;
        if (under)
        {
            root.CopyTo(_pathBuffer, 0);
            at = root.Length;
            if (at == 0 || root[at - 1] != (byte)'/')
                _pathBuffer[at++] = (byte)'/';
        }
        name.CopyTo(_pathBuffer.AsSpan(at));
        path = _pathBuffer.AsSpan(0, at + name.Length);
        return true;
    }

    private void SendOne(DeltaSender delta, int ndx, FileEntry file, ItemFlags iflags, byte basisType, byte[]? xname, BlockSums sums, string hardLinkTarget)
    {
        int openErr = OpenSource(file, out var opened);
        if (openErr != 0)
        {
            string path = file.LocalPath;
            if (openErr is Posix.ENOENT or Posix.ENOTDIR)
            {
                ctx.IoError |= IoErrorFlags.Vanished;
                ctx.Error($"file has vanished: {ctx.Quote(path)}");
            }
            else
            {
                ctx.IoError |= IoErrorFlags.General;
                ctx.TransferError($"send_files failed to open {ctx.Quote(path)}: {Posix.StrError(openErr)} ({openErr})");
            }
            // The generator must hear that nothing is coming (sender.c, send_files).
            _out.WriteMessageInt(MessageCode.NoSend, ndx);
            return;
        }
        SafeFileHandle handle = opened!;
        if (ctx.Options.SendOnlyAsListed && ChangedSinceListed(handle, file))
        {
            handle.Dispose();
            ctx.IoError |= IoErrorFlags.Vanished;
            ctx.Error($"file has vanished: {ctx.Quote(file.LocalPath)} (replaced since it was listed)");
            _out.WriteMessageInt(MessageCode.NoSend, ndx);
            return;
        }

        using (handle)
        {
            // One fstat; RandomAccess.GetLength would first ask lseek whether the file can seek.
            long length = Confined.StatAt((int)handle.DangerousGetHandle(), ""u8, Confined.AtEmptyPath, out var status) == 0
                ? status.Size : RandomAccess.GetLength(handle);
            ctx.MarkItemStart();
            WriteNdxAndAttrs(ndx, iflags, basisType, xname);
            _out.WriteInt32(sums.Count);
            _out.WriteInt32(sums.BlockLength);
            _out.WriteInt32(sums.StrongLength);
            _out.WriteInt32(sums.Remainder);

            long started = Stopwatch.GetTimestamp();
            delta.Progress = ctx.Progress is null ? null : ReportTo(ctx.Progress, file.NameString, length);
            if (NamedBeforeProgress)
                ctx.Info(file.NameString);

            int level = _skipCompress?.LevelFor(file.Name.Base, ctx.Algorithms.CompressionLevel) ?? 0;
            DeltaStats result = delta.Send(handle, length, sums, level);
            ctx.Stats.LiteralData += result.LiteralBytes;
            ctx.Stats.MatchedData += result.MatchedBytes;
            if (result.ReadError)
            {
                ctx.IoError |= IoErrorFlags.General;
                ctx.TransferError($"read errors mapping {ctx.Quote(file.LocalPath)}: {Posix.StrError(5)} (5)");
            }
            if (ctx.Options.Progress)
                ctx.Info(ProgressLine(length, Stopwatch.GetElapsedTime(started), ++_transferIndex, ndx));
            if (!NamedBeforeProgress)
                LogItem(file, iflags, hardLinkTarget, result.LiteralBytes);
            ctx.ItemLog?.Item(file, iflags, hardLinkTarget, file.LocalPath);
            file.Flags |= EntryFlags.Sent;
        }
    }

    private static Action<long> ReportTo(IProgress<FileProgress> progress, string name, long length) =>
        done => progress.Report(new FileProgress(name, done, length));

    private static bool ChangedSinceListed(SafeFileHandle handle, FileEntry file) =>
        Confined.StatAt((int)handle.DangerousGetHandle(), ""u8, Confined.AtEmptyPath, out var now) != 0
        || now.Size != file.Size || now.MtimeSeconds != file.ModTime || now.MtimeNanoseconds != file.ModNanoseconds;

    private string ProgressLine(long length, TimeSpan elapsed, int transferNumber, int ndx)
    {
        double seconds = Math.Max(elapsed.TotalSeconds, 0.001);
        double rate = length / seconds;
        string rateText = rate >= 1024 * 1024 * 1024 ? $"{rate / (1024 * 1024 * 1024):0.00}GB/s"
            : rate >= 1024 * 1024 ? $"{rate / (1024 * 1024):0.00}MB/s"
            : $"{rate / 1024:0.00}kB/s";
        var t = TimeSpan.FromSeconds(Math.Floor(elapsed.TotalSeconds));
        var (toCheck, total) = files.Remaining(ndx);
        string which = files.AllSent ? "to" : "ir";
        return $"{length,15:N0} 100% {rateText,10} {(int)t.TotalHours,4}:{t.Minutes:00}:{t.Seconds:00} (xfr#{transferNumber}, {which}-chk={toCheck}/{total})";
    }


    /// <summary>Reads a request, handling the deletion stats that may come first (rsync.c, read_ndx_and_attrs).</summary>
    private int ReadNdxAndAttrs(out ItemFlags iflags, out byte basisType, out byte[]? xname)
    {
        iflags = ItemFlags.None;
        basisType = 0;
        xname = null;
        int ndx;
        while (true)
        {
            ndx = _in.ReadNdx();
            if (ndx >= 0)
                break;
            if (ndx == Ndx.Done)
                return ndx;
            if (ndx == Ndx.DeleteStats)
            {
                ReadDeleteStats();
                continue;
            }
            throw files.Invalid(ndx);
        }
        if (files.Find(ndx) is null)
            throw files.Invalid(ndx);

        iflags = (ItemFlags)_in.ReadShortInt();
        if ((iflags & ItemFlags.BasisTypeFollows) != 0)
            basisType = _in.ReadByte();
        if ((iflags & ItemFlags.XnameFollows) != 0)
            xname = _in.ReadVString(ProtocolLimits.MaxPath);
        if ((iflags & ItemFlags.Transfer) != 0 && (!files.IsListEntry(ndx) || !files[ndx].IsRegular))
            throw new RsyncProtocolException($"received request to transfer non-regular file: {ndx} [sender]");
        return ndx;
    }

    private void ReadDeleteStats()
    {
        var s = ctx.Stats;
        int files = _in.ReadVarInt();
        s.DeletedDirs = _in.ReadVarInt();
        s.DeletedSymlinks = _in.ReadVarInt();
        s.DeletedDevices = _in.ReadVarInt();
        s.DeletedSpecials = _in.ReadVarInt();
        s.DeletedFiles = files + s.DeletedDirs + s.DeletedSymlinks + s.DeletedDevices + s.DeletedSpecials;
    }

    private void WriteNdxAndAttrs(int ndx, ItemFlags iflags, byte basisType, byte[]? xname)
    {
        _out.WriteNdx(ndx);
        _out.WriteShortInt((int)iflags);
        if ((iflags & ItemFlags.BasisTypeFollows) != 0)
            _out.WriteByte(basisType);
        if ((iflags & ItemFlags.XnameFollows) != 0)
            _out.WriteVString(xname ?? []);
    }

    /// <summary>Which untransferred items the client shows (log.c, maybe_log_item).</summary>
    private void MaybeLogItem(FileEntry file, ItemFlags iflags, string xname)
    {
        if (StdoutFormat is null)
            return;
        ItemFlags significant = iflags & ItemFlags.Significant;
        bool seeItem = Itemizing && (significant != 0 || xname.Length > 0 || ctx.Options.ItemizeChanges > 1 || (ctx.Options.Output[InfoFlag.Name] > 1 && Itemizing));
        bool localChange = (iflags & ItemFlags.LocalChange) != 0 && significant != 0;
        if (seeItem || localChange || xname.Length > 0 || (file.IsDirectory && significant != 0))
            LogItem(file, iflags, xname, 0);
    }

    private void LogItem(FileEntry file, ItemFlags iflags, string hardLinkTarget, long bytes)
    {
        string? format = StdoutFormat;
        if (format is null)
            return;
        bool symlinkTimes = (ctx.Compat & CompatFlags.SymlinkTimes) != 0;
        ctx.Info(LogFormat.Format(format, file, iflags, hardLinkTarget, sender: true, ctx.Options.PreserveTimes, symlinkTimes, bytes, LocalCopy));
    }

    /// <summary>The closing handshake; protocol 31 adds one more round (main.c, read_final_goodbye).</summary>
    private void ReadFinalGoodbye()
    {
        int ndx = ReadNdxAndAttrs(out _, out _, out _);
        if (ctx.Protocol >= 31 && ndx == Ndx.Done)
        {
            _out.WriteNdx(Ndx.Done);
            _out.Flush();
            ndx = ReadNdxAndAttrs(out _, out _, out _);
        }
        if (ndx != Ndx.Done)
            throw new RsyncProtocolException($"Invalid packet at end of run ({ndx}) [sender]");
    }
}
