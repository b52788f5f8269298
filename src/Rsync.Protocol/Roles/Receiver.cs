using System.Text;
using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Checksums;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Roles;

/// <summary>
/// The receiver: rebuilds each file from literal data and blocks of its basis into a temporary
/// file beside it, checks the whole-file sum, and renames it into place only when it is right;
/// a mismatch asks the generator for a redo (receiver.c, recv_files and receive_data).
/// </summary>
internal sealed class Receiver(ReceivingSide side)
{
    private readonly RsyncReader _in = side.Ctx.Reader;
    private const int IoWindow = 256 * 1024;

    private readonly byte[] _buffer = new byte[ProtocolLimits.MaxBlockSize];
    // Matched blocks arrive one by one; reading the basis and writing the result in larger pieces
    // keeps the system calls per file small (rsync's map_ptr window and write buffer do the same).
    // Both windows are made for the first file that needs them: a tree of empty or new files never does.
    private byte[]? _basisWindow;
    private long _basisWindowStart;
    private int _basisWindowLength;
    private byte[]? _pendingOutput;
    private long _pendingOffset;
    private int _pendingLength;
    private bool _outputFailed;
    private readonly TokenReceiver _tokens = TokenCodecs.CreateReceiver(side.Ctx);
    private readonly StrongChecksum _sum = side.Ctx.NewStrongChecksum();

    public void Run()
    {
        using var tokens = _tokens as IDisposable;
        using var sum = _sum;
        int phase = 0;
        const int maxPhase = 2;
        var events = side.Events;
        bool incremental = side.Files.Incremental;
        if (incremental)
            side.Ctx.SenderSkipped = ndx => events.Post(new ReceiverEvent(ReceiverEventKind.NoSend, ndx));
        while (true)
        {
            int ndx = ReadNdxAndAttrs(out ItemFlags iflags, out byte[]? xname, out byte basisType);
            if (ndx == Ndx.Done)
            {
                // Under incremental recursion each list the generator finished comes back as one; the
                // last of them also ends the phase (receiver.c, recv_files).
                if (side.Files.Incremental && side.Files.FirstLive(out _) is not null)
                {
                    side.Files.DropFirst();
                    if (side.Files.FirstLive(out _) is not null)
                        continue;
                }
                if (++phase > maxPhase)
                    break;
                events.Post(new ReceiverEvent(ReceiverEventKind.Done, 0));
                continue;
            }
            FileEntry file = side.Files[ndx];
            string hardLink = xname is null ? "" : NameText.FromBytes(xname);
            if ((iflags & ItemFlags.Transfer) == 0)
            {
                side.MaybeLogItem(file, iflags, hardLink);
                if ((iflags & ItemFlags.IsNew) != 0)
                    side.Ctx.Stats.CountCreated(file);
                continue;
            }
            if (phase == 2)
                throw new RsyncProtocolException("got transfer request in phase 2 [receiver]");

            if (phase == 0 && (iflags & ItemFlags.IsNew) != 0)
                side.Ctx.Stats.CreatedFiles++;
            side.Ctx.Stats.TransferredFiles++;
            side.Ctx.Stats.TotalTransferredSize += file.Size;

            if (side.Ctx.Options.DryRun)
            {
                side.LogItem(file, iflags, hardLink);
                continue;
            }

            side.Ctx.MarkItemStart();
            SumHead head = SumHead.Read(_in, Math.Min(StrongChecksum.Md5Length, _sum.Length));
            // A second attempt gets the full sums (receiver.c, recv_files: FLAG_FILE_SENT).
            bool redoing = incremental ? (file.Flags & EntryFlags.Received) != 0 : phase > 0;
            file.Flags |= EntryFlags.Received;
            bool ok = ReceiveFile(ndx, file, head, basisType, xname, out bool discarded);
            if (ok)
            {
                side.LogItem(file, iflags, hardLink);
                // Under incremental recursion the generator counts every file in (receiver.c, recv_files).
                if (side.Ctx.Options.RemoveSourceFiles > 0 || incremental)
                    events.Post(new ReceiverEvent(ReceiverEventKind.Success, ndx));
            }
            else if (!discarded && !redoing)
                events.Post(new ReceiverEvent(ReceiverEventKind.Redo, ndx));
            else
            {
                if (!discarded)
                    side.Ctx.TransferError($"{file.NameString} failed verification -- update discarded.");
                if (incremental)
                    events.Post(new ReceiverEvent(ReceiverEventKind.NoSend, ndx));
            }
        }

        // The sender's totals follow the last phase (main.c, handle_stats).
        if (side.SenderSendsStats)
        {
            // The sender's read and written totals are our written and read ones.
            side.Ctx.Stats.BytesSent = _in.ReadVarLong(3);
            side.Ctx.Stats.BytesReceived = _in.ReadVarLong(3);
            side.Ctx.Stats.TotalSize = _in.ReadVarLong(3);
            side.Ctx.Stats.FileListBuildMilliseconds = _in.ReadVarLong(3);
            side.Ctx.Stats.FileListTransferMilliseconds = _in.ReadVarLong(3);
        }
        events.Post(new ReceiverEvent(ReceiverEventKind.Done, 0));

        if (side.Ctx.Protocol >= 31)
        {
            int last = ReadNdxAndAttrs(out _, out _, out _);
            if (last != Ndx.Done)
                throw new RsyncProtocolException($"Invalid packet at end of run ({last}) [receiver]");
            events.Post(new ReceiverEvent(ReceiverEventKind.Done, 0));
        }
        events.Complete();
    }


