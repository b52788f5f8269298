using NetRsync.Protocol.Client;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Client;

/// <summary>
/// A file replaced between the listing and its turn to be sent: with SendOnlyAsListed (what a
/// watcher's pushes set) it is not sent, and is reported as vanished; without it, rsync's way, the
/// new bytes go under the listed size and time.
/// </summary>
public sealed class SendOnlyAsListedTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("as-listed-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private sealed class Lines : IRsyncOutput
    {
        public List<string> Errors { get; } = [];

        public void Info(string text)
        {
        }

        public void Error(string text)
        {
            lock (Errors)
                Errors.Add(text);
        }
    }

    /// <summary>Replaces "b" once, while "a" (sent first) is being sent.</summary>
    private sealed class ReplaceWhileSendingA(string source) : IProgress<FileProgress>
    {
        private int _done;

        public void Report(FileProgress value)
        {
            if (value.Name != "a" || Interlocked.Exchange(ref _done, 1) != 0)
                return;
            string fresh = Path.Join(source, ".b.new");
            File.WriteAllText(fresh, "the version written after the listing, longer than the first\n");
            File.SetLastWriteTimeUtc(fresh, new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc));
            File.Move(fresh, Path.Join(source, "b"), overwrite: true);
        }
    }

    private async Task<(TransferResult Result, Lines Output, string Destination)> CopyAsync(bool onlyAsListed)
    {
        string source = Path.Join(_root, "src-" + onlyAsListed);
        string destination = Path.Join(_root, "dst-" + onlyAsListed);
        Directory.CreateDirectory(source);
        File.WriteAllBytes(Path.Join(source, "a"), new byte[4 << 20]);
        File.WriteAllText(Path.Join(source, "b"), "as listed\n");
        File.SetLastWriteTimeUtc(Path.Join(source, "b"), new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var output = new Lines();
        var options = new RsyncOptions { Recursive = true, PreserveTimes = true, SendOnlyAsListed = onlyAsListed };
        var client = new RsyncClient(options, output) { Progress = new ReplaceWhileSendingA(source) };
        var result = await client.CopyAsync([source + "/"], destination + "/");
        return (result, output, destination);
    }

    [Fact]
    public async Task AFileReplacedAfterTheListingIsNotSentAndIsReportedAsVanished()
    {
        var (result, output, destination) = await CopyAsync(onlyAsListed: true);

        Assert.Equal(ExitCodes.Vanished, result.ExitCode);
        Assert.False(File.Exists(Path.Join(destination, "b")), "the replaced file was sent");
        Assert.True(File.Exists(Path.Join(destination, "a")));
        Assert.Contains(output.Errors, e => e.Contains("file has vanished", StringComparison.Ordinal)
            && e.Contains("(replaced since it was listed)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithoutItTheNewBytesGoUnderTheListedTime()
    {
        var (result, _, destination) = await CopyAsync(onlyAsListed: false);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("the version written after the listing, longer than the first\n", File.ReadAllText(Path.Join(destination, "b")));
        Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(Path.Join(destination, "b")));
    }
}
