using System.Security.Cryptography;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Text;

namespace NetRsync.Protocol.Hosting;

/// <summary>Where a service keeps its runtime files (locks, sockets): gone at reboot, private to its user.</summary>
public static class RunDirectory
{
    /// <summary>
    /// The first of: the directory <paramref name="overrideVariable"/> names; /run/NAME for root;
    /// $XDG_RUNTIME_DIR/NAME; /tmp/NAME-UID (made mode 0700 and checked to be ours, since /tmp is shared).
    /// The directory is created when missing.
    /// </summary>
    public static string For(string name, string overrideVariable)
    {
        var (directory, privateToUs) = Choose(name, overrideVariable);
        return Ensure(directory, privateToUs);
    }

    /// <summary>The directory <see cref="For"/> would use, neither created nor checked.</summary>
    public static string PathFor(string name, string overrideVariable) => Choose(name, overrideVariable).Directory;

    private static (string Directory, bool PrivateToUs) Choose(string name, string overrideVariable)
    {
        if (Environment.GetEnvironmentVariable(overrideVariable) is { Length: > 0 } chosen)
            return (chosen, false);
        int uid = Posix.EffectiveUserId();
        if (uid == 0)
            return (Path.Combine("/run", name), false);
        if (Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime && Path.IsPathRooted(runtime) && Directory.Exists(runtime))
            return (Path.Combine(runtime, name), false);
        // Not $TMPDIR: every process of the node must find the same directory.
        return (Path.Combine("/tmp", $"{name}-{uid}"), true);
    }

    /// <summary>
    /// A file name in <paramref name="directory"/> standing for <paramref name="key"/> (a path, say):
    /// PREFIX-HASH.lock, the hash taken over the key's bytes, so any key makes a short, safe name.
    /// </summary>
    public static string KeyedFile(string directory, string prefix, string key)
    {
        byte[] hash = SHA256.HashData(NameText.ToBytes(key));
        return Path.Combine(directory, $"{prefix}-{Convert.ToHexStringLower(hash.AsSpan(0, 8))}.lock");
    }

    private static string Ensure(string directory, bool privateToUs)
    {
        if (privateToUs && !OperatingSystem.IsWindows())
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        else
            Directory.CreateDirectory(directory);
        if (privateToUs && (Posix.TryLStat(directory, out var status) != 0 || !status.IsDirectory || status.Uid != Posix.EffectiveUserId() || (status.Mode & 0x3F) != 0))
            throw new IOException($"{directory} is not a directory private to this user; set a run directory of its own");
        return directory;
    }
}
