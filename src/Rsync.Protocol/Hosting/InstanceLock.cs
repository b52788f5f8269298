using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.Hosting;

/// <summary>Another process holds the lock: its pid when it could be told, and the lock file.</summary>
public sealed class InstanceLockedException(string path, int? holderPid)
    : IOException($"{path} is locked by {(holderPid is { } pid ? $"pid {pid}" : "another process")}")
{
    public string LockPath { get; } = path;
    public int? HolderPid { get; } = holderPid;
}

/// <summary>
/// One running instance per job: an exclusive flock(2) on a lock file, with the holder's pid written
/// in it. The kernel drops the lock when the holder's process ends however it ends, so a crash never
/// blocks the next start. The file stays (removing it would let a late opener lock a file nobody
/// else sees); only its contents are cleared on a clean exit.
/// </summary>
public sealed class InstanceLock : IDisposable
{
    private readonly SafeFileHandle _handle;

    private InstanceLock(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
    }

    public string Path { get; }

    /// <summary>
    /// Takes the lock at <paramref name="path"/> (creating the file) without waiting, and writes this
    /// process's pid and <paramref name="description"/> in it. Throws <see cref="InstanceLockedException"/>
    /// when another process holds it, <see cref="IOException"/> when the file cannot be opened or locked.
    /// </summary>
    public static InstanceLock Acquire(string path, string description)
    {
        int errno = HostNative.TryOpenForLocking(path, out var handle);
        if (errno != 0)
            throw new IOException($"cannot open lock file {path}: {Posix.StrError(errno)} ({errno})");
        try
        {
            errno = HostNative.TryLockExclusive(handle);
            if (errno == HostNative.EWouldBlock)
                throw new InstanceLockedException(path, HolderOf(handle, path));
            if (errno != 0)
                throw new IOException($"cannot lock {path}: {Posix.StrError(errno)} ({errno})");
            HostNative.Rewrite(handle, $"{Environment.ProcessId}\n{description.ReplaceLineEndings(" ")}\n");
            return new InstanceLock(path, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The pid of the process holding the lock: the first line of the file, or, in the moment before
    /// the holder has written it, the kernel's list of locks (/proc/locks).
    /// </summary>
    private static int? HolderOf(SafeFileHandle handle, string path)
    {
        var buffer = new byte[64];
        try
        {
            int n = RandomAccess.Read(handle, buffer, 0);
            string text = Encoding.ASCII.GetString(buffer, 0, n);
            int end = text.IndexOf('\n');
            if (end > 0 && int.TryParse(text[..end], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0)
                return pid;
        }
        catch (IOException)
        {
        }
        return HolderFromKernel(path);
    }

    private static int? HolderFromKernel(string path)
    {
        if (Posix.TryStat(path, out var status) != 0)
            return null;
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:131 0 EOF": the device as hex major:minor, then the inode.
        string file = $"{Posix.Major(status.Device):x2}:{Posix.Minor(status.Device):x2}:{status.Inode.ToString(CultureInfo.InvariantCulture)}";
        try
        {
            foreach (string line in File.ReadLines("/proc/locks"))
            {
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // A waiter's line starts "1: ->"; the holder's has the type right after the number.
                if (fields.Length >= 6 && fields[1] == "FLOCK" && fields[5] == file
                    && int.TryParse(fields[4], NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                    return pid;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    public void Dispose()
    {
        if (_handle.IsClosed)
            return;
        try
        {
            HostNative.Rewrite(_handle, "");
        }
        catch (IOException)
        {
        }
        HostNative.ReleaseLock(_handle);
        _handle.Dispose();
    }
}