    private int ReadNdxAndAttrs(out ItemFlags iflags, out byte[]? xname, out byte basisType)
    {
        iflags = ItemFlags.None;
        xname = null;
        basisType = BasisType.Name;
        int ndx;
        while (true)
        {
            ndx = _in.ReadNdx();
            if (ndx >= 0 || ndx == Ndx.Done)
                break;
            if (ndx == Ndx.DeleteStats)
            {
                for (int i = 0; i < 5; i++)
                    _in.ReadVarInt();
                continue;
            }
            if (!side.Files.Incremental)
                throw new RsyncProtocolException($"Invalid file index: {ndx} [receiver]");
            ReceiveDirectoryList(ndx);
        }
        if (ndx == Ndx.Done)
            return ndx;
        if (side.Files.Find(ndx, out _) is null)
            throw new RsyncProtocolException($"Invalid file index: {ndx} [receiver]");
        iflags = (ItemFlags)_in.ReadShortInt();
        if ((iflags & ItemFlags.BasisTypeFollows) != 0)
            basisType = _in.ReadByte();
        if ((iflags & ItemFlags.XnameFollows) != 0)
            xname = _in.ReadVString(ProtocolLimits.MaxPath);
        CheckBasisType(basisType, xname);
        if ((iflags & ItemFlags.Transfer) != 0 && (side.Files[ndx].Flags & EntryFlags.Inactive) != 0)
            throw new RsyncProtocolException($"received request to transfer a dropped duplicate: {ndx} [receiver]");
        if ((iflags & ItemFlags.Transfer) != 0 && (!side.Files.IsListEntry(ndx) || !side.Files[ndx].IsRegular))
            throw new RsyncProtocolException($"received request to transfer non-regular file: {ndx} [receiver]");
        return ndx;
    }

    /// <summary>A directory's list, sent between files under incremental recursion (rsync.c, read_ndx_and_attrs).</summary>
    private void ReceiveDirectoryList(int ndx)
    {
        if (ndx == Ndx.FileListEof)
        {
            side.Files.EndOfLists();
            side.Events.Post(new ReceiverEvent(ReceiverEventKind.ListArrived, 0));
            return;
        }
        int dirNdx = Ndx.FileListOffset - ndx;
        if (dirNdx < 0 || dirNdx >= side.Files.DirectoryCount)
            throw new RsyncProtocolException($"Invalid dir index: {ndx} ({Ndx.FileListOffset} - {Ndx.FileListOffset - side.Files.DirectoryCount + 1}) [receiver]");
        int start = side.Files.NextStart;
        var (files, ioError) = side.ReadDirectoryList!(start, side.Files.Directory(dirNdx));
        side.Files.Add(files, dirNdx, ioError);
        side.Events.Post(new ReceiverEvent(ReceiverEventKind.ListArrived, 0));
    }

    /// <summary>
    /// The basis a sender names must be one this side offered: the file itself, its partial piece,
    /// or its backup. A fuzzy match or a --compare-dest index we never asked for would make us open
    /// a file the sender chose, and answer whether it matched (receiver.c, recv_files; the class of
    /// CVE-2024-12086).
    /// </summary>
    private void CheckBasisType(byte basisType, byte[]? xname)
    {
        switch (basisType)
        {
            case BasisType.Name or BasisType.Backup:
                return;
            case BasisType.PartialDir when side.Ctx.Options.PartialDir is not null:
                return;
            // Only with --fuzzy, and only a name beside the file: the generator's choice comes back
            // through the sender, which must not redirect it (receiver.c, recv_files).
            case BasisType.Fuzzy when side.Ctx.Options.Fuzzy && xname is { Length: > 0 } near
                && near.AsSpan().IndexOfAny((byte)'/', (byte)0) < 0 && near is not [(byte)'.'] and not [(byte)'.', (byte)'.']:
                return;
            case BasisType.Fuzzy:
                side.Ctx.Error($"rsync: refusing malicious fuzzy operation for {(xname is null ? "" : ReceivingSide.Show(xname))}");
                throw new RsyncProtocolException("refusing malicious fuzzy operation", ExitCodes.Protocol);
            default:
                side.Ctx.Error($"invalid basis_dir index: {basisType}.");
                throw new RsyncProtocolException($"invalid basis_dir index: {basisType}", ExitCodes.Protocol);
        }
    }

