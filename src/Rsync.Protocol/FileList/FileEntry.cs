using NetRsync.Protocol.Native;
using NetRsync.Protocol.Text;

namespace NetRsync.Protocol.FileList;

[Flags]
public enum EntryFlags : ushort
{
    None = 0,
    /// <summary>Named on the command line (rsync.h, FLAG_TOP_DIR).</summary>
    TopDir = 1 << 0,
    /// <summary>A directory whose content is in the list (rsync.h, FLAG_CONTENT_DIR).</summary>
    ContentDir = 1 << 1,
    /// <summary>A parent sent only so --relative paths have somewhere to live (rsync.h, FLAG_IMPLIED_DIR).</summary>
    ImpliedDir = 1 << 2,
    /// <summary>Hard-linked to an earlier entry, whose index is in <see cref="FileEntry.HardLinkIndex"/>.</summary>
    HardLinkFollower = 1 << 3,
    /// <summary>The first of a hard-link group (rsync.h, XMIT_HLINK_FIRST).</summary>
    HardLinkFirst = 1 << 4,
    Sent = 1 << 5,
    /// <summary>A non-directory with more than one link, sent with -H.</summary>
    HardLinked = 1 << 6,
    /// <summary>The receiving side made this directory before the generator saw it (rsync.h, FLAG_DIR_CREATED).</summary>
    DirCreated = 1 << 7,
    /// <summary>A duplicate name the receiver dropped from the list (flist.c, flist_sort_and_clean: clear_file).</summary>
    Inactive = 1 << 8,
    /// <summary>The receiver has had one go at this file; the next is a redo (rsync.h, FLAG_FILE_SENT on the receiver).</summary>
    Received = 1 << 9,
    /// <summary>The receiver has this directory's own list, under incremental recursion (flist.c, recv_file_list: a second is refused).</summary>
    ContentsListed = 1 << 10,
}

/// <summary>
/// One file-list entry: a slot in the <see cref="FileEntryArena"/> of the list that holds it, not
/// an object of its own. The file list is where rsync's memory goes, so an entry costs a small
/// record, its name's bytes and the handle a list keeps.
/// </summary>
public readonly struct FileEntry : IEquatable<FileEntry>
{
    private readonly EntryChunk _chunk;
    private readonly int _slot;

    internal FileEntry(EntryChunk chunk, int slot)
    {
        _chunk = chunk;
        _slot = slot;
    }

    /// <summary>A lone entry in an arena of its own; lists add theirs to one <see cref="FileEntryArena"/>.</summary>
    public FileEntry(ReadOnlySpan<byte> name, int mode, long size, long modTime) =>
        this = new FileEntryArena().Add(name, mode, size, modTime);

    private ref EntryRecord Record => ref _chunk.Records[_slot];

    /// <summary>The path relative to the transfer root ("dir/name" or "."), in its directory and base parts.</summary>
    public EntryName Name
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get
        {
            ref var r = ref Record;
            var names = _chunk.Names;
            var baseName = names.AsSpan(r.NameOffset, r.NameLength);
            if (r.Directory == 0)
                return new EntryName([], baseName);
            var (offset, length) = _chunk.Directories[r.Directory - 1];
            return new EntryName(names.AsSpan(offset, length), baseName);
        }
    }

    /// <summary>Whether two entries' names are in the same directory, by where it is kept: true only when they share its bytes.</summary>
    internal static bool ShareDirectory(FileEntry a, FileEntry b) =>
        ReferenceEquals(a._chunk, b._chunk) && a.Record.Directory == b.Record.Directory;

    public int Mode { get => Record.Mode; set => Record.Mode = value; }
    public long Size { get => Record.Size; set => Record.Size = value; }
    public long ModTime { get => Record.ModTime; set => Record.ModTime = value; }
    public int ModNanoseconds { get => Record.ModNanoseconds; set => Record.ModNanoseconds = value; }
    public int Uid { get => Record.Uid; set => Record.Uid = value; }
    public int Gid { get => Record.Gid; set => Record.Gid = value; }
    public EntryFlags Flags { get => Record.Flags; set => Record.Flags = value; }

    /// <summary>Sender only: which source root the name is relative to (shared by every entry under it).</summary>
    public string? Root
    {
        get => Record.Root == 0 ? null : _chunk.Arena.RootAt(Record.Root);
        set => Record.Root = value is null ? (ushort)0 : _chunk.Arena.RootNumber(value);
    }

    private RareFields? Rare => Record.Rare == 0 ? null : _chunk.Rare[Record.Rare - 1];

    private RareFields Extra => Rare ?? _chunk.AddRare(ref Record);

    /// <summary>The hard-link group, as the index the group's first member was sent at (received lists); -1 for none.</summary>
    public int HardLinkIndex { get => Rare?.HardLinkIndex ?? -1; set { if (value != -1 || Record.Rare != 0) Extra.HardLinkIndex = value; } }
    public long Rdev { get => Rare?.Rdev ?? 0; set { if (value != 0 || Record.Rare != 0) Extra.Rdev = value; } }
    public byte[]? LinkTarget { get => Rare?.LinkTarget; set { if (value is not null || Record.Rare != 0) Extra.LinkTarget = value; } }
    public byte[]? Checksum { get => Rare?.Checksum; set { if (value is not null || Record.Rare != 0) Extra.Checksum = value; } }

    /// <summary>Sender only: the device and inode, to find hard links.</summary>
    public long Device { get => Rare?.Device ?? 0; set { if (value != 0 || Record.Rare != 0) Extra.Device = value; } }
    public long Inode { get => Rare?.Inode ?? 0; set { if (value != 0 || Record.Rare != 0) Extra.Inode = value; } }

    public int FileType => Mode & Posix.S_IFMT;
    public bool IsDirectory => FileType == Posix.S_IFDIR;
    public bool IsRegular => FileType == Posix.S_IFREG;
    public bool IsSymlink => FileType == Posix.S_IFLNK;
    public bool IsDevice => Posix.IsDevice(Mode);
    public bool IsSpecial => Posix.IsSpecial(Mode);

    /// <summary>The name for a message line; the output escapes it as rsync does.</summary>
    public string NameString => Name.ToString();

    /// <summary>The local path on the sending side, as a <see cref="NameText"/> string.</summary>
    public string LocalPath => Root is not { } root ? NameString
        : Name.IsDot ? root
        : Path.Join(root, NameString);

    public bool Equals(FileEntry other) => ReferenceEquals(_chunk, other._chunk) && _slot == other._slot;
    public override bool Equals(object? obj) => obj is FileEntry other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(_chunk), _slot);
    public static bool operator ==(FileEntry a, FileEntry b) => a.Equals(b);
    public static bool operator !=(FileEntry a, FileEntry b) => !a.Equals(b);

    public override string ToString() => _chunk is null ? "(none)" : NameString;
}

