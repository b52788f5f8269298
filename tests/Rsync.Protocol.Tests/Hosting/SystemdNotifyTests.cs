using System.Net.Sockets;
using System.Text;
using NetRsync.Protocol.Hosting;
using Xunit;

namespace NetRsync.Protocol.Tests.Hosting;

public sealed class SystemdNotifyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("notify-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Socket Bind(string address)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(address));
        socket.ReceiveTimeout = 5000;
        return socket;
    }

    private static string Receive(Socket socket)
    {
        var buffer = new byte[8192];
        int n = socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    [Fact]
    public void Each_state_arrives_as_one_datagram_at_a_socket_path()
    {
        string path = Path.Combine(_dir, "notify");
        using var socket = Bind(path);

        Assert.True(SystemdNotify.Send(path, "READY=1"));
        Assert.Equal("READY=1", Receive(socket));
        Assert.True(SystemdNotify.Send(path, "STOPPING=1"));
        Assert.Equal("STOPPING=1", Receive(socket));
        Assert.True(SystemdNotify.Send(path, "MAINPID=42"));
        Assert.Equal("MAINPID=42", Receive(socket));
    }

    [Fact]
    public void An_abstract_name_is_written_with_an_at_sign()
    {
        string name = "netrsync-notify-test-" + Guid.NewGuid().ToString("N");
        using var socket = Bind("\0" + name);

        Assert.True(SystemdNotify.Send("@" + name, "STATUS=listening on port 873"));
        Assert.Equal("STATUS=listening on port 873", Receive(socket));
    }

    [Fact]
    public void The_helpers_read_NOTIFY_SOCKET_and_keep_a_status_on_one_line()
    {
        string path = Path.Combine(_dir, "notify");
        using var socket = Bind(path);
        string? before = Environment.GetEnvironmentVariable(SystemdNotify.SocketVariable);
        Environment.SetEnvironmentVariable(SystemdNotify.SocketVariable, path);
        try
        {
            Assert.True(SystemdNotify.Ready());
            Assert.Equal("READY=1", Receive(socket));
            Assert.True(SystemdNotify.Ready("serving\nnow"));
            Assert.Equal("READY=1\nSTATUS=serving now", Receive(socket));
            Assert.True(SystemdNotify.Stopping());
            Assert.Equal("STOPPING=1", Receive(socket));
            Assert.True(SystemdNotify.Status("draining"));
            Assert.Equal("STATUS=draining", Receive(socket));
            Assert.True(SystemdNotify.MainPid(1234));
            Assert.Equal("MAINPID=1234", Receive(socket));
        }
        finally
        {
            Environment.SetEnvironmentVariable(SystemdNotify.SocketVariable, before);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("relative/notify")]
    [InlineData("@")]
    [InlineData("vsock:2:1234")]
    public void Without_a_usable_socket_nothing_is_sent_and_nothing_throws(string? socketName)
    {
        Assert.False(SystemdNotify.Send(socketName, "READY=1"));
    }

    [Fact]
    public void A_socket_nobody_listens_on_is_not_an_error()
    {
        Assert.False(SystemdNotify.Send(Path.Combine(_dir, "gone"), "READY=1"));
    }
}
