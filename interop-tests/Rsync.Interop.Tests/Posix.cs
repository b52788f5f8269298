using System.Runtime.InteropServices;
using System.Text;

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

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxNative(int dirfd, string path, int flags, uint mask, Statx* buffer);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UtimensatNative(int dirfd, string path, Timespec* times, int flags);

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkfifoNative(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChmodNative(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LchownNative(string path, uint uid, uint gid);

    [LibraryImport("libc", EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint ReadlinkNative(string path, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkNative(string existing, string newPath);

    private static void Check(int rc, string what, string path)
    {
        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{what}(\"{path}\") failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
    }

    /// <summary>lstat(2): does not follow a final symlink.</summary>
    public static PosixStat LStat(string path)
    {
        if (!TryLStat(path, out PosixStat st, out int errno))
        {
            throw new IOException($"lstat(\"{path}\") failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        return st;
    }

    /// <summary>lstat(2) that reports a missing path (or any error) instead of throwing.</summary>
    public static bool TryLStat(string path, out PosixStat st, out int errno)
    {
        Statx sx;
        if (StatxNative(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, &sx) != 0)
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
        Check(UtimensatNative(AtFdCwd, path, times, AtSymlinkNoFollow), "utimensat", path);
    }

    /// <summary>link(2): a new name for an existing file (a hard link).</summary>
    public static void Link(string existing, string newPath) => Check(LinkNative(existing, newPath), "link", newPath);

    public static void MkFifo(string path, uint mode) => Check(MkfifoNative(path, mode), "mkfifo", path);

    /// <summary>chmod(2) with the full 07777 bits (unlike File.SetUnixFileMode, nothing is masked).</summary>
    public static void Chmod(string path, uint mode) => Check(ChmodNative(path, mode), "chmod", path);

    public static void LChown(string path, uint uid, uint gid) => Check(LchownNative(path, uid, gid), "lchown", path);

    /// <summary>The raw bytes of a symlink's target.</summary>
    public static byte[] ReadLink(string path)
    {
        byte[] buffer = new byte[8192];
        fixed (byte* p = buffer)
        {
            nint n = ReadlinkNative(path, p, (nuint)buffer.Length);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"readlink(\"{path}\") failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
            }
            return buffer.AsSpan(0, (int)n).ToArray();
        }
    }

    public static string ReadLinkText(string path) => Encoding.UTF8.GetString(ReadLink(path));

    /// <summary>Parses an octal mode such as "2755".</summary>
    public static uint Mode(string octal) => Convert.ToUInt32(octal, 8);

    public static string Octal(uint mode) => Convert.ToString(mode, 8).PadLeft(4, '0');
}
