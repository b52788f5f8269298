using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Roles;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

/// <summary>
/// An rsync client speaking protocols 30 and 31 to rsync daemons.
/// <code>
/// var client = new RsyncClient(new RsyncOptions { Recursive = true, PreserveTimes = true });
/// var result = await client.PushAsync(["site/"], "rsync://backup.example/www/");
/// </code>
/// </summary>
public sealed partial class RsyncClient
{
    private readonly RsyncOptions _options;
    private readonly IRsyncOutput _output;
    private readonly ILogger _logger;
    private Negotiation.Wanted _wanted;

    public RsyncClient(RsyncOptions options, IRsyncOutput? output = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options;
        options.ResolveOutputLevels(amServer: false);
        _output = output ?? NullOutput.Instance;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<RsyncClient>();
    }

    /// <summary>Receives per-file progress while data moves.</summary>
    public IProgress<FileProgress>? Progress { get; init; }

    /// <summary>Sends local <paramref name="sources"/> to a daemon module, as rsync SRC... rsync://HOST/MODULE/PATH does.</summary>
    public Task<TransferResult> PushAsync(IReadOnlyList<string> sources, string destination, CancellationToken cancellationToken = default)
    {
        var url = DaemonUrl.TryParse(destination)
            ?? throw new RsyncException($"not a daemon destination: {destination}", ExitCodes.Syntax);
        return RunOnThread(() => Push(sources, url, cancellationToken));
    }

    /// <summary>Lists a daemon's modules, each line as the daemon sends it.</summary>
    public Task<IReadOnlyList<string>> ListModulesAsync(string url, CancellationToken cancellationToken = default)
    {
        var daemon = DaemonUrl.TryParse(url) ?? throw new RsyncException($"not a daemon url: {url}", ExitCodes.Syntax);
        return RunOnThread<IReadOnlyList<string>>(() =>
        {
            var lines = new List<string>();
            using var connection = Connect(daemon, cancellationToken);
            var greeting = DaemonHandshake.ExchangeGreeting(connection.Reader, connection.Writer, RequestedProtocol());
            DaemonHandshake.SelectModule(connection.Reader, connection.Writer, greeting, "", UserName(daemon), () => "", lines.Add);
            return lines;
        });
    }