    /// <summary>Receives one file's tokens; true when it was verified and put in place.</summary>
    private bool ReceiveFile(int ndx, FileEntry file, SumHead head, byte basisType, byte[]? xname, out bool discarded)
    {
        discarded = false;
        var o = side.Ctx.Options;
        var root = side.Root;
        byte[] name = side.NameOf(file).ToArray();
        Place? partial = side.PartialPlace(file);
        bool basisIsPartial = basisType == BasisType.PartialDir && partial is not null;
        string? problem = root is null ? $"destination \"{side.Destination}\" is missing" : side.CheckParents(file);
        SafeFileHandle? basis = null;
        SafeFileHandle? output = null;
        byte[]? temp = null;
        bool complete = false;
        try
        {
            if (problem is null)
            {
                // The basis is this file or its partial piece, never anything a name from the sender leads to elsewhere.
                var basisPlace = basisIsPartial ? partial!.Value
                    : basisType == BasisType.Fuzzy ? new Place(root!, side.BesideName(file, xname))
                    : new Place(root!, name);
                if (basisPlace.Root.LStat(basisPlace.Name, out var st) == 0 && st.IsRegular && basisPlace.Root.OpenRead(basisPlace.Name, out var opened) == 0)
                    basis = opened;
                if (o.Inplace)
                {
                    // --inplace: the file itself is written; a peer sending to it never refers back to blocks already overwritten.
                    // Its backup, when asked for, is taken first (generator.c, recv_generator: backupptr).
                    if (basis is not null && !side.CopyToBackup(name))
                        problem = $"backup of \"{side.PathOf(file)}\" failed";
                    else
                    {
                        int errno = root!.OpenWrite(name, create: true, out output);
                        if (errno != 0)
                            problem = $"open \"{side.PathOf(file)}\" failed: {Posix.StrError(errno)} ({errno})";
                    }
                }
                else
                    (output, temp, problem) = CreateTempFile(root!, name);
            }
            CurrentPartial = (temp, partial, name, file);

            bool ok = ApplyTokens(file, head, basis, output, out bool writeFailed, out long written);
            complete = true;
            if (output is null || writeFailed)
            {
                side.Ctx.TransferError(problem ?? $"write failed on \"{side.PathOf(file)}\"");
                discarded = true;
                return false;
            }
            if (o.Inplace || o.Sparse)
                RandomAccess.SetLength(output, written);
            output.Dispose();
            output = null;
            if (!ok)
                return false;

            if (o.Inplace)
            {
                side.SetAttributes(name, file, isNew: false);
                return true;
            }
            side.SetAttributes(temp!, file, isNew: true, temporary: true);
            if (side.TwoWay is not null)
            {
                // A local change not yet delivered is not lost to this one; the watchers hear of what appears first.
                switch (side.ResolveIncoming(ndx, file, name, temp!))
                {
                    case IncomingResolution.KeptLocal:
                        temp = null;
                        return true;
                    case IncomingResolution.Failed:
                        discarded = true;
                        return false;
                }
            }
            if (!side.MakeBackup(name))
            {
                discarded = true;
                return false;
            }
            int renameErr = root!.Rename(temp!, name);
            if (renameErr != 0)
            {
                side.Ctx.TransferError($"rename \"{side.Display(temp!)}\" -> \"{side.PathOf(file)}\": {Posix.StrError(renameErr)} ({renameErr})");
                discarded = true;
                return false;
            }
            temp = null;
            if (basisIsPartial)
            {
                var (proot, pname) = partial!.Value;
                side.AnnounceDeleted(pname, proot);
                proot.Unlink(pname);
                // The partial dir goes once it is empty (receiver.c, handle_partial_dir).
                int slash = pname.AsSpan().LastIndexOf((byte)'/');
                if (slash > 0)
                {
                    var partialDir = pname.AsSpan(0, slash);
                    var left = new List<byte[]>();
                    if (side.TwoWay is not null && proot.List(partialDir, left) == 0 && left.Count == 0)
                        side.AnnounceDeleted(partialDir, proot);
                    proot.RemoveDirectory(partialDir);
                }
            }
            return true;
        }
        finally
        {
            basis?.Dispose();
            output?.Dispose();
            if (temp is not null && (complete || !KeepPartial(temp, partial, name)))
                root!.Unlink(temp);
            CurrentPartial = default;
        }
    }

