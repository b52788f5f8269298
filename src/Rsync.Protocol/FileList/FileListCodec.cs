using NetRsync.Protocol.Native;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.FileList;

/// <summary>What the file list carries, fixed by the options both sides agreed on.</summary>
public readonly record struct FileListSettings(
    int Protocol,
    bool PreserveUid,
    bool PreserveGid,
    bool PreserveLinks,
    bool PreserveDevices,
    bool PreserveSpecials,
    bool PreserveHardLinks,
    bool AlwaysChecksum,
    bool NumericIds,
    bool SafeFileList,
    bool LookUpIdNames = true)
{
    /// <summary>Flags as varints and a varint end marker (flist.c, CF_VARINT_FLIST_FLAGS).</summary>
    public bool VarintFlags { get; init; }

    /// <summary>Length of a --checksum digest: the negotiated file checksum's.</summary>
    public int ChecksumLength { get; init; } = 16;

    /// <summary>Most entries (and owner or group names) a received list may have; 0 for no limit.</summary>
    public int MaxEntries { get; init; }

    /// <summary>Most bytes of names and link targets a received list may carry; 0 for no limit.</summary>
    public long MaxNameBytes { get; init; }

    /// <summary>--iconv: the local charset names are converted from and to; the wire carries UTF-8. Null for none.</summary>
    public NameCharset? Iconv { get; init; }

    /// <summary>Symlink targets are converted as well (compat.c, sender_symlink_iconv).</summary>
    public bool SymlinkIconv { get; init; }

    /// <summary>Reports a name that cannot be converted (the message, and whether it is a per-file
    /// error, FERROR_XFER) and notes the I/O error; needed when <see cref="Iconv"/> is set.</summary>
    public Action<string, bool>? ConversionFailed { get; init; }

    /// <summary>How a path is shown in a message (util.c, full_fname).</summary>
    public Func<string, string>? QuotePath { get; init; }

    /// <summary>Lists go one directory at a time (CF_INC_RECURSE): owner and group names travel inside
    /// the entries, and a hard link may point into a list sent earlier (flist.c, send_file_entry).</summary>
    public bool IncrementalRecursion { get; init; }
}

/// <summary>
/// Encodes entries as rsync's send_file_entry does (flist.c) for protocols 30 and 31. The state
/// (previous name, mode, time, owner) is part of the encoding: both sides must see every entry.
/// </summary>
internal sealed class FileListEncoder(RsyncWriter writer, FileListSettings settings)
{
    private readonly byte[] _lastName = new byte[ProtocolLimits.MaxPath];
    private int _lastNameLength;
    private byte[]? _joinedName;
    private int _mode;
    private long _modTime;
    private int _uid;
    private int _gid;
    private int _rdevMajor;
    private long _rdev;
    private readonly Dictionary<(long Dev, long Ino), int> _hardLinks = [];
    private readonly List<(int Id, byte[] Name)> _users = [];
    private readonly List<(int Id, byte[] Name)> _groups = [];
    private readonly HashSet<int> _seenUsers = [];
    private readonly HashSet<int> _seenGroups = [];

    public long TotalSize { get; private set; }

