using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NetRsync.Protocol.Hosting;

/// <summary>The few process-level libc calls the hosts need: sessions, pipes and whole-file locks.</summary>
internal static partial class HostNative
{
    private const int OCloexec = 0x80000;
    private const int LockExclusive = 2, LockNonBlocking = 4, Unlock = 8;

    public const int EWouldBlock = 11;
    public const int EIntr = 4;

    [LibraryImport("libc", EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static unsafe partial int Pipe2(int* fds, int flags);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshallingCustomType = typeof(Native.NamePathMarshaller))]
    private static partial int OpenRaw(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int FTruncate(SafeFileHandle fd, long length);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int FLock(SafeFileHandle fd, int operation);

    /// <summary>A pipe whose ends close on exec, so no child process holds it open.</summary>
    public static unsafe bool TryCreatePipe(out SafeFileHandle readEnd, out SafeFileHandle writeEnd)
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, OCloexec) != 0)
        {
            readEnd = writeEnd = new SafeFileHandle();
            return false;
        }
        readEnd = new SafeFileHandle(fds[0], ownsHandle: true);
        writeEnd = new SafeFileHandle(fds[1], ownsHandle: true);
        return true;
    }

    /// <summary>
    /// Opens (creating, mode 0644) a file to lock, by its name's bytes. Not through FileStream: .NET
    /// takes a shared flock of its own on what it opens, which would meet ours.
    /// </summary>
    public static int TryOpenForLocking(string path, out SafeFileHandle handle)
    {
        const int OReadWrite = 2, OCreate = 0x40;
        // Not through a link: a lock file often sits in a shared directory such as /tmp.
        int flags = OReadWrite | OCreate | OCloexec | Native.Confined.ONoFollow;
        while (true)
        {
            int fd = OpenRaw(path, flags, 0x1A4);
            if (fd >= 0)
            {
                handle = new SafeFileHandle(fd, ownsHandle: true);
                return 0;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EIntr)
            {
                handle = new SafeFileHandle();
                return errno;
            }
        }
    }

    /// <summary>Replaces the file's contents with <paramref name="text"/>.</summary>
    public static void Rewrite(SafeFileHandle file, string text)
    {
        if (FTruncate(file, 0) != 0)
            throw new IOException(Native.Posix.StrError(Marshal.GetLastPInvokeError()));
        RandomAccess.Write(file, System.Text.Encoding.ASCII.GetBytes(text), 0);
    }

    /// <summary>flock(LOCK_EX | LOCK_NB): 0, or the errno (EWOULDBLOCK when another holds the lock).</summary>
    public static int TryLockExclusive(SafeFileHandle file)
    {
        while (true)
        {
            if (FLock(file, LockExclusive | LockNonBlocking) == 0)
                return 0;
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EIntr)
                return errno;
        }
    }

    public static void ReleaseLock(SafeFileHandle file) => _ = FLock(file, Unlock);
}
