using System.Net.Sockets;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

/// <summary>A socket with its reader and writer, and rsync's --timeout watchdog (io.c, check_timeout).</summary>
internal sealed class Connection : IDisposable
{
    private readonly Socket _socket;
    private readonly Timer _watchdog;
    private readonly CancellationTokenRegistration _cancellation;
    private long _lastIoTicks = Environment.TickCount64;
    private volatile bool _timedOut;

    public Connection(Socket socket, int timeoutSeconds, int bandwidthLimitKiB, CancellationToken cancellationToken)
    {
        _socket = socket;
        TimeoutSeconds = timeoutSeconds;
        var stream = new NetworkStream(socket, ownsSocket: false);
        var limiter = bandwidthLimitKiB > 0 ? new BandwidthLimiter(bandwidthLimitKiB * 1024L) : null;
        Writer = new RsyncWriter(stream, limiter is null ? 256 * 1024 : Math.Clamp(bandwidthLimitKiB * 128, 4096, 256 * 1024))
        {
            OnSocketWrite = n =>
            {
                Touch();
                limiter?.Wrote(n);
            },
        };
        Reader = new RsyncReader(stream) { FlushBeforeWaiting = Writer, OnSocketRead = _ => Touch() };
        _watchdog = new Timer(_ =>
        {
            int limit = TimeoutSeconds;
            if (limit > 0 && Environment.TickCount64 - Interlocked.Read(ref _lastIoTicks) > limit * 1000L)
            {
                _timedOut = true;
                Abort();
            }
        }, null, 1000, 1000);
        _cancellation = cancellationToken.Register(Abort);
    }

    public RsyncReader Reader { get; }
    public RsyncWriter Writer { get; }
    /// <summary>--timeout, lowered when the daemon announces a shorter one (MSG_IO_TIMEOUT).</summary>
    public int TimeoutSeconds
    {
        get => Volatile.Read(ref _timeoutSeconds);
        set => Volatile.Write(ref _timeoutSeconds, value);
    }

    private int _timeoutSeconds;
    public bool TimedOut => _timedOut;
    public TransferContext? Context { get; set; }

    private void Touch() => Interlocked.Exchange(ref _lastIoTicks, Environment.TickCount64);

    /// <summary>
    /// Flushes and sends FIN: the peer reads everything, sees the end and closes, and our wait
    /// for its close (which keeps unread input from turning our close into a reset) ends at once.
    /// </summary>
    public void FinishSending()
    {
        Writer.Flush();
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Asks Linux to acknowledge the next segments at once (TCP_QUICKACK). A daemon that writes
    /// two small pieces in a row (its name lists, then the checksum seed) holds the second under
    /// Nagle's rule until the first is acknowledged; a delayed ACK would cost 40 ms per session.
    /// </summary>
    public void AcknowledgePromptly()
    {
        const int IpProtoTcp = 6, TcpQuickAck = 12;
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            _socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, BitConverter.GetBytes(1));
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>Cuts the connection, so a side blocked on it wakes with an error.</summary>
    public void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        _socket.Dispose();
    }

    public void Dispose()
    {
        _cancellation.Dispose();
        _watchdog.Dispose();
        Reader.Dispose();
        _socket.Dispose();
    }
}

/// <summary>Sleeps after writes so the average rate stays under --bwlimit (io.c, sleep_for_bwlimit).</summary>
internal sealed class BandwidthLimiter(long bytesPerSecond)
{
    private readonly long _start = System.Diagnostics.Stopwatch.GetTimestamp();
    private long _total;

    public void Wrote(int bytes)
    {
        _total += bytes;
        double due = (double)_total / bytesPerSecond;
        double elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(_start).TotalSeconds;
        if (due > elapsed)
            Thread.Sleep(TimeSpan.FromSeconds(due - elapsed));
    }
}