    /// <param name="ndx">The entry's index on the wire.</param>
    /// <param name="listStart">The first index of the list the entry is in: a hard link to an entry
    /// before it is sent whole, as the receiver may have let that list go (flist.c, send_file_entry).</param>
    public void Write(FileEntry file, int ndx, int listStart = 0)
    {
        int mode = file.Mode;
        XmitFlags x;
        if (file.IsDirectory)
        {
            x = (file.Flags & EntryFlags.ContentDir) != 0 ? ((file.Flags & EntryFlags.TopDir) != 0 ? XmitFlags.TopDir : XmitFlags.None)
                : (file.Flags & EntryFlags.ImpliedDir) != 0 ? XmitFlags.TopDir | XmitFlags.NoContentDir
                : XmitFlags.NoContentDir;
        }
        else
            x = XmitFlags.None;

        if (mode == _mode)
            x |= XmitFlags.SameMode;
        else
            _mode = mode;

        bool sendRdev = false;
        if (settings.PreserveDevices && Posix.IsDevice(mode))
        {
            _rdev = file.Rdev;
            int major = Posix.Major(_rdev);
            if (major == _rdevMajor)
                x |= XmitFlags.SameRdevMajor;
            else
                _rdevMajor = major;
            sendRdev = true;
        }
        else if (settings.PreserveSpecials && Posix.IsSpecial(mode) && settings.Protocol < 31)
        {
            // Specials carry a dummy rdev before protocol 31 (flist.c, send_file_entry).
            _rdev = Posix.MakeDev(Posix.Major(_rdev), 0);
            x |= XmitFlags.SameRdevMajor;
            sendRdev = true;
        }

        byte[]? userName = null;
        byte[]? groupName = null;
        if (!settings.PreserveUid || (file.Uid == _uid && _lastNameLength > 0))
            x |= XmitFlags.SameUid;
        else
        {
            _uid = file.Uid;
            if (!settings.NumericIds && settings.LookUpIdNames)
                userName = NoteId(file.Uid, _seenUsers, _users, Posix.UserName);
            if (userName is not null && settings.IncrementalRecursion)
                x |= XmitFlags.UserNameFollows;
        }
        if (!settings.PreserveGid || (file.Gid == _gid && _lastNameLength > 0))
            x |= XmitFlags.SameGid;
        else
        {
            _gid = file.Gid;
            if (!settings.NumericIds && settings.LookUpIdNames)
                groupName = NoteId(file.Gid, _seenGroups, _groups, Posix.GroupName);
            if (groupName is not null && settings.IncrementalRecursion)
                x |= XmitFlags.GroupNameFollows;
        }

        if (file.ModTime == _modTime)
            x |= XmitFlags.SameTime;
        else
            _modTime = file.ModTime;
        if (file.ModNanoseconds != 0 && settings.Protocol >= 31)
            x |= XmitFlags.ModNsec;

        int firstHardLink = -1;
        if (settings.PreserveHardLinks && (file.Flags & EntryFlags.HardLinked) != 0)
        {
            if (_hardLinks.TryGetValue((file.Device, file.Inode), out int first))
                firstHardLink = first;
            else
            {
                _hardLinks[(file.Device, file.Inode)] = ndx;
                x |= XmitFlags.HardLinkFirst;
            }
            x |= XmitFlags.HardLinked;
        }

        ReadOnlySpan<byte> name = file.Name.Joined(ref _joinedName);
        byte[]? target = settings.PreserveLinks && file.IsSymlink ? file.LinkTarget ?? [] : null;
        if (settings.Iconv is { } iconv)
        {
            // The list was cleared of what cannot be converted (DropUnconvertible) before any index was given.
            if (!iconv.TryToWire(name.ToArray(), out byte[] wireName, out _) || (target is not null && settings.SymlinkIconv && !iconv.TryToWire(target, out target, out _)))
                throw new InvalidOperationException("a name that cannot be converted reached the file-list encoder");
            name = wireName;
        }
        int same = 0;
        int limit = Math.Min(Math.Min(_lastNameLength, name.Length), 255);
        while (same < limit && name[same] == _lastName[same])
            same++;
        int rest = name.Length - same;
        if (same > 0)
            x |= XmitFlags.SameName;
        if (rest > 255)
            x |= XmitFlags.LongName;

        // A zero first byte would end the list, so a harmless bit is added (flist.c, send_file_entry).
        if (settings.VarintFlags)
            writer.WriteVarInt(x == XmitFlags.None ? (int)XmitFlags.ExtendedFlags : (int)x);
        else if (x == XmitFlags.None && !file.IsDirectory)
        {
            x |= XmitFlags.TopDir;
            writer.WriteByte((byte)x);
        }
        else if (((int)x & 0xFF00) != 0 || x == XmitFlags.None)
        {
            x |= XmitFlags.ExtendedFlags;
            writer.WriteShortInt((int)x);
        }
        else
            writer.WriteByte((byte)x);

        if ((x & XmitFlags.SameName) != 0)
            writer.WriteByte((byte)same);
        if ((x & XmitFlags.LongName) != 0)
            writer.WriteVarInt(rest);
        else
            writer.WriteByte((byte)rest);
        writer.WriteBytes(name[same..]);
        name.CopyTo(_lastName);
        _lastNameLength = name.Length;

        if (file.IsRegular || file.IsSymlink)
            TotalSize += file.Size;

        if (firstHardLink >= 0)
        {
            writer.WriteVarInt(firstHardLink);
            if (firstHardLink >= listStart)
                return;
        }

        writer.WriteVarLong(file.Size, 3);
        if ((x & XmitFlags.SameTime) == 0)
            writer.WriteVarLong(file.ModTime, 4);
        if ((x & XmitFlags.ModNsec) != 0)
            writer.WriteVarInt(file.ModNanoseconds);
        if ((x & XmitFlags.SameMode) == 0)
            writer.WriteInt32(mode);
        if (settings.PreserveUid && (x & XmitFlags.SameUid) == 0)
        {
            writer.WriteVarInt(file.Uid);
            if ((x & XmitFlags.UserNameFollows) != 0)
                WriteIdName(userName!);
        }
        if (settings.PreserveGid && (x & XmitFlags.SameGid) == 0)
        {
            writer.WriteVarInt(file.Gid);
            if ((x & XmitFlags.GroupNameFollows) != 0)
                WriteIdName(groupName!);
        }
        if (sendRdev)
        {
            if ((x & XmitFlags.SameRdevMajor) == 0)
                writer.WriteVarInt(Posix.Major(_rdev));
            writer.WriteVarInt(Posix.Minor(_rdev));
        }
        if (target is not null)
        {
            writer.WriteVarInt(target.Length);
            writer.WriteBytes(target);
        }
        if (settings.AlwaysChecksum && file.IsRegular)
        {
            if (file.Checksum is { } sum && sum.Length == settings.ChecksumLength)
                writer.WriteBytes(sum);
            else
                writer.WriteBytes(new byte[settings.ChecksumLength]);
        }
    }