/// <summary>
/// Where one file list keeps its entries: records in chunks that never move once handed out, and
/// each chunk's names in one byte array. Lists are dropped whole, so nothing is freed per entry.
/// One thread adds while others may read and update entries already added.
/// </summary>
public sealed class FileEntryArena
{
    // Small first, so a list of one directory's few entries costs little; at most 48 KiB per chunk,
    // below the large-object heap.
    private const int FirstChunk = 4;
    private const int LargestChunk = 1024;

    private EntryChunk? _last;
    private List<string>? _roots;
    private int _lastRoot;
    // What the caller said is coming and has not come yet.
    private int _expectedEntries;
    private int _expectedNameBytes;

    /// <summary>
    /// Says how many entries, with how many bytes of base names, are about to be added (a directory's
    /// worth), so chunks are made to fit rather than doubled into.
    /// </summary>
    public void Expect(int entries, int nameBytes)
    {
        _expectedEntries = Math.Max(0, entries);
        _expectedNameBytes = Math.Max(0, nameBytes);
    }

    /// <summary>Adds an entry; its name is copied in.</summary>
    public FileEntry Add(ReadOnlySpan<byte> name, int mode, long size, long modTime) =>
        Add(EntryName.Split(name), mode, size, modTime);

    /// <summary>Adds an entry; its base name is copied in, and its directory unless the last entry had the same.</summary>
    public FileEntry Add(EntryName name, int mode, long size, long modTime)
    {
        if (name.Base.Length > ushort.MaxValue || name.Directory.Length > ushort.MaxValue)
            throw new ArgumentException("a file-list name longer than 65535 bytes", nameof(name));
        var chunk = _last;
        if (chunk is null || chunk.Count == chunk.Records.Length)
        {
            chunk?.TrimNames();
            int capacity = chunk is null ? FirstChunk : Math.Min(chunk.Records.Length * 2, LargestChunk);
            int nameBytes = capacity * EntryChunk.NameBytesPerEntry;
            if (_expectedEntries > 0)
            {
                capacity = Math.Clamp(_expectedEntries, FirstChunk, LargestChunk);
                nameBytes = (int)Math.Max(name.Length, (long)_expectedNameBytes * Math.Min(capacity, _expectedEntries) / _expectedEntries + name.Directory.Length);
            }
            _last = chunk = new EntryChunk(this, capacity, nameBytes);
        }
        if (_expectedEntries > 0)
        {
            _expectedEntries--;
            _expectedNameBytes -= name.Base.Length;
        }
        ushort directory = name.Directory.IsEmpty ? (ushort)0 : chunk.DirectoryNumber(name.Directory);
        int slot = chunk.Count++;
        ref var r = ref chunk.Records[slot];
        r.NameOffset = chunk.AppendName(name.Base);
        r.NameLength = (ushort)name.Base.Length;
        r.Directory = directory;
        r.Mode = mode;
        r.Size = size;
        r.ModTime = modTime;
        return new FileEntry(chunk, slot);
    }

