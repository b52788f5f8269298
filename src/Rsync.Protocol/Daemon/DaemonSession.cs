using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Roles;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.TwoWay;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// One client connection to the daemon (clientserver.c, start_daemon and rsync_module): greeting,
/// module listing or selection, access checks, auth, the client's arguments, then the sender role
/// for a pull or the generator and receiver for a push, confined to the module's path.
/// </summary>
internal sealed class DaemonSession(RsyncDaemon? daemon, DaemonConfig config, DaemonLog log, Socket socket, DaemonHandoff? resumed) : IDisposable
{
    private readonly DaemonConfig _config = config;
    private readonly DaemonLog _daemonLog = log;
    private DaemonLog _log = log;
    private string _host = "";
    private string _address = "";
    private bool _mungeLinks;

    // From connecting until the client's arguments are in ("handshake timeout").
    private readonly CancellationTokenSource? _deadline = config.Global.HandshakeTimeout > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(config.Global.HandshakeTimeout)) : null;
    private CancellationTokenRegistration _deadlineWatch;
    private DaemonModule? _module;
    private Greeting? _greeting;
    private IDisposable? _slot;

    /// <summary>A connection the listening daemon accepted.</summary>
    public DaemonSession(RsyncDaemon daemon, Socket socket)
        : this(daemon, daemon.Config, daemon.Log, socket, null)
    {
    }

    /// <summary>The client's address as logs and access checks spell it.</summary>
    public string Address => _address;

    /// <summary>
    /// For a daemon run over a remote shell, whose "socket" leads to the shell rather than to the
    /// client: the client's address as the shell reported it (SSH_CONNECTION).
    /// </summary>
    public IPAddress? ClientAddress { get; init; }

    /// <summary>Serves the whole connection on the calling thread: the only one of this process (inetd, or handed off).</summary>
    public void Run(CancellationToken cancellationToken)
    {
        if (resumed is null && !HandshakeAsync(cancellationToken).GetAwaiter().GetResult())
            return;
        Continue(cancellationToken);
    }

    /// <summary>
    /// Greeting, module line, access check and the module's connection slot, without holding a
    /// thread while the client is silent. True when the client is admitted to the module and goes
    /// on with <see cref="Continue"/>; otherwise it has been answered and the session is over.
    /// </summary>
    public async Task<bool> HandshakeAsync(CancellationToken cancellationToken)
    {
        Identify();
        _host = _config.Global.ReverseLookup ? ReverseLookup(RemoteAddress()) : HostAccess.UndeterminedHostName;
        _log.Write($"connect from {_host} ({_address})");
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _deadline?.Token ?? CancellationToken.None);
        var token = linked.Token;
        var channel = new HandshakeChannel(new NetworkStream(socket, ownsSocket: false));
        try
        {
            var greeting = await DaemonServerHandshake.ExchangeAsync(channel, ReadMotd(), token).ConfigureAwait(false);
            string? line = await channel.ReadLineAsync(token).ConfigureAwait(false);
            if (line is null)
                return false;
            if (line.Length == 0 || line == "#list")
            {
                await channel.WriteAsync(Listing(), token).ConfigureAwait(false);
                return false;
            }
            string name = line.TrimEnd('/');
            var found = _config.FindModule(name);
            if (found is null)
            {
                await channel.WriteAsync($"@ERROR: Unknown module '{name}'\n", token).ConfigureAwait(false);
                _log.Write($"rsync denied on module {name} from {_host} ({_address}): unknown module");
                return false;
            }
            // A module may look the name up when the daemon as a whole does not (clientserver.c, rsync_module).
            if (_host == HostAccess.UndeterminedHostName && found.ReverseLookup)
                _host = ReverseLookup(RemoteAddress());
            var access = HostAccess.For(found).Check(_address, _host, new HostAccessOptions
            {
                ForwardLookup = found.ForwardLookup,
                ResolveHostName = ForwardLookup,
                InNetgroup = Posix.InNetgroup,
                Log = _log.Write,
            });
            _host = access.HostName ?? _host;
            if (!access.Allowed)
            {
                _log.Write($"rsync denied on module {name} from {_host} ({_address})");
                // A hidden module is not admitted to exist (clientserver.c, rsync_module).
                string why = found.List ? $"access denied to {name} from {_host} ({_address})" : $"Unknown module '{name}'";
                await channel.WriteAsync($"@ERROR: {why}\n", token).ConfigureAwait(false);
                return false;
            }
            _log.Write($"rsync allowed access on module {name} from {_host} ({_address})");
            _slot = daemon?.TryEnterModule(found);
            if (daemon is not null && _slot is null)
            {
                await channel.WriteAsync($"@ERROR: max connections ({found.MaxConnections}) reached -- try again later\n", token).ConfigureAwait(false);
                _log.Write($"max connections ({found.MaxConnections}) reached");
                return false;
            }
            _module = found;
            _greeting = greeting;
            return true;
        }
        catch (OperationCanceledException) when (_deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            _log.Write($"handshake with {_host} ({_address}) timed out after {_config.Global.HandshakeTimeout} seconds");
            try
            {
                using var brief = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await channel.WriteAsync($"@ERROR: {HandshakeTimeoutMessage}\n", brief.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
            }
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (RsyncException ex)
        {
            _log.Write($"{ex.Message} [{_host}]");
            return false;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _log.Write($"connection with {_host} ({_address}) ended: {ex.Message}");
            return false;
        }
    }

    private string HandshakeTimeoutMessage => $"timed out after {_config.Global.HandshakeTimeout} seconds waiting for the client (handshake timeout)";

    /// <summary>
    /// The rest of an admitted client's session, on a thread of its own: auth, then the module's
    /// transfer; or, in a handed-off process, the module's transfer straight away.
    /// </summary>
    public void Continue(CancellationToken cancellationToken)
    {
        if (resumed is not null)
        {
            Identify();
            _host = resumed.Host;
            _module = _config.FindModule(resumed.Module);
        }
        // The module's timeout runs from admission, not only once the transfer does.
        using var connection = new Connection(socket, timeoutSeconds: _module?.Timeout ?? 0, bandwidthLimitKiB: 0, cancellationToken);
        using var moduleLog = new ModuleLogScope(this, _daemonLog);
        if (_deadline is not null)
            _deadlineWatch = _deadline.Token.Register(() => HandshakeTimedOut(connection));
        var reader = connection.Reader;
        var writer = connection.Writer;
        reader.Role = "server";
        try
        {
            if (resumed is not null)
            {
                var module = _module ?? throw new RsyncException($"module {resumed.Module} is gone from the configuration", ExitCodes.FileSelect);
                Admit(connection, module, resumed);
                return;
            }
            var found = _module!;
            var greeting = _greeting!.Value;
            if (!Authenticate(reader, writer, found, greeting, out string user, out bool readOnly))
                return;
            Admit(connection, found, DaemonHandoff.From(found.Name, user, readOnly || found.ReadOnly, _host, greeting));
        }
        catch (RsyncException ex)
        {
            _log.Write($"{ex.Message} [{_host}]");
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _log.Write($"connection with {_host} ({_address}) ended: {ex.Message}");
        }
        finally
        {
            EndHandshake();
        }
    }

    /// <summary>Tells a client that took too long so, and cuts it off (its blocked read then fails).</summary>
    private void HandshakeTimedOut(Connection connection)
    {
        _log.Write($"handshake with {_host} ({_address}) timed out after {_config.Global.HandshakeTimeout} seconds");
        try
        {
            socket.Send(Encoding.UTF8.GetBytes($"@ERROR: {HandshakeTimeoutMessage}\n"));
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        connection.Abort();
    }

    /// <summary>The client's arguments are in (or it is gone): the handshake deadline no longer applies.</summary>
    private void EndHandshake()
    {
        _deadlineWatch.Dispose();
        _deadline?.Dispose();
    }

    private void Identify()
    {
        var address = RemoteAddress();
        _address = address.ToString();
    }

    private IPAddress RemoteAddress()
    {
        if (ClientAddress is { } given)
            return given;
        // A Unix socket (a client's RSYNC_CONNECT_PROG) has no address: it is this host, which
        // getnameinfo names localhost (clientname.c, client_addr).
        if (socket.RemoteEndPoint is not IPEndPoint { Address: var remote })
            return IPAddress.Loopback;
        return remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
    }

    /// <summary>Gives the module's connection slot back.</summary>
    public void Dispose()
    {
        _slot?.Dispose();
        _slot = null;
        EndHandshake();
    }

    /// <summary>
    /// From an authenticated client to the transfer: the module's chroot and identity (in a child
    /// process when this one listens for others), then "@RSYNCD: OK" and the client's arguments
    /// (clientserver.c, rsync_module).
    /// </summary>
    private void Admit(Connection connection, DaemonModule module, DaemonHandoff state)
    {
        var writer = connection.Writer;
        string configured = module.Path is { Length: > 0 } p ? p : throw new RsyncException($"module {module.Name} has no path", ExitCodes.FileSelect);
        var isolation = ModuleIsolation.Resolve(module, configured, out string? error, out string? logLine);
        if (isolation is null)
        {
            _log.Write(logLine!);
            Refuse(writer, error!);
            return;
        }
        if (isolation.Needed && daemon is not null)
        {
            // This process serves many clients and cannot change root or user for one of them. The
            // connection process keeps its own deadline and timeout; this one only waits for it.
            if (daemon.NodeLink is { } link && Posix.RealPath(configured) is { } real && link.IsTwoWay(NameText.ToBytes(real)))
                _log.Write($"module {module.Name} is watched for two-way sync but is served by a process of its own (chroot, uid or gid): its changes are not announced and local changes are not guarded");
            EndHandshake();
            connection.TimeoutSeconds = 0;
            daemon.HandOff(socket, state);
            return;
        }
        // From here the module's own "log file", when it has one, takes the lines; it is opened
        // before any chroot (clientserver.c, rsync_module: log_init).
        if (module.LogFile is { Length: > 0 } moduleLog && moduleLog != _log.Path)
        {
            try
            {
                _log = new DaemonLog(moduleLog);
            }
            catch (IOException ex)
            {
                _log.Write(ex.Message);
            }
        }
        // rsync starts its xfer-exec commands before the chroot and runs them outside it. Here the
        // chroot then waits until the client's arguments are in and the pre-xfer command has run.
        bool hooks = module.PreXferExec is { Length: > 0 } || module.PostXferExec is { Length: > 0 };
        ModuleIsolation? deferred = isolation.Needed && hooks ? isolation : null;
        string modulePath;
        if (deferred is not null)
        {
            if (!Directory.Exists(isolation.ChrootDirectory))
            {
                _log.Write($"chroot(\"{isolation.ChrootDirectory}\") failed: {Posix.StrError(Posix.ENOENT)} ({Posix.ENOENT})");
                Refuse(writer, "chroot failed");
                return;
            }
            modulePath = isolation.ModuleDirectory;
        }
        else if (isolation.Needed)
        {
            error = isolation.Apply(_log);
            if (error is not null)
            {
                Refuse(writer, error);
                return;
            }
            modulePath = isolation.ModuleDirectory;
        }
        else
            modulePath = Posix.RealPath(configured) ?? throw new RsyncException($"chdir {configured} failed: no such directory", ExitCodes.FileSelect);

        _mungeLinks = module.EffectiveMungeSymlinks(isolation.UseChroot);
        string mungedDirectory = deferred is { UseChroot: true } ? Path.Join(deferred.ChrootDirectory, MungedSymlink.Prefix.TrimEnd('/')) : MungedSymlink.Prefix.TrimEnd('/');
        if (_mungeLinks && Directory.Exists(mungedDirectory))
        {
            // A real directory there would make munged links lead somewhere (clientserver.c, rsync_module).
            _log.Write($"Symlink munging is unsafe when a {MungedSymlink.Prefix.TrimEnd('/')} directory exists.");
            Refuse(writer, "daemon security issue -- contact admin");
            return;
        }
        writer.WriteText("@RSYNCD: OK\n");
        writer.Flush();
        var greeting = state.Greeting;
        var args = DaemonServerHandshake.ReadArguments(connection.Reader, greeting.Protocol);
        Serve(connection, module, greeting, args, state.User, state.ReadOnly, configured, modulePath, isolation.UseChroot, deferred);
    }

    /// <summary>
    /// The client's name: its address looked up, kept only when that name leads back to the address
    /// (clientname.c, client_name and check_name); else "UNKNOWN".
    /// </summary>
    private static string ReverseLookup(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        try
        {
            var entry = Dns.GetHostEntry(address);
            if (string.IsNullOrEmpty(entry.HostName))
                return HostAccess.UnknownHostName;
            var forward = Dns.GetHostAddresses(entry.HostName);
            return forward.Any(a => (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).Equals(address)) ? entry.HostName : HostAccess.UnknownHostName;
        }
        catch (Exception ex) when (ex is SocketException or ArgumentException)
        {
            return HostAccess.UnknownHostName;
        }
    }

    /// <summary>A host name's addresses for "hosts allow"/"hosts deny" items (access.c, match_hostname with forward lookup).</summary>
    private static IReadOnlyList<IPAddress>? ForwardLookup(string name)
    {
        try
        {
            return Dns.GetHostAddresses(name).Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToArray();
        }
        catch (Exception ex) when (ex is SocketException or ArgumentException)
        {
            return null;
        }
    }

    private string? ReadMotd()
    {
        string? path = _config.Global.MotdFile;
        if (string.IsNullOrEmpty(path))
            return null;
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void Refuse(RsyncWriter writer, string why)
    {
        writer.WriteText($"@ERROR: {why}\n");
        writer.Flush();
    }

    /// <summary>
    /// Module names and comments as rsync lists them (clientserver.c, send_listing): every module
    /// with "list = yes", whatever its hosts allow or deny; "list = no" is how a module is hidden.
    /// </summary>
    private string Listing()
    {
        var text = new StringBuilder();
        foreach (var module in _config.Modules)
        {
            if (!module.List)
                continue;
            text.Append($"{module.Name,-15}\t{module.Comment ?? ""}\n");
        }
        text.Append("@RSYNCD: EXIT\n");
        return text.ToString();
    }

    /// <summary>Challenge and response against the module's secrets (authenticate.c, auth_server).</summary>
    private bool Authenticate(RsyncReader reader, RsyncWriter writer, DaemonModule module, Greeting greeting, out string user, out bool readOnly)
    {
        user = "";
        readOnly = module.ReadOnly;
        var auth = AuthUsers.Parse(module.AuthUsers);
        if (auth.IsAnonymous)
            return true;
        string challenge = DaemonServerHandshake.NewChallenge();
        var (name, response) = DaemonServerHandshake.Challenge(reader, writer, challenge);
        string digest = DaemonServerHandshake.ChooseDigest(greeting.AuthDigests);
        string? error;
        if (name is null || response is null)
            error = "invalid challenge response";
        else
        {
            // A local account's groups, looked up only once a "@group" rule is reached (authenticate.c, auth_server).
            var decision = auth.Evaluate(name, () => UserGroups.Of(name, UserGroups.System), module.ReadOnly);
            if (!decision.Allowed)
                error = decision.Error;
            else
            {
                var secrets = SecretsFile.Open(module.SecretsFile, module.StrictModes, Posix.EffectiveUserId() == 0);
                if (secrets.LogMessage is not null)
                    _log.Write(secrets.LogMessage);
                error = secrets.File is null ? secrets.Error
                    : secrets.File.Check(name, decision.MatchedGroup, password => DaemonServerHandshake.Verify(digest, password, challenge, response));
                readOnly = decision.ReadOnly;
            }
        }
        if (error is not null)
        {
            // rsync names the user once the response could be read.
            string who = name is null || response is null ? "" : $" for {name}";
            _log.Write($"auth failed on module {module.Name} from {_host} ({_address}){who}: {error}");
            Refuse(writer, $"auth failed on module {module.Name}");
            return false;
        }
        user = name!;
        return true;
    }

    /// <param name="deferred">A chroot and change of user still to make, once the pre-xfer command has run.</param>
    private void Serve(Connection connection, DaemonModule module, Greeting greeting, List<string> args, string user, bool readOnly, string configured, string modulePath, bool chrooted,
        ModuleIsolation? deferred)
    {
        var reader = connection.Reader;
        var writer = connection.Writer;

        // A refused or unknown option is reported once the protocol is running, as rsync's daemon does (clientserver.c, rsync_module).
        ServerInvocation? invocation = null;
        string? argumentError = null;
        try
        {
            // Without a "charset" the module refuses --iconv (options.c, parse_arguments).
            bool charset = !string.IsNullOrEmpty(module.Charset);
            var refuse = string.IsNullOrWhiteSpace(module.RefuseOptions) && !charset ? null : new RefuseOptions(module.RefuseOptions, charset);
            invocation = OptionParser.ParseServer(args, new ServerParseSettings { ModuleName = module.Name, Refuse = refuse });
            if (invocation.ProtectedArgsPending)
            {
                // -s: the real arguments follow, always NUL-separated, and are parsed afresh (clientserver.c, rsync_module; io.c, read_args).
                var protectedArgs = DaemonServerHandshake.ReadArguments(reader, protocol: 30);
                // A module with a charset reads them as UTF-8 (clientserver.c, rsync_module; io.c, read_args with RL_CONVERT).
                if (charset && Text.NameCharset.TryResolve(module.Charset!) is { } moduleCharset)
                {
                    for (int i = 0; i < protectedArgs.Count; i++)
                        protectedArgs[i] = Text.NameText.FromBytes(moduleCharset.MessageFromWire(Text.NameText.ToBytes(protectedArgs[i])));
                }
                invocation = OptionParser.ParseServer(args, new ServerParseSettings { ModuleName = module.Name, Refuse = refuse, ProtectedArgs = protectedArgs });
            }
        }
        catch (RsyncUsageException ex)
        {
            argumentError = ex.Message;
        }
        // Every argument is in: from here only the module's timeout watches the client.
        EndHandshake();
        var options = invocation?.Options ?? new RsyncOptions();
        // Names in --checksum-choice and --compress-choice are checked with the other arguments (options.c, parse_arguments).
        var wanted = default(Negotiation.Wanted);
        if (argumentError is null)
        {
            try
            {
                wanted = Negotiation.FromOptions(options);
            }
            catch (RsyncException ex)
            {
                argumentError = "rsync: " + ex.Message;
            }
        }
        // Inside a chroot the names of users and groups cannot be looked up (clientserver.c, rsync_module).
        if (module.EffectiveNumericIds(chrooted))
            options.IdsWithoutNames = true;
        // The module decides, never the client (clientserver.c, rsync_module).
        options.MungeLinks = _mungeLinks;
        if (module.Timeout > 0 && (options.Timeout == 0 || module.Timeout < options.Timeout))
            options.Timeout = module.Timeout;
        connection.TimeoutSeconds = options.Timeout;
        if (invocation is not null)
        {
            options.Verbose = invocation.LimitVerbosity(module.MaxVerbosity);
            options.Output.LimitTo(Math.Max(module.MaxVerbosity, 0));
        }

        var output = new DaemonOutput(writer, _log);
        var ctx = new TransferContext
        {
            Reader = reader,
            Writer = writer,
            Options = options,
            Output = output,
            Protocol = greeting.Protocol,
            ModuleDontCompress = module.DontCompress ?? "",
            MaxReceivedEntries = Math.Max(0, _config.Global.MaxFileListEntries),
            MaxReceivedNameBytes = Math.Max(0, _config.Global.MaxFileListSize) * 1024L * 1024,
        };
        connection.Context = ctx;
        // util.c, full_fname: "sub/file" (in mod), never the module's own path.
        ctx.QuotePath = path =>
        {
            string full = Path.GetFullPath(path);
            string relative = Posix.IsWithin(full, modulePath) ? Path.GetRelativePath(modulePath, full) : full;
            return $"\"{relative}\" (in {module.Name})";
        };

        // The module's charset is this side's, whatever the client named after its comma; the
        // client's --iconv only switches conversion on (clientserver.c, rsync_module).
        if (options.Iconv is not null && !string.IsNullOrEmpty(module.Charset))
        {
            ctx.Iconv = Text.NameCharset.Resolve(module.Charset);
            ctx.SymlinkIconv = invocation?.Capabilities.SymlinkIconv == true;
        }
        else
            ctx.Iconv = null;

        StartProtocol(ctx, invocation?.Capabilities ?? ClientCapabilities.None, wanted, IncrementalRecursion(invocation));
        reader.MessageHandler = (code, payload) =>
        {
            ClientMessage(ctx, code, payload);
            // A client that gives up says so; there is nothing left to serve (io.c, read_a_msg: MSG_ERROR_EXIT).
            if (code == MessageCode.ErrorExit && payload.Length == 4 && BinaryPrimitives.ReadInt32LittleEndian(payload) != 0)
                connection.Abort();
        };

        string request = invocation?.Request ?? string.Join(' ', args.SkipWhile(a => a != ".").Skip(1));
        var hookEnvironment = new Dictionary<string, string>
        {
            ["RSYNC_MODULE_NAME"] = module.Name,
            ["RSYNC_MODULE_PATH"] = chrooted ? configured : modulePath,
            ["RSYNC_HOST_ADDR"] = _address,
            ["RSYNC_HOST_NAME"] = _host,
            ["RSYNC_USER_NAME"] = user,
            ["RSYNC_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RSYNC_REQUEST"] = request,
            ["RSYNC_ARG0"] = "rsyncd",
        };
        for (int i = 0; i < args.Count; i++)
            hookEnvironment[$"RSYNC_ARG{i + 1}"] = args[i];
        int exitCode = 0;
        System.Diagnostics.Process? postXferWaiter = null;
        try
        {
            if (module.PreXferExec is { Length: > 0 } pre)
            {
                var (status, stdout) = RunHook(pre, hookEnvironment);
                if (status != 0)
                    throw new RsyncException($"pre-xfer exec returned failure ({status}){(stdout.Length > 0 ? ":" : "")}\n{stdout}", ExitCodes.Unsupported);
            }
            if (deferred is not null)
            {
                // The post-xfer command must run outside the chroot and as the daemon's user: it is
                // started now and waits for the transfer's exit status.
                if (module.PostXferExec is { Length: > 0 } postCommand)
                    postXferWaiter = StartPostXferWaiter(postCommand, hookEnvironment);
                string? isolationError = deferred.Apply(_log);
                if (isolationError is not null)
                    throw new RsyncException("rsync: " + isolationError, ExitCodes.StartClient);
            }
            if (argumentError is not null || invocation is null)
                throw new RsyncException(argumentError ?? "rsync: invalid arguments", ExitCodes.Unsupported);
            var chmod = ChmodRules.Parse(invocation.IsSender ? Split(module.OutgoingChmod) : Split(module.IncomingChmod), Posix.Umask());
            var daemonFilters = DaemonFilters(module);
            ctx.ItemLog = DaemonTransferLog.For(module, _log, ctx, modulePath, new LogFormatDetails
            {
                // %h names the client only where the module looks names up (log.c, log_formatted).
                HostName = module.ReverseLookup ? _host : HostAccess.UndeterminedHostName,
                HostAddress = _address,
                ModuleName = module.Name,
                ModulePath = configured.Length > 1 ? configured.TrimEnd('/') : configured,
                UserName = user,
            }, sender: invocation.IsSender);
            if (invocation.IsSender)
            {
                if (module.WriteOnly)
                    throw new RsyncException("ERROR: module is write only", ExitCodes.Syntax);
                _log.Write($"rsync on {request} from {(user.Length > 0 ? user + "@" : "")}{_host} ({_address})");
                _log.Write("building file list");
                output.WriterThread = Thread.CurrentThread;
                ServePull(ctx, modulePath, module, invocation, daemonFilters, chmod);
            }
            else
            {
                if (readOnly)
                    throw new RsyncException("ERROR: module is read only", ExitCodes.Syntax);
                _log.Write($"rsync to {request} from {(user.Length > 0 ? user + "@" : "")}{_host} ({_address})");
                _log.Write("receiving file list");
                ServePush(ctx, connection, modulePath, module, invocation, daemonFilters, chmod);
            }
            // The server speaks last and closes first, as rsync's daemon exits once its role is done.
            connection.FinishSending();
            reader.WaitForPeerToClose(TimeSpan.FromSeconds(5));
            _log.Write($"sent {ctx.Stats.BytesSent} bytes  received {ctx.Stats.BytesReceived} bytes  total size {ctx.Stats.TotalSize}");
        }
        catch (RsyncException ex) when (writer.Multiplexed)
        {
            EndWithError(ctx, output, ex, connection.FinishSending);
            _log.Write($"rsync error: {ex.Message} (code {ex.ExitCode})");
            exitCode = ex.ExitCode;
        }
        catch (RsyncException ex)
        {
            exitCode = ex.ExitCode;
            throw;
        }
        finally
        {
            if (postXferWaiter is not null)
                FinishPostXferWaiter(postXferWaiter, exitCode);
            else if (module.PostXferExec is { Length: > 0 } post)
            {
                // rsync passes the transfer's exit status, raw as from wait() and plain (clientserver.c, rsync_module).
                hookEnvironment["RSYNC_EXIT_STATUS"] = exitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
                hookEnvironment["RSYNC_RAW_STATUS"] = (exitCode << 8).ToString(System.Globalization.CultureInfo.InvariantCulture);
                RunHook(post, hookEnvironment);
            }
        }
    }

    /// <summary>Runs a pre- or post-xfer command through the shell with rsync's variables; returns its status and output.</summary>
    private (int Status, string Stdout) RunHook(string command, Dictionary<string, string> environment)
    {
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        try
        {
            using var process = System.Diagnostics.Process.Start(start)!;
            process.StandardInput.Close();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or IOException)
        {
            _log.Write($"xfer exec failed: {ex.Message}");
            return (-1, ex.Message);
        }
    }

    /// <summary>
    /// Starts the post-xfer command's shell now, waiting on its stdin for the exit status, which it
    /// passes on as RSYNC_EXIT_STATUS and RSYNC_RAW_STATUS (clientserver.c, rsync_module).
    /// </summary>
    private System.Diagnostics.Process? StartPostXferWaiter(string command, Dictionary<string, string> environment)
    {
        const string Waiter = "read status; [ -n \"$status\" ] || status=-1; RSYNC_EXIT_STATUS=$status; RSYNC_RAW_STATUS=$((status * 256)); "
            + "export RSYNC_EXIT_STATUS RSYNC_RAW_STATUS; exec /bin/sh -c \"$1\"";
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Waiter);
        start.ArgumentList.Add("sh");
        start.ArgumentList.Add(command);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        try
        {
            return System.Diagnostics.Process.Start(start);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or IOException)
        {
            _log.Write($"xfer exec failed: {ex.Message}");
            return null;
        }
    }

    private void FinishPostXferWaiter(System.Diagnostics.Process waiter, int exitCode)
    {
        using (waiter)
        {
            try
            {
                waiter.StandardInput.WriteLine(exitCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
                waiter.StandardInput.Close();
            }
            catch (IOException ex)
            {
                _log.Write($"post-xfer exec failed: {ex.Message}");
            }
            waiter.WaitForExit();
        }
    }

    /// <summary>Closes a module's own log file when the session ends.</summary>
    private sealed class ModuleLogScope(DaemonSession session, DaemonLog daemonLog) : IDisposable
    {
        public void Dispose()
        {
            if (!ReferenceEquals(session._log, daemonLog))
                session._log.Dispose();
        }
    }

    private static IEnumerable<string> Split(string? list) =>
        string.IsNullOrWhiteSpace(list) ? [] : [list];

    /// <summary>The module's own exclude/include/filter parameters (clientserver.c, daemon_filter_list).</summary>
    internal static FilterList DaemonFilters(DaemonModule module)
    {
        var rules = new List<string>();
        // The filter parameter splits on white space, and a bare rule word takes the next word as its pattern (exclude.c, FILTRULE_WORD_SPLIT).
        var words = ConfigTokens.Split(module.Filter ?? "");
        for (int i = 0; i < words.Count; i++)
        {
            bool bareRule = words[i] is "-" or "+" or "P" or "R" or "H" or "S" or "exclude" or "include" or "protect" or "risk" or "hide" or "show"
                || (words[i].Length > 1 && "+-PRHS".Contains(words[i][0]) && words[i][1..].All(c => "/!Csrpx".Contains(c)));
            rules.Add(bareRule && i + 1 < words.Count ? words[i] + " " + words[++i] : words[i]);
        }
        foreach (string p in ConfigTokens.Split(module.Include ?? ""))
            rules.Add("+ " + p);
        foreach (string p in ConfigTokens.Split(module.Exclude ?? ""))
            rules.Add("- " + p);
        return FilterList.Parse(rules);
    }

    /// <summary>
    /// The module path a client argument names (module prefix already gone). ".." cannot climb
    /// out (util.c, sanitize_path), and an existing part that is a symlink is followed only while
    /// its real path stays inside the module; otherwise the request is refused.
    /// </summary>
    /// <param name="danglingIsMissing">For a pull: a link that leads nowhere (a munged one, say) makes the
    /// path simply missing, so the client hears "No such file" as from rsync; a push refuses it.</param>
    private static string ResolveInModule(string modulePath, string rel, bool danglingIsMissing = false)
    {
        string sanitized = ModulePath.Sanitize(rel);
        var parts = sanitized == "." ? [] : sanitized.Split('/').ToList();
        string current = modulePath;
        for (int i = 0; i < parts.Count; i++)
        {
            string next = Path.Join(current, parts[i]);
            if (Posix.TryLStat(next, out var st) != 0)
            {
                // The rest does not exist yet (a push may create it): nothing there to follow.
                current = Path.Join(next, string.Join('/', parts.Skip(i + 1)));
                break;
            }
            bool last = i == parts.Count - 1;
            if (st.IsSymlink && (!last || rel.EndsWith('/')))
            {
                string? real = Posix.RealPath(next);
                if (real is null && danglingIsMissing)
                    return Path.Join(next, string.Join('/', parts.Skip(i + 1))) + (rel.EndsWith('/') ? "/" : "");
                if (real is null || !Posix.IsWithin(real, modulePath))
                    throw new RsyncException($"\"{rel}\" leads outside the module", ExitCodes.FileSelect);
                next = real;
            }
            current = next;
        }
        return rel.EndsWith('/') || parts.Count == 0 ? current.TrimEnd('/') + "/" : current;
    }

    /// <summary>
    /// A -R path in the module: its names are sent as given, below the module or below a "/./"
    /// in the path (flist.c, send_file_list). The walk goes through the module's directory handle,
    /// so a link on the way cannot lead out of it.
    /// </summary>
    private static string RelativeInModule(string modulePath, string rel)
    {
        int marker = rel.IndexOf("/./", StringComparison.Ordinal);
        string above = marker < 0 ? "." : ModulePath.Sanitize(rel[..marker]);
        string below = ModulePath.Sanitize(marker < 0 ? rel : rel[(marker + 3)..]);
        string root = above == "." ? modulePath : Path.Join(modulePath, above);
        return root.TrimEnd('/') + "/./" + below;
    }

    private void ServePull(TransferContext ctx, string modulePath, DaemonModule module, ServerInvocation invocation, FilterList daemonFilters, ChmodRules? chmod)
    {
        var clientRules = ReadFilterList(ctx.Reader);
        var filters = FilterList.Parse(clientRules.Concat(daemonFilters.Rules.Select(r => r.WireText)));
        IEnumerable<byte[]>? filesFrom = null;
        // A listed name cannot climb out of the source directory (flist.c, send_file_list: sanitize_path).
        if (ctx.Options.FilesFrom == "-")
            filesFrom = ReadForwardedNames(ctx).Select(n => ModulePath.Sanitize(n.AsSpan())).ToList();

        using var jail = ConfinedRoot.Open(modulePath);
        var requested = invocation.Paths.SelectMany(p => ModuleGlob.Expand(jail, p, daemonFilters));
        var sources = requested.Select(p => ctx.Options.Relative ? RelativeInModule(modulePath, p) : ResolveInModule(modulePath, p, danglingIsMissing: true)).ToList();
        if (module.IgnoreErrors)
            ctx.Options.IgnoreErrors = true;

        var files = RsyncClient.SendFileList(ctx, sources, filters, chmod, filesFrom, confineTo: modulePath, jail: jail);
        if (files.FirstCount == 0)
        {
            // Nothing to send: the client stops after an empty list, and so do we (main.c, do_server_sender).
            ctx.Writer.Flush();
            return;
        }
        var sender = new Sender(ctx, files)
        {
            Jail = jail,
            JailPath = modulePath,
            BeforeGoodbye = () => SendTotals(ctx),
        };
        sender.Run();
        ctx.Stats.BytesSent = ctx.Writer.BytesWritten;
        ctx.Stats.BytesReceived = ctx.Reader.BytesRead;
    }

    private void ServePush(TransferContext ctx, Connection connection, string modulePath, DaemonModule module, ServerInvocation invocation, FilterList daemonFilters, ChmodRules? chmod)
    {
        var o = ctx.Options;
        bool receiverWantsList = o.PruneEmptyDirs || (o.GetEffectiveDeleteMode(ctx.Protocol) != DeleteMode.None);
        var rules = receiverWantsList ? ReadFilterList(ctx.Reader) : [];
        var filters = FilterList.Parse(rules.Concat(daemonFilters.Rules.Select(r => r.WireText)));
        string destArg = invocation.Paths.Count > 0 ? invocation.Paths[^1] : "";
        // Every path the client names is a path in the module, whatever it says (util1.c, sanitize_path).
        string destRel = ModulePath.Sanitize(destArg);
        string destination = (destRel == "." ? modulePath : Path.Join(modulePath, destRel)) + (destArg.EndsWith('/') ? "/" : "");
        bool partialInModule = false;
        if (o.BackupDir is { } backupDir)
            o.BackupDir = ModulePath.Sanitize(backupDir, destRel);
        if (o.PartialDir is { } partialDir)
        {
            partialInModule = partialDir.StartsWith('/');
            o.PartialDir = partialInModule ? ModulePath.Sanitize(partialDir) : ModulePath.Sanitize(partialDir, ".") is var p && p != "." ? p : null;
        }
        using var jail = ConfinedRoot.Open(modulePath);
        var twoWay = TwoWayFor(module, modulePath, o.Inplace);
        // Every change in a two-way module is announced before it shows, which writing in place cannot do.
        if (twoWay is not null)
            o.Inplace = false;
        RsyncClient.Receive(ctx, destination, filters, chmod,
            new RsyncClient.ReceiveMode(SenderSendsStats: false, WholeFileByDefault: false, LogsItems: false, DeletionsAsMessages: true), connection.Abort,
            module: new RsyncClient.ModuleTarget(jail, NameText.ToBytes(destRel), partialInModule, twoWay) { DaemonFilters = daemonFilters });
        ctx.Stats.BytesSent = ctx.Writer.BytesWritten;
        ctx.Stats.BytesReceived = ctx.Reader.BytesRead;
    }

    /// <summary>
    /// The module's two-way state when a watcher of this node registered a tree overlapping it
    /// (the module path is a real path here), else null: plain rsync. While the node link is up, a
    /// module no watcher covers yet gets one too, which stays plain rsync until a watcher covering
    /// it registers during the transfer: changes from then on are announced and guarded. Except
    /// under --inplace, which is kept for such a module, and cannot announce a write before it shows.
    /// </summary>
    private TwoWayModule? TwoWayFor(DaemonModule module, string modulePath, bool inplace)
    {
        if (daemon?.NodeLink is not { } link)
            return null;
        byte[] path = NameText.ToBytes(modulePath);
        bool twoWayNow = link.IsTwoWay(path);
        if (!twoWayNow && inplace)
            return null;
        var (local, peer) = ConflictRules.NamesToward(_address);
        // Registered roots stay registered until the daemon stops, so once two-way, always two-way.
        return new TwoWayModule(link, module.ConflictCopies, local, peer, _log.Write,
            isTwoWayYet: twoWayNow ? null : () => link.IsTwoWay(path));
    }

    /// <summary>The longest filter rule a client may send: rsync's line buffer is MAXPATHLEN + 1024 (exclude.c, recv_filter_list).</summary>
    internal const int MaxFilterRuleLength = ProtocolLimits.MaxPath + 1024 - 1;

    /// <summary>Most filter rules a client may send; rsync has no count limit, but each rule costs memory here.</summary>
    internal const int MaxFilterRules = 100_000;

    /// <summary>Most bytes of filter rules a client may send in all.</summary>
    internal const long MaxFilterBytes = 16L * 1024 * 1024;

    internal static List<string> ReadFilterList(RsyncReader reader) => ReadFilterList(reader, MaxFilterRules, MaxFilterBytes);

    /// <summary>Rules the client sends: int length + text, ending with 0 (exclude.c, recv_filter_list).</summary>
    internal static List<string> ReadFilterList(RsyncReader reader, int maxRules, long maxBytes)
    {
        var rules = new List<string>();
        long total = 0;
        while (true)
        {
            int len = reader.ReadInt32();
            if (len == 0)
                return rules;
            if (len < 0 || len > MaxFilterRuleLength)
                throw new RsyncProtocolException($"buffer overflow in recv_rules: a filter rule of {len} bytes");
            if (rules.Count >= maxRules)
                throw new RsyncProtocolException($"more than {maxRules} filter rules from the client");
            total += len;
            if (total > maxBytes)
                throw new RsyncProtocolException($"more than {maxBytes} bytes of filter rules from the client");
            rules.Add(NameText.FromBytes(reader.ReadBytes(len)));
        }
    }

    internal static List<byte[]> ReadForwardedNames(TransferContext ctx) =>
        ReadForwardedNames(ctx.Reader, ctx.MaxReceivedEntries, ctx.MaxReceivedNameBytes);

    /// <summary>
    /// The --files-from names a pulling client forwards, NUL-terminated, ending with an empty one. A
    /// name is read into a MAXPATHLEN buffer (io.c, read_line), so a longer one is an error; the
    /// count and total follow the limits on a received file list (0 for none).
    /// </summary>
    internal static List<byte[]> ReadForwardedNames(RsyncReader reader, int maxNames, long maxBytes)
    {
        var names = new List<byte[]>();
        var current = new byte[ProtocolLimits.MaxPath];
        int length = 0;
        long total = 0;
        while (true)
        {
            byte b = reader.ReadByte();
            if (b != 0)
            {
                if (length >= ProtocolLimits.MaxPath - 1)
                    throw new RsyncProtocolException($"a --files-from name from the client is longer than {ProtocolLimits.MaxPath - 1} bytes");
                current[length++] = b;
                continue;
            }
            if (length == 0)
                return names;
            if (maxNames > 0 && names.Count >= maxNames)
                throw new RsyncProtocolException($"more than {maxNames} --files-from names from the client", ExitCodes.Malloc);
            total += length;
            if (maxBytes > 0 && total > maxBytes)
                throw new RsyncProtocolException($"more than {maxBytes} bytes of --files-from names from the client", ExitCodes.Malloc);
            names.Add(current[..length]);
            length = 0;
        }
    }

    /// <summary>
    /// Whether a server goes one directory at a time: when the client allows it and the options do
    /// (compat.c, set_allow_inc_recurse).
    /// </summary>
    internal static bool IncrementalRecursion(ServerInvocation? invocation) =>
        invocation is { IncrementalRecursionAllowed: true };

    /// <summary>
    /// A server's side of the protocol's start, whatever carried the arguments (compat.c,
    /// setup_protocol with am_server): the compat flags it honours of the client's capability
    /// letters, the name lists, the checksum seed, then multiplexing both ways.
    /// </summary>
    internal static void StartProtocol(TransferContext ctx, ClientCapabilities caps, Negotiation.Wanted wanted, bool incrementalRecursion)
    {
        var reader = ctx.Reader;
        var writer = ctx.Writer;
        // Symlink conversion is offered whatever the client asked, as rsync built with iconv does.
        var compat = CompatFlags.SymlinkTimes | CompatFlags.SymlinkIconv;
        if (incrementalRecursion)
            compat |= CompatFlags.IncRecurse;
        if (caps.SafeFileList)
            compat |= CompatFlags.SafeFileList;
        if (caps.AvoidXattrOptimization)
            compat |= CompatFlags.AvoidXattrOptim;
        if (caps.ChecksumSeedFix)
            compat |= CompatFlags.ChecksumSeedFix;
        bool negotiating = caps.VarintFileListFlags;
        if (negotiating || caps.PreReleaseVarintFlags)
            compat |= CompatFlags.VarintFileListFlags;
        ctx.Compat = compat;
        ctx.ChecksumSeed = ctx.Options.ChecksumSeed != 0 ? ctx.Options.ChecksumSeed : (int)(DateTimeOffset.UtcNow.ToUnixTimeSeconds() & int.MaxValue);
        // A 3.2 pre-release's 'V' still reads the flags as one byte.
        if (negotiating)
            writer.WriteVarInt((int)compat);
        else
            writer.WriteByte((byte)compat);
        ctx.Algorithms = Negotiation.Exchange(reader, writer, wanted, negotiating, amServer: true,
            seedFirst: caps.ChecksumSeedFix);
        writer.WriteInt32(ctx.ChecksumSeed);
        writer.StartMultiplexing();
        reader.StartMultiplexing();
    }

    /// <summary>
    /// Tells the client why, then ends as rsync does (log.c, rwrite; cleanup.c, _exit_cleanup). After
    /// a protocol error the client may be hostile: it gets little time to hang up.
    /// </summary>
    internal static void EndWithError(TransferContext ctx, DaemonOutput output, RsyncException ex, Action finishSending)
    {
        string text = ex.Message.TrimStart();
        output.Error(text.StartsWith("rsync", StringComparison.Ordinal) || text.StartsWith("ERROR", StringComparison.Ordinal) ? text : "rsync: " + text);
        try
        {
            // The reason goes out before MSG_ERROR_EXIT: a client leaves as soon as it reads that.
            output.Drain();
            if (ctx.Protocol >= 31)
                ctx.Writer.WriteMessageInt(MessageCode.ErrorExit, ex.ExitCode);
            finishSending();
            ctx.Reader.WaitForPeerToClose(ex is RsyncProtocolException ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(2));
        }
        catch (Exception closing) when (closing is RsyncException or IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>A server's sender reports its totals before the goodbye (main.c, handle_stats).</summary>
    internal static void SendTotals(TransferContext ctx)
    {
        var w = ctx.Writer;
        w.WriteVarLong(ctx.Reader.BytesRead, 3);
        w.WriteVarLong(w.BytesWritten, 3);
        w.WriteVarLong(ctx.Stats.TotalSize, 3);
        w.WriteVarLong(ctx.Stats.FileListBuildMilliseconds, 3);
        w.WriteVarLong(ctx.Stats.FileListTransferMilliseconds, 3);
    }

    internal static void ClientMessage(TransferContext ctx, MessageCode code, ReadOnlySpan<byte> payload)
    {
        switch (code)
        {
            case MessageCode.ErrorXfer:
                ctx.NoteTransferError();
                break;
            case MessageCode.IoError when payload.Length == 4:
                ctx.NoteRemoteIoError(BinaryPrimitives.ReadInt32LittleEndian(payload));
                break;
            case MessageCode.ErrorExit when payload.Length == 4:
                ctx.NoteRemoteExit(BinaryPrimitives.ReadInt32LittleEndian(payload));
                break;
            case MessageCode.NoSend when payload.Length == 4:
                ctx.SenderSkipped?.Invoke(BinaryPrimitives.ReadInt32LittleEndian(payload));
                break;
        }
    }
}
