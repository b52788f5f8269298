using System.Formats.Tar;
using System.Security.Cryptography;
using NetRsync.Interop.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Container.Tests;

/// <summary>
/// netrsync:latest end to end, the way the seed deployment runs it: two containers with host
/// networking pushing to each other, with the seed's rsyncd.conf and confxml.xml. The only changes
/// to the configs are the daemon's port and a 127.0.0.1 listening address (so two daemons share the
/// host and nothing listens beyond the loopback); the push target comes from target_host.
/// </summary>
[Collection(ImageCollection.Name)]
public sealed class ContainerTests(ImageFixture image, ITestOutputHelper output)
{
    private const uint ImageUser = 873;
    private static readonly TimeSpan SyncLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(30);

    /// <summary>What an -artuz push keeps: names, types, modes, sizes, contents, mtimes to the
    /// nanosecond. Owners differ by design (one side runs unprivileged), and the roots' own times
    /// move with every arrival.</summary>
    private static readonly TreeCompareOptions MirrorOptions = new() { CompareOwnership = false, CompareRoot = false };

    [Fact]
    public async Task ChangesOnEachSideArriveOnTheOtherAndSigtermStopsCleanly()
    {
        output.WriteLine($"image build (scripts/image.sh) took {image.BuildTime.TotalSeconds:F1}s");
        using var dir = new TempDir();
        string a = dir.Sub("a"), b = dir.Sub("b");
        int portA = Podman.FreePort(), portB = Podman.FreePort();
        // B runs as the image's unprivileged user: the seed's uid = root / gid = root are then
        // ignored, as rsync ignores them when not started as root.
        Posix.LChown(b, ImageUser, ImageUser);
        await using var left = await Container.StartAsync(Deployment(dir, "a", a, portA, portB));
        await using var right = await Container.StartAsync(["--user", $"{ImageUser}:{ImageUser}", .. Deployment(dir, "b", b, portB, portA)]);
        await left.WaitServingAsync(portA);
        await right.WaitServingAsync(portB);
        await left.WaitLogAsync("netsersync ready");
        await right.WaitLogAsync("netsersync ready");

        // A: a tree with modes and past mtimes moved in whole (staged on the same file system, so
        // the watcher sees it complete), and a file written in place.
        string stageA = dir.Sub("stage-a");
        Directory.CreateDirectory(Path.Combine(stageA, "tree", "sub", "deep"));
        WriteFile(Path.Combine(stageA, "tree", "run.sh"), RandomBytes(3000), "755", 1_500_000_000, 111_111_111);
        WriteFile(Path.Combine(stageA, "tree", "secret"), RandomBytes(17), "600", 1_500_000_100, 0);
        WriteFile(Path.Combine(stageA, "tree", "sub", "deep", "data.bin"), RandomBytes(1 << 20), "640", 1_600_000_000, 999_999_999);
        WriteFile(Path.Combine(stageA, "tree", "sub", "empty"), [], "444", 1_600_000_500, 5);
        SetDirectory(Path.Combine(stageA, "tree", "sub", "deep"), "755", 1_400_000_000);
        SetDirectory(Path.Combine(stageA, "tree", "sub"), "750", 1_400_000_100);
        SetDirectory(Path.Combine(stageA, "tree"), "700", 1_400_000_200);
        Directory.Move(Path.Combine(stageA, "tree"), Path.Combine(a, "tree"));
        File.WriteAllBytes(Path.Combine(a, "top.txt"), RandomBytes(10_000));

        // B: a staged folder owned by B's user, a file written in place, and a name that is not UTF-8.
        string stageB = dir.Sub("stage-b");
        Directory.CreateDirectory(Path.Combine(stageB, "notes"));
        WriteFile(Path.Combine(stageB, "notes", "todo.txt"), RandomBytes(5000), "600", 1_550_000_000, 123_456_789);
        SetDirectory(Path.Combine(stageB, "notes"), "700", 1_450_000_000);
        Posix.LChown(Path.Combine(stageB, "notes", "todo.txt"), ImageUser, ImageUser);
        Posix.LChown(Path.Combine(stageB, "notes"), ImageUser, ImageUser);
        Directory.Move(Path.Combine(stageB, "notes"), Path.Combine(b, "notes"));
        File.WriteAllBytes(Path.Combine(b, "direct.txt"), RandomBytes(4096));
        Posix.CreateFile(Path.Combine(b, "caf\uDCE9.txt"), RandomBytes(100));

        await WaitIdenticalAsync(a, b, left, right);
        Assert.True(File.Exists(Path.Combine(b, "tree", "sub", "deep", "data.bin")), "A's tree did not reach B");
        Assert.True(File.Exists(Path.Combine(a, "notes", "todo.txt")), "B's folder did not reach A");

        // Changes to what arrived travel back: B rewrites a file that came from A, A adds one.
        byte[] rewritten = RandomBytes(300_000);
        File.WriteAllBytes(Path.Combine(b, "tree", "sub", "deep", "data.bin"), rewritten);
        File.WriteAllBytes(Path.Combine(a, "later.txt"), RandomBytes(2048));
        await WaitIdenticalAsync(a, b, left, right, () => File.ReadAllBytes(Path.Combine(a, "tree", "sub", "deep", "data.bin")).AsSpan().SequenceEqual(rewritten));

        // SIGTERM right after a change: A's watcher pushes what is pending, then both programs stop and the container exits 0.
        File.WriteAllBytes(Path.Combine(a, "last.txt"), RandomBytes(777));
        await left.WaitLogAsync("event CLOSE_WRITE /syncdir/last.txt");
        Assert.Equal(0, await left.TerminateAsync(StopLimit));
        string leftLogs = await left.LogsAsync();
        Assert.Contains("netsersync stopped (exit code 0)", leftLogs);
        Assert.Contains("netrsyncd stopped (exit code 0)", leftLogs);
        Assert.True(File.Exists(Path.Combine(b, "last.txt")), "the change pending at SIGTERM did not reach B");
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "last.txt")), File.ReadAllBytes(Path.Combine(b, "last.txt")));
        Assert.Equal(Posix.LStat(Path.Combine(a, "last.txt")).MtimeSeconds, Posix.LStat(Path.Combine(b, "last.txt")).MtimeSeconds);
        Assert.Equal(0, await right.TerminateAsync(StopLimit));
    }

    [Fact]
    public async Task NoRsyncBinaryAnywhereInTheImage()
    {
        // Every executable named rsync* (any case) in the whole file system, seen from inside...
        const string Search = """
            shopt -s globstar dotglob nullglob nocaseglob nocasematch
            for top in /*; do
              case $top in /proc | /sys | /dev) continue ;; esac
              for f in "$top" "$top"/**/$1; do
                case ${f##*/} in $1) [ -f "$f" ] && [ -x "$f" ] && printf '%s\n' "$f" ;; esac
              done
            done
            exit 0
            """;
        async Task<string[]> Executables(string pattern)
        {
            var run = await Podman.RunAsync(["run", "--rm", "--network", "none", "--no-healthcheck", "--entrypoint", "/bin/bash", ImageFixture.Image, "-c", Search, "search", pattern]);
            Assert.True(run.ExitCode == 0 && run.Stderr.Length == 0, run.ToString());
            return run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        Assert.Empty(await Executables("rsync*"));
        // ...by a search that does find the image's own programs.
        Assert.Equal(["/usr/local/bin/netrsync-entrypoint", "/usr/local/bin/netrsyncd"], (await Executables("netrsync*")).Order().ToArray());

        // ...and in the exported file system, read as a tar from outside.
        using var dir = new TempDir();
        string name = "nrct-export-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        await Podman.CheckedAsync("create", "--name", name, "--network", "none", "--no-healthcheck", ImageFixture.Image);
        try
        {
            await Podman.CheckedAsync("export", "--output", dir.File("fs.tar"), name);
        }
        finally
        {
            await Podman.RunAsync(["rm", "-f", name]);
        }
        var programs = new HashSet<string>(StringComparer.Ordinal);
        var links = new List<(string Path, string Target)>();
        using (var stream = File.OpenRead(dir.File("fs.tar")))
        using (var reader = new TarReader(stream))
        {
            const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
            while (reader.GetNextEntry() is { } entry)
            {
                string path = "/" + entry.Name.TrimStart('.', '/');
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.HardLink && (entry.Mode & AnyExecute) != 0)
                    programs.Add(path);
                else if (entry.EntryType is TarEntryType.SymbolicLink)
                    links.Add((path, entry.LinkName));
            }
        }
        Assert.Contains("/usr/local/bin/netrsyncd", programs);
        Assert.Contains("/usr/local/bin/netsersync", programs);
        static bool NamedRsync(string path) => Path.GetFileName(path).StartsWith("rsync", StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(programs, NamedRsync);
        // A link named rsync* (the image has /etc/rsync.pass, a credentials file) leads to no program.
        foreach (var (link, target) in links.Where(l => NamedRsync(l.Path)))
            Assert.DoesNotContain(target.StartsWith('/') ? target : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(link)!, target)), programs);
    }

    [Fact]
    public async Task ContainerExitsNonZeroWhenEitherProgramDiesAndRestartAlwaysBringsItBack()
    {
        using var dir = new TempDir();
        string sync = dir.Sub("sync");
        int port = Podman.FreePort();
        // Pushing to its own daemon keeps every push local and quick.
        await using var once = await Container.StartAsync(["--no-healthcheck", .. Deployment(dir, "once", sync, port, port)]);
        await once.WaitServingAsync(port);
        await once.WaitLogAsync("netsersync ready");
        await once.KillProgramAsync("netsersync");
        var wait = await Podman.RunAsync(["wait", once.Name], StopLimit);
        Assert.True(wait.ExitCode == 0, wait.ToString());
        Assert.Equal("137", wait.Stdout.Trim());
        string logs = await once.LogsAsync();
        Assert.Contains("netsersync exited on its own (exit code 137)", logs);
        Assert.Contains("netrsyncd stopped (exit code 0)", logs);
        await once.DisposeAsync();

        int port2 = Podman.FreePort();
        await using var always = await Container.StartAsync(["--no-healthcheck", "--restart", "always", .. Deployment(dir, "always", sync, port2, port2)]);
        await always.WaitServingAsync(port2);
        await always.WaitLogAsync("netsersync ready");
        await always.KillProgramAsync("netrsyncd");
        await always.WaitLogAsync("netrsyncd exited on its own (exit code 137)");
        await always.WaitLogAsync("netsersync ready", count: 2);
        await always.WaitServingAsync(port2);
        Assert.NotEqual("0", await always.InspectAsync("{{.RestartCount}}"));
    }

    [Fact]
    public async Task HealthCheckReportsTheDaemonAndMountedCredentialsAreKept()
    {
        using (var inspect = System.Text.Json.JsonDocument.Parse(await Podman.CheckedAsync("image", "inspect", ImageFixture.Image)))
        {
            var test = inspect.RootElement[0].GetProperty("Healthcheck").GetProperty("Test").EnumerateArray().Select(e => e.GetString() ?? "").ToArray();
            Assert.Equal(["CMD", "/usr/local/bin/netrsync-entrypoint", "--health"], test);
        }

        using var dir = new TempDir();
        string sync = dir.Sub("sync");
        int port = Podman.FreePort();
        string secrets = dir.File("rsync.pass");
        Posix.CreateFile(secrets, "rsync:rsync\n"u8, Posix.Mode("600"));
        // With the HEALTHCHECK the image declares (podman cannot schedule it without systemd, but runs it on demand).
        await using var served = await Container.StartAsync(["-v", $"{secrets}:/etc/rsync.pass:ro", .. Deployment(dir, "h", sync, port, port)]);
        await served.WaitServingAsync(port);
        var health = await Podman.RunAsync(["healthcheck", "run", served.Name]);
        Assert.True(health.ExitCode == 0, health.ToString());
        string logs = await served.LogsAsync();
        Assert.DoesNotContain("created /etc/rsync.pass", logs);
        Assert.Contains("created /app/local/sersync/user.pass", logs);
        Assert.Equal("rsync:rsync\n", File.ReadAllText(secrets));

        // Nothing listening on the configured port: unhealthy.
        int silent = Podman.FreePort();
        var unhealthy = await Podman.RunAsync(["run", "--rm", "--network", "host", "--no-healthcheck",
            "-v", $"{DaemonConfig(dir, "silent", silent)}:/etc/rsyncd.conf:ro", ImageFixture.Image, "--health"]);
        Assert.True(unhealthy.ExitCode != 0, unhealthy.ToString());
    }

    /// <summary>
    /// The seed's docker-compose.yml with only its image changed is read by podman-compose; run with
    /// the test's host, port and paths, it starts a container that serves and stops cleanly.
    /// podman-compose 1.0.3 (Debian 12) adds its default network next to network_mode: host, which
    /// podman refuses ("cannot set multiple networks without bridge network mode"); then the command
    /// it printed is run without those two options, which newer podman-compose no longer adds.
    /// </summary>
    [Fact]
    public async Task SeedComposeFileWithOnlyTheImageChangedRuns()
    {
        Assert.True(File.Exists("/usr/bin/podman-compose") || File.Exists("/usr/local/bin/podman-compose"),
            "podman-compose is missing (bash scripts/ensure-podman.sh installs it where the distribution has it)");
        string seedCompose = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "seed-docker-compose.yml"));
        string withImage = seedCompose.Replace("image: 'openyourdream/rsync-sersync:1.0'", "image: 'netrsync:latest'", StringComparison.Ordinal);
        Assert.NotEqual(seedCompose, withImage);

        using var dir = new TempDir();
        // Read as it is: the dry run prints the podman command it would run.
        string pristine = dir.Sub("pristine");
        File.WriteAllText(Path.Combine(pristine, "docker-compose.yml"), withImage);
        File.Copy(DaemonConfig(dir, "pristine", 873), Path.Combine(pristine, "rsyncd.conf"));
        File.Copy(ImageFixture.SeedFile("confxml.xml"), Path.Combine(pristine, "confxml.xml"));
        string planned = RunLine(await WithoutNewHostFolders("/data/volumes/rsync", () => Compose(pristine, "--dry-run", "up", "-d")));
        foreach (string expected in new[] { "--network host", "-e target_host=192.168.8.110", $"-v {pristine}/rsyncd.conf:/etc/rsyncd.conf",
            $"-v {pristine}/confxml.xml:/app/local/sersync/confxml.xml", ":/syncdir", "--restart always", "--name=rsync-sersync", " netrsync:latest" })
            Assert.Contains(expected, planned);

        // Run: the test's target, port and folder instead of the seed's.
        string project = dir.Sub("project");
        string sync = dir.Sub("sync");
        int port = Podman.FreePort();
        string name = "nrct-compose-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        File.WriteAllText(Path.Combine(project, "docker-compose.yml"), withImage
            .Replace("192.168.8.110", $"127.0.0.1:{port}", StringComparison.Ordinal)
            .Replace("/data/volumes/rsync", sync, StringComparison.Ordinal)
            .Replace("container_name: rsync-sersync", $"container_name: {name}", StringComparison.Ordinal));
        File.Copy(DaemonConfig(dir, "compose", port), Path.Combine(project, "rsyncd.conf"));
        File.Copy(ImageFixture.SeedFile("confxml.xml"), Path.Combine(project, "confxml.xml"));
        try
        {
            var up = await Compose(project, "up", "-d");
            string state = (await Podman.RunAsync(["inspect", "--format", "{{.State.Status}}", name])).Stdout.Trim();
            if (state != "running")
            {
                string all = up.Stdout + up.Stderr;
                Assert.Contains("cannot set multiple networks without bridge network mode", all);
                output.WriteLine("podman-compose added its default network to network_mode: host; running its command without it");
                await Podman.RunAsync(["rm", "-f", name]);
                var run = await Podman.RunAsync(WithoutComposeNetwork(RunLine(all)));
                Assert.True(run.ExitCode == 0, run.ToString());
            }
            var container = new ContainerProbe(name);
            await container.WaitServingAsync(port);
            Assert.Equal("host", await Podman.CheckedAsync("inspect", "--format", "{{.HostConfig.NetworkMode}}", name));
            Assert.Equal("always", await Podman.CheckedAsync("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", name));
            Assert.Equal(0, await Container.Terminate(name, StopLimit));
        }
        finally
        {
            await Podman.RunAsync(["rm", "-f", "-t", "0", name]);
        }
    }

    /// <summary>The root docker-compose.yml is the seed's with the image, a healthcheck and the
    /// privileges it no longer needs taken out; podman-compose reads it.</summary>
    [Fact]
    public async Task RootComposeFileIsRead()
    {
        using var dir = new TempDir();
        File.Copy(Path.Combine(ImageFixture.RepoRoot, "docker-compose.yml"), dir.File("docker-compose.yml"));
        File.Copy(ImageFixture.SeedFile("rsyncd.conf"), dir.File("rsyncd.conf"));
        File.Copy(ImageFixture.SeedFile("confxml.xml"), dir.File("confxml.xml"));
        string planned = RunLine(await WithoutNewHostFolders("/data/volumes/rsync", () => Compose(dir.Path, "--dry-run", "up", "-d")));
        foreach (string expected in new[] { "--network host", "-e target_host=", $"-v {dir.Path}/rsyncd.conf:/etc/rsyncd.conf",
            $"-v {dir.Path}/confxml.xml:/app/local/sersync/confxml.xml", ":/syncdir", "--restart always", "--healthcheck-command", " netrsync:latest" })
            Assert.Contains(expected, planned);
        Assert.DoesNotContain("--privileged", planned);
    }

    private async Task<ProcessResult> Compose(string directory, params string[] arguments)
    {
        var (files, procs) = await Limits();
        var result = await ProcessRunner.RunAsync("podman-compose",
            ["--podman-args", "--runtime runc --cgroup-manager=cgroupfs", "--podman-run-args", $"--ulimit nofile={files}:{files} --ulimit nproc={procs}:{procs}", .. arguments],
            workingDirectory: directory, timeout: TimeSpan.FromSeconds(120));
        output.WriteLine(result.ToString());
        return result;
    }

    /// <summary>podman-compose makes a missing bind-mount source folder even on a dry run: the folders it
    /// made for the seed's volume are taken away again.</summary>
    private static async Task<T> WithoutNewHostFolders<T>(string folder, Func<Task<T>> action)
    {
        var missing = new List<string>();
        for (string? f = folder; !string.IsNullOrEmpty(f) && f != "/"; f = Path.GetDirectoryName(f))
        {
            if (!Directory.Exists(f))
                missing.Add(f);
        }
        try
        {
            return await action();
        }
        finally
        {
            foreach (string made in missing)
            {
                if (Directory.Exists(made) && !Directory.EnumerateFileSystemEntries(made).Any())
                    Directory.Delete(made);
            }
        }
    }

    /// <summary>The limits scripts/podman.sh passes (its rule, read back from its own output).</summary>
    private static async Task<(string Files, string Procs)> Limits()
    {
        var probe = await ProcessRunner.RunAsync("bash", ["-c", "n=$(ulimit -Hn); u=$(ulimit -Hu); [ \"$n\" = unlimited ] && n=1048576; [ \"$u\" = unlimited ] && u=1048576; [ \"$u\" -le 32768 ] || u=32768; echo $n $u"]);
        string[] parts = probe.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return (parts[0], parts[1]);
    }

    /// <summary>The `podman run ...` line podman-compose printed.</summary>
    private static string RunLine(ProcessResult result) => RunLine(result.Stdout + "\n" + result.Stderr);

    private static string RunLine(string text) =>
        text.Split('\n').FirstOrDefault(l => l.StartsWith("podman run ", StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException("podman-compose printed no podman run command:\n" + text);

    /// <summary>The printed command's arguments after `podman run` (podman-compose prints them space-separated,
    /// none of ours has a space), less the runtime flags scripts/podman.sh adds and the default network.</summary>
    private static string[] WithoutComposeNetwork(string line)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(2).ToList();
        var kept = new List<string> { "run" };
        for (int i = 0; i < words.Count; i++)
        {
            if (words[i] is "--net" or "--network-alias" or "--runtime" or "--ulimit")
            {
                i++;
                continue;
            }
            if (words[i] is "--cgroup-manager=cgroupfs")
                continue;
            kept.Add(words[i]);
        }
        return kept.ToArray();
    }

    /// <summary>The seed deployment's podman arguments for one side: its configs, folder and peer.</summary>
    private static string[] Deployment(TempDir dir, string side, string folder, int ownPort, int peerPort) =>
    [
        "-e", $"target_host=127.0.0.1:{peerPort}",
        "-v", $"{DaemonConfig(dir, side, ownPort)}:/etc/rsyncd.conf:ro",
        "-v", $"{ImageFixture.SeedFile("confxml.xml")}:/app/local/sersync/confxml.xml:ro",
        "-v", $"{folder}:/syncdir",
    ];

    /// <summary>The seed's rsyncd.conf with a port and a loopback address in its global section.</summary>
    private static string DaemonConfig(TempDir dir, string side, int port)
    {
        string path = dir.File($"rsyncd-{side}.conf");
        File.WriteAllText(path, $"port = {port}\naddress = 127.0.0.1\n" + File.ReadAllText(ImageFixture.SeedFile("rsyncd.conf")));
        Posix.Chmod(path, Posix.Mode("644"));
        return path;
    }

    private async Task WaitIdenticalAsync(string a, string b, Container left, Container right, Func<bool>? also = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<string> diffs = [];
        while (clock.Elapsed < SyncLimit)
        {
            diffs = TreeComparer.FindDifferences(a, b, MirrorOptions);
            if (diffs.Count == 0 && (also is null || also()))
            {
                output.WriteLine($"trees identical after {clock.Elapsed.TotalSeconds:F1}s");
                return;
            }
            await Task.Delay(200);
        }
        Assert.Fail($"trees still differ after {SyncLimit.TotalSeconds:F0}s:\n  {string.Join("\n  ", diffs.Take(20))}\n" +
            $"--- A ---\n{await left.LogsAsync()}\n--- B ---\n{await right.LogsAsync()}");
    }

    private static void WriteFile(string path, byte[] content, string mode, long seconds, long nanoseconds)
    {
        Posix.CreateFile(path, content, Posix.Mode(mode));
        Posix.Chmod(path, Posix.Mode(mode));
        Posix.SetTimes(path, seconds, nanoseconds);
    }

    private static void SetDirectory(string path, string mode, long seconds)
    {
        Posix.Chmod(path, Posix.Mode(mode));
        Posix.SetTimes(path, seconds, 0);
    }

    private static byte[] RandomBytes(int count) => RandomNumberGenerator.GetBytes(count);

    /// <summary>Readiness polling for a container started by someone else (podman-compose).</summary>
    private sealed class ContainerProbe(string name)
    {
        public async Task WaitServingAsync(int port)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (await Podman.GreetingAsync(port) is null)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(30))
                    Assert.Fail($"{name}: nothing served on port {port}; logs:\n{(await Podman.RunAsync(["logs", name])).Stderr}");
                await Task.Delay(50);
            }
        }
    }
}
