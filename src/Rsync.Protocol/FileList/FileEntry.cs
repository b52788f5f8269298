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
}

/// <summary>One file-list entry. Kept small: the file list is where rsync's memory goes.</summary>
public sealed class FileEntry
{
    public FileEntry(byte[] name, int mode, long size, long modTime)
    {
        Name = name;
        Mode = mode;
        Size = size;
        ModTime = modTime;
    }

    /// <summary>The path relative to the transfer root, as bytes on the wire ("dir/name" or ".").</summary>
    public byte[] Name { get; }

    public int Mode { get; set; }
    public long Size { get; set; }
    public long ModTime { get; set; }
    public int ModNanoseconds { get; set; }
    public int Uid { get; set; }
    public int Gid { get; set; }
    public EntryFlags Flags { get; set; }

    /// <summary>The hard-link group, as the index the group's first member was sent at (received lists); -1 for none.</summary>
    public int HardLinkIndex { get; set; } = -1;

    /// <summary>Sender only: which source root the name is relative to (shared by every entry under it).</summary>
    public string? Root { get; set; }

    // Fields most entries never need live apart, so a plain file costs one pointer for them.
    private sealed class Rare
    {
        public long Rdev;
        public byte[]? LinkTarget;
        public byte[]? Checksum;
        public long Device;
        public long Inode;
    }

    private Rare? _rare;

    private Rare Extra => _rare ??= new Rare();

    public long Rdev { get => _rare?.Rdev ?? 0; set { if (value != 0 || _rare is not null) Extra.Rdev = value; } }
    public byte[]? LinkTarget { get => _rare?.LinkTarget; set { if (value is not null || _rare is not null) Extra.LinkTarget = value; } }
    public byte[]? Checksum { get => _rare?.Checksum; set { if (value is not null || _rare is not null) Extra.Checksum = value; } }

    /// <summary>Sender only: the device and inode, to find hard links.</summary>
    public long Device { get => _rare?.Device ?? 0; set { if (value != 0 || _rare is not null) Extra.Device = value; } }
    public long Inode { get => _rare?.Inode ?? 0; set { if (value != 0 || _rare is not null) Extra.Inode = value; } }

    public int FileType => Mode & Posix.S_IFMT;
    public bool IsDirectory => FileType == Posix.S_IFDIR;
    public bool IsRegular => FileType == Posix.S_IFREG;
    public bool IsSymlink => FileType == Posix.S_IFLNK;
    public bool IsDevice => Posix.IsDevice(Mode);
    public bool IsSpecial => Posix.IsSpecial(Mode);

    /// <summary>The name for a message line; the output escapes it as rsync does.</summary>
    public string NameString => NameText.FromBytes(Name);

    /// <summary>The local path on the sending side, as a <see cref="NameText"/> string.</summary>
    public string LocalPath => Root is null ? NameString
        : Name is [(byte)'.'] ? Root
        : Path.Join(Root, NameString);

    public override string ToString() => NameString;
}
