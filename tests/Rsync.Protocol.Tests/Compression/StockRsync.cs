using System.Diagnostics;
using Xunit;

namespace NetRsync.Protocol.Tests.Compression;

/// <summary>The stock rsync binaries on this machine: "rsync" on PATH and ../shared/peers/rsync-3.1.1 beside the repository.</summary>
internal static class StockRsync
{
    public static IEnumerable<string> Clients()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(dir, "rsync");
            if (dir.Length > 0 && File.Exists(candidate))
            {
                yield return candidate;
                break;
            }
        }
        for (var dir = new DirectoryInfo(GoldenTokenStreamTests.SourceDirectory()); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "NetRsync.sln")))
                continue;
            string peer = Path.Combine(dir.FullName, "..", "shared", "peers", "rsync-3.1.1");
            if (File.Exists(peer))
                yield return Path.GetFullPath(peer);
            break;
        }
    }

    public static string Version(string client)
    {
        var start = new ProcessStartInfo(client, "--version") { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int at = Array.IndexOf(words, "version");
        return at >= 0 && at + 1 < words.Length ? words[at + 1] : "";
    }

    /// <summary>Runs <paramref name="client"/> to completion (20 s at most); it must exit 0.</summary>
    public static void Run(string client, string directory, string[] arguments, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(client) { WorkingDirectory = directory, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{client} {string.Join(' ', arguments)} did not finish");
        }
        Assert.True(process.ExitCode == 0, $"{client} {string.Join(' ', arguments)} exited {process.ExitCode}: {stderr.Result}{stdout.Result}");
    }

    /// <summary>
    /// Runs a server command with <paramref name="input"/> as everything its peer sends, keeping
    /// its input open until it exits, as a live peer would; returns the exit code and messages.
    /// </summary>
    public static (int ExitCode, string Errors) Serve(string client, string directory, IEnumerable<string> arguments, byte[] input)
    {
        var start = new ProcessStartInfo(client) { WorkingDirectory = directory, RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        try
        {
            process.StandardInput.BaseStream.Write(input);
            process.StandardInput.BaseStream.Flush();
        }
        catch (IOException)
        {
            // It stopped reading early; its exit code and messages tell why.
        }
        bool exited = process.WaitForExit(TimeSpan.FromSeconds(20));
        if (!exited)
            process.Kill(entireProcessTree: true);
        process.WaitForExit();
        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }
        stdout.Wait();
        return (exited ? process.ExitCode : -1, stderr.Result);
    }
}
