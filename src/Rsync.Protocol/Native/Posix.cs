using System.Runtime.InteropServices;
using System.Text;

namespace NetRsync.Protocol.Native;

/// <summary>What lstat says of a path: the fields rsync's file list carries.</summary>
public readonly record struct FileStatus(
    long Device, long Inode, int Mode, long LinkCount, int Uid, int Gid, long Rdev,
    long Size, long MtimeSeconds, int MtimeNanoseconds)
{
    public int FileType => Mode & Posix.S_IFMT;
    public bool IsDirectory => FileType == Posix.S_IFDIR;
    public bool IsRegular => FileType == Posix.S_IFREG;
    public bool IsSymlink => FileType == Posix.S_IFLNK;
}

/// <summary>The few libc calls .NET does not expose: lstat fields, ownership names, devices and fifos.</summary>
public static partial class Posix
{
    public const int S_IFMT = 0xF000;
    public const int S_IFSOCK = 0xC000;
    public const int S_IFLNK = 0xA000;
    public const int S_IFREG = 0x8000;
    public const int S_IFBLK = 0x6000;
    public const int S_IFDIR = 0x4000;
    public const int S_IFCHR = 0x2000;
    public const int S_IFIFO = 0x1000;

    public static bool IsDevice(int mode) => (mode & S_IFMT) is S_IFCHR or S_IFBLK;
    public static bool IsSpecial(int mode) => (mode & S_IFMT) is S_IFIFO or S_IFSOCK;

    public static int Major(long rdev) => (int)(((rdev >> 8) & 0xFFF) | ((rdev >> 32) & ~0xFFFL));
    public static int Minor(long rdev) => (int)((rdev & 0xFF) | ((rdev >> 12) & ~0xFFL));
    public static long MakeDev(int major, int minor) =>
        ((long)(uint)minor & 0xFF) | (((long)(uint)major & 0xFFF) << 8) | (((long)(uint)minor & ~0xFFL) << 12) | (((long)(uint)major & ~0xFFFL) << 32);

