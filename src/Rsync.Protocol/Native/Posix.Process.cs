using System.Runtime.InteropServices;

namespace NetRsync.Protocol.Native;

/// <summary>Identity, chroot and process calls a daemon needs to serve a module as rsync does (clientserver.c, rsync_module).</summary>
public static partial class Posix
{
    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    private static unsafe partial int SocketPairNative(int domain, int type, int protocol, int* fds);

    /// <summary>A connected pair of Unix stream sockets (close-on-exec), or the errno.</summary>
    public static unsafe int SocketPair(out int first, out int second)
    {
        const int AfUnix = 1, SockStream = 1, SockCloexec = 0x80000;
        int* fds = stackalloc int[2];
        first = second = -1;
        if (SocketPairNative(AfUnix, SockStream | SockCloexec, 0, fds) != 0)
            return System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        first = fds[0];
        second = fds[1];
        return 0;
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial int EffectiveUserId();

    [LibraryImport("libc", EntryPoint = "getegid")]
    public static partial int EffectiveGroupId();

    [LibraryImport("libc", EntryPoint = "chroot", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChrootRaw(string path);

    [LibraryImport("libc", EntryPoint = "chdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChdirRaw(string path);

    [LibraryImport("libc", EntryPoint = "setgid", SetLastError = true)]
    private static partial int SetGidRaw(int gid);

    [LibraryImport("libc", EntryPoint = "setgroups", SetLastError = true)]
    private static unsafe partial int SetGroupsRaw(nuint size, int* list);

    [LibraryImport("libc", EntryPoint = "setuid", SetLastError = true)]
    private static partial int SetUidRaw(int uid);

    [LibraryImport("libc", EntryPoint = "getgrouplist", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int GetGroupListRaw(string user, int group, int* groups, int* count);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static unsafe partial int WaitPidRaw(int pid, int* status, int options);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillRaw(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2Raw(int from, int to);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenRaw(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseRaw(int fd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static unsafe partial int FileActionsInit(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static unsafe partial int FileActionsAddDup2(byte* actions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static unsafe partial int FileActionsDestroy(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    private static unsafe partial int PosixSpawnRaw(int* pid, byte* path, byte* actions, nint attributes, byte** argv, byte** envp);

    [LibraryImport("libc", EntryPoint = "getgroups", SetLastError = true)]
    private static unsafe partial int GetGroupsRaw(int size, int* list);

    public const int SIGTERM = 15;

    /// <summary>The process's effective group and its supplementary groups.</summary>
    public static unsafe HashSet<int> CurrentGroups()
    {
        var groups = new HashSet<int> { EffectiveGroupId() };
        int n = GetGroupsRaw(0, null);
        if (n > 0)
        {
            var list = new int[n];
            fixed (int* p = list)
                n = GetGroupsRaw(n, p);
            for (int i = 0; i < n; i++)
                groups.Add(list[i]);
        }
        return groups;
    }

    public static int Chroot(string path) => Errno(ChrootRaw(path));

    public static int ChangeDirectory(string path) => Errno(ChdirRaw(path));

    public static int SetGroupId(int gid) => Errno(SetGidRaw(gid));

    public static int SetUserId(int uid) => Errno(SetUidRaw(uid));

    public static unsafe int SetGroups(IReadOnlyList<int> groups)
    {
        int[] list = [.. groups];
        fixed (int* p = list)
            return Errno(SetGroupsRaw((nuint)list.Length, p));
    }

    /// <summary>Every group <paramref name="user"/> belongs to, <paramref name="primary"/> first (getgrouplist(3)).</summary>
    public static unsafe int[] GroupsOf(string user, int primary)
    {
        int count = 64;
        while (true)
        {
            var groups = new int[count];
            int n = count;
            fixed (int* p = groups)
            {
                if (GetGroupListRaw(user, primary, p, &n) >= 0)
                    return groups[..n];
            }
            count = Math.Max(n, count * 2);
        }
    }

    public static int Kill(int pid, int signal) => Errno(KillRaw(pid, signal));

    /// <summary>Waits for a child; its exit code, or 128 + the signal that ended it.</summary>
    public static unsafe int WaitForChild(int pid)
    {
        int status;
        while (WaitPidRaw(pid, &status, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != 4) // EINTR
                return -1;
        }
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F);
    }

    /// <summary>Points <paramref name="fd"/> at /dev/null (a descriptor nothing must write to).</summary>
    public static void RedirectToNull(int fd)
    {
        int devNull = OpenRaw("/dev/null", 2); // O_RDWR
        if (devNull < 0)
            return;
        Dup2Raw(devNull, fd);
        CloseRaw(devNull);
    }

    /// <summary>
    /// Starts <paramref name="path"/> with <paramref name="socketFd"/> as its stdin and stdout, as inetd
    /// hands rsync a connection; stderr is inherited. Returns the pid, or throws with the errno's text.
    /// </summary>
    public static unsafe int SpawnWithSocket(string path, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, int socketFd)
    {
        var allocations = new List<nint>();
        byte* Utf8Z(string s)
        {
            byte[] bytes = Text.NameText.ToBytes(s);
            nint p = Marshal.AllocHGlobal(bytes.Length + 1);
            allocations.Add(p);
            Marshal.Copy(bytes, 0, p, bytes.Length);
            ((byte*)p)[bytes.Length] = 0;
            return (byte*)p;
        }
        byte** Vector(IReadOnlyList<string> items)
        {
            nint v = Marshal.AllocHGlobal((items.Count + 1) * sizeof(nint));
            allocations.Add(v);
            byte** array = (byte**)v;
            for (int i = 0; i < items.Count; i++)
                array[i] = Utf8Z(items[i]);
            array[items.Count] = null;
            return array;
        }
        // posix_spawn_file_actions_t is 80 bytes on glibc; leave room.
        byte* actions = stackalloc byte[256];
        try
        {
            byte** argv = Vector([path, .. arguments]);
            byte** envp = Vector(environment.Select(kv => kv.Key + "=" + kv.Value).ToList());
            FileActionsInit(actions);
            FileActionsAddDup2(actions, socketFd, 0);
            FileActionsAddDup2(actions, socketFd, 1);
            int pid;
            int rc = PosixSpawnRaw(&pid, Utf8Z(path), actions, 0, argv, envp);
            FileActionsDestroy(actions);
            if (rc != 0)
                throw new IOException($"posix_spawn {path} failed: {StrError(rc)} ({rc})");
            return pid;
        }
        finally
        {
            foreach (nint p in allocations)
                Marshal.FreeHGlobal(p);
        }
    }
}
