using System.Runtime.InteropServices;
using System.Text;
using NetRsync.Protocol.Text;

namespace NetRsync.Interop.Tests;

/// <summary>File type, from the S_IFMT bits of st_mode.</summary>
public enum PosixFileType
{
    Unknown = 0,
    Fifo = 0x1000,
    CharDevice = 0x2000,
    Directory = 0x4000,
    BlockDevice = 0x6000,
    Regular = 0x8000,
    Symlink = 0xA000,
    Socket = 0xC000,
}

/// <summary>What lstat(2) says about a path (taken with statx(2) and AT_SYMLINK_NOFOLLOW, whose
/// struct layout, unlike struct stat's, is the same on every Linux architecture).</summary>
public readonly record struct PosixStat(
    uint Mode,
    PosixFileType Type,
    uint Uid,
    uint Gid,
    ulong Size,
    ulong Blocks,
    ulong Inode,
    ulong Device,
    uint NLink,
    long MtimeSeconds,
    uint MtimeNanoseconds,
    uint RdevMajor,
    uint RdevMinor)
{
    /// <summary>Permission bits including setuid (04000), setgid (02000) and sticky (01000).</summary>
    public uint Permissions => Mode & 0xFFF;
}

/// <summary>Thin P/Invoke wrappers over libc for what .NET does not expose (or not reliably):
/// st_mode with setgid, nanosecond mtimes on symlinks, fifos, lchown.</summary>
public static unsafe partial class Posix
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;

    [StructLayout(LayoutKind.Sequential)]
    private struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        public int Reserved;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Statx
    {
        public uint Mask;
        public uint BlkSize;
        public ulong Attributes;
        public uint NLink;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        public ushort Spare0;
        public ulong Ino;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp Atime;
        public StatxTimestamp Btime;
        public StatxTimestamp Ctime;
        public StatxTimestamp Mtime;
        public uint RdevMajor;
        public uint RdevMinor;
        public uint DevMajor;
        public uint DevMinor;
        public fixed ulong Spare2[14];
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    // Paths cross into libc as their bytes (NameText), never as UTF-8 of a replaced string: a test
    // name such as "caf\xe9" must reach the kernel as the four bytes it is.
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static partial int StatxNative(int dirfd, byte* path, int flags, uint mask, Statx* buffer);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true)]
    private static partial int UtimensatNative(int dirfd, byte* path, Timespec* times, int flags);

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static partial int MkfifoNative(byte* path, uint mode);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true)]
    private static partial int ChmodNative(byte* path, uint mode);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true)]
    private static partial int LchownNative(byte* path, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "readlink", SetLastError = true)]
    private static partial nint ReadlinkNative(byte* path, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true)]
    private static partial int LinkNative(byte* existing, byte* newPath);

    [LibraryImport("libc", EntryPoint = "symlink", SetLastError = true)]
    private static partial int SymlinkNative(byte* target, byte* linkPath);

    [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true)]
    private static partial int UnlinkNative(byte* path);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true)]
    private static partial int MkdirNative(byte* path, uint mode);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int OpenNative(byte* path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "opendir", SetLastError = true)]
    private static partial nint OpendirNative(byte* path);

    [LibraryImport("libc", EntryPoint = "readdir", SetLastError = true)]
    private static partial nint ReaddirNative(nint dir);

    [LibraryImport("libc", EntryPoint = "closedir", SetLastError = true)]
    private static partial int ClosedirNative(nint dir);

    private const int OpenReadOnly = 0, OpenWriteOnly = 1, OpenCreate = 0x40, OpenExclusive = 0x80, OpenNoFollow = 0x20000, OpenCloseOnExec = 0x80000;

    /// <summary>A path as the NUL-terminated bytes libc wants: a <see cref="NameText"/> string gives back
    /// exactly the bytes it was made from (plain text is its UTF-8).</summary>
    public static byte[] CPath(string path)
    {
        byte[] bytes = NameText.ToBytes(path);
        byte[] z = new byte[bytes.Length + 1];
        bytes.CopyTo(z, 0);
        return z;
    }

    /// <summary>A path shown in a message: bytes that are not UTF-8 as \xNN.</summary>
    private static string ShowPath(string path) => TreeComparer.ShowBytes(path);

    private static void Check(int rc, string what, string path)
    {
        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{what}(\"{ShowPath(path)}\") failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
    }

    /// <summary>lstat(2): does not follow a final symlink.</summary>
    public static PosixStat LStat(string path)
    {
        if (!TryLStat(path, out PosixStat st, out int errno))
        {
            throw new IOException($"lstat(\"{ShowPath(path)}\") failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        return st;
    }

    /// <summary>lstat(2) that reports a missing path (or any error) instead of throwing.</summary>
    public static bool TryLStat(string path, out PosixStat st, out int errno)
    {
        Statx sx;
        int rc;
        fixed (byte* p = CPath(path))
        {
            rc = StatxNative(AtFdCwd, p, AtSymlinkNoFollow, StatxBasicStats, &sx);
        }
        if (rc != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            st = default;
            return false;
        }
        errno = 0;
        st = new PosixStat(
            Mode: sx.Mode,
            Type: (PosixFileType)(sx.Mode & 0xF000),
            Uid: sx.Uid,
            Gid: sx.Gid,
            Size: sx.Size,
            Blocks: sx.Blocks,
            Inode: sx.Ino,
            Device: ((ulong)sx.DevMajor << 32) | sx.DevMinor,
            NLink: sx.NLink,
            MtimeSeconds: sx.Mtime.Seconds,
            MtimeNanoseconds: sx.Mtime.Nanoseconds,
            RdevMajor: sx.RdevMajor,
            RdevMinor: sx.RdevMinor);
        return true;
    }

    /// <summary>Sets atime and mtime (same value) of a path, without following a final symlink.</summary>
    public static void SetTimes(string path, long seconds, long nanoseconds)
    {
        Timespec* times = stackalloc Timespec[2];
        times[0] = new Timespec { Seconds = seconds, Nanoseconds = nanoseconds };
        times[1] = times[0];
        fixed (byte* p = CPath(path))
        {
            Check(UtimensatNative(AtFdCwd, p, times, AtSymlinkNoFollow), "utimensat", path);
        }
    }

    /// <summary>link(2): a new name for an existing file (a hard link).</summary>
    public static void Link(string existing, string newPath)
    {
        fixed (byte* e = CPath(existing))
        fixed (byte* n = CPath(newPath))
        {
            Check(LinkNative(e, n), "link", newPath);
        }
    }

    /// <summary>symlink(2): <paramref name="linkPath"/> pointing at exactly the bytes of <paramref name="target"/>.</summary>
    public static void Symlink(byte[] target, string linkPath)
    {
        byte[] t = new byte[target.Length + 1];
        target.CopyTo(t, 0);
        fixed (byte* tp = t)
        fixed (byte* lp = CPath(linkPath))
        {
            Check(SymlinkNative(tp, lp), "symlink", linkPath);
        }
    }

    /// <summary>unlink(2): removes a name (not a directory).</summary>
    public static void Unlink(string path)
    {
        fixed (byte* p = CPath(path))
        {
            Check(UnlinkNative(p), "unlink", path);
        }
    }

    /// <summary>mkdir(2) (the mode is subject to the umask).</summary>
    public static void Mkdir(string path, uint mode)
    {
        fixed (byte* p = CPath(path))
        {
            Check(MkdirNative(p, mode), "mkdir", path);
        }
    }

    /// <summary>Creates a new regular file (fails if the name exists) holding <paramref name="content"/>.</summary>
    public static void CreateFile(string path, ReadOnlySpan<byte> content, uint mode = 0x1A4 /* 0644 */)
    {
        using FileStream fs = OpenStream(path, OpenWriteOnly | OpenCreate | OpenExclusive | OpenNoFollow, mode, FileAccess.Write);
        fs.Write(content);
    }

    /// <summary>Opens an existing file for reading by its bytes (.NET's own FileStream would encode the
    /// name as UTF-8 and open a different file, or none).</summary>
    public static FileStream OpenRead(string path) => OpenStream(path, OpenReadOnly, 0, FileAccess.Read);

    private static FileStream OpenStream(string path, int flags, uint mode, FileAccess access)
    {
        int fd;
        fixed (byte* p = CPath(path))
        {
            fd = OpenNative(p, flags | OpenCloseOnExec, mode);
        }
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open(\"{ShowPath(path)}\") failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        return new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), access, 1);
    }

    /// <summary>The names in a directory (without "." and ".."), as <see cref="NameText"/> strings made
    /// from the bytes readdir(3) returns: unlike Directory.EnumerateFileSystemEntries, which decodes
    /// names as UTF-8 and replaces what is not, two names that differ only in invalid bytes stay apart.</summary>
    public static List<string> ReadDirectory(string path)
    {
        nint dir;
        fixed (byte* p = CPath(path))
        {
            dir = OpendirNative(p);
        }
        if (dir == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"opendir(\"{ShowPath(path)}\") failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        var names = new List<string>();
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                nint entry = ReaddirNative(dir);
                if (entry == 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != 0)
                    {
                        throw new IOException($"readdir(\"{ShowPath(path)}\") failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
                    }
                    break;
                }
                // struct dirent on 64-bit Linux (glibc): d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)entry + 19);
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
                {
                    continue;
                }
                names.Add(NameText.FromBytes(name));
            }
        }
        finally
        {
            ClosedirNative(dir);
        }
        return names;
    }

    public static void MkFifo(string path, uint mode)
    {
        fixed (byte* p = CPath(path))
        {
            Check(MkfifoNative(p, mode), "mkfifo", path);
        }
    }

    /// <summary>chmod(2) with the full 07777 bits (unlike File.SetUnixFileMode, nothing is masked).</summary>
    public static void Chmod(string path, uint mode)
    {
        fixed (byte* p = CPath(path))
        {
            Check(ChmodNative(p, mode), "chmod", path);
        }
    }

    public static void LChown(string path, uint uid, uint gid)
    {
        fixed (byte* p = CPath(path))
        {
            Check(LchownNative(p, uid, gid), "lchown", path);
        }
    }

    /// <summary>The raw bytes of a symlink's target.</summary>
    public static byte[] ReadLink(string path)
    {
        byte[] buffer = new byte[8192];
        fixed (byte* p = buffer)
        fixed (byte* cpath = CPath(path))
        {
            nint n = ReadlinkNative(cpath, p, (nuint)buffer.Length);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"readlink(\"{ShowPath(path)}\") failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
            }
            return buffer.AsSpan(0, (int)n).ToArray();
        }
    }

    /// <summary>A symlink's target as a <see cref="NameText"/> string (lossless; plain text reads as itself).</summary>
    public static string ReadLinkText(string path) => NameText.FromBytes(ReadLink(path));

    /// <summary>Parses an octal mode such as "2755".</summary>
    public static uint Mode(string octal) => Convert.ToUInt32(octal, 8);

    public static string Octal(uint mode) => Convert.ToString(mode, 8).PadLeft(4, '0');
}
