using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using NetRsync.Protocol.Text;
using NetRsync.SerSync.Config;

namespace NetRsync.SerSync.Plugins;

/// <summary>Something told about changed paths (full paths, as bytes) once they settled.</summary>
public interface IChangePlugin
{
    string Name { get; }

    Task PublishAsync(string root, IReadOnlyList<byte[]> fullPaths, CancellationToken cancel);
}

/// <summary>
/// sersync's command plugin: runs PREFIX FULLPATH SUFFIX for each changed file, directly (no shell,
/// so names with spaces or quotes stay one argument, and the path argument is the name's own bytes).
/// PREFIX and SUFFIX are split on whitespace. With the plugin's &lt;filter start="true"&gt;, only full
/// paths matching an &lt;include expression&gt; (whole-path regex, matched on bytes as the exclude
/// filter is) run the command.
/// </summary>
public sealed class CommandPlugin(CommandPluginSettings settings) : IChangePlugin
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(10);
    private readonly Regex[] _includes = settings.IncludeExpressions.Select(e => PathFilter.ByteRegex(e)).ToArray();
    private readonly byte[][] _prefix = Words(settings.Prefix);
    private readonly byte[][] _suffix = Words(settings.Suffix);

    public string Name => "command";

    private static byte[][] Words(string text) =>
        text.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(NameText.ToBytes).ToArray();

    public bool Wants(byte[] fullPath) => _includes.Length == 0 || PathFilter.AnyMatches(_includes, fullPath);

    public IReadOnlyList<byte[]> CommandFor(byte[] fullPath) => [.. _prefix, fullPath, .. _suffix];

    public async Task PublishAsync(string root, IReadOnlyList<byte[]> fullPaths, CancellationToken cancel)
    {
        if (_prefix.Length == 0)
        {
            Log.Error("command plugin: <param prefix> is empty; nothing to run");
            return;
        }
        foreach (byte[] path in fullPaths)
        {
            if (!Wants(path) || FileSystemBytes.LStat(path) is FileSystemBytes.EntryType.Missing or FileSystemBytes.EntryType.Directory)
                continue;
            var command = CommandFor(path);
            try
            {
                int pid = ChildProcess.Start(command);
                int exitCode = await ChildProcess.WaitAsync(pid, CommandTimeout, cancel);
                if (exitCode != 0)
                {
                    string message = $"command plugin: {string.Join(' ', command.Select(a => Names.Display(a)))} exited with {exitCode}";
                    if (settings.IgnoreError)
                        Log.Info(message);
                    else
                        Log.Error(message);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                Log.Error($"command plugin: {Names.Display(command[0])}: {ex.Message}");
            }
        }
    }
}

/// <summary>sersync's socket plugin: each changed full path, one per line (its bytes, then '\n'), over one
/// TCP connection per batch to every &lt;deshost&gt; of the matching &lt;localpath&gt;.</summary>
public sealed class SocketPlugin(IReadOnlyList<SocketPluginTarget> targets) : IChangePlugin
{
    public string Name => "socket";

    public async Task PublishAsync(string root, IReadOnlyList<byte[]> fullPaths, CancellationToken cancel)
    {
        foreach (var target in targets.Where(t => t.WatchPath == root))
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(target.Host, target.Port, cancel);
                await using var stream = client.GetStream();
                await stream.WriteAsync(Lines(fullPaths), cancel);
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                Log.Error($"socket plugin: {target.Host}:{target.Port}: {ex.Message}");
            }
        }
    }

    public static byte[] Lines(IReadOnlyList<byte[]> fullPaths)
    {
        var text = new MemoryStream();
        foreach (byte[] path in fullPaths)
        {
            text.Write(path);
            text.WriteByte((byte)'\n');
        }
        return text.ToArray();
    }
}

/// <summary>The http plugin: one POST per batch to every URL of the matching &lt;localpath&gt;, with
/// the body <c>{"root":"/watched","paths":["/watched/a", ...]}</c> (application/json). A byte of a
/// name that is not valid UTF-8 is written as the lone surrogate \udcXX (PEP 383), so a reader can
/// get the bytes back (Python: <c>os.fsencode(path)</c>).</summary>
public sealed class HttpPlugin(IReadOnlyList<HttpPluginTarget> targets) : IChangePlugin
{
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(30) };

    public string Name => "http";

    public async Task PublishAsync(string root, IReadOnlyList<byte[]> fullPaths, CancellationToken cancel)
    {
        foreach (var target in targets.Where(t => t.WatchPath == root))
        {
            try
            {
                using var content = new ByteArrayContent(Body(root, fullPaths));
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                using var response = await Client.PostAsync(target.Url, content, cancel);
                if (!response.IsSuccessStatusCode)
                    Log.Error($"http plugin: {target.Url}: HTTP {(int)response.StatusCode}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                Log.Error($"http plugin: {target.Url}: {ex.Message}");
            }
        }
    }

    public static byte[] Body(string root, IReadOnlyList<byte[]> fullPaths)
    {
        var body = new MemoryStream();
        body.Write("{\"root\":"u8);
        JsonString(body, NameText.ToBytes(root));
        body.Write(",\"paths\":["u8);
        for (int i = 0; i < fullPaths.Count; i++)
        {
            if (i > 0)
                body.WriteByte((byte)',');
            JsonString(body, fullPaths[i]);
        }
        body.Write("]}"u8);
        return body.ToArray();
    }

    private static void JsonString(MemoryStream output, ReadOnlySpan<byte> name)
    {
        output.WriteByte((byte)'"');
        while (!name.IsEmpty)
        {
            byte b = name[0];
            if (b < 0x80)
            {
                if (b is (byte)'"' or (byte)'\\')
                    output.Write([(byte)'\\', b]);
                else if (b < 0x20 || b == 0x7F)
                    output.Write(Encoding.ASCII.GetBytes($"\\u{b:x4}"));
                else
                    output.WriteByte(b);
                name = name[1..];
            }
            else if (Rune.DecodeFromUtf8(name, out _, out int used) == System.Buffers.OperationStatus.Done)
            {
                output.Write(name[..used]);
                name = name[used..];
            }
            else
            {
                output.Write(Encoding.ASCII.GetBytes($"\\udc{b:x2}"));
                name = name[1..];
            }
        }
        output.WriteByte((byte)'"');
    }
}

/// <summary>Feeds settled batches to the plugins on their own task, through a bounded queue.</summary>
public sealed class PluginHost(IReadOnlyList<IChangePlugin> plugins)
{
    private readonly Channel<(string Root, IReadOnlyList<byte[]> Paths)> _queue =
        Channel.CreateBounded<(string, IReadOnlyList<byte[]>)>(new BoundedChannelOptions(1024) { SingleReader = true });

    public bool Any => plugins.Count > 0;

    public void Publish(string root, IReadOnlyList<byte[]> fullPaths)
    {
        if (plugins.Count == 0 || fullPaths.Count == 0)
            return;
        if (!_queue.Writer.TryWrite((root, fullPaths)))
            Log.Error($"plugins are {1024} batches behind; {fullPaths.Count} path(s) not passed on");
    }

    public async Task RunAsync(CancellationToken cancel)
    {
        try
        {
            await foreach (var (root, paths) in _queue.Reader.ReadAllAsync(cancel))
                foreach (var plugin in plugins)
                    await plugin.PublishAsync(root, paths, cancel);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
