using Xunit;

namespace NetRsync.Interop.Tests;

/// <summary>Shared by the cases of one name-bytes test class: one temp root holding the reference tree
/// (<c>ref/</c>, <see cref="NameBytesTree"/>) and a directory per case, served whole as module "names"
/// (writable) by one stock daemon per peer (started on first use) and by one netrsyncd. Cases push into
/// and pull from their own subdirectory, so a daemon is started once per class, not per case.</summary>
public sealed class NameBytesDaemons : IAsyncLifetime
{
    public const string ModuleName = "names";

    /// <summary>A second module whose <c>path =</c> is not UTF-8 (<see cref="LatinModuleDir"/>), holding a
    /// copy of the reference tree in <c>ref/</c>.</summary>
    public const string LatinModuleName = "latin";

    private readonly Dictionary<string, StockDaemon> _stock = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _lock = new(1, 1);
    private NetRsyncDaemon? _netrsyncd;
    private int _cases;

    public TempDir Temp { get; } = new();

    /// <summary>The reference tree; never written to by a case.</summary>
    public string Reference => Temp.Path + "/ref";

    /// <summary>The directory of module "latin": a name with Latin-1 and invalid UTF-8 bytes.</summary>
    public string LatinModuleDir => Temp.Path + "/" + NameBytesTree.B("m\u00f3dulo\u00ff");

    public Task InitializeAsync()
    {
        NameBytesTree.Create(Reference);
        Posix.Mkdir(LatinModuleDir, Posix.Mode("755"));
        NameBytesTree.CopyTree(Reference, LatinModuleDir + "/ref");
        return Task.CompletedTask;
    }

    private DaemonModule[] Modules => [new DaemonModule(ModuleName, Temp.Path), new DaemonModule(LatinModuleName, LatinModuleDir)];

    /// <summary>A fresh directory for one case (inside the module), named after it for the logs.</summary>
    public string NewCaseDir(string label)
    {
        int n = Interlocked.Increment(ref _cases);
        string safe = new(label.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());
        return Temp.Sub($"c{n:D3}-{safe}");
    }

    /// <summary>The path of <paramref name="fullPath"/> (inside the temp root) within module "names".</summary>
    public string ModuleRelative(string fullPath) =>
        fullPath.StartsWith(Temp.Path + "/", StringComparison.Ordinal)
            ? fullPath[(Temp.Path.Length + 1)..]
            : throw new ArgumentException($"{fullPath} is not inside {Temp.Path}");

    /// <summary>The stock daemon of <paramref name="peer"/> serving the temp root (started on first use).</summary>
    public async Task<StockDaemon> StockAsync(string peer)
    {
        string binary = RsyncPeers.Resolve(peer);
        await _lock.WaitAsync();
        try
        {
            if (!_stock.TryGetValue(binary, out StockDaemon? d) || d.HasExited)
            {
                d = await StockDaemon.StartAsync(binary, Modules);
                _stock[binary] = d;
            }
            return d;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>netrsyncd serving the temp root (started on first use).</summary>
    public async Task<NetRsyncDaemon> NetRsyncdAsync()
    {
        await _lock.WaitAsync();
        try
        {
            if (_netrsyncd is null || _netrsyncd.HasExited)
            {
                _netrsyncd = await NetRsyncDaemon.StartAsync(Modules);
            }
            return _netrsyncd;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary><c>rsync://127.0.0.1:PORT/names/REL/</c> for a directory inside the temp root.</summary>
    public static string UrlOf(string daemonModuleUrl, string relative) => daemonModuleUrl + relative + "/";

    public async Task DisposeAsync()
    {
        try
        {
            foreach (StockDaemon d in _stock.Values)
            {
                await d.DisposeAsync();
            }
            if (_netrsyncd is not null)
            {
                await _netrsyncd.DisposeAsync();
            }
        }
        finally
        {
            Temp.Dispose();
        }
    }
}
