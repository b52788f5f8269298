using System.Diagnostics;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Roles;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

public sealed partial class RsyncClient
{
    /// <summary>
    /// Copies local <paramref name="sources"/> to a local <paramref name="destination"/>: the sender
    /// and the receiving side run in this process and speak the same protocol to each other over
    /// in-memory pipes, as rsync's local transfers do over a socket pair. Three threads: the
    /// sender, the receiver and its generator, as rsync's three processes.
    /// </summary>
    public Task<TransferResult> CopyAsync(IReadOnlyList<string> sources, string destination, CancellationToken cancellationToken = default) =>
        RunOnThread(() => Copy(sources, destination, cancellationToken));

    private TransferResult Copy(IReadOnlyList<string> sources, string destination, CancellationToken cancellationToken)
    {
        RejectUnsupported();
        // rsync reads HOST:PATH as remote; a local copy must not quietly make a folder of that name.
        if (sources.Append(destination).FirstOrDefault(Daemon.DaemonUrl.IsRemoteShellPath) is { } remote)
            throw new RsyncException($"{remote}: a remote-shell location; CopyAsync copies local paths only (PushOverShellAsync and PullOverShellAsync go over a remote shell)", ExitCodes.Unsupported);
        var clock = Stopwatch.StartNew();
        var filters = FilterList.Parse(_options.FilterRules);
        var chmod = ChmodRules();
        var toReceiver = new LocalPipe();
        var toSender = new LocalPipe();
        void FailBoth(Exception error)
        {
            toReceiver.Fail(error);
            toSender.Fail(error);
        }
        using var cancel = cancellationToken.Register(() => FailBoth(new OperationCanceledException(cancellationToken)));

        const int protocol = ProtocolLimits.MaxProtocol;
        // A local pair agrees on everything a server would offer (compat.c, setup_protocol with local_server).
        var compat = CompatFlags.SymlinkTimes | CompatFlags.SymlinkIconv | CompatFlags.SafeFileList | CompatFlags.AvoidXattrOptim;
        // The receiving half decides, as a local server does (compat.c, set_allow_inc_recurse).
        if (Options.ServerArgs.AllowsIncrementalRecursion(_options, clientIsSender: false))
            compat |= CompatFlags.IncRecurse;
        // Like rsync's time-and-pid seed it only varies the block sums; it needs no cryptographic source.
        int seed = Random.Shared.Next(1, int.MaxValue);
        // Both ends are ours: the options' choices hold as given (rsync compresses a local pipe too).
        var algorithms = Negotiation.Fixed(_wanted, seedFirst: true);

        // --bwlimit paces the sender here too, as rsync's does over its socket pair (io.c, sleep_for_bwlimit).
        var limiter = _options.BandwidthLimit > 0 ? new BandwidthLimiter(_options.BandwidthLimit * 1024L) : null;
        var senderWriter = new RsyncWriter(toReceiver.Writer, limiter is null ? 256 * 1024 : Math.Clamp(_options.BandwidthLimit * 128, 4096, 256 * 1024))
        {
            OnSocketWrite = n => limiter?.Wrote(n),
        };
        var senderReader = new RsyncReader(toSender.Reader) { FlushBeforeWaiting = senderWriter, Role = "sender" };
        var receiverWriter = new RsyncWriter(toSender.Writer);
        var receiverReader = new RsyncReader(toReceiver.Reader) { FlushBeforeWaiting = receiverWriter, Role = "receiver" };

        var senderCtx = new TransferContext
        {
            Reader = senderReader, Writer = senderWriter, Options = _options, Output = _output, Protocol = protocol, Progress = Progress,
            Compat = compat, ChecksumSeed = seed, Algorithms = algorithms,
            // --iconv: the sending end (the client) converts with the charset before the comma,
            // the receiving end (the server) with the one after it (rsync.c, setup_iconv).
            Iconv = Text.NameCharset.ForOption(_options.Iconv, amServer: false),
        };
        var receiverCtx = new TransferContext
        {
            Reader = receiverReader, Writer = receiverWriter, Options = _options, Output = _output, Protocol = protocol,
            Compat = compat, ChecksumSeed = seed, Algorithms = algorithms,
            Iconv = Text.NameCharset.ForOption(_options.Iconv, amServer: true),
        };
        senderReader.MessageHandler = (code, payload) => HandleMessage(senderCtx, code, payload);
        receiverReader.MessageHandler = (code, payload) => HandleMessage(receiverCtx, code, payload);
        senderWriter.StartMultiplexing();
        senderReader.StartMultiplexing();
        receiverWriter.StartMultiplexing();
        receiverReader.StartMultiplexing();

        TransferResult? received = null;
        Exception? receiverFailure = null;
        var receiverThread = new Thread(() =>
        {
            try
            {
                received = Receive(receiverCtx, destination, filters, chmod, local: true, abort: () => FailBoth(new OperationCanceledException()));
            }
            catch (Exception ex)
            {
                receiverFailure = ex;
                FailBoth(ex);
            }
        })
        { IsBackground = true, Name = "rsync-local-receiver" };
        receiverThread.Start();

        try
        {
            var files = SendFileList(senderCtx, sources, filters, chmod, FilesFromNames());
            new Sender(senderCtx, files) { LocalCopy = true }.Run();
        }
        catch (Exception) when (receiverFailure is not null)
        {
            // The receiving side's failure is the real story.
        }
        catch (Exception ex)
        {
            FailBoth(ex);
            receiverThread.Join(TimeSpan.FromSeconds(10));
            throw;
        }
        receiverThread.Join();
        if (receiverFailure is not null)
            throw receiverFailure is RsyncException ? receiverFailure : new RsyncException(receiverFailure.Message, ExitCodes.Ipc, receiverFailure);

        var stats = senderCtx.Stats;
        stats.Elapsed = clock.Elapsed;
        stats.BytesSent = senderWriter.BytesWritten;
        stats.BytesReceived = senderReader.BytesRead;
        stats.DeletedFiles = received!.Stats.DeletedFiles;
        stats.DeletedDirs = received.Stats.DeletedDirs;
        int exit = Math.Max(senderCtx.FinalExitCode(), received.ExitCode);
        return new TransferResult(exit, stats);
    }
}
