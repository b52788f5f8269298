using System.Runtime.InteropServices;
using System.Text;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.Daemon.Config;

/// <summary>The file facts "strict modes" looks at.</summary>
/// <param name="Mode">The permission bits (st_mode; only the low bits matter).</param>
/// <param name="OwnerUid">The owning user id.</param>
public readonly record struct SecretsFileStatus(int Mode, int OwnerUid);

/// <summary>The outcome of opening a module's secrets file.</summary>
/// <param name="File">The file's entries, or null when it cannot be used.</param>
/// <param name="Error">null, or the reason rsync gives in "auth failed on module ...: REASON": "no secrets file" or "ignoring secrets file".</param>
/// <param name="LogMessage">What rsync logs besides, e.g. a strict-modes refusal.</param>
public sealed record SecretsFileResult(SecretsFile? File, string? Error, string? LogMessage);

/// <summary>
/// A daemon secrets file (authenticate.c, check_secret): "user:password" and "@group:password" lines.
/// The first line for a name is the only one tried for it; a user may log in with that password or,
/// when a group rule let them in, with the first password of that group.
/// </summary>
public sealed partial class SecretsFile
{
    /// <summary>The strict-modes refusal for a file other users can read or write.</summary>
    public const string OtherAccessibleRefusal = "secrets file must not be other-accessible (see strict modes option)";

    /// <summary>The strict-modes refusal for a file not owned by root while the daemon runs as root.</summary>
    public const string NotOwnedByRootRefusal = "secrets file must be owned by root when running as root (see strict modes)";

    // rsync reads the file with a 1024-byte fgets buffer: a longer line is taken as several.
    private const int LineLimit = 1023;

    private readonly List<byte[]> _lines;

    private SecretsFile(List<byte[]> lines) => _lines = lines;

    /// <summary>
    /// The strict-modes verdict: null when the file may be used, else the refusal rsync logs. With strict
    /// modes on, a file whose other-read or other-write bit is set is refused, and so is one not owned by
    /// root when the daemon runs as root; group bits and other-execute do not matter.
    /// </summary>
    public static string? StrictModesRefusal(SecretsFileStatus status, bool strictModes, bool runningAsRoot)
    {
        if (!strictModes)
            return null;
        if ((status.Mode & 0b110) != 0)
            return OtherAccessibleRefusal;
        if (runningAsRoot && status.OwnerUid != 0)
            return NotOwnedByRootRefusal;
        return null;
    }

