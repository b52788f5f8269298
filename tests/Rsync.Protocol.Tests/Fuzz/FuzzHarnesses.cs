using System.Text;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Roles;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Tests.Fuzz;

/// <summary>
/// Entry points that feed untrusted bytes to one parser each, driven as the product drives it. The
/// fuzzer (fuzz/Rsync.Fuzz) and the corpus replay test share them. Each harness lets through only the
/// failures the product expects from a bad peer or a bad config (<see cref="IsExpected"/>); anything
/// else escapes and counts as a crash. Where a parser takes settings, the first input byte picks them,
/// so one corpus covers every variant.
/// </summary>
public static class FuzzHarnesses
{
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["greeting-client"] = GreetingClient,
        ["greeting-server"] = GreetingServer,
        ["daemon-args"] = DaemonArgs,
        ["config"] = Config,
        ["secrets"] = Secrets,
        ["filelist"] = FileList,
        ["sumhead"] = SumHeadAndSums,
        ["tokens"] = Tokens,
        ["mux"] = Multiplexed,
    };

    /// <summary>What the product reports as a bad peer, a bad config or bad arguments rather than crashing on.</summary>
    public static bool IsExpected(Exception ex) => ex is RsyncException or DaemonConfigException or RsyncUsageException;

    /// <summary>
    /// Most any one input may allocate. The inputs are at most 1 MiB, so a parser that allocates more
    /// believed a length field instead of the bytes that arrived. Counting beats a GC heap limit, whose
    /// out-of-memory can end the runtime itself instead of raising an exception.
    /// </summary>
    public const long AllocationBudget = 64L * 1024 * 1024;

    /// <summary>Runs one input, swallowing only the expected failures; too much allocation is a failure too.</summary>
    public static void Run(string harness, byte[] input)
    {
        long before = GC.GetTotalAllocatedBytes();
        try
        {
            All[harness](input);
        }
        catch (Exception ex) when (IsExpected(ex))
        {
        }
        long allocated = GC.GetTotalAllocatedBytes() - before;
        if (allocated > AllocationBudget)
            throw new UnboundedAllocationException($"{harness}: one input of {input.Length} bytes allocated {allocated / (1024 * 1024)} MiB");
    }

    private static RsyncReader Reader(ReadOnlySpan<byte> data) => new(new MemoryStream(data.ToArray(), writable: false));

    private static RsyncWriter Sink() => new(Stream.Null);

    /// <summary>The client reading a daemon's greeting, then its replies to a module request (clientserver.c, start_inband_exchange).</summary>
    public static void GreetingClient(byte[] input)
    {
        var reader = Reader(input);
        var writer = Sink();
        var greeting = DaemonHandshake.ExchangeGreeting(reader, writer, ProtocolLimits.MaxProtocol);
        var lines = new List<string>();
        DaemonHandshake.SelectModule(reader, writer, greeting, "module", "user", () => "secret", lines.Add);
    }

    /// <summary>The daemon reading a client's greeting, module name and auth reply (clientserver.c, rsync_module; authenticate.c, auth_server).</summary>
    public static void GreetingServer(byte[] input)
    {
        var incoming = new MemoryStream(input, writable: false);
        var channel = new HandshakeChannel(new ReplayStream(incoming));
        var greeting = DaemonServerHandshake.ExchangeAsync(channel, "motd", CancellationToken.None).GetAwaiter().GetResult();
        string? module = channel.ReadLineAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        if (module is null)
            return;
        // The session reads on where the handshake stopped.
        var reader = new RsyncReader(incoming);
        var writer = Sink();
        string digest = DaemonServerHandshake.ChooseDigest(greeting.AuthDigests);
        const string challenge = "ABCDEFGHIJKLMNOPQRSTUV";
        var (user, response) = DaemonServerHandshake.Challenge(reader, writer, challenge);
        if (user is not null && response is not null)
            DaemonServerHandshake.Verify(digest, "secret", challenge, response);
    }

    /// <summary>
    /// The daemon reading a client's arguments and parsing them as server options, with the -s second
    /// batch when asked for (DaemonSession.Serve). Byte 0: bit 0 protocol 29 line mode, bit 1 a module
    /// with "refuse options".
    /// </summary>
    public static void DaemonArgs(byte[] input)
    {
        if (input.Length == 0)
            return;
        byte mode = input[0];
        var reader = Reader(input.AsSpan(1));
        var args = DaemonServerHandshake.ReadArguments(reader, (mode & 1) != 0 ? 29 : 30);
        var refuse = (mode & 2) != 0 ? new RefuseOptions("delete* compress no-iconv") : null;
        var invocation = OptionParser.ParseServer(args, new ServerParseSettings { ModuleName = "module", Refuse = refuse });
        if (invocation.ProtectedArgsPending)
        {
            var protectedArgs = DaemonServerHandshake.ReadArguments(reader, protocol: 30);
            invocation = OptionParser.ParseServer(args, new ServerParseSettings { ModuleName = "module", Refuse = refuse, ProtectedArgs = protectedArgs });
        }
        NetRsync.Protocol.Client.Negotiation.FromOptions(invocation.Options);
    }

    /// <summary>
    /// An rsyncd.conf, then what the daemon derives from each module (auth users, hosts lists). Inputs
    /// naming device or kernel files are skipped: an include of /dev/zero is the admin's doing, not a parser bug.
    /// </summary>
    public static void Config(byte[] input)
    {
        if (Contains(input, "/dev") || Contains(input, "/proc") || Contains(input, "/sys"))
            return;
        var config = DaemonConfig.Parse(Encoding.UTF8.GetString(input), "rsyncd.conf", new DaemonConfigOptions { Environment = _ => null });
        foreach (var module in config.Modules)
        {
            AuthUsers.Parse(module.AuthUsers).Evaluate("user", ["group"], module.ReadOnly);
            HostAccess.For(module).Check("192.0.2.1", "host.example", new HostAccessOptions());
            HostAccess.For(module).Check("2001:db8::1", HostAccess.UnknownHostName, new HostAccessOptions());
            _ = module.EffectiveGids(runningAsRoot: true, nobodyGroup: "nogroup");
            _ = module.EffectiveUid(runningAsRoot: true);
            _ = module.MaxConnections + module.Timeout + module.MaxVerbosity;
        }
        _ = config.Global.Port;
        config.FindModule("module");
    }

    private static bool Contains(byte[] input, string text) => input.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text)) >= 0;

    /// <summary>A secrets file, then the daemon's login check against it (authenticate.c, check_secret).</summary>
    public static void Secrets(byte[] input)
    {
        var secrets = SecretsFile.Parse(input);
        secrets.Check("user", "group", _ => false);
        secrets.Check("#user", null, _ => true);
        secrets.FindPassword("");
        secrets.FindGroupPassword("");
    }

    /// <summary>
    /// The receiver reading a file list and checking its names (RsyncClient.Receive). Byte 0 picks the
    /// settings: protocol 30 or 31, varint flags, and what the list carries.
    /// </summary>
    public static void FileList(byte[] input)
    {
        if (input.Length < 2)
            return;
        int m = input[0] | (input[1] << 8);
        var settings = new FileListSettings(
            Protocol: (m & 1) != 0 ? 31 : 30,
            PreserveUid: (m & 4) != 0,
            PreserveGid: (m & 8) != 0,
            PreserveLinks: (m & 16) != 0,
            PreserveDevices: (m & 32) != 0,
            PreserveSpecials: (m & 64) != 0,
            PreserveHardLinks: (m & 128) != 0,
            AlwaysChecksum: (m & 256) != 0,
            NumericIds: (m & 512) != 0,
            SafeFileList: (m & 1024) != 0)
        {
            VarintFlags = (m & 2) != 0,
            ChecksumLength = (m & 2048) != 0 ? 20 : 16,
        };
        var decoder = new FileListDecoder(Reader(input.AsSpan(2)), settings);
        decoder.ReadAll();
        var received = decoder.Entries;
        ReceivingSide.ValidateNames(received);
        foreach (var entry in received)
        {
            if (entry.IsSymlink && entry.LinkTarget is { } target)
                entry.LinkTarget = MungedSymlink.Munge(target);
        }
        var files = new List<FileEntry>(received);
        files.Sort(FileNameComparer.Instance);
    }

    /// <summary>
    /// The receiver's sum head (Receiver) or the sender's block sums (Sender), then a walk of the sums'
    /// index. Byte 0: bit 0 picks the reader, the rest the longest strong sum allowed (2..16).
    /// </summary>
    public static void SumHeadAndSums(byte[] input)
    {
        if (input.Length == 0)
            return;
        int maxStrong = 2 + (input[0] >> 1) % 15;
        var reader = Reader(input.AsSpan(1));
        if ((input[0] & 1) == 0)
        {
            SumHead.Read(reader, maxStrong);
            return;
        }
        var sums = BlockSums.Read(reader, ProtocolLimits.MaxProtocol, maxStrong);
        for (int i = 0; i < sums.Count; i++)
        {
            if (i < sums.FullLengthCount)
                _ = sums.FirstWithSums(sums.Weak(i), sums.Strong(i));
            _ = sums.LengthOf(i);
        }
        _ = sums.FileLength;
    }

    /// <summary>
    /// A receiver reading token streams file after file, handing matched blocks back as Receiver does.
    /// Byte 0: the format (plain, zlib, zlibx, zstd, lz4) and protocol 30 or 31.
    /// </summary>
    public static void Tokens(byte[] input)
    {
        if (input.Length == 0)
            return;
        int protocol = (input[0] & 8) != 0 ? 31 : 30;
        var reader = Reader(input.AsSpan(1));
        TokenReceiver receiver = (input[0] & 7) switch
        {
            1 => new DeflateTokenReceiver(reader, protocol, includeMatchedInHistory: true),
            2 => new DeflateTokenReceiver(reader, protocol, includeMatchedInHistory: false),
            3 => new ZstdTokenReceiver(reader),
            4 => new Lz4TokenReceiver(reader),
            _ => new PlainTokenReceiver(reader),
        };
        try
        {
            Span<byte> block = stackalloc byte[700];
            // Two bytes of a token run stand for up to 65535 matched blocks; past this many an input
            // only repeats work, and slow inputs starve the fuzzer.
            const int MaxMatchedBlocks = 1 << 14;
            int matched = 0;
            while (true)
            {
                int token = receiver.Next(out var data);
                if (token < 0)
                {
                    if (++matched > MaxMatchedBlocks)
                        return;
                    // A stand-in basis block whose bytes depend on its index.
                    int index = -(token + 1);
                    block.Fill((byte)index);
                    receiver.SeeMatched(block[..(index % 2 == 0 ? 700 : 123)]);
                }
                else if (token > 0 && data.Length != token)
                    throw new InvalidOperationException($"token {token} came with {data.Length} bytes");
            }
        }
        finally
        {
            (receiver as IDisposable)?.Dispose();
        }
    }

    /// <summary>
    /// The demultiplexer: frames read on the pump thread, data read by a consumer mixing the reader's
    /// calls. Byte 0 seeds which calls, in turn; out-of-band messages reach a handler as in a transfer.
    /// </summary>
    public static void Multiplexed(byte[] input)
    {
        if (input.Length == 0)
            return;
        int ops = input[0];
        var reader = Reader(input.AsSpan(1));
        long messageBytes = 0;
        reader.MessageHandler = (_, payload) => messageBytes += payload.Length;
        reader.StartMultiplexing();
        try
        {
            Span<byte> buffer = stackalloc byte[300];
            for (int step = 0; ; step++)
            {
                switch ((ops >> (step % 4 * 2)) & 3)
                {
                    case 0:
                        reader.ReadInt32();
                        break;
                    case 1:
                        reader.ReadVarLong(3);
                        break;
                    case 2:
                        reader.ReadNdx();
                        break;
                    default:
                        reader.ReadBytes(buffer[..reader.ReadByte()]);
                        reader.ReadVString(256);
                        break;
                }
            }
        }
        finally
        {
            // The pump ends at the end of the input; wait for it, so no thread outlives the input.
            reader.WaitForPeerToClose(TimeSpan.FromSeconds(10));
            reader.Dispose();
        }
    }
}

/// <summary>An input made a parser allocate more than <see cref="FuzzHarnesses.AllocationBudget"/>.</summary>
public sealed class UnboundedAllocationException(string message) : Exception(message);

/// <summary>A connection that replays a client's bytes and swallows what the daemon writes.</summary>
internal sealed class ReplayStream(Stream incoming) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => incoming.Read(buffer, offset, count);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) { }
}
