using System.Runtime.InteropServices;

namespace NetRsync.Protocol.Native;

/// <summary>
/// Group membership from the system's databases: a user's groups for "auth users" @group rules and
/// netgroups for "hosts allow" / "hosts deny" @netgroup items. Entries are read with the _r calls,
/// growing the buffer while libc answers ERANGE.
/// </summary>
public static partial class Posix
{
    private const int ERANGE = 34;

    // No account or group entry needs more; a bigger one is treated as missing.
    private const int MaxEntryBuffer = 1 << 20;

    // NGROUPS_MAX on Linux.
    private const int MaxGroups = 65536;

    [LibraryImport("libc", EntryPoint = "getgrouplist")]
    private static unsafe partial int GetGroupListOfName(byte* user, uint group, uint* groups, int* count);

    [LibraryImport("libc", EntryPoint = "innetgr", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int InNetgrRaw(string netgroup, string? host, string? user, string? domain);

    // NSS modules behind innetgr need not be thread-safe.
    private static readonly Lock NetgroupLock = new();

    /// <summary>getpwnam_r: the uid of the account called <paramref name="name"/>, or null when there is none.</summary>
    public static unsafe uint? UserIdOfName(string name)
    {
        // A NUL would end the name early and look up another account.
        if (name.Length == 0 || name.Contains('\0'))
            return null;
        byte* pwd = stackalloc byte[128];
        for (int size = 1024; size <= MaxEntryBuffer; size *= 2)
        {
            var buffer = new byte[size];
            fixed (byte* b = buffer)
            {
                byte* result = null;
                int rc = GetPwNam(name, pwd, b, (nuint)size, &result);
                if (rc == ERANGE)
                    continue;
                if (rc != 0 || result == null)
                    return null;
                return *(uint*)(pwd + 16); // pw_uid
            }
        }
        return null;
    }

    /// <summary>getpwuid_r: the login name (as bytes) and primary group of the account with this uid, or null.</summary>
    public static unsafe (byte[] Name, uint PrimaryGroup)? AccountOfUserId(uint uid)
    {
        byte* pwd = stackalloc byte[128];
        for (int size = 1024; size <= MaxEntryBuffer; size *= 2)
        {
            var buffer = new byte[size];
            fixed (byte* b = buffer)
            {
                byte* result = null;
                int rc = GetPwUid(uid, pwd, b, (nuint)size, &result);
                if (rc == ERANGE)
                    continue;
                if (rc != 0 || result == null)
                    return null;
                byte[] name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(*(byte**)pwd).ToArray(); // pw_name
                return (name, *(uint*)(pwd + 20)); // pw_gid
            }
        }
        return null;
    }

    /// <summary>getgrouplist: every group of the account <paramref name="name"/>, with <paramref name="primaryGroup"/> among them; null when the lookup fails.</summary>
    public static unsafe uint[]? GroupListOf(byte[] name, uint primaryGroup)
    {
        byte[] nameZ = [.. name, 0];
        int count = 64;
        while (true)
        {
            var groups = new uint[count];
            int n = count;
            fixed (byte* user = nameZ)
            fixed (uint* p = groups)
            {
                if (GetGroupListOfName(user, primaryGroup, p, &n) >= 0)
                    return groups[..Math.Min(n, count)];
            }
            // -1 with n set to the number needed.
            if (n <= count || count >= MaxGroups)
                return null;
            count = Math.Min(Math.Max(n, count * 2), MaxGroups);
        }
    }

    /// <summary>getgrgid_r: a group's name, or null when the gid has no entry.</summary>
    public static unsafe string? NameOfGroupId(uint gid)
    {
        byte* grp = stackalloc byte[128];
        for (int size = 1024; size <= MaxEntryBuffer; size *= 2)
        {
            var buffer = new byte[size];
            fixed (byte* b = buffer)
            {
                byte* result = null;
                int rc = GetGrGid(gid, grp, b, (nuint)size, &result);
                if (rc == ERANGE)
                    continue;
                if (rc != 0 || result == null)
                    return null;
                return Marshal.PtrToStringUTF8((nint)(*(byte**)grp)); // gr_name
            }
        }
        return null;
    }

    /// <summary>innetgr(netgroup, host, NULL, NULL): whether the netgroup lists the host (with any user and domain).</summary>
    public static bool InNetgroup(string netgroup, string host)
    {
        if (netgroup.Length == 0 || netgroup.Contains('\0') || host.Contains('\0'))
            return false;
        lock (NetgroupLock)
            return InNetgrRaw(netgroup, host, null, null) == 1;
    }
}
