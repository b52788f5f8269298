using System.Net;
using System.Net.Sockets;

namespace NetRsync.Interop.Tests;

/// <summary>A loopback TCP proxy in front of a daemon port that counts the bytes it forwards in each
/// direction (over all connections). Optionally it closes both sockets of a connection once that
/// connection has forwarded N bytes client→server (a push's data) or N bytes server→client (a
/// pull's data), which looks to the client like a daemon that hung up mid-transfer.</summary>
public sealed class ByteCountingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _targetPort;
    private readonly long? _cutAfter;
    private readonly long? _cutAfterDown;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly List<Socket> _sockets = [];
    private readonly Task _acceptLoop;
    private long _clientToServer;
    private long _serverToClient;
    private int _connectionCount;
    private int _cuts;

    /// <summary>Port to give the client instead of the daemon's.</summary>
    public int Port { get; }

    public long ClientToServerBytes => Interlocked.Read(ref _clientToServer);

    public long ServerToClientBytes => Interlocked.Read(ref _serverToClient);

    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    /// <summary>How many connections were cut after the configured byte count.</summary>
    public int Cuts => Volatile.Read(ref _cuts);

    private ByteCountingProxy(int targetPort, long? cutAfterClientToServerBytes, long? cutAfterServerToClientBytes)
    {
        _targetPort = targetPort;
        _cutAfter = cutAfterClientToServerBytes;
        _cutAfterDown = cutAfterServerToClientBytes;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoop();
    }

    /// <summary>Starts listening on a free loopback port, forwarding to 127.0.0.1:<paramref name="targetPort"/>.
    /// With <paramref name="cutAfterClientToServerBytes"/>, each connection forwards at most that many
    /// bytes client→server and then both its sockets are closed; likewise
    /// <paramref name="cutAfterServerToClientBytes"/> for the other direction.</summary>
    public static ByteCountingProxy Start(int targetPort, long? cutAfterClientToServerBytes = null, long? cutAfterServerToClientBytes = null) =>
        new(targetPort, cutAfterClientToServerBytes, cutAfterServerToClientBytes);

    public string Url(string? module) => $"rsync://127.0.0.1:{Port}/{(module is null ? "" : module + "/")}";

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _connectionCount);
            lock (_connections)
            {
                _connections.Add(Serve(client));
            }
        }
    }

    private async Task Serve(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        lock (_connections)
        {
            _sockets.Add(client);
            _sockets.Add(server);
        }
        try
        {
            await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), _stop.Token);
        }
        catch (Exception)
        {
            client.Close();
            server.Close();
            return;
        }
        int closed = 0;
        void CloseBoth()
        {
            if (Interlocked.Exchange(ref closed, 1) == 0)
            {
                client.Close();
                server.Close();
            }
        }
        long sent = 0; // this connection's client→server bytes
        long received = 0; // and server→client bytes
        Task up = Pump(client, server, n =>
        {
            Interlocked.Add(ref _clientToServer, n);
            sent += n;
        }, () => _cutAfter is long cut ? cut - sent : long.MaxValue, () =>
        {
            Interlocked.Increment(ref _cuts);
            CloseBoth();
        }, CloseBoth);
        Task down = Pump(server, client, n =>
        {
            Interlocked.Add(ref _serverToClient, n);
            received += n;
        }, () => _cutAfterDown is long cut ? cut - received : long.MaxValue, () =>
        {
            Interlocked.Increment(ref _cuts);
            CloseBoth();
        }, CloseBoth);
        await Task.WhenAll(up, down);
        CloseBoth();
    }

    /// <summary>Copies from → to until EOF/error. <paramref name="budget"/> says how many more bytes may
    /// pass; when it reaches zero the connection is cut via <paramref name="onBudgetExhausted"/>.
    /// A socket error in either direction closes both sides via <paramref name="onError"/>.</summary>
    private async Task Pump(Socket from, Socket to, Action<int> count, Func<long> budget, Action onBudgetExhausted, Action onError)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    // Half-close: pass the EOF on, keep the other direction flowing.
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                long allowed = budget();
                int forward = (int)Math.Min(n, Math.Max(0, allowed));
                int off = 0;
                while (off < forward)
                {
                    off += await to.SendAsync(buffer.AsMemory(off, forward - off), SocketFlags.None, _stop.Token);
                }
                count(forward);
                if (forward < n || budget() <= 0)
                {
                    onBudgetExhausted();
                    return;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Either side went away (or we cut it): make sure the other side notices too.
            onError();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Task[] connections;
        lock (_connections)
        {
            foreach (Socket s in _sockets)
            {
                s.Close();
            }
            connections = _connections.ToArray();
        }
        try
        {
            await _acceptLoop;
            await Task.WhenAll(connections);
        }
        catch (Exception)
        {
            // teardown
        }
        _stop.Dispose();
    }
}
