using System.Diagnostics;
using System.Security;
using NetRsync.Interop.Tests;
using Xunit;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>A receiving rsync daemon on loopback: stock <c>rsync --daemon</c> or netrsyncd.</summary>
public sealed class RemoteDaemon : IAsyncDisposable
{
    public const string Stock = "stock";
    public const string Net = "netrsyncd";

    private readonly IAsyncDisposable _daemon;

    private RemoteDaemon(IAsyncDisposable daemon, int port)
    {
        _daemon = daemon;
        Port = port;
    }

    public int Port { get; }

    /// <summary>How to compare a tree this daemon received. Stock rsync (3.5.0 here, and its own
    /// client shows the same with -a) leaves a directory or symlink it just created with its creation
    /// time when the source's mtime falls in the same second, so directory and symlink times are
    /// compared only for netrsyncd.</summary>
    public TreeCompareOptions Compare { get; private init; } = Convergence.Compare;

    public static async Task<RemoteDaemon> StartAsync(string kind, DaemonModule module, int? port = null)
    {
        if (kind == Stock)
        {
            var stock = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, [module], port);
            return new RemoteDaemon(stock, stock.Port) { Compare = Convergence.Compare with { CompareDirectoryTimes = false, CompareSymlinkTimes = false } };
        }
        var net = await NetRsyncDaemon.StartAsync([module], port: port);
        return new RemoteDaemon(net, net.Port);
    }

    public ValueTask DisposeAsync() => _daemon.DisposeAsync();
}

/// <summary>A confxml.xml in sersync's format for one watched directory.</summary>
public sealed record WatchSetup(string Source, int Port, string Module = "mod")
{
    public string Params { get; init; } = "-artu";
    public bool Delete { get; init; } = true;
    public bool CreateFile { get; init; } = true;
    public bool CloseWrite { get; init; } = true;
    public bool Attrib { get; init; }
    public bool Modify { get; init; }
    public string? FailLog { get; init; }
    public string[] Excludes { get; init; } = [];
    public int SettleMs { get; init; } = 50;
    public bool Debug { get; init; }
    public (string User, string PasswordFile)? Auth { get; init; }

    /// <summary>&lt;ssh start="true"/&gt;: the remote's name is a path at the far end of the remote shell.</summary>
    public bool Ssh { get; init; }

    public string Xml()
    {
        string Esc(string s) => SecurityElement.Escape(s);
        string Bool(bool b) => b ? "true" : "false";
        string excludes = string.Concat(Excludes.Select(e => $"<exclude expression=\"{Esc(e)}\"/>"));
        return $"""
            <?xml version="1.0" encoding="ISO-8859-1"?>
            <head version="2.5">
                <debug start="{Bool(Debug)}"/>
                <fileSystem xfs="false"/>
                <filter start="{Bool(Excludes.Length > 0)}">{excludes}</filter>
                <settle ms="{SettleMs}"/>
                <inotify>
                    <delete start="{Bool(Delete)}"/>
                    <createFolder start="true"/>
                    <createFile start="{Bool(CreateFile)}"/>
                    <closeWrite start="{Bool(CloseWrite)}"/>
                    <moveFrom start="true"/>
                    <moveTo start="true"/>
                    <attrib start="{Bool(Attrib)}"/>
                    <modify start="{Bool(Modify)}"/>
                </inotify>
                <sersync>
                    <localpath watch="{Esc(Source)}">
                        <remote ip="127.0.0.1" name="{Esc(Module)}"/>
                    </localpath>
                    <rsync>
                        <commonParams params="{Esc(Params)}"/>
                        <auth start="{Bool(Auth is not null)}" users="{Esc(Auth?.User ?? "root")}" passwordfile="{Esc(Auth?.PasswordFile ?? "/etc/rsync.pas")}"/>
                        <userDefinedPort start="true" port="{Port}"/>
                        <timeout start="true" time="60"/>
                        <ssh start="{Bool(Ssh)}"/>
                    </rsync>
                    {(FailLog is null ? "" : $"<failLog path=\"{Esc(FailLog)}\" timeToExecute=\"1\"/>")}
                    <crontab start="false" schedule="600"/>
                    <plugin start="false" name="command"/>
                </sersync>
            </head>
            """;
    }

    public string WriteTo(TempDir dir)
    {
        string path = dir.File("confxml.xml");
        File.WriteAllText(path, Xml());
        return path;
    }
}

public static class Convergence
{
    /// <summary>Directory mtimes are compared too; the roots' own attributes are not (the module root is the daemon's).</summary>
    public static readonly TreeCompareOptions Compare = new() { CompareRoot = false, ExpectSanitizedSymlinks = true };

    /// <summary>Polls until the target matches the source byte for byte; fails with the differences after the deadline.</summary>
    public static async Task WaitAsync(string source, string target, TimeSpan timeout, Func<string> diagnostics, TreeCompareOptions? options = null)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyList<string> differences;
        while ((differences = Differences(source, target, options ?? Compare)).Count > 0)
        {
            if (clock.Elapsed > timeout)
                Assert.Fail($"the target did not match the source within {timeout.TotalSeconds:F0}s:\n  {string.Join("\n  ", differences)}\n--- netsersync ---\n{Tail(diagnostics())}");
            await Task.Delay(50); // poll interval
        }
    }

    /// <summary>The differences, or the scan's error while the receiver is still renaming its temp files.</summary>
    private static IReadOnlyList<string> Differences(string source, string target, TreeCompareOptions options)
    {
        try
        {
            return TreeComparer.FindDifferences(source, target, options);
        }
        catch (IOException ex)
        {
            return [$"(scan: {ex.Message})"];
        }
    }

    private static string Tail(string text, int max = 30_000) => text.Length <= max ? text : "...\n" + text[^max..];
}
