using System.Runtime.InteropServices;

namespace NetRsync.SerSync;

/// <summary>
/// The directory reads and stats the watcher and the planner need, by path bytes: .NET's own file
/// APIs decode names as UTF-8 and would lose any name that is not.
/// </summary>
public static unsafe partial class FileSystemBytes
{
    public enum EntryType
    {
        Missing,
        Directory,
        Regular,
        Symlink,
        Other,
    }

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxBasicStats = 0x7FF;
    // struct statx: stx_mode (u16) at 28, stx_ino (u64) at 32, stx_size (u64) at 40, then the
    // timestamps (i64 seconds, u32 nanoseconds, 4 bytes padding): ctime at 96, mtime at 112.
    private const int StatxModeOffset = 28;
    private const int StatxInodeOffset = 32;
    private const int StatxSizeOffset = 40;
    private const int StatxCtimeOffset = 96;
    private const int StatxMtimeOffset = 112;
    private const int SIfmt = 0xF000;
    private const int SIfdir = 0x4000;
    private const int SIfreg = 0x8000;
    private const int SIflnk = 0xA000;
    private const byte DtUnknown = 0;
    private const byte DtDir = 4;
    private const byte DtReg = 8;
    private const byte DtLnk = 10;
    // struct dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
    private const int DirentTypeOffset = 18;
    private const int DirentNameOffset = 19;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static partial int Statx(int dirfd, byte* path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "opendir", SetLastError = true)]
    private static partial nint OpenDir(byte* path);

    [LibraryImport("libc", EntryPoint = "readdir64", SetLastError = true)]
    private static partial nint ReadDir(nint dir);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int CloseDir(nint dir);

    /// <summary>The path with a terminating NUL, for the libc calls.</summary>
    public static byte[] Z(ReadOnlySpan<byte> path)
    {
        var z = new byte[path.Length + 1];
        path.CopyTo(z);
        return z;
    }

    /// <summary>ROOT/REL as bytes ("" is the root itself).</summary>
    public static byte[] Full(byte[] root, ReadOnlySpan<byte> rel) => rel.IsEmpty ? root : Names.Join(root, rel);

    /// <summary>
    /// Walks the directories below <paramref name="rel"/> depth first. <paramref name="enter"/> is asked
    /// (relative name, full path) before a directory is listed; <paramref name="visit"/> sees each entry
    /// found (relative name, type) and says whether a directory among them is walked in turn.
    /// </summary>
    public static void WalkTree(byte[] root, byte[] rel, Func<byte[], byte[], bool> enter, Func<byte[], EntryType, bool> visit)
    {
        var pending = new Stack<byte[]>();
        var entries = new List<(byte[] Name, EntryType Type)>();
        pending.Push(rel);
        while (pending.Count > 0)
        {
            byte[] dirRel = pending.Pop();
            byte[] full = Full(root, dirRel);
            if (!enter(dirRel, full))
                continue;
            entries.Clear();
            int errno = List(full, entries);
            if (errno != 0)
            {
                // Gone or unreadable meanwhile: its own events (or their absence) tell the rest.
                if (Log.DebugEnabled)
                    Log.Debug($"cannot list {Names.Display(full)}: {Inotify.InotifyNative.Describe(errno)}");
                continue;
            }
            foreach (var (name, type) in entries)
            {
                byte[] childRel = Names.Join(dirRel, name);
                if (visit(childRel, type) && type == EntryType.Directory)
                    pending.Push(childRel);
            }
        }
    }

    /// <summary>What the path is, without following a final symlink.</summary>
    public static EntryType LStat(ReadOnlySpan<byte> path)
    {
        byte* buffer = stackalloc byte[256];
        byte[] z = Z(path);
        fixed (byte* p = z)
        {
            if (Statx(AtFdCwd, p, AtSymlinkNoFollow, StatxType, buffer) != 0)
                return EntryType.Missing;
        }
        return TypeOfMode(*(ushort*)(buffer + StatxModeOffset));
    }

    /// <summary>What lstat says about a path now: type, size, times and inode (<see cref="EntryType.Missing"/> when absent).</summary>
    public readonly record struct FileState(EntryType Type, long Size, long MtimeSeconds, int MtimeNanoseconds, ulong Inode, long CtimeSeconds, int CtimeNanoseconds)
    {
        public static FileState Missing { get; } = new(EntryType.Missing, 0, 0, 0, 0, 0, 0);
    }

    /// <summary>The path's <see cref="FileState"/>, without following a final symlink.</summary>
    public static FileState State(ReadOnlySpan<byte> path)
    {
        byte* buffer = stackalloc byte[256];
        byte[] z = Z(path);
        fixed (byte* p = z)
        {
            if (Statx(AtFdCwd, p, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
                return FileState.Missing;
        }
        return new FileState(
            TypeOfMode(*(ushort*)(buffer + StatxModeOffset)),
            *(long*)(buffer + StatxSizeOffset),
            *(long*)(buffer + StatxMtimeOffset),
            (int)*(uint*)(buffer + StatxMtimeOffset + 8),
            *(ulong*)(buffer + StatxInodeOffset),
            *(long*)(buffer + StatxCtimeOffset),
            (int)*(uint*)(buffer + StatxCtimeOffset + 8));
    }

    private static EntryType TypeOfMode(int mode) => (mode & SIfmt) switch
    {
        SIfdir => EntryType.Directory,
        SIfreg => EntryType.Regular,
        SIflnk => EntryType.Symlink,
        _ => EntryType.Other,
    };

    /// <summary>The entries of a directory, names as the kernel returned them ("." and ".." left out);
    /// returns 0 or the errno of opendir.</summary>
    public static int List(ReadOnlySpan<byte> directory, List<(byte[] Name, EntryType Type)> entries)
    {
        byte[] z = Z(directory);
        nint dir;
        fixed (byte* p = z)
            dir = OpenDir(p);
        if (dir == 0)
            return Marshal.GetLastPInvokeError();
        try
        {
            nint entry;
            while ((entry = ReadDir(dir)) != 0)
            {
                byte* d = (byte*)entry;
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(d + DirentNameOffset);
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
                    continue;
                var type = d[DirentTypeOffset] switch
                {
                    DtDir => EntryType.Directory,
                    DtReg => EntryType.Regular,
                    DtLnk => EntryType.Symlink,
                    DtUnknown => LStat(Names.Join(directory, name)),
                    _ => EntryType.Other,
                };
                entries.Add((name.ToArray(), type));
            }
        }
        finally
        {
            CloseDir(dir);
        }
        return 0;
    }
}
