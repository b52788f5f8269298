using NetRsync.Protocol.Client;
using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Client;

/// <summary>The quick check's time comparison (util1.c, same_time): whole seconds, or nanoseconds too with --modify-window=-1.</summary>
public sealed class ModifyWindowTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("modify-window-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData(null, "old!")]
    [InlineData(0, "old!")]
    [InlineData(-1, "new!")]
    public async Task ADestinationOfTheSameSizeAndSecondIsUpToDateUnlessNanosecondsCount(int? window, string expected)
    {
        var second = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc);
        string source = Path.Join(_root, "src"), destination = Path.Join(_root, "dst");
        Directory.CreateDirectory(source);
        Directory.CreateDirectory(destination);
        File.WriteAllText(Path.Join(source, "f"), "new!");
        File.SetLastWriteTimeUtc(Path.Join(source, "f"), second.AddTicks(7_000_000));
        File.WriteAllText(Path.Join(destination, "f"), "old!");
        File.SetLastWriteTimeUtc(Path.Join(destination, "f"), second.AddTicks(1_000_000));

        var options = new RsyncOptions { Recursive = true, PreserveTimes = true, ModifyWindow = window };
        var result = await new RsyncClient(options, NullOutput.Instance).CopyAsync([source + "/"], destination + "/");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(expected, File.ReadAllText(Path.Join(destination, "f")));
    }
}
