using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using NetRsync.SerSync.Config;

namespace NetRsync.SerSync.Plugins;

/// <summary>Something told about changed paths (full paths) once they settled.</summary>
public interface IChangePlugin
{
    string Name { get; }

    Task PublishAsync(string root, IReadOnlyList<string> fullPaths, CancellationToken cancel);
}

/// <summary>
/// sersync's command plugin: runs PREFIX FULLPATH SUFFIX for each changed file, directly (no shell,
/// so names with spaces or quotes stay one argument). PREFIX and SUFFIX are split on whitespace.
/// With the plugin's &lt;filter start="true"&gt;, only full paths matching an &lt;include
/// expression&gt; (whole-path regex) run the command.
/// </summary>
public sealed class CommandPlugin(CommandPluginSettings settings) : IChangePlugin
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(10);
    private readonly Regex[] _includes = settings.IncludeExpressions.Select(e => new Regex(@"\A(?:" + e + @")\z", RegexOptions.CultureInvariant)).ToArray();
    private readonly string[] _prefix = settings.Prefix.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
    private readonly string[] _suffix = settings.Suffix.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);

    public string Name => "command";

    public bool Wants(string fullPath) => _includes.Length == 0 || _includes.Any(r => r.IsMatch(fullPath));

    public IReadOnlyList<string> CommandFor(string fullPath) => [.. _prefix, fullPath, .. _suffix];

    public async Task PublishAsync(string root, IReadOnlyList<string> fullPaths, CancellationToken cancel)
    {
        if (_prefix.Length == 0)
        {
            Log.Error("command plugin: <param prefix> is empty; nothing to run");
            return;
        }
        foreach (string path in fullPaths)
        {
            if (!Wants(path) || !File.Exists(path))
                continue;
            var command = CommandFor(path);
            var psi = new ProcessStartInfo(command[0]) { UseShellExecute = false };
            foreach (string arg in command.Skip(1))
                psi.ArgumentList.Add(arg);
            try
            {
                using var process = Process.Start(psi)!;
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                timeout.CancelAfter(CommandTimeout);
                await process.WaitForExitAsync(timeout.Token);
                if (process.ExitCode != 0)
                {
                    string message = $"command plugin: {string.Join(' ', command)} exited with {process.ExitCode}";
                    if (settings.IgnoreError)
                        Log.Info(message);
                    else
                        Log.Error(message);
                }
            }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or OperationCanceledException)
            {
                Log.Error($"command plugin: cannot run {command[0]}: {ex.Message}");
            }
        }
    }
}

/// <summary>sersync's socket plugin: each changed full path, one per line (UTF-8, '\n'), over one
/// TCP connection per batch to every &lt;deshost&gt; of the matching &lt;localpath&gt;.</summary>
public sealed class SocketPlugin(IReadOnlyList<SocketPluginTarget> targets) : IChangePlugin
{
    public string Name => "socket";

    public async Task PublishAsync(string root, IReadOnlyList<string> fullPaths, CancellationToken cancel)
    {
        foreach (var target in targets.Where(t => t.WatchPath == root))
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(target.Host, target.Port, cancel);
                await using var stream = client.GetStream();
                var text = new StringBuilder();
                foreach (string path in fullPaths)
                    text.Append(path).Append('\n');
                await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString()), cancel);
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                Log.Error($"socket plugin: {target.Host}:{target.Port}: {ex.Message}");
            }
        }
    }
}

/// <summary>The http plugin: one POST per batch to every URL of the matching &lt;localpath&gt;, with
/// the body <c>{"root":"/watched","paths":["/watched/a", ...]}</c> (application/json).</summary>
public sealed class HttpPlugin(IReadOnlyList<HttpPluginTarget> targets) : IChangePlugin
{
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(30) };

    public string Name => "http";

    public sealed record Notification(string root, IReadOnlyList<string> paths);

    public async Task PublishAsync(string root, IReadOnlyList<string> fullPaths, CancellationToken cancel)
    {
        foreach (var target in targets.Where(t => t.WatchPath == root))
        {
            try
            {
                using var response = await Client.PostAsJsonAsync(target.Url, new Notification(root, fullPaths), cancel);
                if (!response.IsSuccessStatusCode)
                    Log.Error($"http plugin: {target.Url}: HTTP {(int)response.StatusCode}");
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                Log.Error($"http plugin: {target.Url}: {ex.Message}");
            }
        }
    }
}

/// <summary>Feeds settled batches to the plugins on their own task, through a bounded queue.</summary>
public sealed class PluginHost(IReadOnlyList<IChangePlugin> plugins)
{
    private readonly Channel<(string Root, IReadOnlyList<string> Paths)> _queue =
        Channel.CreateBounded<(string, IReadOnlyList<string>)>(new BoundedChannelOptions(1024) { SingleReader = true });

    public bool Any => plugins.Count > 0;

    public void Publish(string root, IReadOnlyList<string> fullPaths)
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
