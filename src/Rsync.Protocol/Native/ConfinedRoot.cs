using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NetRsync.Protocol.Native;

/// <summary>
/// An open directory that every operation stays beneath: names are resolved by the kernel with
/// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so neither ".." nor a symlink planted in the tree
/// can lead out of it, and the last component is never followed (the *at calls with
/// AT_SYMLINK_NOFOLLOW, O_NOFOLLOW). rsync 3.4+ reaches the same end by walking each component with
/// O_NOFOLLOW (syscall.c, secure_relative_open). Names are bytes relative to the root; an empty name
/// or "." is the root itself. Every method returns 0 or the errno.
/// </summary>
public sealed class ConfinedRoot : IDisposable
{
    private readonly SafeFileHandle _handle;

    private ConfinedRoot(SafeFileHandle handle, string path)
    {
        _handle = handle;
        Path = path;
    }

    /// <summary>The root as it was named when opened, for messages.</summary>
    public string Path { get; }

    internal int Fd => (int)_handle.DangerousGetHandle();

    /// <summary>Opens <paramref name="path"/> as a root; the path itself is followed as the user named it.</summary>
    public static int TryOpen(string path, out ConfinedRoot? root)
    {
        int errno = Confined.OpenDirectory(Confined.AtFdCwd, Posix.Utf8Z(path), followLast: true, out var handle);
        root = errno == 0 ? new ConfinedRoot(handle!, path) : null;
        return errno;
    }

    public static ConfinedRoot Open(string path)
    {
        int errno = TryOpen(path, out var root);
        if (errno != 0)
            throw new IOException($"opendir \"{path}\" failed: {Posix.StrError(errno)} ({errno})");
        return root!;
    }

    /// <summary>A directory beneath this root, itself a root; no symlink on the way is followed.</summary>
    public int TryOpenBeneath(ReadOnlySpan<byte> name, out ConfinedRoot? sub, bool followInside = false)
    {
        sub = null;
        if (IsSelf(name))
        {
            int dup = Confined.OpenDirectoryAt(Fd, "."u8, Confined.ResolveBeneath, out var self);
            if (dup == 0)
                sub = new ConfinedRoot(self!, Path);
            return dup;
        }
        int errno = Confined.OpenDirectoryAt(Fd, name, followInside ? Confined.ResolveBeneath : Confined.ResolveBeneath | Confined.ResolveNoSymlinks, out var handle);
        if (errno == 0)
            sub = new ConfinedRoot(handle!, Join(Path, name));
        return errno;
    }