    /// <summary>
    /// Opens a module's secrets file as the daemon does before checking a password.
    /// </summary>
    /// <param name="path">The "secrets file" value (already %VAR%-expanded).</param>
    /// <param name="strictModes">The module's "strict modes".</param>
    /// <param name="runningAsRoot">Whether the daemon runs as root.</param>
    /// <param name="status">The file's mode and owner; when null they are read from the opened file.</param>
    public static SecretsFileResult Open(string? path, bool strictModes, bool runningAsRoot, SecretsFileStatus? status = null)
    {
        const string noFile = "no secrets file";
        if (string.IsNullOrEmpty(path))
            return new SecretsFileResult(null, noFile, null);
        if (status is null)
        {
            string? symlink = UntrustedSymlink(path);
            if (symlink is not null)
                return new SecretsFileResult(null, noFile, $"refusing to follow symlink {symlink}: not owned by root or the daemon user");
        }

        byte[] data;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            if (status is null)
            {
                int fd = (int)stream.SafeFileHandle.DangerousGetHandle();
                int err = Posix.TryStat($"/proc/self/fd/{fd}", out FileStatus st);
                if (err != 0)
                    return new SecretsFileResult(null, "ignoring secrets file", $"fstat({path}): {Posix.StrError(err)} ({err})");
                status = new SecretsFileStatus(st.Mode, st.Uid);
            }
            string? refusal = StrictModesRefusal(status.Value, strictModes, runningAsRoot);
            if (refusal is not null)
                return new SecretsFileResult(null, "ignoring secrets file", refusal);
            using var ms = new MemoryStream();
            stream.CopyTo(ms);
            data = ms.ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new SecretsFileResult(null, noFile, null);
        }
        return new SecretsFileResult(Parse(data), null, null);
    }

    /// <summary>The entries of a secrets file's text.</summary>
    public static SecretsFile Parse(string text) => Parse(Encoding.UTF8.GetBytes(text));

    /// <summary>The entries of a secrets file's bytes.</summary>
    public static SecretsFile Parse(byte[] data)
    {
        var lines = new List<byte[]>();
        int start = 0;
        while (start < data.Length)
        {
            int newline = Array.IndexOf(data, (byte)'\n', start);
            int stop = newline < 0 ? data.Length : newline + 1;
            for (int chunk = start; chunk < stop; chunk += LineLimit)
            {
                int len = Math.Min(LineLimit, stop - chunk);
                // The text up to the first CR or LF, once leading CRs and LFs are skipped (strtok(line, "\n\r")).
                int s = chunk, e = chunk + len;
                while (s < e && data[s] is (byte)'\n' or (byte)'\r')
                    s++;
                int t = s;
                while (t < e && data[t] is not ((byte)'\n' or (byte)'\r'))
                    t++;
                if (t > s)
                    lines.Add(data[s..t]);
            }
            start = stop;
        }
        return new SecretsFile(lines);
    }

    /// <summary>The password on the first "user:" line, or null.</summary>
    public string? FindPassword(string user) => Find(Encoding.UTF8.GetBytes(user), group: false);

    /// <summary>The password on the first "@group:" line, or null.</summary>
    public string? FindGroupPassword(string group) => Find(Encoding.UTF8.GetBytes(group), group: true);

    /// <summary>
    /// Checks a login: null when the first password for the user, or for <paramref name="group"/> (the group
    /// whose "auth users" rule admitted the user), satisfies <paramref name="passwordMatches"/>; else rsync's
    /// reason: "invalid username" (a name starting with '#'), "secret not found" or "password mismatch".
    /// </summary>
    public string? Check(string user, string? group, Func<string, bool> passwordMatches)
    {
        if (user.StartsWith('#'))
            return "invalid username";
        string? error = "secret not found";
        foreach (string? password in new[] { FindPassword(user), group is null ? null : FindGroupPassword(group) })
        {
            if (password is null)
                continue;
            if (passwordMatches(password))
                return null;
            error = "password mismatch";
        }
        return error;
    }

    private string? Find(byte[] name, bool group)
    {
        foreach (byte[] line in _lines)
        {
            int offset = 0;
            if (line[0] == '@')
            {
                if (!group)
                    continue;
                offset = 1;
            }
            else if (group)
            {
                continue;
            }
            int colon = offset + name.Length;
            if (line.Length > colon && line[colon] == ':' && line.AsSpan(offset, name.Length).SequenceEqual(name))
                return Encoding.UTF8.GetString(line, colon + 1, line.Length - colon - 1);
        }
        return null;
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    /// <summary>
    /// A symlink on the way to <paramref name="path"/> owned by neither root nor the daemon's user, which
    /// could redirect the read (open_no_attacker_symlinks, rsync 3.5.0); null when there is none.
    /// </summary>
    private static string? UntrustedSymlink(string path)
    {
        int euid = (int)GetEuid();
        var pending = new Queue<string>();
        pending.Enqueue(System.IO.Path.GetFullPath(path));
        for (int hops = 0; pending.Count > 0 && hops < 40; hops++)
        {
            string full = pending.Dequeue();
            string prefix = "";
            string[] parts = full.Split('/', StringSplitOptions.RemoveEmptyEntries);
            for (int i = 0; i < parts.Length; i++)
            {
                prefix += "/" + parts[i];
                if (Posix.TryLStat(prefix, out FileStatus st) != 0 || !st.IsSymlink)
                    continue;
                if (st.Uid != 0 && st.Uid != euid)
                    return prefix;
                string? target = new FileInfo(prefix).LinkTarget;
                if (target is null)
                    break;
                string rest = string.Join('/', parts[(i + 1)..]);
                string dir = System.IO.Path.GetDirectoryName(prefix) ?? "/";
                pending.Enqueue(System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, target, rest)));
                break;
            }
        }
        return null;
    }
}
