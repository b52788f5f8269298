using System.Runtime.InteropServices;

namespace NetRsync.SerSync.Inotify;

/// <summary>The Linux inotify calls (inotify(7)); FileSystemWatcher has no close-write event.</summary>
internal static partial class InotifyNative
{
    public const uint Modify = 0x2;
    public const uint Attrib = 0x4;
    public const uint CloseWrite = 0x8;
    public const uint MovedFrom = 0x40;
    public const uint MovedTo = 0x80;
    public const uint Create = 0x100;
    public const uint Delete = 0x200;
    public const uint DeleteSelf = 0x400;
    public const uint MoveSelf = 0x800;
    public const uint Unmount = 0x2000;
    public const uint QueueOverflow = 0x4000;
    public const uint Ignored = 0x8000;
    public const uint OnlyDir = 0x01000000;
    public const uint DontFollow = 0x02000000;
    public const uint ExcludeUnlinked = 0x04000000;
    public const uint IsDir = 0x40000000;

    public const int NonBlock = 0x800;
    public const int CloseOnExec = 0x80000;

    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EACCES = 13;
    public const int ENOTDIR = 20;
    public const int ENOSPC = 28;

    public const short PollIn = 1;

    /// <summary>sizeof(struct inotify_event) without the name.</summary>
    public const int EventHeaderSize = 16;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    public static partial int Init(int flags);

    /// <param name="path">NUL-terminated path bytes.</param>
    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true)]
    public static unsafe partial int AddWatch(int fd, byte* path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    public static partial int RemoveWatch(int fd, int wd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial nint StrError(int errno);

    public static string Describe(int errno) => Marshal.PtrToStringUTF8(StrError(errno)) ?? $"errno {errno}";
}
