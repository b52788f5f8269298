using NetRsync.Protocol.Client;
using NetRsync.Protocol.Options;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// Source files that cannot be sent: rsync names them, sends everything else, and ends with
/// 23 (unreadable, sender.c: "send_files failed to open") or 24 (vanished, "file has vanished").
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed class SourceFailureTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task UnreadableSourceFile_Exits23AndSendsTheRest(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        File.WriteAllText(Path.Combine(f.Source, "readable.txt"), "fine\n");
        string secret = Path.Combine(f.Source, "secret.txt");
        File.WriteAllText(secret, "no\n");
        Posix.Chmod(secret, 0);
        Posix.Chmod(f.Source, Posix.Mode("755"));

        // Root reads anything, so the client runs as nobody from a copy of its build output that
        // nobody can reach whatever the checkout's permissions are.
        string bin = f.Temp.Sub("bin");
        foreach (string file in Directory.EnumerateFiles(AppContext.BaseDirectory))
            File.Copy(file, Path.Combine(bin, Path.GetFileName(file)));
        Posix.Chmod(bin, Posix.Mode("755"));
        foreach (string file in Directory.EnumerateFiles(bin))
            Posix.Chmod(file, Posix.Mode("755"));

        ProcessResult r = await ProcessRunner.RunAsync("setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "--", Path.Combine(bin, "netrsync"), "-rt", f.SourceArg, f.Url()],
            new Dictionary<string, string?> { ["HOME"] = f.Temp.Path, ["DOTNET_CLI_HOME"] = f.Temp.Path });
        output.WriteLine(r.ToString());

        Assert.True(r.ExitCode == 23, $"expected exit 23\n{r}");
        Assert.Contains("send_files failed to open", r.Stderr);
        Assert.Contains("secret.txt", r.Stderr);
        Assert.Contains("Permission denied (13)", r.Stderr);
        Assert.Equal("fine\n", File.ReadAllText(Path.Combine(f.ModuleDir, "readable.txt")));
        Assert.False(File.Exists(Path.Combine(f.ModuleDir, "secret.txt")));
    }

    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task SourceFileVanishingMidTransfer_Exits24AndSendsTheRest(string peer)
    {
        await using PushFixture f = await PushFixture.StartAsync(peer);
        PushFixture.WriteRandomFile(Path.Combine(f.Source, "a-big.bin"), 4 << 20, seed: 7, mtimeSeconds: 1_300_000_000);
        string victim = Path.Combine(f.Source, "b-victim.txt");
        File.WriteAllText(victim, "here for now\n");
        File.WriteAllText(Path.Combine(f.Source, "c-after.txt"), "still sent\n");

        // The list is built with the victim in it; it disappears while the first file streams,
        // so the sender finds it gone when its turn comes.
        var progress = new DeleteOnFirstReport(victim);
        var options = OptionParser.Parse(["-rt", f.SourceArg, f.Url()]);
        var errors = new CollectingOutput();
        var client = new RsyncClient(options, errors) { Progress = progress };
        TransferResult result = await client.PushAsync([f.SourceArg], f.Url());
        output.WriteLine(errors.Text);

        Assert.True(progress.Deleted, "the victim was never deleted: no progress was reported");
        Assert.Equal(24, result.ExitCode);
        Assert.Contains("file has vanished", errors.Text);
        Assert.Contains("b-victim.txt", errors.Text);
        Assert.Equal("still sent\n", File.ReadAllText(Path.Combine(f.ModuleDir, "c-after.txt")));
        Assert.Equal(-1, TreeComparer.FirstDifference(Path.Combine(f.Source, "a-big.bin"), Path.Combine(f.ModuleDir, "a-big.bin")));
        Assert.False(File.Exists(Path.Combine(f.ModuleDir, "b-victim.txt")));
    }

    private sealed class DeleteOnFirstReport(string victim) : IProgress<FileProgress>
    {
        public bool Deleted { get; private set; }

        public void Report(FileProgress value)
        {
            if (!Deleted && value.Name == "a-big.bin")
            {
                File.Delete(victim);
                Deleted = true;
            }
        }
    }

    private sealed class CollectingOutput : IRsyncOutput
    {
        private readonly System.Text.StringBuilder _text = new();

        public string Text
        {
            get
            {
                lock (_text)
                    return _text.ToString();
            }
        }

        public void Info(string text)
        {
            lock (_text)
                _text.Append(text);
        }

        public void Error(string text)
        {
            lock (_text)
                _text.Append(text);
        }
    }
}
