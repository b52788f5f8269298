using NetRsync.Protocol.Client;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Roles;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// "rsync --server ...", as a remote shell starts it for a client at the other end: the arguments
/// on the command line (and, with -s, the rest on stdin), the protocol over stdin and stdout, paths
/// as the shell's user sees them (main.c, start_server). Unlike a daemon there is no module: the
/// client may name any path this user may reach.
/// </summary>
public static class ShellServer
{
    /// <summary>Serves one client; returns the exit code. <paramref name="stderr"/> takes what cannot go over the protocol yet.</summary>
    public static int Run(IReadOnlyList<string> args, Stream input, Stream output, Action<string> stderr)
    {
        var reader = new RsyncReader(input) { Role = "server" };
        var writer = new RsyncWriter(output);
        reader.FlushBeforeWaiting = writer;
        ServerInvocation invocation;
        Negotiation.Wanted wanted;
        try
        {
            invocation = OptionParser.ParseServer(args, Settings());
            if (invocation.ProtectedArgsPending)
            {
                // -s: the rest of the arguments come first on stdin, NUL-separated (main.c, start_server; io.c, read_args).
                var protectedArgs = DaemonServerHandshake.ReadArguments(reader, protocol: 30);
                invocation = OptionParser.ParseServer(args, new ServerParseSettings { Refuse = Settings().Refuse, ProtectedArgs = protectedArgs });
            }
            wanted = Negotiation.FromOptions(invocation.Options);
        }
        catch (Exception ex) when (ex is RsyncException or RsyncUsageException)
        {
            // Before the protocol runs, the only way to the client is stderr, which the shell carries (main.c, parse_arguments failing in a server).
            string why = ex.Message.StartsWith("rsync: ", StringComparison.Ordinal) ? ex.Message["rsync: ".Length..] : ex.Message;
            stderr($"rsync: on remote machine: {why}");
            return ex is RsyncException r ? r.ExitCode : ((RsyncUsageException)ex).ExitCode;
        }

        var options = invocation.Options;
        int ours = Math.Min(options.Protocol ?? ProtocolLimits.MaxProtocol, ProtocolLimits.MaxProtocol);
        int protocol;
        try
        {
            // compat.c, setup_protocol: each side sends its version and both take the lower.
            writer.WriteInt32(ours);
            writer.Flush();
            int remote = reader.ReadInt32();
            protocol = Math.Min(ours, remote);
            if (protocol < ProtocolLimits.MinProtocol)
            {
                stderr($"rsync: protocol version mismatch: the client speaks protocol {remote}, and protocol {ProtocolLimits.MinProtocol} or newer is needed");
                return ExitCodes.Protocol;
            }
        }
        catch (RsyncException ex)
        {
            stderr($"rsync: {ex.Message}");
            return ExitCodes.StreamIo;
        }

        using var log = new DaemonLog(null);
        var messages = new DaemonOutput(writer, log);
        var ctx = new TransferContext
        {
            Reader = reader,
            Writer = writer,
            Options = options,
            Output = messages,
            Protocol = protocol,
            // --iconv=LOCAL,REMOTE: this end converts with the charset after the comma (rsync.c, setup_iconv).
            Iconv = Text.NameCharset.ForOption(options.Iconv, amServer: true),
        };
        try
        {
            DaemonSession.StartProtocol(ctx, invocation.Capabilities, wanted, DaemonSession.IncrementalRecursion(invocation));
            reader.MessageHandler = (code, payload) => DaemonSession.ClientMessage(ctx, code, payload);
            var chmod = options.Chmod.Count == 0 ? null
                : ChmodRules.Parse(options.Chmod, Posix.Umask()) ?? throw new RsyncException($"Invalid argument passed to --chmod ({string.Join(',', options.Chmod)})", ExitCodes.Syntax);
            if (invocation.IsSender)
            {
                messages.WriterThread = Thread.CurrentThread;
                Send(ctx, invocation, chmod);
            }
            else
                Receive(ctx, invocation, chmod, () =>
                {
                    input.Dispose();
                    output.Dispose();
                });
            messages.Drain();
            writer.Flush();
            output.Dispose();
            reader.WaitForPeerToClose(TimeSpan.FromSeconds(5));
            return ctx.FinalExitCode();
        }
        catch (RsyncException ex) when (writer.Multiplexed)
        {
            DaemonSession.EndWithError(ctx, messages, ex, () =>
            {
                writer.Flush();
                output.Dispose();
            });
            return ex.ExitCode;
        }
        catch (RsyncException ex)
        {
            stderr($"rsync: {ex.Message}");
            return ex.ExitCode;
        }
    }

    /// <summary>Nothing is refused but what netrsync cannot do; --iconv is this user's to ask for, as no module decides.</summary>
    private static ServerParseSettings Settings() => new() { Refuse = new RefuseOptions(null, charsetConfigured: true) };

    private static void Send(TransferContext ctx, ServerInvocation invocation, ChmodRules? chmod)
    {
        var filters = FilterList.Parse(DaemonSession.ReadFilterList(ctx.Reader));
        IEnumerable<byte[]>? filesFrom = ctx.Options.FilesFrom == "-" ? DaemonSession.ReadForwardedNames(ctx) : null;
        var sources = invocation.Paths.Count > 0 ? invocation.Paths.ToList() : ["."];
        var files = RsyncClient.SendFileList(ctx, sources, filters, chmod, filesFrom);
        if (files.FirstCount == 0)
        {
            // Nothing to send: the client stops after an empty list, and so do we (main.c, do_server_sender).
            ctx.Writer.Flush();
            return;
        }
        new Sender(ctx, files) { BeforeGoodbye = () => DaemonSession.SendTotals(ctx) }.Run();
    }

    private static void Receive(TransferContext ctx, ServerInvocation invocation, ChmodRules? chmod, Action abort)
    {
        var o = ctx.Options;
        bool receiverWantsList = o.PruneEmptyDirs || o.GetEffectiveDeleteMode(ctx.Protocol) != DeleteMode.None;
        var filters = FilterList.Parse(receiverWantsList ? DaemonSession.ReadFilterList(ctx.Reader) : []);
        string destination = invocation.Paths.Count > 0 ? invocation.Paths[^1] : ".";
        RsyncClient.Receive(ctx, destination, filters, chmod,
            new RsyncClient.ReceiveMode(SenderSendsStats: false, WholeFileByDefault: false, LogsItems: false, DeletionsAsMessages: true), abort);
    }
}
