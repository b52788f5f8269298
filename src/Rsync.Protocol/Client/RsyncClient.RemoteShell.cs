using System.Diagnostics;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Roles;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

public sealed partial class RsyncClient
{
    /// <summary>
    /// Sends local <paramref name="sources"/> over a remote shell to [USER@]HOST:PATH, where the shell
    /// runs rsync (or netrsync) as the receiving server, as rsync -e ssh SRC... HOST:PATH does.
    /// </summary>
    public Task<TransferResult> PushOverShellAsync(IReadOnlyList<string> sources, string destination, CancellationToken cancellationToken = default)
    {
        var remote = RemoteShellPath.TryParse(destination)
            ?? throw new RsyncException($"not a remote-shell destination: {destination}", ExitCodes.Syntax);
        return RunOnThread(() => OverShell(remote, [remote.Path], clientIsSender: true, cancellationToken, (ctx, _) =>
        {
            var filters = FilterList.Parse(_options.FilterRules);
            SendFilterList(ctx, filters);
            var files = SendFileList(ctx, sources, filters, ChmodRules(), FilesFromNames());
            new Sender(ctx, files).Run();
            return new TransferResult(ctx.FinalExitCode(), ctx.Stats);
        }));
    }

    /// <summary>Fetches [USER@]HOST:PATH over a remote shell into <paramref name="destination"/>, as rsync -e ssh HOST:PATH DEST does.</summary>
    public Task<TransferResult> PullOverShellAsync(string source, string destination, CancellationToken cancellationToken = default) =>
        PullOverShellAsync([source], destination, cancellationToken);

    /// <summary>
    /// Fetches several paths of one host in one session: "HOST:a HOST:b" or "HOST:a :b", as rsync
    /// takes more remote sources (main.c, start_client: each further one names the same host or none).
    /// </summary>
    public Task<TransferResult> PullOverShellAsync(IReadOnlyList<string> sources, string destination, CancellationToken cancellationToken = default)
    {
        var remote = sources.Count > 0 ? RemoteShellPath.TryParse(sources[0]) : null;
        if (remote is null)
            throw new RsyncException($"not a remote-shell source: {(sources.Count > 0 ? sources[0] : "(none)")}", ExitCodes.Syntax);
        var paths = new List<string> { remote.Path };
        foreach (string more in sources.Skip(1))
        {
            if (more.StartsWith(':'))
                paths.Add(more[1..]);
            else if (RemoteShellPath.TryParse(more) is { } other && other.Host == remote.Host && other.User == remote.User)
                paths.Add(other.Path);
            else
                throw new RsyncException($"Unexpected remote arg: {more}", ExitCodes.Syntax);
        }
        return RunOnThread(() => OverShell(remote, paths, clientIsSender: false, cancellationToken, (ctx, connection) =>
        {
            var filters = FilterList.Parse(_options.FilterRules);
            SendReceiverFilterList(ctx, filters);
            if (_options.FilesFrom is { } list && _options.FilesFromHost is null)
                ForwardFilesFrom(ctx, list);
            return Receive(ctx, destination, filters, ChmodRules(), local: false, abort: connection.Abort,
                validate: files => ReceivingSide.ValidateRequested(files, RequestedPaths(paths.Select(RemoteArgument)), _options.Relative, filters));
        }));
    }

    /// <summary>
    /// What the names a sender sends must lie under: the paths asked for, or with --files-from the
    /// whole source directory, whose listed names (and their "/./" markers) are relative to it.
    /// </summary>
    private List<string> RequestedPaths(IEnumerable<string> paths) =>
        _options.FilesFrom is null ? paths.ToList() : ["."];

    /// <summary>An empty remote path is the far end's home directory: "." (main.c, do_cmd gets "" as no path).</summary>
    private static string RemoteArgument(string path) => path.Length == 0 ? "." : path;