    /// <summary>
    /// Under --iconv, leaves out every entry whose name (or, with symlink conversion, link target)
    /// has no UTF-8 form, with rsync's message and io_error, and everything beneath a directory left
    /// out (flist.c, send_file_entry fails before the entry joins the list, so it is never recursed).
    /// Must run before entries get their indexes. Returns the list itself when nothing is left out.
    /// </summary>
    public static List<FileEntry> DropUnconvertible(List<FileEntry> files, FileListSettings settings)
    {
        if (settings.Iconv is not { } iconv)
            return files;
        List<FileEntry>? kept = null;
        HashSet<string>? droppedDirs = null;
        for (int i = 0; i < files.Count; i++)
        {
            FileEntry file = files[i];
            string? failure = null;
            if (droppedDirs is not null && droppedDirs.Contains(Key(file.Name.Directory)))
                failure = "";
            else if (!iconv.TryToWire(file.Name.ToArray(), out _, out string? error))
                failure = $"[sender] cannot convert filename: {file.NameString} ({error})";
            else if (settings.SymlinkIconv && settings.PreserveLinks && file.IsSymlink && file.LinkTarget is { } target
                && !iconv.TryToWire(target, out _, out error))
            {
                string path = file.LocalPath;
                failure = $"[sender] cannot convert symlink data for: {settings.QuotePath?.Invoke(path) ?? path} ({error})";
            }
            if (failure is null)
            {
                kept?.Add(file);
                continue;
            }
            if (kept is null)
            {
                kept = new List<FileEntry>(files.Count);
                for (int j = 0; j < i; j++)
                    kept.Add(files[j]);
            }
            if (file.IsDirectory)
                (droppedDirs ??= new HashSet<string>(StringComparer.Ordinal)).Add(Key(file.Name.ToArray()));
            if (failure.Length > 0)
                settings.ConversionFailed?.Invoke(failure, true);
        }
        return kept ?? files;
    }

