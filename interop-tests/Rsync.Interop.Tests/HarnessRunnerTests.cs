using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>Self-tests of <see cref="ProcessRunner"/>, <see cref="NetRsync"/>, <see cref="RsyncPeers"/>
/// and <see cref="ByteCountingProxy"/>.</summary>
public sealed class HarnessRunnerTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Runner_CapturesExitCodeStdoutAndStderr()
    {
        ProcessResult r = await ProcessRunner.RunAsync("/bin/sh", ["-c", "printf 'out\\n'; printf 'err\\n' >&2; exit 7"]);
        Assert.Equal((7, "out\n", "err\n"), (r.ExitCode, r.Stdout, r.Stderr));
    }

    [Fact]
    public async Task Runner_PassesEnvironment_AndNeverInheritsRsyncPassword()
    {
        ProcessResult with = await ProcessRunner.RunAsync("/bin/sh", ["-c", "printf '%s|%s' \"${RSYNC_PASSWORD-unset}\" \"$FOO\""],
            new Dictionary<string, string?> { ["RSYNC_PASSWORD"] = "pw", ["FOO"] = "bar" });
        Assert.Equal("pw|bar", with.Stdout);
        ProcessResult without = await ProcessRunner.RunAsync("/bin/sh", ["-c", "printf '%s' \"${RSYNC_PASSWORD-unset}\""]);
        Assert.Equal("unset", without.Stdout);
    }

    [Fact]
    public async Task Runner_StdinIsEmpty_SoPromptsDoNotHang()
    {
        ProcessResult r = await ProcessRunner.RunAsync("/bin/sh", ["-c", "read x; echo \"rc=$?\""], timeout: TimeSpan.FromSeconds(20));
        Assert.Equal("rc=1\n", r.Stdout);
    }

    [Fact]
    public async Task Runner_KillsTheProcessTreeAndFailsOnTimeout()
    {
        var sw = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAnyAsync<Xunit.Sdk.XunitException>(() =>
            ProcessRunner.RunAsync("/bin/sh", ["-c", "echo started; sleep 300 & wait"], timeout: TimeSpan.FromSeconds(1)));
        output.WriteLine(ex.Message);
        Assert.Contains("timed out after 1s", ex.Message, StringComparison.Ordinal);
        Assert.Contains("started", ex.Message, StringComparison.Ordinal);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
    }

    [Fact]
    public void NetRsync_IsBuiltNextToTheTests()
    {
        (string fileName, string[] prefix) = NetRsync.Locate();
        output.WriteLine($"{fileName} {string.Join(' ', prefix)}");
        Assert.True(File.Exists(fileName) || prefix.Length == 1, fileName);
        Assert.True(File.Exists(NetRsync.DllPath), $"{NetRsync.DllPath} should be copied by the project reference to src/Rsync.Cli");
    }

    [Fact]
    public void Peers_ParseList()
    {
        Assert.Equal(["/a/rsync", "/b/rsync-3"], RsyncPeers.ParsePeerList("/a/rsync::/b/rsync-3:"));
        Assert.Empty(RsyncPeers.ParsePeerList(null));
        Assert.Empty(RsyncPeers.ParsePeerList(" "));
    }

    [Fact]
    public void Peers_MatrixHasEveryPeerTimesEveryProtocol()
    {
        IReadOnlyList<string> all = RsyncPeers.All;
        Assert.Equal(RsyncPeers.DebianRsync, all[0]);
        Assert.Equal(all.Count * 3, RsyncPeers.PeersAndProtocols.Count());
        Assert.Equal(all.Count * 2, RsyncPeers.PeersDefaultAnd30.Count());
        foreach (string p in RsyncPeers.ParsePeerList(Environment.GetEnvironmentVariable("RSYNC_PEERS")))
        {
            Assert.Contains(Path.GetFullPath(p), all);
        }
        Assert.Equal(["--protocol=30"], RsyncPeers.ProtocolArgs("30"));
        Assert.Empty(RsyncPeers.ProtocolArgs(RsyncPeers.DefaultProtocol));
        Assert.False(RsyncPeers.CompareOptionsFor("30").CompareNanoseconds);
        Assert.True(RsyncPeers.CompareOptionsFor("31").CompareNanoseconds);
        Assert.True(RsyncPeers.CompareOptionsFor(RsyncPeers.DefaultProtocol).CompareNanoseconds);
    }

    [Fact]
    public void Peers_MissingOnesFailInsteadOfSkipping()
    {
        var missing = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => RsyncPeers.Resolve("/nonexistent/rsync-0.0.1"));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
        var noDebian = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => RsyncPeers.Resolve(RsyncPeers.MissingDebianRsync));
        Assert.Contains("not found on PATH", noDebian.Message, StringComparison.Ordinal);
    }

    /// <summary>Fails (never skips) when Debian's rsync or a path in RSYNC_PEERS is missing.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Peer_ExistsAndRuns(string peer)
    {
        ProcessResult r = await new StockClient(peer).RunAsync(["--version"]);
        output.WriteLine(r.ToString());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"rsync\s+version \S+\s+protocol version (3[0-9])", r.Stdout);
        Version v = RsyncPeers.VersionOf(peer);
        Assert.Contains($"version {v}", r.Stdout, StringComparison.Ordinal);
        Assert.True(v >= new Version(3, 0, 0), $"{peer} is rsync {v}; protocol 30 needs 3.0 or later");
    }

    [Fact]
    public async Task Proxy_CountsBothDirections()
    {
        using var echo = new EchoServer();
        await using var proxy = ByteCountingProxy.Start(echo.Port);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, proxy.Port);
        NetworkStream s = client.GetStream();
        byte[] data = new byte[100_000];
        new Random(1).NextBytes(data);
        await s.WriteAsync(data);
        byte[] back = new byte[data.Length];
        await s.ReadExactlyAsync(back);
        Assert.Equal(data, back);
        Assert.Equal(data.Length, proxy.ClientToServerBytes);
        Assert.Equal(data.Length, proxy.ServerToClientBytes);
        Assert.Equal(1, proxy.ConnectionCount);
        Assert.Equal(0, proxy.Cuts);
    }

    [Fact]
    public async Task Proxy_CutsBothSocketsAfterNClientToServerBytes()
    {
        using var echo = new EchoServer();
        await using var proxy = ByteCountingProxy.Start(echo.Port, cutAfterClientToServerBytes: 1000);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, proxy.Port);
        NetworkStream s = client.GetStream();
        byte[] data = new byte[5000];
        try
        {
            await s.WriteAsync(data);
        }
        catch (IOException)
        {
            // the cut may already have reset the connection
        }
        // Everything the client can still read is the echo of at most 1000 bytes, then EOF (or a reset).
        long received = 0;
        byte[] buf = new byte[8192];
        try
        {
            int n;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while ((n = await s.ReadAsync(buf, cts.Token)) > 0)
            {
                received += n;
            }
        }
        catch (IOException)
        {
        }
        Assert.Equal(1000, proxy.ClientToServerBytes);
        Assert.InRange(received, 0, 1000);
        Assert.Equal(1, proxy.Cuts);
        Assert.True(await echo.SawEof.WaitAsync(TimeSpan.FromSeconds(20)), "the server side should see the connection closed");
    }

    [Fact]
    public async Task Proxy_CutsBothSocketsAfterNServerToClientBytes()
    {
        using var echo = new EchoServer();
        await using var proxy = ByteCountingProxy.Start(echo.Port, cutAfterServerToClientBytes: 1000);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, proxy.Port);
        NetworkStream s = client.GetStream();
        byte[] data = new byte[5000];
        new Random(2).NextBytes(data);
        try
        {
            await s.WriteAsync(data);
        }
        catch (IOException)
        {
            // the cut may already have reset the connection
        }
        // The client reads back a prefix of the echo, at most 1000 bytes, then EOF (or a reset).
        var received = new List<byte>();
        byte[] buf = new byte[8192];
        try
        {
            int n;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while ((n = await s.ReadAsync(buf, cts.Token)) > 0)
            {
                received.AddRange(buf.AsSpan(0, n).ToArray());
            }
        }
        catch (IOException)
        {
        }
        Assert.Equal(1000, proxy.ServerToClientBytes);
        Assert.InRange(received.Count, 0, 1000);
        Assert.Equal(data.AsSpan(0, received.Count).ToArray(), received.ToArray());
        Assert.Equal(1, proxy.Cuts);
        Assert.True(await echo.SawEof.WaitAsync(TimeSpan.FromSeconds(20)), "the server side should see the connection closed");
    }

    /// <summary>A one-connection TCP echo server on a free loopback port.</summary>
    private sealed class EchoServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        public int Port { get; }

        public Task<bool> SawEof { get; }

        public EchoServer()
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            SawEof = Serve();
        }

        private async Task<bool> Serve()
        {
            using Socket s = await _listener.AcceptSocketAsync();
            byte[] buf = new byte[8192];
            try
            {
                int n;
                while ((n = await s.ReceiveAsync(buf)) > 0)
                {
                    await s.SendAsync(buf.AsMemory(0, n));
                }
            }
            catch (SocketException)
            {
            }
            return true;
        }

        public void Dispose() => _listener.Stop();
    }
}
