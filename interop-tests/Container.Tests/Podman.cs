using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NetRsync.Interop.Tests;
using Xunit;

namespace NetRsync.Container.Tests;

/// <summary>Builds netrsync:latest once for the whole run with scripts/image.sh (cached: a warm build
/// only republishes and re-checks podman's layers). Podman missing is a failure, never a skip.</summary>
public sealed class ImageFixture : IAsyncLifetime
{
    public const string Image = "netrsync:latest";

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string SeedFile(string name) => Path.Combine(RepoRoot, "tests", "fixtures", "seed", name);

    public TimeSpan BuildTime { get; private set; }

    public async Task InitializeAsync()
    {
        if (!OnPath("podman"))
            Assert.Fail("podman is missing: the container tests need it (bash scripts/ensure-podman.sh installs podman, runc and mmdebstrap)");
        var clock = Stopwatch.StartNew();
        // A cold build publishes two native executables and makes the root filesystem: minutes on 2 cores.
        var build = await ProcessRunner.RunAsync("bash", [Path.Combine(RepoRoot, "scripts", "image.sh")], timeout: TimeSpan.FromMinutes(20));
        Assert.True(build.ExitCode == 0, $"scripts/image.sh failed:\n{build}");
        BuildTime = clock.Elapsed;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NetRsync.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("NetRsync.sln not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class ImageCollection : ICollectionFixture<ImageFixture>
{
    public const string Name = "netrsync image";
}

/// <summary>podman as the project runs it (scripts/podman.sh: runc, cgroupfs, explicit ulimits).</summary>
public static class Podman
{
    private static readonly string Script = Path.Combine(ImageFixture.RepoRoot, "scripts", "podman.sh");

    public static Task<ProcessResult> RunAsync(IEnumerable<string> arguments, TimeSpan? timeout = null) =>
        ProcessRunner.RunAsync("bash", [Script, .. arguments], timeout: timeout ?? TimeSpan.FromSeconds(60));

    public static async Task<string> CheckedAsync(params string[] arguments)
    {
        var result = await RunAsync(arguments);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Trim();
    }

    /// <summary>A port on 127.0.0.1 that nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>The daemon's greeting on 127.0.0.1:<paramref name="port"/>, or null when nothing answers.</summary>
    public static async Task<string?> GreetingAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            using var cut = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(IPAddress.Loopback, port, cut.Token);
            using var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
            return await reader.ReadLineAsync(cut.Token);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }
}

/// <summary>One container of the image, removed on dispose.</summary>
public sealed class Container : IAsyncDisposable
{
    private Container(string name) => Name = name;

    public string Name { get; }

    /// <summary>`podman run -d` with host networking; <paramref name="arguments"/> go before the image name.</summary>
    public static async Task<Container> StartAsync(IEnumerable<string> arguments, IEnumerable<string>? command = null)
    {
        var container = new Container("nrct-" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..5]));
        var run = await Podman.RunAsync(["run", "-d", "--name", container.Name, "--network", "host", .. arguments, ImageFixture.Image, .. command ?? []]);
        if (run.ExitCode != 0)
        {
            await container.DisposeAsync();
            Assert.Fail($"podman run failed:\n{run}");
        }
        return container;
    }

    public async Task<string> LogsAsync()
    {
        var logs = await Podman.RunAsync(["logs", Name]);
        return logs.Stdout + logs.Stderr;
    }

    public async Task<string> InspectAsync(string format) => await Podman.CheckedAsync("inspect", "--format", format, Name);

    /// <summary>Polls until the daemon greets on <paramref name="port"/>.</summary>
    public async Task WaitServingAsync(int port, TimeSpan? limit = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            string? greeting = await Podman.GreetingAsync(port);
            if (greeting is not null)
            {
                Assert.StartsWith("@RSYNCD: ", greeting);
                return;
            }
            if (deadline.Elapsed > (limit ?? TimeSpan.FromSeconds(30)))
                Assert.Fail($"{Name}: nothing served on port {port} after {deadline.Elapsed.TotalSeconds:F0}s; logs:\n{await LogsAsync()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls the container's output until it holds <paramref name="text"/> (<paramref name="count"/> times).</summary>
    public async Task<string> WaitLogAsync(string text, int count = 1, TimeSpan? limit = null)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            string logs = await LogsAsync();
            if (Occurrences(logs, text) >= count)
                return logs;
            if (deadline.Elapsed > (limit ?? TimeSpan.FromSeconds(30)))
                Assert.Fail($"{Name}: \"{text}\" not logged {count} time(s) after {deadline.Elapsed.TotalSeconds:F0}s; logs:\n{logs}");
            await Task.Delay(100);
        }
    }

    public static int Occurrences(string text, string part)
    {
        int n = 0;
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
            n++;
        return n;
    }

    /// <summary>`podman stop`: the image's STOPSIGNAL (SIGTERM) to the first process, and SIGKILL only if it
    /// has not ended after <paramref name="limit"/>, which fails the test. Returns the exit code.</summary>
    public Task<int> TerminateAsync(TimeSpan limit) => Terminate(Name, limit);

    public static async Task<int> Terminate(string name, TimeSpan limit)
    {
        Assert.Contains(await Podman.CheckedAsync("inspect", "--format", "{{.Config.StopSignal}}", name), new[] { "15", "SIGTERM" });
        var clock = Stopwatch.StartNew();
        var stop = await Podman.RunAsync(["stop", "--time", ((int)limit.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture), name], limit + TimeSpan.FromSeconds(30));
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.True(clock.Elapsed < limit, $"{name} took {clock.Elapsed.TotalSeconds:F0}s to stop after SIGTERM");
        return int.Parse(await Podman.CheckedAsync("inspect", "--format", "{{.State.ExitCode}}", name), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Kills the process named <paramref name="program"/> inside the container with SIGKILL.</summary>
    public Task KillProgramAsync(string program) =>
        Podman.CheckedAsync("exec", Name, "bash", "-c",
            $"for p in /proc/[0-9]*; do read -r c < $p/comm 2>/dev/null && [ \"$c\" = {program} ] && kill -KILL ${{p#/proc/}}; done; exit 0");

    public async ValueTask DisposeAsync() => await Podman.RunAsync(["rm", "-f", "-t", "0", Name]);
}