    /// <param name="followInside">Links on the way that stay beneath the root are followed (-L in a module); the entry itself never is.</param>
    public int LStat(ReadOnlySpan<byte> name, out FileStatus status, bool followInside = false)
    {
        status = default;
        if (IsSelf(name))
            return Confined.StatAt(Fd, ""u8, Confined.AtEmptyPath, out status);
        return WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref FileStatus st) => Confined.StatAt(dir, leaf, Confined.AtSymlinkNoFollow, out st), ref status, followInside);
    }

    public int MakeDirectory(ReadOnlySpan<byte> name, int mode)
    {
        int unused = 0;
        return WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref int _) => Confined.MkdirAt(dir, leaf, mode), ref unused);
    }

    public int Unlink(ReadOnlySpan<byte> name)
    {
        int unused = 0;
        return WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref int _) => Confined.UnlinkAt(dir, leaf, 0), ref unused);
    }

    public int RemoveDirectory(ReadOnlySpan<byte> name)
    {
        int unused = 0;
        int errno = WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref int _) => Confined.UnlinkAt(dir, leaf, Confined.AtRemoveDir), ref unused);
        if (errno == 0)
            Interlocked.Increment(ref _layoutChanges);
        return errno;
    }

    public int Symlink(ReadOnlySpan<byte> target, ReadOnlySpan<byte> name)
    {
        byte[] t = Posix.Z(target);
        int unused = 0;
        return WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref int _) => Confined.SymlinkAt(t, dir, leaf), ref unused);
    }

    public int MakeNode(ReadOnlySpan<byte> name, int mode, long rdev)
    {
        int unused = 0;
        return WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref int _) => Confined.MknodAt(dir, leaf, mode, rdev), ref unused);
    }

    /// <summary>chmod that fails on a symlink rather than follow it.</summary>
    public int Chmod(ReadOnlySpan<byte> name, int mode)
    {
        if (IsSelf(name))
            return Confined.ChmodFd(Fd, mode);
        int unused = 0;
        return WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref int _) => Confined.ChmodAt(dir, leaf, mode), ref unused);
    }

    public int LChown(ReadOnlySpan<byte> name, int uid, int gid)
    {
        if (IsSelf(name))
            return Confined.ChownAt(Fd, ""u8, uid, gid, Confined.AtEmptyPath);
        int unused = 0;
        return WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref int _) => Confined.ChownAt(dir, leaf, uid, gid, Confined.AtSymlinkNoFollow), ref unused);
    }

    /// <summary>Sets the mtime (atime becomes now) of the entry itself, a symlink included.</summary>
    public int SetModTime(ReadOnlySpan<byte> name, long seconds, int nanoseconds)
    {
        if (IsSelf(name))
            return Confined.SetTimesFd(Fd, seconds, nanoseconds);
        int unused = 0;
        return WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref int _) => Confined.SetTimesAt(dir, leaf, seconds, nanoseconds), ref unused);
    }

    public int ReadLink(ReadOnlySpan<byte> name, out byte[]? target, bool followInside = false)
    {
        target = null;
        return WithParent(name, (int dir, ReadOnlySpan<byte> leaf, ref byte[]? t) => Confined.ReadLinkAt(dir, leaf, out t), ref target, followInside);
    }

    /// <summary>Opens a regular file for reading; a symlink anywhere on the way fails with ELOOP.</summary>
    public int OpenRead(ReadOnlySpan<byte> name, out SafeFileHandle? handle, bool followInside = false) =>
        Confined.OpenAt(Fd, name, Confined.ORdOnly | Confined.ONoFollowIf(!followInside), 0,
            followInside ? Confined.ResolveBeneath : Confined.ResolveBeneath | Confined.ResolveNoSymlinks, out handle);

    /// <summary>Opens an existing file for writing in place (--inplace), creating it when missing.</summary>
    public int OpenWrite(ReadOnlySpan<byte> name, bool create, out SafeFileHandle? handle) =>
        Confined.OpenAt(Fd, name, Confined.OWrOnly | Confined.ONoFollow | (create ? Confined.OCreat : 0), 0x180,
            Confined.ResolveBeneath | Confined.ResolveNoSymlinks, out handle);

    /// <summary>Creates a new file that did not exist (O_EXCL), private until its real mode is set.</summary>
    public int CreateExclusive(ReadOnlySpan<byte> name, int mode, out SafeFileHandle? handle) =>
        Confined.OpenAt(Fd, name, Confined.OWrOnly | Confined.OCreat | Confined.OExcl | Confined.ONoFollow, mode,
            Confined.ResolveBeneath | Confined.ResolveNoSymlinks, out handle);

    /// <summary>Renames within this root or into another; neither side follows a symlink.</summary>
    public int Rename(ReadOnlySpan<byte> from, ConfinedRoot toRoot, ReadOnlySpan<byte> to)
    {
        int errno;
        if (ReferenceEquals(toRoot, this) && SameParent(from, to))
        {
            // The common case, a temporary file renamed over its target: one directory, one lookup.
            errno = OpenParent(from, cache: true, out var owned, out int dirFd, out int leaf);
            if (errno != 0)
                return errno;
            using (owned)
                return RenameIn(dirFd, from[leaf..], dirFd, to[(to.LastIndexOf((byte)'/') + 1)..]);
        }
        errno = OpenParent(from, cache: false, out var fromOwned, out int fromFd, out int fromLeaf);
        if (errno != 0)
            return errno;
        using (fromOwned)
        {
            errno = toRoot.OpenParent(to, cache: false, out var toOwned, out int toFd, out int toLeaf);
            if (errno != 0)
                return errno;
            using (toOwned)
                return RenameIn(fromFd, from[fromLeaf..], toFd, to[toLeaf..]);
        }
    }

    /// <summary>renameat; moving a directory changes what cached parent names lead to.</summary>
    private int RenameIn(int fromFd, ReadOnlySpan<byte> fromLeaf, int toFd, ReadOnlySpan<byte> toLeaf)
    {
        bool directory = Confined.StatAt(fromFd, fromLeaf, Confined.AtSymlinkNoFollow, out var st) == 0 && st.IsDirectory;
        int errno = Confined.RenameAt(fromFd, fromLeaf, toFd, toLeaf);
        if (errno == 0 && directory)
            Interlocked.Increment(ref _layoutChanges);
        return errno;
    }

    private static bool SameParent(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int sa = a.LastIndexOf((byte)'/');
        int sb = b.LastIndexOf((byte)'/');
        return sa == sb && (sa < 0 || a[..sa].SequenceEqual(b[..sb])) && a.Length > 0 && b.Length > 0 && a[^1] != (byte)'/' && b[^1] != (byte)'/';
    }

    public int Rename(ReadOnlySpan<byte> from, ReadOnlySpan<byte> to) => Rename(from, this, to);

    /// <summary>A hard link to an existing entry; neither name is followed through a symlink.</summary>
    public int HardLink(ReadOnlySpan<byte> existing, ReadOnlySpan<byte> name)
    {
        int errno = OpenParent(existing, cache: false, out var fromOwned, out int fromFd, out int fromLeaf);
        if (errno != 0)
            return errno;
        using (fromOwned)
        {
            errno = OpenParent(name, cache: false, out var toOwned, out int toFd, out int toLeaf);
            if (errno != 0)
                return errno;
            using (toOwned)
                return Confined.LinkAt(fromFd, existing[fromLeaf..], toFd, name[toLeaf..]);
        }
    }

    /// <summary>The names in a directory, as the bytes the kernel returned ("." and ".." left out).</summary>
    public int List(ReadOnlySpan<byte> name, List<byte[]> names, bool followInside = false)
    {
        int errno = Confined.OpenAt(Fd, IsSelf(name) ? "."u8 : name, Confined.ORdOnly | Confined.ODirectory | Confined.ONoFollowIf(!followInside), 0,
            followInside ? Confined.ResolveBeneath : Confined.ResolveBeneath | Confined.ResolveNoSymlinks, out var handle);
        if (errno != 0)
            return errno;
        return Confined.ReadDirectory(handle!, names);
    }

    private delegate int AtCall<T>(int dir, ReadOnlySpan<byte> leaf, ref T state);

    private int WithParent<T>(ReadOnlySpan<byte> name, AtCall<T> call, ref T state, bool followInside = false)
    {
        if (IsSelf(name))
            return Posix.EINVAL;
        int errno = OpenParent(name, cache: !followInside, out var owned, out int dirFd, out int leafStart, followInside);
        if (errno != 0)
            return errno;
        using (owned)
            return call(dirFd, name[leafStart..], ref state);
    }

    /// <summary>Bumped when a directory beneath the root is removed or moved: a cached parent handle may then lead elsewhere.</summary>
    private int _layoutChanges;

    /// <summary>Changes whenever a directory beneath the root is removed or moved.</summary>
    public int LayoutVersion => Volatile.Read(ref _layoutChanges);

    /// <summary>
    /// The last parent directory this thread opened: entries arrive in list order, so consecutive
    /// names mostly share it, and one handle then serves them all.
    /// </summary>
    [ThreadStatic]
    private static CachedParent? t_parent;

    private sealed class CachedParent(ConfinedRoot root, byte[] name, int layout, SafeFileHandle handle)
    {
        public readonly ConfinedRoot Root = root;
        public readonly byte[] Name = name;
        public readonly int Layout = layout;
        public readonly SafeFileHandle Handle = handle;
    }

    /// <summary>
    /// The directory holding the last component and where that component starts. The handle is
    /// the root's own for a top-level name, else a fresh one (<paramref name="owned"/>, for the caller
    /// to dispose) or, with <paramref name="cache"/>, this thread's cached one.
    /// </summary>
    private int OpenParent(ReadOnlySpan<byte> name, bool cache, out SafeFileHandle? owned, out int dirFd, out int leafStart, bool followInside = false)
    {
        owned = null;
        dirFd = Fd;
        while (name.Length > 0 && name[^1] == (byte)'/')
            name = name[..^1];
        int slash = name.LastIndexOf((byte)'/');
        leafStart = slash + 1;
        if (name.Length == 0 || name[leafStart..].SequenceEqual(".."u8) || name[leafStart..].SequenceEqual("."u8))
            return Posix.EINVAL;
        if (slash <= 0)
            return slash == 0 ? Posix.EXDEV : 0;
        var parent = name[..slash];
        int layout = Volatile.Read(ref _layoutChanges);
        if (cache && t_parent is { } hit && ReferenceEquals(hit.Root, this) && hit.Layout == layout && parent.SequenceEqual(hit.Name))
        {
            dirFd = (int)hit.Handle.DangerousGetHandle();
            return 0;
        }
        int errno = Confined.OpenDirectoryAt(Fd, parent, followInside ? Confined.ResolveBeneath : Confined.ResolveBeneath | Confined.ResolveNoSymlinks, out var handle);
        if (errno != 0)
            return errno;
        dirFd = (int)handle!.DangerousGetHandle();
        if (!cache)
        {
            owned = handle;
            return 0;
        }
        var old = t_parent;
        t_parent = new CachedParent(this, parent.ToArray(), layout, handle);
        old?.Handle.Dispose();
        return 0;
    }

    private static bool IsSelf(ReadOnlySpan<byte> name) => name.Length == 0 || name.SequenceEqual("."u8);

    private static string Join(string root, ReadOnlySpan<byte> name) =>
        System.IO.Path.Join(root, Text.NameText.FromBytes(name));

    /// <summary>Closes this thread's cached parent handle; a thread that is done with its roots calls it before it ends.</summary>
    public static void ReleaseThreadCache()
    {
        var cached = t_parent;
        t_parent = null;
        cached?.Handle.Dispose();
    }

    public void Dispose()
    {
        if (t_parent is { } cached && ReferenceEquals(cached.Root, this))
        {
            t_parent = null;
            cached.Handle.Dispose();
        }
        _handle.Dispose();
    }
}

