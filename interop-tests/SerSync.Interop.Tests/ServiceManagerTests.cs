using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using NetRsync.Interop.Tests;
using Xunit;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>netsersync under a service manager: it says READY=1 once watching and STOPPING=1 when it starts draining.</summary>
public sealed class ServiceManagerTests
{
    [Fact]
    public async Task ReadinessAndStoppingAreNotified()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string notifyPath = temp.File("notify");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        // Nothing changes, so nothing is pushed: the remote need not be there.
        string config = new WatchSetup(source, StockDaemon.FreePort()).WriteTo(temp);
        var watcher = await WatcherProcess.StartAsync(config, environment: new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notifyPath,
            ["NETRSYNC_RUN_DIR"] = temp.Sub("run"),
        });
        await using (watcher)
        {
            string ready = await ReceiveAsync(notify);
            Assert.StartsWith("READY=1\nSTATUS=watching ", ready, StringComparison.Ordinal);
            _ = Signals.Kill(watcher.ProcessId, Signals.SigTerm);
            string stopping = await ReceiveAsync(notify);
            Assert.StartsWith("STOPPING=1", stopping, StringComparison.Ordinal);
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
