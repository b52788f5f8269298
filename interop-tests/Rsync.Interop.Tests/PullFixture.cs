namespace NetRsync.Interop.Tests;

/// <summary>Per-test setup for a pull: a temp dir with <c>mod/</c> (the module's directory, i.e. the
/// source) and <c>dst/</c> (the destination; created only when asked), and a stock daemon serving
/// <c>mod/</c> as module "mod". The test fills the module before or after starting: a daemon reads
/// its module only when a client connects. Disposing stops the daemon and deletes everything.</summary>
public sealed class PullFixture : IAsyncDisposable
{
    public const string ModuleName = "mod";

    public TempDir Temp { get; }

    /// <summary>The module's directory: what is pulled.</summary>
    public string ModuleDir { get; }

    /// <summary>The destination directory (see <see cref="StartAsync"/>'s createDestination).</summary>
    public string Dest { get; }

    public StockDaemon Daemon { get; }

    public string Peer => Daemon.Peer;

    private PullFixture(TempDir temp, string moduleDir, string dest, StockDaemon daemon)
    {
        Temp = temp;
        ModuleDir = moduleDir;
        Dest = dest;
        Daemon = daemon;
    }

    /// <summary>The module URL, <c>rsync://[user@]127.0.0.1:PORT/mod/</c>.</summary>
    public string Url(string? user = null) => Daemon.Url(ModuleName, user);

    /// <summary>"dst/" with the trailing slash.</summary>
    public string DestArg => Dest + "/";

    /// <param name="peer">The daemon binary.</param>
    /// <param name="configure">Gives the module "mod" (path set, read-only) a chance to change.</param>
    /// <param name="createDestination">Whether <c>dst/</c> exists before the pull (else the client makes it).</param>
    public static async Task<PullFixture> StartAsync(
        string peer,
        Func<DaemonModule, DaemonModule>? configure = null,
        bool createDestination = true)
    {
        var temp = new TempDir();
        try
        {
            string mod = temp.Sub("mod");
            string dst = createDestination ? temp.Sub("dst") : temp.File("dst");
            var module = new DaemonModule(ModuleName, mod) { ReadOnly = true };
            module = configure?.Invoke(module) ?? module;
            StockDaemon daemon = await StockDaemon.StartAsync(peer, [module]);
            return new PullFixture(temp, mod, dst, daemon);
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

    /// <summary>Every entry below <paramref name="root"/> (not the root itself), relative, sorted.</summary>
    public static string[] RelativeNames(string root) =>
        TreeComparer.Scan(root).Keys.Where(k => k != ".").ToArray();
}
