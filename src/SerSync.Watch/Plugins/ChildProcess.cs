using System.Runtime.InteropServices;

namespace NetRsync.SerSync.Plugins;

/// <summary>
/// Runs a program with argv given as bytes (posix_spawnp, the environment inherited): .NET's Process
/// encodes every argument as UTF-8 and would hand a command a different name than the one that changed.
/// </summary>
internal static partial class ChildProcess
{
    private const int WNoHang = 1;
    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "posix_spawnp")]
    private static unsafe partial int PosixSpawnP(int* pid, byte* file, nint fileActions, nint attributes, byte** argv, byte** envp);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static unsafe partial int WaitPid(int pid, int* status, int options);

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial nint StrError(int errno);

    private static readonly nint EnvironSymbol = NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "environ");

    /// <summary>Starts argv[0] (searched in PATH) with the exact argument bytes; returns the pid.</summary>
    public static unsafe int Start(IReadOnlyList<byte[]> argv)
    {
        var handles = new GCHandle[argv.Count];
        byte** vector = stackalloc byte*[argv.Count + 1];
        try
        {
            for (int i = 0; i < argv.Count; i++)
            {
                byte[] z = FileSystemBytes.Z(argv[i]);
                handles[i] = GCHandle.Alloc(z, GCHandleType.Pinned);
                vector[i] = (byte*)handles[i].AddrOfPinnedObject();
            }
            vector[argv.Count] = null;
            int pid;
            int rc = PosixSpawnP(&pid, vector[0], 0, 0, vector, *(byte***)EnvironSymbol);
            if (rc != 0)
                throw new IOException($"cannot run {Names.Display(argv[0])}: {Marshal.PtrToStringUTF8(StrError(rc))}");
            return pid;
        }
        finally
        {
            foreach (var handle in handles)
                if (handle.IsAllocated)
                    handle.Free();
        }
    }

    /// <summary>Waits for the child; past the timeout or on cancellation it is killed. Returns the exit
    /// code, or 128 + the signal that ended it.</summary>
    public static async Task<int> WaitAsync(int pid, TimeSpan timeout, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        int delayMs = 1;
        while (true)
        {
            if (TryReap(pid, out int code))
                return code;
            if (DateTime.UtcNow > deadline || cancel.IsCancellationRequested)
            {
                Kill(pid, SigKill);
                while (!TryReap(pid, out _))
                    await Task.Delay(10, CancellationToken.None);
                throw new OperationCanceledException($"{pid} killed after {timeout.TotalSeconds:F0} s or at shutdown");
            }
            await Task.Delay(delayMs, CancellationToken.None);
            delayMs = Math.Min(delayMs * 2, 50);
        }
    }

    private static unsafe bool TryReap(int pid, out int code)
    {
        int status;
        int rc = WaitPid(pid, &status, WNoHang);
        code = 0;
        if (rc == 0)
            return false;
        if (rc < 0)
        {
            code = -1; // already reaped elsewhere; its status is unknown
            return true;
        }
        int signal = status & 0x7F;
        code = signal == 0 ? (status >> 8) & 0xFF : 128 + signal;
        return true;
    }
}