    private TransferResult OverShell(RemoteShellPath remote, IReadOnlyList<string> paths, bool clientIsSender, CancellationToken cancellationToken, Func<TransferContext, Connection, TransferResult> transfer)
    {
        RejectUnsupported();
        int requested = RequestedProtocol();
        var clock = Stopwatch.StartNew();

        var serverArgs = ServerArgs.Build(_options, requested, clientIsSender, out int protectedStart);
        // A path that would read as an option goes as "./-name" (main.c, do_cmd).
        var pathArgs = paths.Select(RemoteArgument).Select(p => p.StartsWith('-') ? "./" + p : p).ToList();
        List<string> onCommandLine, secluded;
        if (protectedStart >= 0)
        {
            // -s: the paths and later options travel inside the protocol, NUL-terminated (rsync.c, send_protected_args).
            onCommandLine = serverArgs[..protectedStart];
            secluded = ["rsync", .. serverArgs[protectedStart..], ".", .. pathArgs];
        }
        else
        {
            onCommandLine = [.. serverArgs, ".", .. pathArgs];
            secluded = [];
        }
        var commandLine = RemoteShell.CommandLine(_options.RemoteShell, remote.User, remote.Host, _options.RsyncPath, onCommandLine);
        var (process, connection) = RemoteShell.Start(commandLine, _options.Timeout, _options.BandwidthLimit, cancellationToken);
        using (connection)
        {
            try
            {
                var reader = connection.Reader;
                var writer = connection.Writer;
                reader.Role = clientIsSender ? "sender" : "receiver";
                if (secluded.Count > 0)
                {
                    foreach (string arg in secluded)
                    {
                        writer.WriteBytes(Text.NameText.ToBytes(arg.Length == 0 ? "." : arg));
                        writer.WriteByte(0);
                    }
                    writer.WriteByte(0);
                }
                int protocol = ExchangeVersions(reader, writer, requested);
                var ctx = SetUpProtocol(connection, protocol, clientIsSender);
                var result = transfer(ctx, connection);
                connection.FinishSending();
                reader.WaitForPeerToClose(TimeSpan.FromSeconds(5));
                ctx.Stats.BytesSent = writer.BytesWritten;
                ctx.Stats.BytesReceived = reader.BytesRead;
                ctx.Stats.Elapsed = clock.Elapsed;
                return result with { ExitCode = RemoteShell.ExitCode(process, result.ExitCode, failed: false) };
            }
            catch (RsyncException ex)
            {
                int code = connection.TimedOut ? ExitCodes.Timeout
                    : connection.Context is { RemoteExitCode: > 0 } c ? c.RemoteExitCode
                    : ex.ExitCode;
                string message = connection.TimedOut
                    ? $"[{(clientIsSender ? "sender" : "receiver")}] io timeout after {connection.TimeoutSeconds} seconds -- exiting"
                    : ex.Message;
                connection.Abort();
                throw new RsyncException(message, RemoteShell.ExitCode(process, code, failed: true), ex);
            }
        }
    }

    /// <summary>
    /// Each side sends its protocol version and takes the lower (compat.c, setup_protocol). Anything
    /// else first (a shell that prints a banner) is the "is your shell clean?" failure.
    /// </summary>
    private int ExchangeVersions(Wire.RsyncReader reader, Wire.RsyncWriter writer, int requested)
    {
        int remote;
        try
        {
            writer.WriteInt32(requested);
            writer.Flush();
            remote = reader.ReadInt32();
        }
        catch (Exception ex) when (ex is RsyncException or IOException)
        {
            // A shell that died at once (no such host) closes both pipes; rsync reads the end first (io.c, perform_io).
            throw new RsyncException($"rsync: connection unexpectedly closed (0 bytes received so far) [{reader.Role}]", ExitCodes.StreamIo, ex);
        }
        LogNegotiated(Math.Min(requested, remote), remote);
        if (remote < 20 || remote > 40)
            throw new RsyncException("protocol version mismatch -- is your shell clean?\n(see the rsync man page for an explanation)", ExitCodes.Protocol);
        int negotiated = Math.Min(requested, remote);
        if (negotiated < ProtocolLimits.MinProtocol)
            throw new RsyncException($"protocol version mismatch: the far end speaks protocol {remote}, and protocol {ProtocolLimits.MinProtocol} or newer is needed", ExitCodes.Protocol);
        return negotiated;
    }
}
