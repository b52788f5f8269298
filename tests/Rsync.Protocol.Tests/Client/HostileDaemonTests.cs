using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Client;

/// <summary>
/// A scripted fake daemon on loopback that breaks the protocol in one place each; the client
/// must stop with rsync's exit code and a clear message, never hang or crash.
/// </summary>
public sealed class HostileDaemonTests : IDisposable
{
    private readonly string _source = Directory.CreateTempSubdirectory("nr-hostile-").FullName;

    public HostileDaemonTests()
    {
        File.WriteAllText(Path.Combine(_source, "a.txt"), "hello\n");
    }

    public void Dispose() => Directory.Delete(_source, recursive: true);

    private static byte[] Frame(int tag, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, ((uint)(7 + tag) << 24) | (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(4));
        return frame;
    }

    /// <summary>Runs the client against a daemon that follows the script, and returns what the client threw.</summary>
    private async Task<RsyncException> PushAgainst(Func<NetworkStream, StreamReader, Task> script)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var daemon = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            using var stream = new NetworkStream(socket);
            using var lines = new StreamReader(stream, Encoding.ASCII, false, 1);
            try
            {
                await script(stream, lines);
            }
            catch (IOException)
            {
                // The client may hang up first; that is its right.
            }
        });
        var client = new RsyncClient(new RsyncOptions { Recursive = true, PreserveTimes = true, Timeout = 20 });
        var ex = await Assert.ThrowsAnyAsync<RsyncException>(() => client.PushAsync([_source + "/"], $"rsync://127.0.0.1:{port}/mod/"));
        await daemon.WaitAsync(TimeSpan.FromSeconds(20));
        return ex;
    }

    /// <summary>Reads whatever the client sends until it closes the connection.</summary>
    private static async Task DrainUntilClientHangsUp(NetworkStream s)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var buffer = new byte[4096];
        try
        {
            while (await s.ReadAsync(buffer, cts.Token) > 0)
            {
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task Send(NetworkStream s, string text) => await s.WriteAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>Greets, accepts the module and reads the client's arguments up to the empty one.</summary>
    private static async Task AcceptModule(NetworkStream s, StreamReader lines)
    {
        await Send(s, "@RSYNCD: 31.0\n");
        await lines.ReadLineAsync();
        await lines.ReadLineAsync();
        await Send(s, "@RSYNCD: OK\n");
        int previous = -1;
        while (true)
        {
            int b = s.ReadByte();
            if (b < 0 || (b == 0 && previous == 0))
                return;
            previous = b;
        }
    }

    /// <summary>Compat flags and seed, then the client's file list (one entry and the end marker) is drained.</summary>
    private static async Task StartSession(NetworkStream s)
    {
        await s.WriteAsync(new byte[] { 0 });
        await s.WriteAsync(new byte[] { 1, 2, 3, 4 });
        await s.FlushAsync();
    }

    [Fact]
    public async Task NotAGreeting_ExitsWithStartClientError()
    {
        var ex = await PushAgainst(async (s, _) => await Send(s, "HTTP/1.1 400 Bad Request\n"));
        Assert.Equal(5, ex.ExitCode);
        Assert.Contains("rather than greeting", ex.Message);
    }

    [Fact]
    public async Task TooOldProtocol_ExitsWithProtocolError()
    {
        var ex = await PushAgainst(async (s, _) => await Send(s, "@RSYNCD: 29.0\n"));
        Assert.Equal(2, ex.ExitCode);
        Assert.Contains("protocol", ex.Message);
    }

    [Fact]
    public async Task HangUpAfterGreeting_ExitsWithStartClientError()
    {
        var ex = await PushAgainst(async (s, lines) =>
        {
            await Send(s, "@RSYNCD: 31.0\n");
            await lines.ReadLineAsync();
        });
        Assert.Equal(5, ex.ExitCode);
    }

    [Fact]
    public async Task ErrorLine_IsReportedWithExit5()
    {
        var ex = await PushAgainst(async (s, lines) =>
        {
            await Send(s, "@RSYNCD: 31.0\n");
            await lines.ReadLineAsync();
            await lines.ReadLineAsync();
            await Send(s, "@ERROR: Unknown module 'mod'\n");
        });
        Assert.Equal(5, ex.ExitCode);
        Assert.Contains("@ERROR: Unknown module 'mod'", ex.Message);
    }

    [Fact]
    public async Task FileIndexOutOfRange_IsAProtocolError()
    {
        var ex = await PushAgainst(async (s, lines) =>
        {
            await AcceptModule(s, lines);
            await StartSession(s);
            // ndx 200 (one-byte delta from -1 is 201) for a one-entry list.
            await s.WriteAsync(Frame(0, [0xC9, 0x00, 0x80]));
            await DrainUntilClientHangsUp(s);
        });
        Assert.Equal(2, ex.ExitCode);
        Assert.Contains("Invalid file index", ex.Message);
    }

    [Fact]
    public async Task NegativeBlockCount_IsAProtocolError()
    {
        var ex = await PushAgainst(async (s, lines) =>
        {
            await AcceptModule(s, lines);
            await StartSession(s);
            // ndx 1 (the file after "."), ITEM_TRANSFER, then a sum head with count -1.
            var payload = new List<byte> { 0x02, 0x00, 0x80 };
            payload.AddRange(BitConverter.GetBytes(-1));
            payload.AddRange(BitConverter.GetBytes(700));
            payload.AddRange(BitConverter.GetBytes(16));
            payload.AddRange(BitConverter.GetBytes(0));
            await s.WriteAsync(Frame(0, payload.ToArray()));
            await DrainUntilClientHangsUp(s);
        });
        Assert.Equal(2, ex.ExitCode);
        Assert.Contains("Invalid checksum count", ex.Message);
    }

    [Fact]
    public async Task UnknownMessageTag_IsAStreamError()
    {
        var ex = await PushAgainst(async (s, lines) =>
        {
            await AcceptModule(s, lines);
            await StartSession(s);
            await s.WriteAsync(Frame(77, [1, 2, 3]));
            await DrainUntilClientHangsUp(s);
        });
        Assert.Equal(12, ex.ExitCode);
        Assert.Contains("unexpected tag", ex.Message);
    }

    [Fact]
    public async Task HangUpMidSession_IsAStreamError()
    {
        var ex = await PushAgainst(async (s, lines) =>
        {
            await AcceptModule(s, lines);
            await StartSession(s);
            await s.WriteAsync(Frame(0, [0x02]));
        });
        Assert.Equal(12, ex.ExitCode);
        Assert.Contains("connection unexpectedly closed", ex.Message);
    }
}