    private static Task<T> RunOnThread<T>(Func<T> work)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                tcs.SetResult(work());
            }
            catch (Exception ex)
            {
                tcs.SetException(ex);
            }
        })
        { IsBackground = true, Name = "rsync-client" };
        thread.Start();
        return tcs.Task;
    }

    private int RequestedProtocol()
    {
        int protocol = _options.Protocol ?? ProtocolLimits.MaxProtocol;
        if (protocol < ProtocolLimits.MinProtocol)
            throw new RsyncException($"--protocol must be at least {ProtocolLimits.MinProtocol} on the Client.", ExitCodes.Protocol);
        if (protocol > ProtocolLimits.MaxProtocol)
            throw new RsyncException($"--protocol must be no more than {ProtocolLimits.MaxProtocol} on the Client.", ExitCodes.Protocol);
        return protocol;
    }

    /// <summary>The --chmod rules, or null without any.</summary>
    private Options.ChmodRules? ChmodRules()
    {
        if (_options.Chmod.Count == 0)
            return null;
        return Options.ChmodRules.Parse(_options.Chmod, Native.Posix.Umask())
            ?? throw new RsyncException($"Invalid argument passed to --chmod ({string.Join(',', _options.Chmod)})", ExitCodes.Syntax);
    }

    private void RejectUnsupported()
    {
        ChmodRules();
        _wanted = Negotiation.FromOptions(_options);
        if (_options.Acls || _options.Xattrs > 0)
            throw new RsyncException("ACLs and extended attributes (-A, -X) are not supported", ExitCodes.Unsupported);
    }

    private TransferResult Push(IReadOnlyList<string> sources, DaemonUrl url, CancellationToken cancellationToken)
    {
        RejectUnsupported();
        int requested = RequestedProtocol();
        var clock = Stopwatch.StartNew();
        var filters = FilterList.Parse(_options.FilterRules);

        using var connection = Connect(url, cancellationToken);
        var reader = connection.Reader;
        var writer = connection.Writer;
        try
        {
            if (StartSession(connection, url, requested, clientIsSender: true) is not { } ctx)
                return new TransferResult(ExitCodes.Ok, new TransferStats());

            SendFilterList(ctx, filters);
            var files = SendFileList(ctx, sources, filters, ChmodRules(), FilesFromNames());
            new Sender(ctx, files).Run();
            reader.WaitForPeerToClose(TimeSpan.FromSeconds(5));

            ctx.Stats.BytesSent = writer.BytesWritten;
            ctx.Stats.BytesReceived = reader.BytesRead;
            ctx.Stats.Elapsed = clock.Elapsed;
            return new TransferResult(connection.ExitCode(ctx.FinalExitCode(), failed: false), ctx.Stats);
        }
        catch (RsyncException ex) when (connection.TimedOut)
        {
            throw new RsyncException($"[sender] io timeout after {connection.TimeoutSeconds} seconds -- exiting", ExitCodes.Timeout, ex);
        }
        catch (RsyncException ex) when (connection.Context is { RemoteExitCode: > 0 } c)
        {
            throw new RsyncException(ex.Message, c.RemoteExitCode, ex);
        }
        catch (RsyncException ex) when (connection.Shell is not null)
        {
            connection.Abort();
            throw new RsyncException(ex.Message, connection.ExitCode(ex.ExitCode, failed: true), ex);
        }
    }

    /// <summary>
    /// Greeting, module, arguments and protocol setup with a daemon (clientserver.c,
    /// start_inband_exchange; compat.c, setup_protocol). Null when the daemon ended the session
    /// (a module listing).
    /// </summary>
    private TransferContext? StartSession(Connection connection, DaemonUrl url, int requested, bool clientIsSender)
    {
        var reader = connection.Reader;
        var writer = connection.Writer;
        reader.Role = clientIsSender ? "sender" : "receiver";
        var greeting = DaemonHandshake.ExchangeGreeting(reader, writer, requested);
        LogNegotiated(greeting.Protocol, greeting.RemoteProtocol);
        if (!DaemonHandshake.SelectModule(reader, writer, greeting, url.Module, UserName(url), ReadPassword, line => _output.Info(line)))
            return null;

        var args = ServerArgs.Build(_options, greeting.Protocol, clientIsSender);
        args.Add(".");
        args.Add(url.RemoteArgument.StartsWith('-') ? "./" + url.RemoteArgument : url.RemoteArgument);
        DaemonHandshake.SendArguments(writer, args);
        return SetUpProtocol(connection, greeting.Protocol, clientIsSender);
    }

    /// <summary>
    /// What follows the daemon's greeting or the remote shell's version exchange alike (main.c,
    /// client_run; compat.c, setup_protocol): compat flags, name lists, checksum seed, multiplexing.
    /// </summary>
    private TransferContext SetUpProtocol(Connection connection, int protocol, bool clientIsSender)
    {
        var reader = connection.Reader;
        var writer = connection.Writer;
        var ctx = new TransferContext
        {
            Reader = reader,
            Writer = writer,
            Options = _options,
            Output = _output,
            Protocol = protocol,
            Progress = Progress,
        };
        connection.Context = ctx;

        // Compat flags, the name lists and the checksum seed come before multiplexing starts
        // (compat.c, setup_protocol); a varint reads an older server's single byte too.
        ctx.Compat = (CompatFlags)reader.ReadVarInt();
        // Only what was offered may be switched on (compat.c, setup_protocol).
        if (ctx.IncrementalRecursion && !ServerArgs.AllowsIncrementalRecursion(_options, clientIsSender))
            throw new RsyncException("Incompatible options specified for inc-recursive receiver.", ExitCodes.Protocol);
        ctx.Algorithms = Negotiation.Exchange(reader, writer, _wanted, ctx.VarintFlags, amServer: false,
            seedFirst: (ctx.Compat & CompatFlags.ChecksumSeedFix) != 0);
        ctx.ChecksumSeed = reader.ReadInt32();
        reader.MessageHandler = (code, payload) =>
        {
            // A daemon with a shorter timeout says so; waiting longer than it would be pointless (io.c, read_a_msg).
            if (code == MessageCode.IoTimeout && payload.Length == 4)
            {
                int daemonTimeout = BitConverter.ToInt32(payload);
                if (daemonTimeout > 0 && (connection.TimeoutSeconds == 0 || daemonTimeout < connection.TimeoutSeconds))
                    connection.TimeoutSeconds = daemonTimeout;
                return;
            }
            HandleMessage(ctx, code, payload);
            // A server that gives up says so and waits for us to go (io.c, read_a_msg: MSG_ERROR_EXIT;
            // cleanup.c, noop_io_until_death): staying would leave both sides waiting.
            if (code == MessageCode.ErrorExit && payload.Length == 4 && BitConverter.ToInt32(payload) != 0)
                connection.Abort();
        };
        writer.StartMultiplexing();
        reader.StartMultiplexing();
        return ctx;
    }

    /// <summary>Sends the rules the receiver needs for --delete (exclude.c, send_filter_list).</summary>
    private void SendFilterList(TransferContext ctx, FilterList filters)
    {
        var deleteMode = _options.GetEffectiveDeleteMode(ctx.Protocol);
        bool receiverWantsList = _options.PruneEmptyDirs || deleteMode != DeleteMode.None;
        if (!receiverWantsList)
            return;
        foreach (var rule in filters.Rules)
        {
            if (rule.SenderOnly)
                continue;
            if (_options.DeleteExcluded && !rule.ReceiverOnly)
                continue;
            byte[] text = NameText.ToBytes(rule.WireText);
            ctx.Writer.WriteInt32(text.Length);
            ctx.Writer.WriteBytes(text);
        }
        ctx.Writer.WriteInt32(0);
    }

    /// <summary>Builds and sends the sender's list (flist.c, send_file_list); <paramref name="filesFrom"/> names are relative to the one source.</summary>
    internal static SendingList SendFileList(TransferContext ctx, IReadOnlyList<string> sources, FilterList filters, Options.ChmodRules? chmod, IEnumerable<byte[]>? filesFrom,
        string? confineTo = null, ConfinedRoot? jail = null)
    {
        var buildClock = Stopwatch.StartNew();
        bool incremental = ctx.IncrementalRecursion;
        if (incremental && ctx.Options.Output[InfoFlag.Flist] > 0)
            ctx.Info("sending incremental file list");
        var scan = new FileListScanOptions
        {
            Recursive = ctx.Options.Recursive,
            Dirs = ctx.Options.Dirs,
            Relative = ctx.Options.Relative,
            ImpliedDirs = ctx.Options.ImpliedDirs,
            PreserveLinks = ctx.Options.PreserveLinks,
            CopyLinks = ctx.Options.CopyLinks,
            CopyUnsafeLinks = ctx.Options.CopyUnsafeLinks,
            SafeLinks = ctx.Options.SafeLinks,
            PreserveDevices = ctx.Options.PreserveDevices,
            PreserveSpecials = ctx.Options.PreserveSpecials,
            PreserveHardLinks = ctx.Options.HardLinks > 0,
            AlwaysChecksum = ctx.Options.Checksum,
            ChecksumKind = ctx.Algorithms.FileChecksum,
            OneFileSystem = ctx.Options.OneFileSystem > 0,
            Filters = filters,
            Chmod = chmod,
            ConfineTo = confineTo,
            Jail = jail,
            MungeLinks = ctx.Options.MungeLinks,
            Incremental = ctx.IncrementalRecursion,
        };
        var reporter = new ContextReporter(ctx);
        var builder = new FileListBuilder(scan, reporter);
        if (filesFrom is not null)
        {
            if (sources.Count != 1)
                throw new RsyncException("--files-from needs exactly one source directory", ExitCodes.Syntax);
            foreach (byte[] name in filesFrom)
                builder.AddFromList(sources[0], name);
        }
        else
        {
            foreach (string source in sources)
                builder.AddSource(source);
        }
        // Under --iconv, what has no UTF-8 name is left out before indexes are given (flist.c, send_file_entry).
        Dictionary<FileEntry, List<FileEntry>>? sameNamed = null;
        var files = FileListEncoder.DropUnconvertible(builder.Build(incremental ? SendingList.SameNamedCollector(out sameNamed) : null), ctx.FileListSettings());
        ctx.IoError |= builder.IoError;
        ctx.Stats.FileListBuildMilliseconds = Math.Max(1, buildClock.ElapsedMilliseconds);

        var transferClock = Stopwatch.StartNew();
        long startBytes = ctx.Writer.BytesWritten;
        var settings = ctx.FileListSettings();
        var encoder = new FileListEncoder(ctx.Writer, settings);
        // Under incremental recursion index 0 is left for the directory of "." (flist.c, flist_new).
        int first = incremental ? 1 : 0;
        for (int i = 0; i < files.Count; i++)
        {
            encoder.Write(files[i], first + i, first);
            ctx.Stats.CountListed(files[i]);
        }
        if (incremental && ctx.IoError != IoErrorFlags.None && !ctx.Options.IgnoreErrors && !ctx.SafeFileList
            && ctx.Options.GetEffectiveDeleteMode(ctx.Protocol) is DeleteMode.During or DeleteMode.Unspecified)
            throw new RsyncException("FATAL I/O ERROR: dying to avoid a --delete-during issue with a pre-3.0.7 receiver.", ExitCodes.Unsupported);
        encoder.WriteEnd(ctx.IoError, ctx.Options.IgnoreErrors);
        if (ctx.IoError != IoErrorFlags.None && !ctx.Options.IgnoreErrors && !ctx.SafeFileList)
            ctx.Writer.WriteMessageInt(MessageCode.IoError, (int)ctx.IoError);
        // Said before the list leaves, so a receiver in this process cannot report first.
        if (ctx.Options.Output[InfoFlag.Flist] > 0 && !incremental)
            ctx.Info("building file list ... done");
        ctx.Stats.TotalSize = encoder.TotalSize;
        ctx.Stats.NumFiles = files.Count;
        ctx.Stats.FileListSize = ctx.Writer.BytesWritten - startBytes;
        var list = incremental ? SendingList.First(ctx, encoder, builder, files, sameNamed) : SendingList.Whole(ctx, encoder, files);
        ctx.Writer.Flush();
        ctx.Stats.FileListTransferMilliseconds = transferClock.ElapsedMilliseconds;
        ctx.SentFiles = list;
        return list;
    }

    /// <summary>The local --files-from names, or null without the option.</summary>
    private IEnumerable<byte[]>? FilesFromNames() =>
        _options.FilesFrom is { } list && _options.FilesFromHost is null ? ReadFilesFrom(list, _options.From0) : null;

    /// <summary>
    /// The names of a --files-from list, as bytes: one per line (a CR ends one too) or NUL-terminated
    /// with --from0; blank lines and, without --from0, lines starting with '#' or ';' are skipped
    /// (io.c, read_line with RL_DUMP_COMMENTS).
    /// </summary>
    internal static IEnumerable<byte[]> ReadFilesFrom(string path, bool from0)
    {
        using var stream = path == "-" ? Console.OpenStandardInput() : OpenFilesFrom(path);
        var current = new List<byte>();
        int b;
        while (true)
        {
            b = stream.ReadByte();
            bool end = b < 0 || (from0 ? b == 0 : b is '\n' or '\r');
            if (!end)
            {
                if (current.Count >= ProtocolLimits.MaxPath)
                    throw new RsyncException($"--files-from: a name longer than {ProtocolLimits.MaxPath - 1} bytes in {path}", ExitCodes.FileIo);
                current.Add((byte)b);
                continue;
            }
            if (current.Count > 0 && (from0 || (current[0] != '#' && current[0] != ';')))
                yield return [.. current];
            current.Clear();
            if (b < 0)
                yield break;
        }
    }

    private static Stream OpenFilesFrom(string path)
    {
        int errno = Confined.OpenAt(Confined.AtFdCwd, NameText.ToBytes(path), Confined.ORdOnly, 0, 0, out var handle);
        if (errno != 0)
            throw new RsyncException($"rsync: failed to open files-from file {path}: {Posix.StrError(errno)} ({errno})", ExitCodes.FileIo);
        return new BufferedStream(new FileStream(handle!, FileAccess.Read, 1));
    }

    private sealed class ContextReporter(TransferContext ctx) : IFileListReporter
    {
        public void TransferError(string message) => ctx.TransferError(message);

        public void Warning(string message) => ctx.Error(message);

        public void Info(string message)
        {
            if (ctx.Options.Output[InfoFlag.Name] > 0)
                ctx.Info(message);
        }

        public string Quote(string path) => ctx.Quote(path);
    }

    /// <summary>Out-of-band messages from the daemon, on the demultiplexer thread (io.c, read_a_msg).</summary>
    private void HandleMessage(TransferContext ctx, MessageCode code, ReadOnlySpan<byte> payload)
    {
        // The bytes go to the output as sent; the sink escapes them (log.c, rwrite via read_a_msg).
        switch (code)
        {
            case MessageCode.Info:
            case MessageCode.Client:
                ctx.Info(Protocol.Text.NameText.FromBytes(payload));
                break;
            case MessageCode.ErrorXfer:
                ctx.NoteTransferError();
                ctx.Error(Protocol.Text.NameText.FromBytes(payload));
                break;
            case MessageCode.Error:
            case MessageCode.ErrorSocket:
            case MessageCode.ErrorUtf8:
                ctx.Error(Protocol.Text.NameText.FromBytes(payload));
                break;
            case MessageCode.Warning:
                ctx.Output.Warning(Protocol.Text.NameText.FromBytes(payload));
                break;
            case MessageCode.Success:
                if (payload.Length == 4)
                    RemoveSentFile(ctx, BitConverter.ToInt32(payload));
                break;
            case MessageCode.NoSend when payload.Length == 4:
                ctx.SenderSkipped?.Invoke(BitConverter.ToInt32(payload));
                break;
            case MessageCode.Log:
            case MessageCode.Noop:
            case MessageCode.NoSend:
            case MessageCode.Redo:
            case MessageCode.Stats:
                break;
            case MessageCode.IoError:
                if (payload.Length == 4)
                    ctx.NoteRemoteIoError(BitConverter.ToInt32(payload));
                break;
            case MessageCode.ErrorExit:
                ctx.NoteRemoteExit(payload.Length == 4 ? BitConverter.ToInt32(payload) : ExitCodes.Partial);
                break;
            case MessageCode.IoTimeout:
                break;
            case MessageCode.Deleted:
                LogDeleted(ctx, payload);
                break;
            default:
                throw new RsyncProtocolException($"unexpected tag {(int)code} [sender]", ExitCodes.StreamIo);
        }
    }

    /// <summary>--remove-source-files: the receiver has the file, so the source goes, if it did not change meanwhile (sender.c, successful_send).</summary>
    private void RemoveSentFile(TransferContext ctx, int ndx)
    {
        if (_options.RemoveSourceFiles == 0 || ctx.SentFiles?.Find(ndx) is not { } file)
            return;
        string path = file.LocalPath;
        if (Native.Posix.TryLStat(path, out var st) != 0)
            return;
        if (st.Size != file.Size || st.MtimeSeconds != file.ModTime || st.IsDirectory)
        {
            ctx.Error($"rsync: [sender] skipping source file that changed: {path}");
            return;
        }
        int errno = Confined.UnlinkAt(Confined.AtFdCwd, NameText.ToBytes(path), 0);
        if (errno != 0)
            ctx.TransferError($"sender failed to remove {path}: {Posix.StrError(errno)}");
        else if (_options.Output[InfoFlag.Remove] > 0)
            ctx.Info($"sender removed {file.NameString}");
    }

    private void LogDeleted(TransferContext ctx, ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        string name = Protocol.Text.NameText.FromBytes(payload[..(nul < 0 ? payload.Length : nul)]);
        if (nul >= 0)
            name += "/";
        if (_options.ItemizeChanges > 0)
            ctx.Info("*deleting   " + name);
        else if (_options.Output[InfoFlag.Del] > 0)
            ctx.Info("deleting " + name);
    }

    private string UserName(DaemonUrl url) =>
        url.User ?? Environment.GetEnvironmentVariable("USER") ?? Environment.GetEnvironmentVariable("LOGNAME") ?? "nobody";

    /// <summary>The password from --password-file or RSYNC_PASSWORD (authenticate.c, getpassf).</summary>
    private string ReadPassword()
    {
        if (_options.PasswordFile is { } file)
        {
            if (file != "-")
            {
                var info = new FileInfo(file);
                if (!info.Exists)
                    throw new RsyncException($"could not open password file {file}: {Native.Posix.StrError(Native.Posix.ENOENT)} ({Native.Posix.ENOENT})", ExitCodes.Syntax);
                if (Native.Posix.TryStat(file, out var st) == 0)
                {
                    if ((st.Mode & 0x6) != 0)
                        throw new RsyncException("ERROR: password file must not be other-accessible", ExitCodes.Syntax);
                    if (Environment.IsPrivilegedProcess && st.Uid != 0)
                        throw new RsyncException("ERROR: password file must be owned by root when running as root", ExitCodes.Syntax);
                }
            }
            string content = file == "-" ? Console.In.ReadLine() ?? "" : File.ReadAllText(file);
            int end = content.IndexOfAny(['\n', '\r']);
            return end < 0 ? content : content[..end];
        }
        return Environment.GetEnvironmentVariable("RSYNC_PASSWORD")
            ?? throw new RsyncException("no password: set RSYNC_PASSWORD or use --password-file", ExitCodes.StartClient);
    }

    private Connection Connect(DaemonUrl url, CancellationToken cancellationToken)
    {
        // -e with a daemon address: the shell starts the daemon at the far end (main.c, start_client: daemon_over_rsh).
        if (_options.RemoteShell is not null)
        {
            var commandLine = RemoteShell.CommandLine(_options.RemoteShell, url.User, url.Host, _options.RsyncPath, ["--server", "--daemon", "."], daemonOverShell: true);
            return RemoteShell.Start(commandLine, _options.Timeout, _options.BandwidthLimit, cancellationToken).Connection;
        }
        if (Environment.GetEnvironmentVariable("RSYNC_CONNECT_PROG") is { Length: > 0 } program)
            return ConnectThroughProgram(program, url.Host, cancellationToken);
        int port = url.Port ?? (_options.Port > 0 ? _options.Port : DaemonUrl.DefaultPort);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var connectCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (_options.ConnectTimeout > 0)
                connectCts.CancelAfter(TimeSpan.FromSeconds(_options.ConnectTimeout));
            socket.ConnectAsync(url.Host, port, connectCts.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new RsyncException($"rsync: failed to connect to {url.Host}: connection timed out", ExitCodes.ConnectTimeout);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new RsyncException($"rsync: failed to connect to {url.Host} ({url.Host}): {Native.Posix.StrError(ex.NativeErrorCode)} ({ex.NativeErrorCode})", ExitCodes.SocketIo, ex);
        }
        socket.NoDelay = true;
        return new Connection(socket, _options.Timeout, _options.BandwidthLimit, cancellationToken);
    }

    /// <summary>
    /// RSYNC_CONNECT_PROG: the program, run by sh with %H as the host and %% as %, gets one end of a
    /// socket pair as its stdin and stdout in place of a TCP connection (socket.c,
    /// open_socket_out_wrapped and sock_exec). A daemon run so serves that one connection.
    /// </summary>
    private Connection ConnectThroughProgram(string program, string host, CancellationToken cancellationToken)
    {
        var command = new System.Text.StringBuilder();
        for (int i = 0; i < program.Length; i++)
        {
            if (program[i] == '%' && i + 1 < program.Length && program[i + 1] is 'H' or '%')
            {
                command.Append(program[++i] == 'H' ? host : "%");
                continue;
            }
            command.Append(program[i]);
        }
        int errno = Native.Posix.SocketPair(out int ours, out int theirs);
        if (errno != 0)
            throw new RsyncException($"rsync: socketpair: {Native.Posix.StrError(errno)} ({errno})", ExitCodes.SocketIo);
        var socket = new Socket(new SafeSocketHandle(ours, ownsHandle: true));
        using (var programEnd = new Socket(new SafeSocketHandle(theirs, ownsHandle: true)))
        {
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
                environment[(string)e.Key] = (string?)e.Value ?? "";
            int pid;
            try
            {
                pid = Native.Posix.SpawnWithSocket("/bin/sh", ["-c", command.ToString()], environment, theirs);
            }
            catch (IOException ex)
            {
                socket.Dispose();
                throw new RsyncException($"rsync: {ex.Message}", ExitCodes.SocketIo, ex);
            }
            // Reaped when it ends, so it leaves no zombie behind a long-lived caller.
            new Thread(() => Native.Posix.WaitForChild(pid)) { IsBackground = true, Name = "connect-prog" }.Start();
        }
        return new Connection(socket, _options.Timeout, _options.BandwidthLimit, cancellationToken);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Protocol versions: remote={Remote}, negotiated={Negotiated}")]
    private partial void LogProtocol(int remote, int negotiated);

    private void LogNegotiated(int negotiated, int remote) => LogProtocol(remote, negotiated);
}
