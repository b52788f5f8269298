using System.Net;
using System.Net.Sockets;
using System.Text;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.Hosting;
using Xunit;

namespace NetRsync.Protocol.Tests.Hosting;

public sealed class DaemonHealthTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("health-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DaemonConfig Config(string text)
    {
        string path = Path.Combine(_dir, "rsyncd.conf");
        File.WriteAllText(path, text);
        return DaemonConfig.Load(path);
    }

    /// <summary>A listener on 127.0.0.1 that sends <paramref name="greeting"/> (or nothing) to its first client and reads what it answers.</summary>
    private static (Socket Listener, Task<string> Answer) Serve(string? greeting)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var answer = Task.Run(async () =>
        {
            using var client = await listener.AcceptAsync();
            if (greeting is null)
            {
                await Task.Delay(TimeSpan.FromSeconds(5));
                return "";
            }
            await client.SendAsync(Encoding.ASCII.GetBytes(greeting));
            var received = new MemoryStream();
            var buffer = new byte[256];
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            int n;
            while ((n = await client.ReceiveAsync(buffer, SocketFlags.None, limit.Token)) > 0)
                received.Write(buffer, 0, n);
            return Encoding.ASCII.GetString(received.ToArray());
        });
        return (listener, answer);
    }

    private static IPEndPoint EndPoint(Socket listener) => (IPEndPoint)listener.LocalEndPoint!;

    [Fact]
    public async Task A_daemons_greeting_is_healthy_and_the_probe_leaves_without_choosing_a_module()
    {
        var (listener, answer) = Serve("@RSYNCD: 31.0 sha512 md5\n");
        using var _ = listener;
        var result = await DaemonHealth.CheckAsync(EndPoint(listener), TimeSpan.FromSeconds(3), CancellationToken.None);
        Assert.True(result.Healthy, result.Reason);
        Assert.Equal($"healthy: {EndPoint(listener)} greets with \"@RSYNCD: 31.0 sha512 md5\"", result.Reason);
        Assert.Equal("@RSYNCD: 30.0\n", await answer);
    }

    [Fact]
    public async Task Something_else_on_the_port_is_unhealthy()
    {
        var (listener, _) = Serve("SSH-2.0-OpenSSH_9.2\r\n");
        using var __ = listener;
        var result = await DaemonHealth.CheckAsync(EndPoint(listener), TimeSpan.FromSeconds(3), CancellationToken.None);
        Assert.False(result.Healthy);
        Assert.Contains("does not greet as an rsync daemon: \"SSH-2.0-OpenSSH_9.2\"", result.Reason);
    }

    [Fact]
    public async Task A_silent_listener_is_unhealthy_once_the_deadline_passes()
    {
        var (listener, _) = Serve(null);
        using var __ = listener;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = await DaemonHealth.CheckAsync(EndPoint(listener), TimeSpan.FromMilliseconds(300), CancellationToken.None);
        Assert.False(result.Healthy);
        Assert.Contains("sent no greeting within 0.3 s", result.Reason);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task No_listener_is_unhealthy()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        var result = await DaemonHealth.CheckAsync(new IPEndPoint(IPAddress.Loopback, port), TimeSpan.FromSeconds(3), CancellationToken.None);
        Assert.False(result.Healthy);
        Assert.StartsWith($"unhealthy: cannot connect to 127.0.0.1:{port}", result.Reason);
    }

    [Fact]
    public void The_port_is_the_command_lines_then_the_configs_then_873()
    {
        var withPort = Config("port = 8873\n[m]\npath = /tmp\n");
        Assert.Equal(9000, DaemonHealth.PortOf(withPort, 9000));
        Assert.Equal(8873, DaemonHealth.PortOf(withPort, null));
        Assert.Equal(873, DaemonHealth.PortOf(Config("[m]\npath = /tmp\n"), null));
    }

    [Fact]
    public void The_address_is_the_bound_one_or_loopback_for_every_address()
    {
        Assert.Equal(IPAddress.Loopback, DaemonHealth.AddressOf(Config("[m]\npath = /tmp\n"), null));
        Assert.Equal(IPAddress.Loopback, DaemonHealth.AddressOf(Config("address = 0.0.0.0\n"), null));
        Assert.Equal(IPAddress.IPv6Loopback, DaemonHealth.AddressOf(Config("address = ::\n"), null));
        Assert.Equal(IPAddress.Parse("127.0.0.2"), DaemonHealth.AddressOf(Config("address = 127.0.0.2\n"), null));
        Assert.Equal(IPAddress.Parse("127.0.0.3"), DaemonHealth.AddressOf(Config("address = 127.0.0.2\n"), "127.0.0.3"));
    }
}
