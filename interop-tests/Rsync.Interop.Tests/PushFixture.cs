using System.Security.Cryptography;

namespace NetRsync.Interop.Tests;

/// <summary>Per-test setup for a push: a temp dir with <c>src/</c> (the source tree) and <c>mod/</c>
/// (the module's directory), and a stock daemon serving <c>mod/</c> as module "mod" (plus whatever
/// other modules the test asks for). Disposing stops the daemon and deletes everything.</summary>
public sealed class PushFixture : IAsyncDisposable
{
    public const string ModuleName = "mod";

    public TempDir Temp { get; }

    public string Source { get; }

    public string ModuleDir { get; }

    public StockDaemon Daemon { get; }

    public string Peer => Daemon.Peer;

    private PushFixture(TempDir temp, string source, string moduleDir, StockDaemon daemon)
    {
        Temp = temp;
        Source = source;
        ModuleDir = moduleDir;
        Daemon = daemon;
    }

    /// <summary>The module URL, <c>rsync://[user@]127.0.0.1:PORT/mod/</c>.</summary>
    public string Url(string? user = null) => Daemon.Url(ModuleName, user);

    /// <summary>"src/" with the trailing slash rsync needs to copy the contents.</summary>
    public string SourceArg => Source + "/";

    /// <param name="peer">The daemon binary.</param>
    /// <param name="configure">Gives the module "mod" (path already set) a chance to change, e.g. auth.</param>
    /// <param name="extraModules">More modules, given the fixture's temp dir.</param>
    public static async Task<PushFixture> StartAsync(
        string peer,
        Func<DaemonModule, DaemonModule>? configure = null,
        Func<TempDir, IEnumerable<DaemonModule>>? extraModules = null)
    {
        var temp = new TempDir();
        try
        {
            string src = temp.Sub("src");
            string mod = temp.Sub("mod");
            var module = new DaemonModule(ModuleName, mod);
            module = configure?.Invoke(module) ?? module;
            var modules = new List<DaemonModule> { module };
            modules.AddRange(extraModules?.Invoke(temp) ?? []);
            StockDaemon daemon = await StockDaemon.StartAsync(peer, modules);
            var fixture = new PushFixture(temp, src, mod, daemon);
            fixture.AgeModuleRoot();
            return fixture;
        }
        catch
        {
            temp.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Daemon.DisposeAsync();
        Temp.Dispose();
    }

    /// <summary>Sets the module directory's mtime to 1990. rsync leaves an existing directory's mtime
    /// alone when it already matches the source's to the second (nanoseconds are not compared by its
    /// quick check), so a module root created in the same second as the source root could keep
    /// different nanoseconds; an old module root always gets the source's time. Call again after
    /// putting files into the module.</summary>
    public void AgeModuleRoot() => Posix.SetTimes(ModuleDir, 631_152_000, 0);

    /// <summary>Gives every entry of a tree a distinct, fixed mtime with non-zero nanoseconds
    /// (directories last, deepest first, the root last of all), starting at <paramref name="baseSeconds"/>.
    /// Use it on hand-made source trees so no time is "now" (see <see cref="AgeModuleRoot"/>).</summary>
    public static void StampTimes(string root, long baseSeconds = 1_300_000_000)
    {
        var entries = TreeComparer.Scan(root).Values.ToList();
        long i = 0;
        foreach (TreeEntry e in entries.Where(e => e.Stat.Type != PosixFileType.Directory))
        {
            i++;
            Posix.SetTimes(e.FullPath, baseSeconds + (i * 3600), (i * 1000) + 7);
        }
        foreach (TreeEntry e in entries.Where(e => e.Stat.Type == PosixFileType.Directory)
                     .OrderByDescending(e => e.RelativePath == "." ? -1 : e.RelativePath.Count(c => c == '/')))
        {
            i++;
            Posix.SetTimes(e.FullPath, baseSeconds + (i * 3600), (i * 1000) + 7);
        }
    }

    /// <summary>Writes <paramref name="length"/> bytes of seeded random data in 1 MiB chunks and sets the mtime.</summary>
    public static void WriteRandomFile(string path, long length, int seed, long mtimeSeconds)
    {
        var rng = new Random(seed);
        byte[] chunk = new byte[1 << 20];
        using (var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1))
        {
            for (long left = length; left > 0; left -= chunk.Length)
            {
                rng.NextBytes(chunk);
                fs.Write(chunk, 0, (int)Math.Min(left, chunk.Length));
            }
        }
        Posix.SetTimes(path, mtimeSeconds, 0);
    }

    /// <summary>SHA-256 of a file, streamed.</summary>
    public static string Sha256(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }
}