    /// <summary>Gives back what the last chunk's names hold in reserve, once the list is complete.</summary>
    public void Seal() => _last?.TrimNames();

    internal string RootAt(ushort number) => _roots![number - 1];

    internal ushort RootNumber(string root)
    {
        _roots ??= [];
        // Entries come root by root, so the last one asked for is nearly always the answer.
        if (_lastRoot > 0 && ReferenceEquals(_roots[_lastRoot - 1], root))
            return (ushort)_lastRoot;
        int i = _roots.IndexOf(root);
        if (i < 0)
        {
            if (_roots.Count == ushort.MaxValue)
                throw new InvalidOperationException("more than 65535 source roots in one file list");
            _roots.Add(root);
            i = _roots.Count - 1;
        }
        _lastRoot = i + 1;
        return (ushort)_lastRoot;
    }
}

// One entry's fixed fields. Packed to 48 bytes; the fields few entries have are kept apart.
// The name is its base in the chunk's bytes, and a number for its directory, kept once per chunk.
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Pack = 4)]
internal struct EntryRecord
{
    public long Size;
    public long ModTime;
    public int Mode;
    public int ModNanoseconds;
    public int Uid;
    public int Gid;
    public int NameOffset;
    /// <summary>One more than the index of the entry's <see cref="RareFields"/> in its chunk; 0 for none.</summary>
    public int Rare;
    public ushort NameLength;
    /// <summary>One more than the index of the directory part in its chunk's <see cref="EntryChunk.Directories"/>; 0 for none.</summary>
    public ushort Directory;
    public EntryFlags Flags;
    /// <summary>One more than the index of the entry's source root in its arena; 0 for none.</summary>
    public ushort Root;
}

internal sealed class RareFields
{
    public long Rdev;
    public byte[]? LinkTarget;
    public byte[]? Checksum;
    public long Device;
    public long Inode;
    public int HardLinkIndex = -1;
}

internal sealed class EntryChunk(FileEntryArena arena, int capacity, int nameBytes)
{
    // Names average some 24 bytes, when nothing better is known; the array grows when they are longer.
    public const int NameBytesPerEntry = 24;

    public readonly FileEntryArena Arena = arena;
    public readonly EntryRecord[] Records = new EntryRecord[capacity];
    public byte[] Names = new byte[nameBytes];
    public RareFields[] Rare = [];
    /// <summary>Where each directory part is in <see cref="Names"/>.</summary>
    public (int Offset, int Length)[] Directories = [];
    public int Count;
    private int _namesUsed;
    private int _rareUsed;
    private int _directoriesUsed;

    /// <summary>
    /// The number of a directory part, stored once for the run of entries in it: a list holds a
    /// directory's entries together, so only the last one is looked at.
    /// </summary>
    public ushort DirectoryNumber(ReadOnlySpan<byte> directory)
    {
        if (_directoriesUsed > 0)
        {
            var (offset, length) = Directories[_directoriesUsed - 1];
            if (Names.AsSpan(offset, length).SequenceEqual(directory))
                return (ushort)_directoriesUsed;
        }
        if (_directoriesUsed == Directories.Length)
        {
            var grown = new (int, int)[Math.Max(2, Directories.Length * 2)];
            Directories.AsSpan().CopyTo(grown);
            Volatile.Write(ref Directories, grown);
        }
        Directories[_directoriesUsed++] = (AppendName(directory), directory.Length);
        return (ushort)_directoriesUsed;
    }

    public int AppendName(ReadOnlySpan<byte> name)
    {
        if (_namesUsed + name.Length > Names.Length)
        {
            // Entries already handed out read Names afresh, so the array can move, once filled.
            var grown = new byte[Math.Max(Names.Length * 2, _namesUsed + name.Length)];
            Names.AsSpan(0, _namesUsed).CopyTo(grown);
            Volatile.Write(ref Names, grown);
        }
        int at = _namesUsed;
        name.CopyTo(Names.AsSpan(at));
        _namesUsed += name.Length;
        return at;
    }

    public void TrimNames()
    {
        if (_namesUsed < Names.Length)
            Volatile.Write(ref Names, Names.AsSpan(0, _namesUsed).ToArray());
    }

    public RareFields AddRare(ref EntryRecord record)
    {
        if (_rareUsed == Rare.Length)
        {
            var grown = new RareFields[Math.Max(4, Rare.Length * 2)];
            Rare.AsSpan().CopyTo(grown);
            Volatile.Write(ref Rare, grown);
        }
        var fields = new RareFields();
        Rare[_rareUsed++] = fields;
        record.Rare = _rareUsed;
        return fields;
    }
}