    // Names as exact byte keys for a set (Latin-1 maps each byte to one char).
    private static string Key(ReadOnlySpan<byte> name) => System.Text.Encoding.Latin1.GetString(name);

    /// <summary>Ends the list, then sends the id-to-name maps, which under incremental recursion
    /// went out inside the entries (flist.c, send_file_list; uidlist.c, send_id_list).</summary>
    public void WriteEnd(IoErrorFlags ioError, bool ignoreErrors)
    {
        WriteEndMarker(ioError != IoErrorFlags.None && !ignoreErrors && (settings.SafeFileList || settings.Protocol >= 31) ? ioError : IoErrorFlags.None);
        if (!settings.NumericIds && !settings.IncrementalRecursion)
        {
            if (settings.PreserveUid)
                WriteIdList(_users);
            if (settings.PreserveGid)
                WriteIdList(_groups);
        }
    }

    /// <summary>The end of one list, carrying the error bits when there are any to send (flist.c, write_end_of_flist).</summary>
    public void WriteEndMarker(IoErrorFlags ioError)
    {
        if (settings.VarintFlags)
        {
            writer.WriteVarInt(0);
            writer.WriteVarInt((int)ioError);
        }
        else if (ioError == IoErrorFlags.None)
            writer.WriteByte(0);
        else
        {
            writer.WriteShortInt((int)(XmitFlags.ExtendedFlags | XmitFlags.IoErrorEndList));
            writer.WriteVarInt((int)ioError);
        }
    }

    private void WriteIdName(byte[] name)
    {
        writer.WriteByte((byte)name.Length);
        writer.WriteBytes(name);
    }

    private void WriteIdList(List<(int Id, byte[] Name)> list)
    {
        foreach (var (id, name) in list)
        {
            writer.WriteVarInt(id);
            writer.WriteByte((byte)name.Length);
            writer.WriteBytes(name);
        }
        writer.WriteVarInt(0);
    }

    /// <summary>The id's name the first time it is seen, else null (uidlist.c, add_uid).</summary>
    private byte[]? NoteId(int id, HashSet<int> seen, List<(int, byte[])> list, Func<int, string?> lookup)
    {
        // Root is never mapped by name.
        if (id == 0 || !seen.Add(id))
            return null;
        string? name = lookup(id);
        if (name is null)
            return null;
        byte[] bytes = Posix.Utf8(name);
        if (bytes.Length > 255)
            return null;
        // Under incremental recursion the name went with the entry; no list is sent at the end.
        if (!settings.IncrementalRecursion)
            list.Add((id, bytes));
        return bytes;
    }
}

/// <summary>Decodes what <see cref="FileListEncoder"/> writes (flist.c, recv_file_entry).</summary>
internal sealed class FileListDecoder(RsyncReader reader, FileListSettings settings)
{
    private readonly byte[] _lastName = new byte[ProtocolLimits.MaxPath];
    private int _lastNameLength;
    private int _mode;
    private long _modTime;
    private int _uid;
    private int _gid;
    private int _rdevMajor;

    public List<FileEntry> Entries { get; } = [];
    public Dictionary<int, string> UserNames { get; } = [];
    public Dictionary<int, string> GroupNames { get; } = [];
    public IoErrorFlags IoError { get; private set; }

    private long _nameBytes;
    private int _idNames;

