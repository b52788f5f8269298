using System.Text;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.FileList;

[Flags]
public enum EntryFlags : byte
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
    public long Rdev { get; set; }
    public byte[]? LinkTarget { get; set; }
    public byte[]? Checksum { get; set; }
    public EntryFlags Flags { get; set; }

    /// <summary>Index of the group leader for hard-link followers; -1 otherwise.</summary>
    public int HardLinkIndex { get; set; } = -1;

    /// <summary>Sender only: which source root the name is relative to.</summary>
    public string? Root { get; set; }

    /// <summary>Sender only: the device and inode, to find hard links.</summary>
    public long Device { get; set; }
    public long Inode { get; set; }

    public int FileType => Mode & Posix.S_IFMT;
    public bool IsDirectory => FileType == Posix.S_IFDIR;
    public bool IsRegular => FileType == Posix.S_IFREG;
    public bool IsSymlink => FileType == Posix.S_IFLNK;
    public bool IsDevice => Posix.IsDevice(Mode);
    public bool IsSpecial => Posix.IsSpecial(Mode);

    public string NameString => Encoding.UTF8.GetString(Name);

    /// <summary>The local path on the sending side.</summary>
    public string LocalPath => Root is null ? NameString
        : Name is [(byte)'.'] ? Root
        : Path.Join(Root, NameString);

    public override string ToString() => NameString;
}