/// <summary>The raw *at calls behind <see cref="ConfinedRoot"/>; every path is NUL-terminated bytes.</summary>
internal static unsafe partial class Confined
{
    public const int AtFdCwd = -100;
    public const int AtSymlinkNoFollow = 0x100;
    public const int AtRemoveDir = 0x200;
    public const int AtEmptyPath = 0x1000;

    public const ulong ResolveNoSymlinks = 0x04;
    public const ulong ResolveBeneath = 0x08;

    public const int ORdOnly = 0;
    public const int OWrOnly = 1;
    public const int OCreat = 0x40;
    public const int OExcl = 0x80;
    public const int OCloexec = 0x80000;
    public const int OPath = 0x200000;

    // The two flags whose values differ between x64 and arm64 (asm-generic vs x86 fcntl.h).
    public static readonly int ODirectory = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x4000 : 0x10000;
    public static readonly int ONoFollow = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x8000 : 0x20000;

    public static int ONoFollowIf(bool yes) => yes ? ONoFollow : 0;

    private const long SysOpenat2 = 437;
    private static volatile bool s_noOpenat2;

    /// <summary>Tests only: this thread takes the path kernels without openat2 take.</summary>
    [ThreadStatic]
    internal static bool t_forceComponentWalk;

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall4(long number, long a, long b, long c, long d);

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    private static partial int OpenAtRaw(int dirfd, byte* path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "fstatat", SetLastError = true)]
    private static partial int FStatAtRaw(int dirfd, byte* path, byte* buffer, int flags);

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true)]
    private static partial int MkdirAtRaw(int dirfd, byte* path, uint mode);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true)]
    private static partial int UnlinkAtRaw(int dirfd, byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "renameat", SetLastError = true)]
    private static partial int RenameAtRaw(int fromDir, byte* from, int toDir, byte* to);

    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true)]
    private static partial int LinkAtRaw(int fromDir, byte* from, int toDir, byte* to, int flags);

    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true)]
    private static partial int SymlinkAtRaw(byte* target, int dirfd, byte* path);

    [LibraryImport("libc", EntryPoint = "mknodat", SetLastError = true)]
    private static partial int MknodAtRaw(int dirfd, byte* path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "fchmodat", SetLastError = true)]
    private static partial int FChmodAtRaw(int dirfd, byte* path, uint mode, int flags);

    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true)]
    private static partial int FChownAtRaw(int dirfd, byte* path, int uid, int gid, int flags);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true)]
    private static partial int UtimensAtRaw(int dirfd, byte* path, long* times, int flags);

    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true)]
    private static partial nint ReadLinkAtRaw(int dirfd, byte* path, byte* buffer, nuint size);

    [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
    private static partial nint FdOpenDir(int fd);

    [LibraryImport("libc", EntryPoint = "readdir64", SetLastError = true)]
    private static partial nint ReadDir(nint dir);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int CloseDir(nint dir);

    private static int Errno(int rc) => rc == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>openat2 beneath <paramref name="dirfd"/>; without openat2 (Linux before 5.6) a walk with O_NOFOLLOW per component.</summary>
    public static int OpenAt(int dirfd, ReadOnlySpan<byte> name, int flags, int mode, ulong resolve, out SafeFileHandle? handle)
    {
        handle = null;
        ReadOnlySpan<byte> z = Posix.Z(name, stackalloc byte[Posix.StackNameBytes]);
        int fd;
        if (!s_noOpenat2 && !t_forceComponentWalk)
        {
            var how = new OpenHow { Flags = (ulong)(uint)(flags | OCloexec), Mode = (flags & OCreat) != 0 ? (ulong)mode : 0, Resolve = resolve };
            fixed (byte* p = z)
                fd = (int)Syscall4(SysOpenat2, dirfd, (long)p, (long)&how, sizeof(OpenHow));
            if (fd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != 38)
                    return errno;
                s_noOpenat2 = true;
            }
            else
            {
                handle = new SafeFileHandle(fd, ownsHandle: true);
                return 0;
            }
        }
        return WalkOpen(dirfd, name, flags, mode, resolve, out handle);
    }

    /// <summary>The fallback: each component opened with O_NOFOLLOW, ".." and absolute names refused.</summary>
    private static int WalkOpen(int dirfd, ReadOnlySpan<byte> name, int flags, int mode, ulong resolve, out SafeFileHandle? handle)
    {
        handle = null;
        if (name.Length > 0 && name[0] == (byte)'/')
            return Posix.EXDEV;
        int current = dirfd;
        bool owned = false;
        try
        {
            while (true)
            {
                while (name.Length > 0 && name[0] == (byte)'/')
                    name = name[1..];
                int slash = name.IndexOf((byte)'/');
                var part = slash < 0 ? name : name[..slash];
                if (part.SequenceEqual(".."u8))
                    return Posix.EXDEV;
                bool last = slash < 0 || name[(slash + 1)..].TrimStart((byte)'/').IsEmpty;
                // Without openat2 nothing can tell a link that stays inside from one that leaves, so none is followed.
                int partFlags = last ? flags | OCloexec | ONoFollow : OPath | ODirectory | OCloexec | ONoFollow;
                int fd;
                fixed (byte* p = Posix.Z(part.IsEmpty ? "."u8 : part))
                    fd = OpenAtRaw(current, p, partFlags, mode);
                if (fd < 0)
                    return Marshal.GetLastPInvokeError();
                if (owned)
                    Close(current);
                current = fd;
                owned = true;
                if (last)
                {
                    handle = new SafeFileHandle(fd, ownsHandle: true);
                    owned = false;
                    return 0;
                }
                name = name[(slash + 1)..];
            }
        }
        finally
        {
            if (owned)
                Close(current);
        }
    }

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    public static int OpenDirectory(int dirfd, byte[] nameZ, bool followLast, out SafeFileHandle? handle)
    {
        handle = null;
        int fd;
        fixed (byte* p = nameZ)
            fd = OpenAtRaw(dirfd, p, OPath | ODirectory | OCloexec | (followLast ? 0 : ONoFollow), 0);
        if (fd < 0)
            return Marshal.GetLastPInvokeError();
        handle = new SafeFileHandle(fd, ownsHandle: true);
        return 0;
    }

    public static int OpenDirectoryAt(int dirfd, ReadOnlySpan<byte> name, ulong resolve, out SafeFileHandle? handle) =>
        OpenAt(dirfd, name, OPath | ODirectory, 0, resolve, out handle);

    public static int StatAt(int dirfd, ReadOnlySpan<byte> leaf, int flags, out FileStatus status)
    {
        byte* buf = stackalloc byte[256];
        int rc;
        fixed (byte* p = Posix.Z(leaf, stackalloc byte[Posix.StackNameBytes]))
            rc = FStatAtRaw(dirfd, p, buf, flags);
        if (rc != 0)
        {
            status = default;
            return Marshal.GetLastPInvokeError();
        }
        status = Posix.ParseStat(buf);
        return 0;
    }

    public static int MkdirAt(int dirfd, ReadOnlySpan<byte> leaf, int mode)
    {
        fixed (byte* p = Posix.Z(leaf, stackalloc byte[Posix.StackNameBytes]))
            return Errno(MkdirAtRaw(dirfd, p, (uint)mode));
    }

    public static int UnlinkAt(int dirfd, ReadOnlySpan<byte> leaf, int flags)
    {
        fixed (byte* p = Posix.Z(leaf, stackalloc byte[Posix.StackNameBytes]))
            return Errno(UnlinkAtRaw(dirfd, p, flags));
    }

    public static int RenameAt(int fromDir, ReadOnlySpan<byte> from, int toDir, ReadOnlySpan<byte> to)
    {
        fixed (byte* f = Posix.Z(from, stackalloc byte[Posix.StackNameBytes]))
        fixed (byte* t = Posix.Z(to, stackalloc byte[Posix.StackNameBytes]))
            return Errno(RenameAtRaw(fromDir, f, toDir, t));
    }

    public static int LinkAt(int fromDir, ReadOnlySpan<byte> from, int toDir, ReadOnlySpan<byte> to)
    {
        fixed (byte* f = Posix.Z(from, stackalloc byte[Posix.StackNameBytes]))
        fixed (byte* t = Posix.Z(to, stackalloc byte[Posix.StackNameBytes]))
            return Errno(LinkAtRaw(fromDir, f, toDir, t, 0));
    }

    public static int SymlinkAt(byte[] targetZ, int dirfd, ReadOnlySpan<byte> leaf)
    {
        fixed (byte* t = targetZ)
        fixed (byte* p = Posix.Z(leaf, stackalloc byte[Posix.StackNameBytes]))
            return Errno(SymlinkAtRaw(t, dirfd, p));
    }

    public static int MknodAt(int dirfd, ReadOnlySpan<byte> leaf, int mode, long rdev)
    {
        fixed (byte* p = Posix.Z(leaf, stackalloc byte[Posix.StackNameBytes]))
            return Errno(MknodAtRaw(dirfd, p, (uint)mode, (ulong)rdev));
    }

    private const long SysFchmodat2 = 452;
    private static volatile bool s_noFchmodat2;

    /// <summary>
    /// chmod that refuses a symlink: the fchmodat2 system call (Linux 6.6); glibc's own emulation
    /// needs /proc, which a chroot lacks. Before 6.6: a check, then a plain fchmodat on a name whose
    /// directory was already reached without any symlink.
    /// </summary>
    public static int ChmodAt(int dirfd, ReadOnlySpan<byte> leaf, int mode)
    {
        ReadOnlySpan<byte> z = Posix.Z(leaf, stackalloc byte[Posix.StackNameBytes]);
        if (!s_noFchmodat2)
        {
            long rc;
            fixed (byte* p = z)
                rc = Syscall4(SysFchmodat2, dirfd, (long)p, mode & 0xFFF, AtSymlinkNoFollow);
            if (rc == 0)
                return 0;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != 38)
                return errno;
            s_noFchmodat2 = true;
        }
        int statErr = StatAt(dirfd, leaf, AtSymlinkNoFollow, out var st);
        if (statErr != 0)
            return statErr;
        if (st.IsSymlink)
            return 95; // EOPNOTSUPP, as fchmodat2 answers for a link
        fixed (byte* p = z)
            return Errno(FChmodAtRaw(dirfd, p, (uint)(mode & 0xFFF), 0));
    }

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int FChmodRaw(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    private static partial int FutimensRaw(int fd, long* times);

    /// <summary>The root directory itself, opened for reading so fchmod and futimens take it (they refuse O_PATH).</summary>
    private static int WithOpenedSelf(int fd, Func<int, int> call)
    {
        int self;
        fixed (byte* p = "."u8)
            self = OpenAtRaw(fd, p, ORdOnly | ODirectory | OCloexec, 0);
        if (self < 0)
            return Marshal.GetLastPInvokeError();
        try
        {
            return call(self);
        }
        finally
        {
            Close(self);
        }
    }

    public static int ChmodFd(int fd, int mode) => WithOpenedSelf(fd, self => Errno(FChmodRaw(self, (uint)(mode & 0xFFF))));

    public static int ChownAt(int dirfd, ReadOnlySpan<byte> leaf, int uid, int gid, int flags)
    {
        fixed (byte* p = Posix.Z(leaf, stackalloc byte[Posix.StackNameBytes]))
            return Errno(FChownAtRaw(dirfd, p, uid, gid, flags));
    }

    public static int SetTimesAt(int dirfd, ReadOnlySpan<byte> leaf, long seconds, int nanoseconds)
    {
        long* times = stackalloc long[4];
        FillTimes(times, seconds, nanoseconds);
        fixed (byte* p = Posix.Z(leaf, stackalloc byte[Posix.StackNameBytes]))
            return Errno(UtimensAtRaw(dirfd, p, times, AtSymlinkNoFollow));
    }

    public static int SetTimesFd(int fd, long seconds, int nanoseconds) => WithOpenedSelf(fd, self =>
    {
        long* times = stackalloc long[4];
        FillTimes(times, seconds, nanoseconds);
        return Errno(FutimensRaw(self, times));
    });

    private static void FillTimes(long* times, long seconds, int nanoseconds)
    {
        const long UtimeNow = (1L << 30) - 1;
        times[0] = 0;
        times[1] = UtimeNow;
        times[2] = seconds;
        times[3] = nanoseconds;
    }

    public static int ReadLinkAt(int dirfd, ReadOnlySpan<byte> leaf, out byte[]? target)
    {
        target = null;
        byte[] buffer = new byte[4097];
        nint n;
        fixed (byte* p = Posix.Z(leaf, stackalloc byte[Posix.StackNameBytes]))
        fixed (byte* b = buffer)
            n = ReadLinkAtRaw(dirfd, p, b, (nuint)buffer.Length);
        if (n < 0)
            return Marshal.GetLastPInvokeError();
        if (n >= buffer.Length)
            return Posix.ENAMETOOLONG;
        target = buffer.AsSpan(0, (int)n).ToArray();
        return 0;
    }

    /// <summary>Reads every name of an open directory; the handle is consumed.</summary>
    public static int ReadDirectory(SafeFileHandle handle, List<byte[]> names)
    {
        int fd = (int)handle.DangerousGetHandle();
        handle.SetHandleAsInvalid();
        nint dir = FdOpenDir(fd);
        if (dir == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Close(fd);
            return errno;
        }
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                nint entry = ReadDir(dir);
                if (entry == 0)
                    return Marshal.GetLastPInvokeError();
                // struct dirent64: d_ino, d_off, d_reclen, d_type, then the NUL-terminated name.
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)entry + 19);
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
                    continue;
                names.Add(name.ToArray());
            }
        }
        finally
        {
            CloseDir(dir);
        }
    }
}