    /// <summary>Reads entries up to the end marker, then the id maps (which under incremental
    /// recursion came inside the entries).</summary>
    public void ReadAll()
    {
        ReadEntries(Entries, settings.IncrementalRecursion ? 1 : 0);
        if (!settings.NumericIds && !settings.IncrementalRecursion)
        {
            if (settings.PreserveUid)
                ReadIdList(UserNames);
            if (settings.PreserveGid)
                ReadIdList(GroupNames);
        }
    }

    /// <summary>One directory's list under incremental recursion, its first index <paramref name="ndxStart"/>
    /// (flist.c, recv_file_list). The error bits it ends with are added to <see cref="IoError"/>.</summary>
    public List<FileEntry> ReadList(int ndxStart)
    {
        // Each list is bounded on its own; what lists in flight hold together is the receiving side's to bound.
        _nameBytes = 0;
        var scratch = _readScratch ?? [];
        _readScratch = null;
        ReadEntries(scratch, ndxStart, trim: false);
        // Read into a list kept for the next one, then copied at its size: a list of a directory's
        // entries grown by doubling would leave twice its size behind, a million times over.
        var entries = new List<FileEntry>(scratch.Count);
        entries.AddRange(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(scratch));
        scratch.Clear();
        if (scratch.Capacity <= MaxKeptScratch)
            _readScratch = scratch;
        return entries;
    }

    // A huge directory's scratch list is not kept for the rest of the connection.
    private const int MaxKeptScratch = 4096;
    private List<FileEntry>? _readScratch;

    private List<FileEntry> _current = [];
    private int _currentStart;
    private FileEntryArena _arena = new();
    // Directories outlive their lists (the receiving side keeps them to the end, as rsync's
    // dir_flist does), so under incremental recursion they share an arena of their own.
    private readonly FileEntryArena _directories = new();

    private FileEntryArena ArenaFor(int mode) => settings.IncrementalRecursion && (mode & Posix.S_IFMT) == Posix.S_IFDIR ? _directories : _arena;

    private void ReadEntries(List<FileEntry> entries, int ndxStart, bool trim = true)
    {
        _current = entries;
        _currentStart = ndxStart;
        // Each list's files in an arena of their own, dropped with the list.
        _arena = new FileEntryArena();
        ReadUntilEnd(entries);
        _arena.Seal();
        if (trim && entries.Capacity - entries.Count > 16)
            entries.Capacity = entries.Count;
    }

    private void ReadUntilEnd(List<FileEntry> entries)
    {
        while (true)
        {
            if (settings.VarintFlags)
            {
                int varFlags = reader.ReadVarInt();
                if (varFlags == 0)
                {
                    IoError |= (IoErrorFlags)reader.ReadVarInt();
                    break;
                }
                CheckEntryCount();
                entries.Add(ReadEntry((XmitFlags)varFlags));
                continue;
            }
            int flags = reader.ReadByte();
            if (flags == 0)
                break;
            if ((flags & (int)XmitFlags.ExtendedFlags) != 0)
                flags |= reader.ReadByte() << 8;
            if (flags == (int)(XmitFlags.ExtendedFlags | XmitFlags.IoErrorEndList))
            {
                if (!(settings.SafeFileList || settings.Protocol >= 31))
                    throw new RsyncProtocolException("Invalid flist flag: " + flags);
                IoError |= (IoErrorFlags)reader.ReadVarInt();
                break;
            }
            CheckEntryCount();
            entries.Add(ReadEntry((XmitFlags)flags));
        }
    }

    // A peer's list is held whole in memory: its size is bounded by what the settings allow.
    private void CheckEntryCount()
    {
        if (settings.MaxEntries > 0 && _current.Count >= settings.MaxEntries)
            throw new RsyncProtocolException($"the file list has more than {settings.MaxEntries} entries, more than this side accepts", ExitCodes.Malloc);
    }

    private void CountNameBytes(int length)
    {
        _nameBytes += length;
        if (settings.MaxNameBytes > 0 && _nameBytes > settings.MaxNameBytes)
            throw new RsyncProtocolException($"the file list's names take more than {settings.MaxNameBytes} bytes, more than this side accepts", ExitCodes.Malloc);
    }

