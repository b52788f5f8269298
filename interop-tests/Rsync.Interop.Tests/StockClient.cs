using Xunit;

namespace NetRsync.Interop.Tests;

/// <summary>Runs a stock rsync binary as a client, the same way <see cref="NetRsync"/> runs ours.</summary>
public sealed class StockClient(string peer) : IRsyncClient
{
    public string Peer { get; } = peer;

    public string Name => Peer;

    public Task<ProcessResult> RunAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null, string? workingDirectory = null) =>
        ProcessRunner.RunAsync(RsyncPeers.Resolve(Peer), arguments, environment, timeout, workingDirectory);

    public override string ToString() => Name;

    /// <summary>Independent check that a push left nothing to do: runs
    /// <c>PEER -ani -H [--modify-window=-1] [--protocol=N] SRC/ URL</c> and fails if it exits non-zero or
    /// itemizes anything. A clean dry run with -i (one i) prints nothing at all; every non-empty stdout
    /// line is a pending change.
    /// Pass the protocol of the push under test: protocol 30 carries no nanoseconds, so after a
    /// protocol-30 push the destination holds whole seconds, and a dry run at 31+ would differ.
    /// <c>--modify-window=-1</c> (given to rsync 3.2 and later only) makes the quick check compare
    /// nanoseconds too; by default rsync compares whole seconds. rsync 3.1.x has no such mode (it
    /// accepts -1 but then reports nothing at all), so there nanoseconds are left to <see cref="TreeComparer"/>.</summary>
    public static Task AssertNothingToChange(
        string peer,
        string sourceDir,
        string url,
        string protocol,
        IReadOnlyDictionary<string, string?>? environment = null,
        IEnumerable<string>? extraArgs = null) =>
        AssertCleanDryRun(peer, sourceDir.TrimEnd('/') + "/", url, protocol, "push", environment, extraArgs);

    /// <summary>The same check for a pull: <c>PEER -ani -H [--modify-window=-1] [--protocol=N] URL DEST/</c>
    /// (a stock pull dry run from the daemon into <paramref name="destinationDir"/>) must exit 0 and
    /// itemize nothing.</summary>
    public static Task AssertNothingToPull(
        string peer,
        string url,
        string destinationDir,
        string protocol,
        IReadOnlyDictionary<string, string?>? environment = null,
        IEnumerable<string>? extraArgs = null) =>
        AssertCleanDryRun(peer, url, destinationDir.TrimEnd('/') + "/", protocol, "pull", environment, extraArgs);

    private static async Task AssertCleanDryRun(
        string peer,
        string source,
        string destination,
        string protocol,
        string what,
        IReadOnlyDictionary<string, string?>? environment,
        IEnumerable<string>? extraArgs)
    {
        var args = new List<string> { "-ani", "-H" };
        if (RsyncPeers.VersionOf(peer) >= new Version(3, 2, 0))
        {
            args.Add("--modify-window=-1");
        }
        args.AddRange(RsyncPeers.ProtocolArgs(protocol));
        if (extraArgs is not null)
        {
            args.AddRange(extraArgs);
        }
        args.Add(source);
        args.Add(destination);
        ProcessResult r = await new StockClient(peer).RunAsync(args, environment);
        Assert.True(r.ExitCode == 0, $"the stock dry run used to verify the {what} failed:\n{r}");
        string[] pending = ItemizedLines(r.Stdout);
        Assert.True(pending.Length == 0,
            $"after the {what}, stock rsync still finds {pending.Length} thing(s) to change:\n  {string.Join("\n  ", pending.Take(40))}\n\n{r}");
    }

    /// <summary>The non-empty lines of an itemized dry run's stdout.</summary>
    public static string[] ItemizedLines(string stdout) =>
        stdout.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
}
