using Xunit;

namespace NetRsync.Protocol.Tests.Fuzz;

/// <summary>
/// Runs every saved fuzzing input (fuzz/corpus/HARNESS/ and fuzz/crashes/HARNESS/) and the generated
/// seeds through the harness it was found with: each may fail only as the product expects from a bad
/// peer or config, within the allocation budget, and must finish in bounded time.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class CorpusReplayTests
{
    private static readonly TimeSpan PerInput = TimeSpan.FromSeconds(20);

    private static string FuzzDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NetRsync.sln")))
                return Path.Combine(dir.FullName, "fuzz");
        }
        throw new DirectoryNotFoundException("no NetRsync.sln above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string, string> SavedInputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string kind in new[] { "corpus", "crashes" })
        {
            string root = Path.Combine(FuzzDirectory(), kind);
            if (!Directory.Exists(root))
                continue;
            foreach (string dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                foreach (string file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                    data.Add(Path.GetFileName(dir), Path.GetRelativePath(FuzzDirectory(), file));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SavedInputs))]
    public void SavedInputFailsOnlyAsExpected(string harness, string file)
    {
        Assert.Contains(harness, FuzzHarnesses.All.Keys);
        Replay(harness, File.ReadAllBytes(Path.Combine(FuzzDirectory(), file)));
    }

    [Fact]
    public void SeedsFailOnlyAsExpected()
    {
        foreach (var (harness, _, data) in FuzzSeeds.All())
            Replay(harness, data);
    }

    [Fact]
    public void EveryHarnessHasASavedCorpus()
    {
        foreach (string harness in FuzzHarnesses.All.Keys)
        {
            string dir = Path.Combine(FuzzDirectory(), "corpus", harness);
            Assert.True(Directory.Exists(dir) && Directory.EnumerateFiles(dir).Any(), $"no corpus for {harness}");
        }
    }

    [Fact]
    public void AnUnexpectedExceptionEscapesTheHarness()
    {
        // The replay is only worth something if a failure the product does not expect gets through.
        Assert.Throws<KeyNotFoundException>(() => FuzzHarnesses.Run("no-such-harness", []));
        Assert.False(FuzzHarnesses.IsExpected(new InvalidOperationException()));
        Assert.True(FuzzHarnesses.IsExpected(new RsyncProtocolException("bad")));
    }

    private static void Replay(string harness, byte[] data)
    {
        // On its own thread, so an input that hangs fails the test instead of stalling the run.
        var run = Task.Factory.StartNew(() => FuzzHarnesses.Run(harness, data), TaskCreationOptions.LongRunning);
        Assert.True(run.Wait(PerInput), $"{harness}: an input of {data.Length} bytes ran longer than {PerInput.TotalSeconds} s");
    }
}

/// <summary>
/// The allocation budget is measured process-wide (the demultiplexer allocates on its own thread), so
/// these tests run alone, not beside other tests that allocate.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    public const string Name = "Fuzz replay";
}