    private FileEntry ReadEntry(XmitFlags x)
    {
        int same = (x & XmitFlags.SameName) != 0 ? reader.ReadByte() : 0;
        int rest = (x & XmitFlags.LongName) != 0 ? reader.ReadVarInt() : reader.ReadByte();
        // Compared without adding, so a huge varint cannot wrap the sum (flist.c, recv_file_entry).
        if (same > _lastNameLength || rest < 0 || rest >= ProtocolLimits.MaxPath - same)
            throw new RsyncProtocolException($"overflow: xflags=0x{(int)x:x} l1={same} l2={rest} lastname={_lastNameLength}");
        CountNameBytes(same + rest);
        reader.ReadBytes(_lastName.AsSpan(same, rest));
        _lastNameLength = same + rest;
        ReadOnlySpan<byte> name = _lastName.AsSpan(0, _lastNameLength);
        // The next entry shares bytes with this one as sent, so conversion comes after (flist.c, recv_file_entry).
        bool unconvertible = false;
        if (settings.Iconv is { } iconv)
        {
            if (iconv.TryFromWire(name.ToArray(), out byte[] local, out string? error))
                name = local;
            else
            {
                // Kept in the list, so that indexes still match the sender's, but never acted on.
                unconvertible = true;
                settings.ConversionFailed?.Invoke($"[Receiver] cannot convert filename: {NameText.FromBytes(name)} ({error})", false);
            }
        }

        int groupLeader = -1;
        if ((x & XmitFlags.HardLinked) != 0 && (x & XmitFlags.HardLinkFirst) == 0)
        {
            int first = reader.ReadVarInt();
            if (first < 0 || first >= _currentStart + _current.Count)
                throw new RsyncProtocolException($"hard-link reference {first} is not in 0 - {_currentStart + _current.Count - 1}");
            // A leader in an earlier list may be gone: the sender repeats everything (flist.c, recv_file_entry).
            groupLeader = first;
        }
        if (groupLeader >= _currentStart)
        {
            int first = groupLeader;
            FileEntry leader = _current[first - _currentStart];
            // A follower repeats its leader; the sender's running state moved with it (flist.c, recv_file_entry).
            _mode = leader.Mode;
            _modTime = leader.ModTime;
            _uid = leader.Uid;
            _gid = leader.Gid;
            if (settings.PreserveDevices && leader.IsDevice)
                _rdevMajor = Posix.Major(leader.Rdev);
            var follower = ArenaFor(leader.Mode).Add(name, leader.Mode, leader.Size, leader.ModTime);
            follower.ModNanoseconds = leader.ModNanoseconds;
            follower.Uid = leader.Uid;
            follower.Gid = leader.Gid;
            follower.Rdev = leader.Rdev;
            follower.LinkTarget = leader.LinkTarget;
            follower.Checksum = leader.Checksum;
            follower.HardLinkIndex = first;
            follower.Flags = EntryFlags.HardLinkFollower | (unconvertible ? EntryFlags.Inactive : 0);
            return follower;
        }

        long size = reader.ReadVarLong(3);
        if ((x & XmitFlags.SameTime) == 0)
            _modTime = reader.ReadVarLong(4);
        int nsec = (x & XmitFlags.ModNsec) != 0 ? reader.ReadVarInt() : 0;
        if ((x & XmitFlags.SameMode) == 0)
            _mode = reader.ReadInt32();
        if (settings.PreserveUid && (x & XmitFlags.SameUid) == 0)
        {
            _uid = reader.ReadVarInt();
            if ((x & XmitFlags.UserNameFollows) != 0)
                ReadIdName(UserNames, _uid);
        }
        if (settings.PreserveGid && (x & XmitFlags.SameGid) == 0)
        {
            _gid = reader.ReadVarInt();
            if ((x & XmitFlags.GroupNameFollows) != 0)
                ReadIdName(GroupNames, _gid);
        }

        var file = ArenaFor(_mode).Add(name, _mode, size, _modTime);
        file.ModNanoseconds = nsec;
        file.Uid = _uid;
        file.Gid = _gid;
        if (unconvertible)
            file.Flags |= EntryFlags.Inactive;
        if (groupLeader >= 0)
        {
            file.HardLinkIndex = groupLeader;
            file.Flags |= EntryFlags.HardLinkFollower;
        }
        else if ((x & XmitFlags.HardLinked) != 0)
        {
            // Its own index as sent names the group, as followers name it (hlink.c, F_HL_GNUM).
            file.HardLinkIndex = _currentStart + _current.Count;
            file.Flags |= EntryFlags.HardLinkFirst;
        }
        if (file.IsDirectory)
        {
            bool top = (x & XmitFlags.TopDir) != 0;
            bool noContent = (x & XmitFlags.NoContentDir) != 0;
            if (top && noContent)
                file.Flags |= EntryFlags.ImpliedDir;
            else if (top)
                file.Flags |= EntryFlags.TopDir;
            if (!noContent)
                file.Flags |= EntryFlags.ContentDir;
        }

        if ((settings.PreserveDevices && Posix.IsDevice(_mode)) || (settings.PreserveSpecials && Posix.IsSpecial(_mode) && settings.Protocol < 31))
        {
            if ((x & XmitFlags.SameRdevMajor) == 0)
                _rdevMajor = reader.ReadVarInt();
            int minor = reader.ReadVarInt();
            file.Rdev = Posix.MakeDev(_rdevMajor, minor);
        }
        if (settings.PreserveLinks && file.IsSymlink)
        {
            int len = reader.ReadVarInt();
            if (len < 0 || len >= ProtocolLimits.MaxPath)
                throw new RsyncProtocolException($"invalid symlink length {len}");
            CountNameBytes(len);
            file.LinkTarget = reader.ReadBytes(len);
            if (settings.SymlinkIconv && settings.Iconv is { } linkIconv && !unconvertible)
            {
                if (linkIconv.TryFromWire(file.LinkTarget, out byte[] local, out string? error))
                    file.LinkTarget = local;
                else
                {
                    file.Flags |= EntryFlags.Inactive;
                    string path = file.NameString;
                    settings.ConversionFailed?.Invoke($"[Receiver] cannot convert symlink data for: {settings.QuotePath?.Invoke(path) ?? path} ({error})", true);
                }
            }
        }
        if (settings.AlwaysChecksum && file.IsRegular)
            file.Checksum = reader.ReadBytes(settings.ChecksumLength);
        return file;
    }

    /// <summary>An owner or group name sent with its first entry under incremental recursion (flist.c, recv_file_entry).</summary>
    private void ReadIdName(Dictionary<int, string> names, int id)
    {
        if (settings.MaxEntries > 0 && ++_idNames > settings.MaxEntries)
            throw new RsyncProtocolException($"the file list names more than {settings.MaxEntries} owners and groups, more than this side accepts", ExitCodes.Malloc);
        int len = reader.ReadByte();
        CountNameBytes(len);
        string name = System.Text.Encoding.UTF8.GetString(reader.ReadBytes(len));
        // The receiving side looks names up from another thread as lists arrive.
        lock (names)
            names[id] = name;
    }

    private void ReadIdList(Dictionary<int, string> names)
    {
        while (true)
        {
            int id = reader.ReadVarInt();
            if (id == 0)
                return;
            if (settings.MaxEntries > 0 && ++_idNames > settings.MaxEntries)
                throw new RsyncProtocolException($"the file list names more than {settings.MaxEntries} owners and groups, more than this side accepts", ExitCodes.Malloc);
            int len = reader.ReadByte();
            CountNameBytes(len);
            names[id] = System.Text.Encoding.UTF8.GetString(reader.ReadBytes(len));
        }
    }
}