    [LibraryImport("libc", EntryPoint = "lstat", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static unsafe partial int LStatRaw(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "stat", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static unsafe partial int StatRaw(string path, byte* buffer);

    /// <summary>One piece of a scattered read (readv(2), struct iovec).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>preadv(2): fills the pieces in order from <paramref name="offset"/>; the bytes read, or -1.</summary>
    [LibraryImport("libc", EntryPoint = "preadv", SetLastError = true)]
    internal static unsafe partial nint PReadV(SafeHandle fd, IoVector* vectors, int count, long offset);

    [LibraryImport("libc", EntryPoint = "getpwuid_r", SetLastError = true)]
    private static unsafe partial int GetPwUid(uint uid, byte* pwd, byte* buffer, nuint size, byte** result);

    [LibraryImport("libc", EntryPoint = "getgrgid_r", SetLastError = true)]
    private static unsafe partial int GetGrGid(uint gid, byte* grp, byte* buffer, nuint size, byte** result);

    /// <summary>lstat(2), or the errno when it fails.</summary>
    public static int TryLStat(string path, out FileStatus status) => TryStatCore(path, follow: false, out status);

    /// <summary>stat(2): follows symlinks.</summary>
    public static int TryStat(string path, out FileStatus status) => TryStatCore(path, follow: true, out status);

    private static unsafe int TryStatCore(string path, bool follow, out FileStatus status)
    {
        byte* buf = stackalloc byte[256];
        int rc = follow ? StatRaw(path, buf) : LStatRaw(path, buf);
        if (rc != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }
        status = ParseStat(buf);
        return 0;
    }

    /// <summary>The fields of a struct stat that stat(2) or fstatat(2) filled in.</summary>
    internal static unsafe FileStatus ParseStat(byte* buf) => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => new FileStatus(
            Device: *(long*)(buf + 0), Inode: *(long*)(buf + 8), LinkCount: *(long*)(buf + 16),
            Mode: *(int*)(buf + 24), Uid: *(int*)(buf + 28), Gid: *(int*)(buf + 32),
            Rdev: *(long*)(buf + 40), Size: *(long*)(buf + 48),
            MtimeSeconds: *(long*)(buf + 88), MtimeNanoseconds: (int)*(long*)(buf + 96)),
        Architecture.Arm64 => new FileStatus(
            Device: *(long*)(buf + 0), Inode: *(long*)(buf + 8), Mode: *(int*)(buf + 16),
            LinkCount: *(uint*)(buf + 20), Uid: *(int*)(buf + 24), Gid: *(int*)(buf + 28),
            Rdev: *(long*)(buf + 32), Size: *(long*)(buf + 48),
            MtimeSeconds: *(long*)(buf + 88), MtimeNanoseconds: (int)*(long*)(buf + 96)),
        _ => throw new PlatformNotSupportedException("struct stat layout is known for x64 and arm64 Linux only"),
    };

    /// <summary>A name as the NUL-terminated bytes a system call takes.</summary>
    /// <summary>Room on the stack for a NUL-terminated name; a longer one goes to the heap.</summary>
    internal const int StackNameBytes = 256;

    /// <summary>The name NUL-terminated in <paramref name="scratch"/> when it fits, so a system call per file allocates nothing.</summary>
    internal static ReadOnlySpan<byte> Z(ReadOnlySpan<byte> name, Span<byte> scratch)
    {
        if (name.Length >= scratch.Length)
            return Z(name);
        name.CopyTo(scratch);
        scratch[name.Length] = 0;
        return scratch[..(name.Length + 1)];
    }

    internal static byte[] Z(ReadOnlySpan<byte> name)
    {
        var z = new byte[name.Length + 1];
        name.CopyTo(z);
        return z;
    }

    /// <summary>A path string (<see cref="Text.NameText"/>) as NUL-terminated bytes.</summary>
    internal static byte[] Utf8Z(string s) => Z(Text.NameText.ToBytes(s));

    public static unsafe string? UserName(int uid)
    {
        byte* pwd = stackalloc byte[128];
        var buffer = new byte[16 * 1024];
        fixed (byte* b = buffer)
        {
            byte* result = null;
            if (GetPwUid((uint)uid, pwd, b, (nuint)buffer.Length, &result) != 0 || result == null)
                return null;
            return Marshal.PtrToStringUTF8((nint)(*(byte**)pwd));
        }
    }

    public static unsafe string? GroupName(int gid)
    {
        byte* grp = stackalloc byte[128];
        var buffer = new byte[16 * 1024];
        fixed (byte* b = buffer)
        {
            byte* result = null;
            if (GetGrGid((uint)gid, grp, b, (nuint)buffer.Length, &result) != 0 || result == null)
                return null;
            return Marshal.PtrToStringUTF8((nint)(*(byte**)grp));
        }
    }

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial nint StrErrorRaw(int errnum);

    /// <summary>The C library's text for an errno, as rsync prints it.</summary>
    public static string StrError(int errno) => Marshal.PtrToStringUTF8(StrErrorRaw(errno)) ?? $"errno {errno}";

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    [LibraryImport("libc", EntryPoint = "getpwnam_r", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int GetPwNam(string name, byte* pwd, byte* buffer, nuint size, byte** result);

    [LibraryImport("libc", EntryPoint = "getgrnam_r", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int GetGrNam(string name, byte* grp, byte* buffer, nuint size, byte** result);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static partial int ChmodRaw(string path, uint mode);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static partial int LChownRaw(string path, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static unsafe partial int UtimensatRaw(int dirfd, string path, long* times, int flags);

    [LibraryImport("libc", EntryPoint = "mknod", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static partial int MknodRaw(string path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static partial int LinkRaw(string existing, string newPath);

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static partial int RenameRaw(string from, string to);

    [LibraryImport("libc", EntryPoint = "symlink", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static partial int SymlinkRaw(string target, string path);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static partial int MkdirRaw(string path, uint mode);

    public static int MakeDirectory(string path, int mode) => Errno(MkdirRaw(path, (uint)mode));

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshallingCustomType = typeof(NamePathMarshaller))]
    private static partial nint RealPathRaw(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    /// <summary>The path with every symlink resolved, or null when some part does not exist.</summary>
    public static unsafe string? RealPath(string path)
    {
        nint p = RealPathRaw(path, 0);
        if (p == 0)
            return null;
        try
        {
            return Text.NameText.FromBytes(MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)p));
        }
        finally
        {
            Free(p);
        }
    }

    /// <summary>Is <paramref name="path"/> <paramref name="root"/> itself or below it? Both must be real paths.</summary>
    public static bool IsWithin(string path, string root) =>
        path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint UmaskRaw(uint mask);

    private static int Errno(int rc) => rc == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static int Chmod(string path, int mode) => Errno(ChmodRaw(path, (uint)(mode & 0xFFF)));

    public static int LChown(string path, int uid, int gid) => Errno(LChownRaw(path, uid, gid));

    /// <summary>Sets the mtime (atime becomes now) without following a final symlink.</summary>
    public static unsafe int SetModTime(string path, long seconds, int nanoseconds)
    {
        const int AtFdCwd = -100;
        const int AtSymlinkNoFollow = 0x100;
        const long UtimeNow = (1L << 30) - 1;
        long* times = stackalloc long[4];
        times[0] = 0;
        times[1] = UtimeNow;
        times[2] = seconds;
        times[3] = nanoseconds;
        return Errno(UtimensatRaw(AtFdCwd, path, times, AtSymlinkNoFollow));
    }

    public static int MakeNode(string path, int mode, long rdev) => Errno(MknodRaw(path, (uint)mode, (ulong)rdev));

    public static int HardLink(string existing, string newPath) => Errno(LinkRaw(existing, newPath));

    public static int Rename(string from, string to) => Errno(RenameRaw(from, to));

    public static int Symlink(string target, string path) => Errno(SymlinkRaw(target, path));

    /// <summary>The process umask, read without changing it for long.</summary>
    public static int Umask()
    {
        uint old = UmaskRaw(0x12);
        UmaskRaw(old);
        return (int)old;
    }

    public static int? UserId(string name) => PasswdField(name, 16);

    /// <summary>A user's primary group (pw_gid), or null when the user is unknown.</summary>
    public static int? UserPrimaryGroup(string name) => PasswdField(name, 20);

    /// <summary>An int field of the user's struct passwd (pw_uid at 16, pw_gid at 20 on 64-bit glibc).</summary>
    private static unsafe int? PasswdField(string name, int offset)
    {
        byte* pwd = stackalloc byte[128];
        var buffer = new byte[16 * 1024];
        fixed (byte* b = buffer)
        {
            byte* result = null;
            if (GetPwNam(name, pwd, b, (nuint)buffer.Length, &result) != 0 || result == null)
                return null;
            return *(int*)(pwd + offset);
        }
    }

    public static unsafe int? GroupId(string name)
    {
        byte* grp = stackalloc byte[128];
        var buffer = new byte[16 * 1024];
        fixed (byte* b = buffer)
        {
            byte* result = null;
            if (GetGrNam(name, grp, b, (nuint)buffer.Length, &result) != 0 || result == null)
                return null;
            return *(int*)(grp + 16);
        }
    }

    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int ENOSPC = 28;
    public const int EACCES = 13;
    public const int EXDEV = 18;
    public const int EINVAL = 22;
    public const int ENAMETOOLONG = 36;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
}
