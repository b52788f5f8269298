using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// A remote-shell location is never taken for a local name: until netrsync speaks over a remote
/// shell, HOST:PATH and -e/--rsh end with code 4 and write nothing in the working directory.
/// </summary>
public sealed class RemoteShellRefusalTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("-a", "-e", "ssh", "f", "backuphost:www/")]
    [InlineData("-a", "--rsh=ssh", "f", "backuphost:www/")]
    [InlineData("-a", "f", "backuphost:www/")]
    [InlineData("-a", "f", "user@backuphost:/srv/www")]
    [InlineData("-a", "backuphost:www/", "restore/")]
    [InlineData("-a", "-e", "ssh", "f", "backuphost::www/")]
    public async Task ARemoteShellLocationIsAnErrorAndNothingIsWritten(params string[] args)
    {
        File.WriteAllText(Path.Combine(_temp.Path, "f"), "data");
        ProcessResult r = await NetRsync.Instance.RunAsync(args, workingDirectory: _temp.Path);
        output.WriteLine(r.ToString());
        Assert.Equal(4, r.ExitCode);
        Assert.Contains("remote shell", r.Stderr);
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
