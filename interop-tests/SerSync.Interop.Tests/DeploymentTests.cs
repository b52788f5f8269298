using System.Net;
using System.Net.Sockets;
using System.Text;
using NetRsync.Interop.Tests;
using Xunit;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>The deployment as shipped: the seed's confxml.xml, start.sh's way of starting, bad input, plugins.</summary>
public sealed class DeploymentTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private static readonly string SeedConfig = Path.Combine(AppContext.BaseDirectory, "Data", "confxml.xml");

    public static TheoryData<string> Daemons => new() { RemoteDaemon.Stock, RemoteDaemon.Net };

    private static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    /// <summary>The seed file with only paths and the port changed, byte for byte otherwise
    /// (Latin-1 round-trips every byte, so the UTF-8 comments survive untouched).</summary>
    private static string SeedWith(TempDir temp, string source, string passwordFile, string failLog, int port)
    {
        string text = Encoding.Latin1.GetString(File.ReadAllBytes(SeedConfig))
            .Replace("/syncdir", source)
            .Replace("/app/local/sersync/user.pass", passwordFile)
            .Replace("/tmp/rsync_fail_log.sh", failLog)
            .Replace("<userDefinedPort start=\"false\" port=\"874\"/>", $"<userDefinedPort start=\"true\" port=\"{port}\"/>");
        string path = temp.File("confxml.xml");
        File.WriteAllBytes(path, Encoding.Latin1.GetBytes(text));
        return path;
    }

    /// <summary>The seed's confxml.xml (-artuz, auth user rsync, delete off) against a module set up like
    /// the seed's rsyncd.conf. Needs -z in the library.</summary>
    [Theory]
    [MemberData(nameof(Daemons))]
    public async Task TheSeedConfigDrivesASync(string kind)
    {
        using var temp = new TempDir();
        string source = temp.Sub("syncdir");
        string target = temp.Sub("target");
        string passwordFile = temp.File("user.pass");
        StockDaemon.WriteSecretFile(passwordFile, "rsync\n");
        Write(Path.Combine(source, "before.txt"), "there before the start\n");
        var module = new DaemonModule("rsync", target) { AuthUsers = "rsync", Secrets = [("rsync", "rsync")] };
        await using var daemon = await RemoteDaemon.StartAsync(kind, module);
        string config = SeedWith(temp, source, passwordFile, temp.File("rsync_fail_log.sh"), daemon.Port);
        // As start.sh runs it, with the host from the environment and -r for the full sync first.
        await using var watcher = await WatcherProcess.StartAsync(config, ["-r"], new Dictionary<string, string> { ["target_host"] = "127.0.0.1" });
        await watcher.WaitForOutputAsync(" push ", Deadline);
        Assert.False(watcher.Output.Contains("compression (-z, --compress) is not supported yet", StringComparison.Ordinal),
            $"the seed's -artuz needs -z in the library:\n{watcher.Output}");

        Write(Path.Combine(source, "a/b/c/new.txt"), "new\n");
        File.AppendAllText(Path.Combine(source, "before.txt"), "appended\n");
        Write(Path.Combine(source, "r/old-name.txt"), "rename me\n");
        Write(Path.Combine(source, "r/quick.txt"), "renamed at once\n");
        File.Move(Path.Combine(source, "r/quick.txt"), Path.Combine(source, "r/quick-renamed.txt"));
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output,
            daemon.Compare with { Exclude = p => p == "r/quick.txt" });

        // <delete start="false">: neither a deletion nor the old name of a rename leaves the target.
        File.Delete(Path.Combine(source, "a/b/c/new.txt"));
        File.Move(Path.Combine(source, "r/old-name.txt"), Path.Combine(source, "r/new-name.txt"));
        Write(Path.Combine(source, "marker.txt"), "after the delete\n");
        string[] kept = ["a/b/c/new.txt", "r/old-name.txt"];
        await Convergence.WaitAsync(source, target, Deadline, () => watcher.Output,
            daemon.Compare with { CompareDirectoryTimes = false, Exclude = kept.Contains });
        foreach (string path in kept)
            Assert.True(File.Exists(Path.Combine(target, path)), $"{path} was removed from the target although <delete start=\"false\">");
    }

    [Theory]
    [InlineData("<head><sersync><localpath watch=\"/tmp\"></sersync></head>", "not well-formed XML")]
    [InlineData("<head><sersync><localpath watch=\"/nonexistent/dir\"><remote ip=\"127.0.0.1\" name=\"m\"/></localpath></sersync></head>", "no such directory")]
    [InlineData("<head><filter start=\"true\"><exclude expression=\"[a-\"/></filter><sersync><localpath watch=\"/tmp\"><remote ip=\"h\" name=\"m\"/></localpath></sersync></head>", "not a valid regular expression")]
    [InlineData("<head><sersync><localpath watch=\"/tmp\"><remote ip=\"h\" name=\"m\"/></localpath><rsync><commonParams params=\"-artu --no-such-option\"/></rsync></sersync></head>", "commonParams")]
    [InlineData("<head><sersync><localpath watch=\"/tmp\"><remote ip=\"h\" name=\"m\"/></localpath><rsync><auth start=\"true\" users=\"u\" passwordfile=\"/nonexistent/pass\"/></rsync></sersync></head>", "no such file")]
    [InlineData("<head><sersync><localpath watch=\"/tmp\"/></sersync></head>", "has no <remote")]
    public async Task BadInputIsRefusedClearly(string xml, string expected)
    {
        using var temp = new TempDir();
        string config = temp.File("confxml.xml");
        File.WriteAllText(config, xml);
        var result = await ProcessRunner.RunAsync(WatcherProcess.AppHost, ["--no-detach", "-o", config]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
    }

    [Fact]
    public async Task DashDRunsInTheBackgroundAsStartShDoes()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        await using var daemon = await RemoteDaemon.StartAsync(RemoteDaemon.Stock, new DaemonModule("mod", target));
        string config = new WatchSetup(source, daemon.Port).WriteTo(temp);
        string log = temp.File("rsync.log");
        // start.sh: sersync2 -r -d -o confxml.xml >rsync.log 2>&1
        var started = await ProcessRunner.RunAsync("/bin/sh", ["-c", $"exec '{WatcherProcess.AppHost}' -r -d -o '{config}' >'{log}' 2>&1"]);
        Assert.Equal(0, started.ExitCode);
        await DaemonTestKit.WaitUntilAsync(() => File.ReadAllText(log).Contains("netsersync ready"), "the background watcher to be ready", Deadline, () => File.ReadAllText(log));
        int pid = int.Parse(File.ReadAllText(log).Split("pid ")[1].Split('\n')[0].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            Write(Path.Combine(source, "bg/file.txt"), "from the background\n");
            await Convergence.WaitAsync(source, target, Deadline, () => File.ReadAllText(log), daemon.Compare);
        }
        finally
        {
            _ = Signals.Kill(pid, Signals.SigTerm);
            await DaemonTestKit.WaitUntilAsync(() => !Directory.Exists($"/proc/{pid}"), "the background watcher to stop", Deadline, () => File.ReadAllText(log));
        }
    }

    private static string PluginConfig(string source, string plugin, string section) => $"""
        <?xml version="1.0" encoding="ISO-8859-1"?>
        <head version="2.5">
            <settle ms="20"/>
            <sersync><localpath watch="{source}"/><plugin start="true" name="{plugin}"/></sersync>
            {section}
        </head>
        """;

    [Fact]
    public async Task CommandPluginRunsThePrefixWithThePathAndNoShell()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string copies = temp.Sub("copies");
        string config = temp.File("confxml.xml");
        File.WriteAllText(config, PluginConfig(source, "command", $"""
            <plugin name="command">
                <param prefix="/bin/cp" suffix="{copies}" ignoreError="true"/>
                <filter start="true"><include expression="(.*)\.sh"/></filter>
            </plugin>
            """));
        await using var watcher = await WatcherProcess.StartAsync(config, ["-m", "command"]);
        Write(Path.Combine(source, "it's a $HOME.sh"), "echo\n");
        Write(Path.Combine(source, "ignored.txt"), "x\n");
        await DaemonTestKit.WaitUntilAsync(() => File.Exists(Path.Combine(copies, "it's a $HOME.sh")), "the command plugin's copy", Deadline, () => watcher.Output);
        Assert.False(File.Exists(Path.Combine(copies, "ignored.txt")));
    }

    [Fact]
    public async Task SocketPluginSendsThePaths()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        string config = temp.File("confxml.xml");
        File.WriteAllText(config, PluginConfig(source, "socket", $"""
            <plugin name="socket"><localpath watch="{source}"><deshost ip="127.0.0.1" port="{port}"/></localpath></plugin>
            """));
        await using var watcher = await WatcherProcess.StartAsync(config, ["-m", "socket"]);
        Write(Path.Combine(source, "notify.txt"), "x\n");
        using var cancel = new CancellationTokenSource(Deadline);
        using var client = await listener.AcceptTcpClientAsync(cancel.Token);
        using var reader = new StreamReader(client.GetStream());
        Assert.Equal(Path.Combine(source, "notify.txt"), await reader.ReadLineAsync(cancel.Token));
        listener.Stop();
    }

    [Fact]
    public async Task HttpPluginPostsThePathsAsJson()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        int port = StockDaemon.FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        string config = temp.File("confxml.xml");
        File.WriteAllText(config, PluginConfig(source, "http", $"""
            <plugin name="http"><localpath watch="{source}"><deshost ip="127.0.0.1" port="{port}"/></localpath></plugin>
            """));
        await using var watcher = await WatcherProcess.StartAsync(config, ["-m", "http"]);
        Write(Path.Combine(source, "posted.txt"), "x\n");
        var context = await listener.GetContextAsync().WaitAsync(Deadline);
        string body = await new StreamReader(context.Request.InputStream).ReadToEndAsync();
        context.Response.StatusCode = 200;
        context.Response.Close();
        Assert.Equal("POST", context.Request.HttpMethod);
        using var json = System.Text.Json.JsonDocument.Parse(body);
        Assert.Equal(source, json.RootElement.GetProperty("root").GetString());
        Assert.Contains(Path.Combine(source, "posted.txt"), json.RootElement.GetProperty("paths").EnumerateArray().Select(e => e.GetString()));
    }
}
