using System.Net.Sockets;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

/// <summary>
/// The byte streams to the far end (a daemon's socket, or a remote shell's pipes) with their reader
/// and writer, and rsync's --timeout watchdog (io.c, check_timeout).
/// </summary>
internal sealed class Connection : IDisposable
{
    private readonly Socket? _socket;
    private readonly Action _cut;
    private readonly Action _finishSending;
    private readonly IDisposable? _owned;
    private readonly Timer _watchdog;
    private readonly CancellationTokenRegistration _cancellation;
    private long _lastIoTicks = Environment.TickCount64;
    private volatile bool _timedOut;

    public Connection(Socket socket, int timeoutSeconds, int bandwidthLimitKiB, CancellationToken cancellationToken)
        : this(new NetworkStream(socket, ownsSocket: false), null, timeoutSeconds, bandwidthLimitKiB, cancellationToken,
            cut: () =>
            {
                try
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }
                socket.Dispose();
            },
            finishSending: () =>
            {
                try
                {
                    socket.Shutdown(SocketShutdown.Send);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }
            },
            owned: socket)
    {
        _socket = socket;
        // Until multiplexing starts, each side writes small pieces in turn (arguments, compat flags,
        // name lists, the seed): a peer's second piece waits under Nagle's rule for our ACK of its
        // first, and a delayed ACK costs 40 ms. Linux leaves quick-ACK mode on its own, so it is
        // asked for again before every read of the protocol's start.
        Reader.BeforeSocketRead = () =>
        {
            if (!Reader.Multiplexed)
                AcknowledgePromptly();
        };
    }

    /// <param name="input">What the far end sends.</param>
    /// <param name="output">Where to write to it; null when <paramref name="input"/> is both ways.</param>
    /// <param name="cut">Ends the connection, so a side blocked on it wakes with an error.</param>
    /// <param name="finishSending">Tells the far end nothing more will come.</param>
    /// <param name="owned">Disposed with the connection.</param>
    public Connection(Stream input, Stream? output, int timeoutSeconds, int bandwidthLimitKiB, CancellationToken cancellationToken,
        Action cut, Action finishSending, IDisposable? owned)
    {
        _cut = cut;
        _finishSending = finishSending;
        _owned = owned;
        TimeoutSeconds = timeoutSeconds;
        var limiter = bandwidthLimitKiB > 0 ? new BandwidthLimiter(bandwidthLimitKiB * 1024L) : null;
        Writer = new RsyncWriter(output ?? input, limiter is null ? 256 * 1024 : Math.Clamp(bandwidthLimitKiB * 128, 4096, 256 * 1024))
        {
            OnSocketWrite = n =>
            {
                Touch();
                limiter?.Wrote(n);
            },
        };
        Reader = new RsyncReader(input) { FlushBeforeWaiting = Writer, OnSocketRead = _ => Touch() };
        _watchdog = new Timer(_ =>
        {
            int limit = TimeoutSeconds;
            // Only a wait on the peer times out; a side busy with its own work does not (io.c, check_timeout).
            if (limit > 0 && Environment.TickCount64 - Interlocked.Read(ref _lastIoTicks) > limit * 1000L && (Reader.Waiting || Writer.Waiting))
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

    /// <summary>The remote shell whose pipes these are, when a daemon is reached through one.</summary>
    public System.Diagnostics.Process? Shell { get; init; }

    /// <summary>The run's exit code: the shell's own status counts as rsync counts it (main.c, client_run).</summary>
    public int ExitCode(int ours, bool failed) => Shell is { } shell ? RemoteShell.ExitCode(shell, ours, failed) : ours;

    private void Touch() => Interlocked.Exchange(ref _lastIoTicks, Environment.TickCount64);

    /// <summary>
    /// Flushes and says the end (FIN on a socket, EOF on a pipe): the peer reads everything, sees the
    /// end and closes, and our wait for its close (which keeps unread input from turning our close
    /// into a reset) ends at once.
    /// </summary>
    public void FinishSending()
    {
        Writer.Flush();
        _finishSending();
    }

    /// <summary>Asks Linux to acknowledge the next segments at once (TCP_QUICKACK).</summary>
    private void AcknowledgePromptly()
    {
        const int IpProtoTcp = 6, TcpQuickAck = 12;
        if (_socket is null || !OperatingSystem.IsLinux())
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
    public void Abort() => _cut();

    public void Dispose()
    {
        _cancellation.Dispose();
        _watchdog.Dispose();
        Reader.Dispose();
        _owned?.Dispose();
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
