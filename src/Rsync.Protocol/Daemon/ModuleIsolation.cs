using System.Reflection;
using System.Security.Cryptography;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// What a module asks of the process that serves it: a chroot into its path and the user and groups
/// to run as (clientserver.c, rsync_module). Only a process serving one connection can do this;
/// the listening daemon hands such connections to a child of its own.
/// </summary>
internal sealed record ModuleIsolation
{
    /// <summary>Whether the process chroots; <see cref="ChrootDirectory"/> then becomes "/".</summary>
    public bool UseChroot { get; init; }

    /// <summary>The directory to chroot into: the path before a "/./" divider, else the whole path.</summary>
    public string ChrootDirectory { get; init; } = "/";

    /// <summary>The module's directory as the transfer sees it: inside the chroot, or the configured path.</summary>
    public required string ModuleDirectory { get; init; }

    /// <summary>The user to become, when it differs from the current one.</summary>
    public int? Uid { get; init; }

    /// <summary>The groups to take, first the primary one; empty to keep the current ones.</summary>
    public IReadOnlyList<int> Gids { get; init; } = [];

    public bool Needed => UseChroot || Uid is not null || Gids.Count > 0;

    /// <summary>
    /// The module's settings resolved for this process, or null with the error rsync sends
    /// ("@ERROR: ...") and the line it logs.
    /// </summary>
    public static ModuleIsolation? Resolve(DaemonModule module, string modulePath, out string? error, out string? logLine)
    {
        error = logLine = null;
        bool root = Posix.EffectiveUserId() == 0;
        // As root, an unset "use chroot" means yes (a chroot is possible); otherwise no (rsync 3.2.7+).
        bool useChroot = module.EffectiveUseChroot(chrootAvailable: root);
        string chrootDir = "/";
        string moduleDir = modulePath;
        if (useChroot)
        {
            int divider = modulePath.IndexOf("/./", StringComparison.Ordinal);
            chrootDir = divider < 0 ? modulePath : modulePath[..divider] is { Length: > 0 } outer ? outer : "/";
            moduleDir = divider < 0 ? "/" : "/" + modulePath[(divider + 3)..].Trim('/');
        }

        int? uid = null;
        var gids = new List<int>();
        if (root)
        {
            string? user = module.EffectiveUid(runningAsRoot: true);
            if (user is not null)
            {
                int? id = Posix.UserId(user) ?? (user.All(char.IsAsciiDigit) && int.TryParse(user, out int n) ? n : null);
                if (id is null)
                {
                    logLine = $"Invalid uid {user}";
                    error = $"invalid uid {user}";
                    return null;
                }
                if (id != Posix.EffectiveUserId())
                    uid = id;
            }
            var groups = module.EffectiveGids(runningAsRoot: true);
            for (int i = 0; i < groups.Count; i++)
            {
                string group = groups[i];
                if (group == "*" && i == 0)
                {
                    // Every group of the module's user, its primary group first (clientserver.c, want_all_groups).
                    string? owner = user is null ? null : Posix.UserName(uid ?? Posix.EffectiveUserId()) ?? user;
                    int? primary = owner is null ? null : Posix.UserPrimaryGroup(owner);
                    if (owner is null || primary is null)
                    {
                        logLine = $"getpwuid failed for uid {uid ?? Posix.EffectiveUserId()}";
                        error = "getpwuid failed";
                        return null;
                    }
                    gids.Add(primary.Value);
                    gids.AddRange(Posix.GroupsOf(owner, primary.Value).Where(g => g != primary.Value));
                    continue;
                }
                int? id = Posix.GroupId(group) ?? (group.All(char.IsAsciiDigit) && int.TryParse(group, out int n) ? n : null);
                if (id is null)
                {
                    logLine = $"Invalid gid {group}";
                    error = "invalid gid setting.";
                    return null;
                }
                if (!gids.Contains(id.Value))
                    gids.Add(id.Value);
            }
            if (gids.Count == 1 && gids[0] == Posix.EffectiveGroupId())
                gids.Clear();
        }
        return new ModuleIsolation { UseChroot = useChroot, ChrootDirectory = chrootDir, ModuleDirectory = moduleDir, Uid = uid, Gids = gids };
    }

    /// <summary>
    /// Chroots and changes identity, in rsync's order: chroot, chdir, setgid, setgroups, setuid.
    /// Returns the error for "@ERROR: ..." and logs why, or null on success.
    /// </summary>
    public string? Apply(DaemonLog log)
    {
        if (UseChroot)
        {
            LoadEverythingBeforeChroot();
            int errno = Posix.Chroot(ChrootDirectory);
            if (errno != 0)
            {
                log.Write($"chroot(\"{ChrootDirectory}\") failed: {Posix.StrError(errno)} ({errno})");
                return "chroot failed";
            }
        }
        int cd = Posix.ChangeDirectory(ModuleDirectory);
        if (cd != 0)
        {
            log.Write($"chdir {ModuleDirectory} failed: {Posix.StrError(cd)} ({cd})");
            return $"chdir {ModuleDirectory} failed";
        }
        if (Gids.Count > 0)
        {
            int errno = Posix.SetGroupId(Gids[0]);
            if (errno != 0)
            {
                log.Write($"setgid {Gids[0]} failed: {Posix.StrError(errno)} ({errno})");
                return "setgid failed";
            }
            errno = Posix.SetGroups(Gids);
            if (errno != 0)
            {
                log.Write($"setgroups failed: {Posix.StrError(errno)} ({errno})");
                return "setgroups failed";
            }
        }
        if (Uid is int uid)
        {
            int errno = Posix.SetUserId(uid);
            if (errno != 0)
            {
                log.Write($"setuid {uid} failed: {Posix.StrError(errno)} ({errno})");
                return "setuid failed";
            }
        }
        return null;
    }

    private static int s_loaded;

    /// <summary>
    /// After a chroot nothing outside the module can be loaded: every assembly the daemon may use,
    /// the crypto library behind MD5, and the local time zone are brought in now.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2026",
        Justification = "An assembly trimming removed is one nothing calls, and a load that fails is skipped; a native executable has every assembly compiled in.")]
    public static void LoadEverythingBeforeChroot()
    {
        if (Interlocked.Exchange(ref s_loaded, 1) != 0)
            return;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>([typeof(ModuleIsolation).Assembly, .. Assembly.GetEntryAssembly() is { } entry ? [entry] : Array.Empty<Assembly>()]);
        while (pending.Count > 0)
        {
            foreach (AssemblyName reference in pending.Pop().GetReferencedAssemblies())
            {
                if (!seen.Add(reference.FullName))
                    continue;
                try
                {
                    pending.Push(Assembly.Load(reference));
                }
                catch (Exception ex) when (ex is FileNotFoundException or FileLoadException or BadImageFormatException)
                {
                    // An optional facade that this runtime does not ship: nothing will ask for it.
                }
            }
        }
        _ = MD5.HashData([]);
        using (var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5))
            md5.AppendData([1]);
        _ = TimeZoneInfo.Local.GetUtcOffset(DateTime.UtcNow);
        _ = DateTime.Now.ToString("yyyy/MM/dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
    }
}