    /// <summary>The file being received, for cleanup when the transfer stops half way.</summary>
    public (byte[]? Temp, Place? Partial, byte[] Name, FileEntry? File) CurrentPartial { get; private set; }

    /// <summary>After a failure part way through a file: keep its piece as --partial asks, else remove it.</summary>
    public void CleanUpInterrupted()
    {
        var (temp, partial, name, _) = CurrentPartial;
        if (temp is not null && side.Root is not null && !KeepPartial(temp, partial, name))
            side.Root.Unlink(temp);
    }

    /// <summary>
    /// On interruption: with --partial the piece received so far replaces the file, with
    /// --partial-dir it is kept there as the next basis (receiver.c, cleanup: handle_partial_dir).
    /// Without either the temporary file goes and the old file stays.
    /// </summary>
    public bool KeepPartial(byte[] temp, Place? partial, byte[] name)
    {
        var o = side.Ctx.Options;
        var root = side.Root;
        if (root is null || !(o.Partial || partial is not null) || root.LStat(temp, out var st) != 0 || st.Size == 0)
            return false;
        var target = partial ?? new Place(root, name);
        // In a two-way module a piece never replaces a local change not yet delivered.
        if (partial is null && side.TwoWay is not null && root.LStat(name, out var local) == 0 && side.AskAbout(name, local) == TwoWay.LocalChange.Pending)
        {
            side.TwoWay.Log($"kept {ReceivingSide.Show(name)}: changed here since the last sync; the interrupted transfer's piece is discarded");
            return false;
        }
        if (partial is not null && ReceivingSide.MakeParents(target.Root, target.Name, side) != 0)
            return false;
        side.AnnounceState(TwoWay.WrittenKind.File, target.Name, st, target.Root);
        return root.Rename(temp, target.Root, target.Name) == 0;
    }

    /// <summary>A new ".NAME.XXXXXX" beside the target, as rsync names them (receiver.c, get_tmpname).</summary>
    private (SafeFileHandle? Handle, byte[]? Name, string? Problem) CreateTempFile(ConfinedRoot root, byte[] name)
    {
        int errno = 0;
        for (int attempt = 0; attempt < 100; attempt++)
        {
            byte[] temp = TemporaryName(name);
            // Private until it is complete; the real mode is set before the rename.
            errno = root.CreateExclusive(temp, 0x180, out var handle);
            if (errno == 0)
                return (handle, temp, null);
            if (errno != Posix.EEXIST)
                return (null, null, $"mkstemp \"{side.Display(temp)}\" failed: {Posix.StrError(errno)} ({errno})");
        }
        return (null, null, $"mkstemp beside \"{side.Display(name)}\" failed: too many attempts");
    }

    /// <summary>
    /// ".NAME.XXXXXX" beside the file, the leaf cut to 240 bytes (receiver.c, get_tmpname). The
    /// suffix needs to be unlikely, not secret: creation is exclusive and retried.
    /// </summary>
    internal static byte[] TemporaryName(ReadOnlySpan<byte> name)
    {
        int slash = name.LastIndexOf((byte)'/');
        var dir = name[..(slash + 1)];
        var leaf = name[(slash + 1)..];
        if (leaf.Length > 240)
            leaf = leaf[..240];
        byte[] temp = new byte[dir.Length + leaf.Length + 8];
        dir.CopyTo(temp);
        temp[dir.Length] = (byte)'.';
        leaf.CopyTo(temp.AsSpan(dir.Length + 1));
        temp[dir.Length + 1 + leaf.Length] = (byte)'.';
        uint random = (uint)Random.Shared.Next(1 << 24);
        for (int i = temp.Length - 1; i >= temp.Length - 6; i--, random >>= 4)
            temp[i] = (byte)"0123456789ABCDEF"[(int)(random & 0xF)];
        return temp;
    }

