using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// A remote-shell location is never taken for a local name: HOST:PATH, and a daemon address with
/// -e/--rsh, go to the remote shell; one that cannot reach the host ends the run as stock rsync's
/// does, writing nothing here.
/// </summary>
public sealed class RemoteShellRefusalTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    private static readonly Dictionary<string, string?> NoHost = new() { ["RSYNC_RSH"] = "ssh -o BatchMode=yes -o ConnectTimeout=5" };

    [Theory]
    [InlineData("-a", "f", "backuphost.invalid:www/")]
    [InlineData("-a", "f", "user@backuphost.invalid:/srv/www")]
    [InlineData("-a", "backuphost.invalid:www/", "restore/")]
    public async Task AHostThatCannotBeReachedEndsAsStockAndNothingIsWritten(params string[] args)
    {
        File.WriteAllText(Path.Combine(_temp.Path, "f"), "data");
        ProcessResult ours = await NetRsync.Instance.RunAsync(args, NoHost, workingDirectory: _temp.Path);
        ProcessResult stock = await new StockClient(RsyncPeers.DebianRsync).RunAsync(args, NoHost, workingDirectory: _temp.Path);
        output.WriteLine(ours.ToString());
        output.WriteLine(stock.ToString());
        // ssh's own 255, or the stream's 12 when ssh has not been reaped yet (cleanup.c, _exit_cleanup).
        Assert.True(stock.ExitCode is 12 or 255, $"stock rsync ended with {stock.ExitCode}");
        Assert.True(ours.ExitCode is 12 or 255, $"ours ended with {ours.ExitCode}");
        Assert.Contains("connection unexpectedly closed", ours.Stderr, StringComparison.Ordinal);
        Assert.Equal(["f"], Directory.EnumerateFileSystemEntries(_temp.Path).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("-a", "-e", "ssh -o BatchMode=yes -o ConnectTimeout=5", "f", "backuphost.invalid::www/")]
    [InlineData("-a", "--rsh=ssh -o BatchMode=yes -o ConnectTimeout=5", "f", "rsync://backuphost.invalid/www/")]
    public async Task ADaemonOverAShellThatCannotReachTheHostEndsAsStockAndNothingIsWritten(params string[] args)
    {
        File.WriteAllText(Path.Combine(_temp.Path, "f"), "data");
        ProcessResult ours = await NetRsync.Instance.RunAsync(args, workingDirectory: _temp.Path);
        ProcessResult stock = await new StockClient(RsyncPeers.DebianRsync).RunAsync(args, workingDirectory: _temp.Path);
        output.WriteLine(ours.ToString());
        output.WriteLine(stock.ToString());
        Assert.True(stock.ExitCode is 5 or 12 or 255, $"stock rsync ended with {stock.ExitCode}");
        Assert.True(ours.ExitCode is 5 or 12 or 255, $"ours ended with {ours.ExitCode}");
        Assert.Equal(["f"], Directory.EnumerateFileSystemEntries(_temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public async Task RsyncRshAloneDoesNotMakeALocalCopyRemote()
    {
        // RSYNC_RSH only names the shell; a local copy stays a local copy, as in rsync.
        File.WriteAllText(Path.Combine(_temp.Path, "f"), "data");
        ProcessResult r = await NetRsync.Instance.RunAsync(["-a", "f", "copy/"],
            new Dictionary<string, string?> { ["RSYNC_RSH"] = "ssh" }, workingDirectory: _temp.Path);
        output.WriteLine(r.ToString());
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("data", File.ReadAllText(Path.Combine(_temp.Path, "copy", "f")));
    }
}
