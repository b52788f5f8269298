using System.Security.Cryptography;

namespace NetRsync.Interop.Tests;

/// <summary>A fresh, uniquely named directory directly under /tmp (short on purpose: the torture tree
/// holds a path of ~4000 bytes and PATH_MAX is 4096), removed with everything in it on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; }

    public TempDir()
    {
        string candidate;
        do
        {
            candidate = "/tmp/nr-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        }
        while (Directory.Exists(candidate));
        Directory.CreateDirectory(candidate);
        Posix.Chmod(candidate, Posix.Mode("755"));
        Path = candidate;
    }

    /// <summary>Creates (if needed) and returns a subdirectory.</summary>
    public string Sub(string name)
    {
        string p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(p);
        return p;
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => DeleteTree(Path);

    /// <summary>Removes a tree without following symlinks; tolerates odd modes and fifos.</summary>
    public static void DeleteTree(string path)
    {
        if (!Posix.TryLStat(path, out _, out _))
        {
            return;
        }
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception) when (Posix.TryLStat(path, out _, out _))
        {
            // Fall back to rm(1), which copes with whatever .NET choked on.
            using var rm = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("rm", ["-rf", "--", path])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            })!;
            rm.WaitForExit(60_000);
        }
    }
}