    /// <summary>Reads tokens until the end marker, then the sender's sum (receiver.c, receive_data).</summary>
    private bool ApplyTokens(FileEntry file, SumHead head, SafeFileHandle? basis, SafeFileHandle? output, out bool writeFailed, out long written)
    {
        long offset = 0;
        _basisWindowLength = 0;
        _pendingLength = 0;
        _outputFailed = false;
        while (true)
        {
            int token = _tokens.Next(out ReadOnlySpan<byte> literal);
            if (token == 0)
                break;
            if (token > 0)
            {
                _sum.FileUpdate(literal);
                side.Ctx.Stats.LiteralData += literal.Length;
                Write(output, literal, offset);
                offset += literal.Length;
                continue;
            }
            int block = -(token + 1);
            if (block >= head.Count)
                throw new RsyncProtocolException($"invalid block index {block} of {head.Count} [receiver]");
            long basisOffset = (long)block * head.BlockLength;
            int length = block == head.Count - 1 && head.Remainder != 0 ? head.Remainder : head.BlockLength;
            ReadOnlySpan<byte> data = basis is null ? default : ReadBasis(basis, basisOffset, length);
            if (data.Length < length)
            {
                // A basis that changed under us: zeros keep the stream in step; the sum check catches it.
                var padded = _buffer.AsSpan(0, length);
                data.CopyTo(padded);
                padded[data.Length..].Clear();
                data = padded;
            }
            _tokens.SeeMatched(data);
            _sum.FileUpdate(data);
            side.Ctx.Stats.MatchedData += length;
            Write(output, data, offset);
            offset += length;
        }
        FlushOutput(output);
        writeFailed = output is null || _outputFailed;
        written = offset;
        Span<byte> expected = stackalloc byte[ChecksumKinds.MaxLength];
        expected = expected[.._sum.Length];
        _in.ReadBytes(expected);
        Span<byte> actual = stackalloc byte[ChecksumKinds.MaxLength];
        actual = actual[.._sum.Length];
        _sum.FileFinish(actual);
        return actual.SequenceEqual(expected);
    }

    private void Write(SafeFileHandle? output, ReadOnlySpan<byte> data, long offset)
    {
        if (output is null || _outputFailed)
            return;
        // -S: runs of zeros become holes; the final length is set after the last token.
        if (side.Ctx.Options.Sparse && !side.Ctx.Options.Inplace)
        {
            if (data.IndexOfAnyExcept((byte)0) < 0)
                return;
            WriteNow(output, data, offset);
            return;
        }
        if (_pendingLength > 0 && (_pendingOffset + _pendingLength != offset || _pendingLength + data.Length > IoWindow))
            FlushOutput(output);
        if (data.Length >= IoWindow)
        {
            WriteNow(output, data, offset);
            return;
        }
        if (_pendingLength == 0)
            _pendingOffset = offset;
        data.CopyTo((_pendingOutput ??= new byte[IoWindow]).AsSpan(_pendingLength));
        _pendingLength += data.Length;
    }

    private void FlushOutput(SafeFileHandle? output)
    {
        if (output is not null && _pendingLength > 0 && !_outputFailed)
            WriteNow(output, _pendingOutput!.AsSpan(0, _pendingLength), _pendingOffset);
        _pendingLength = 0;
    }

    private void WriteNow(SafeFileHandle output, ReadOnlySpan<byte> data, long offset)
    {
        try
        {
            RandomAccess.Write(output, data, offset);
        }
        catch (IOException ex)
        {
            // The rest of the file's tokens are still read, so the stream stays in step; the file is discarded.
            _outputFailed = true;
            side.Ctx.TransferError($"write failed: {ex.Message}");
        }
    }

    /// <summary>
    /// A block of the basis, straight out of a window read ahead of it (shorter when the basis
    /// ends early). With --inplace the basis is the file being written, so it is read directly.
    /// </summary>
    private ReadOnlySpan<byte> ReadBasis(SafeFileHandle basis, long offset, int length)
    {
        if (side.Ctx.Options.Inplace)
            return _buffer.AsSpan(0, ReadFully(basis, _buffer.AsSpan(0, length), offset));
        if (offset < _basisWindowStart || offset + length > _basisWindowStart + _basisWindowLength)
        {
            _basisWindowStart = offset;
            _basisWindowLength = ReadFully(basis, _basisWindow ??= new byte[IoWindow], offset);
        }
        int available = (int)Math.Clamp(_basisWindowStart + _basisWindowLength - offset, 0, length);
        return available == 0 ? default : _basisWindow!.AsSpan((int)(offset - _basisWindowStart), available);
    }

    private static int ReadFully(SafeFileHandle handle, Span<byte> into, long offset)
    {
        int total = 0;
        while (total < into.Length)
        {
            int n = RandomAccess.Read(handle, into[total..], offset + total);
            if (n <= 0)
                break;
            total += n;
        }
        return total;
    }
}
