using System.Runtime.InteropServices;
using NetRsync.Protocol.Hosting;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.TwoWay;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Inotify;
using NetRsync.SerSync.Plugins;
using NetRsync.SerSync.Sync;
using NetRsync.SerSync.TwoWay;

namespace NetRsync.SerSync;

/// <summary>Wires the watcher, the batcher, the pushers, the plugins and the timers together.</summary>
public sealed class WatchService(WatchConfig config, CommandLine commandLine)
{
    private static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DrainDeadline = TimeSpan.FromSeconds(10);
    private const int SigUsr1 = 10;

    public async Task<int> RunAsync(CancellationToken cancel)
    {
        Log.DebugEnabled = config.Debug;
        var filter = new PathFilter(config.ExcludeExpressions);
        var roots = config.Watches.Select(w => w.Path).ToList();
        bool pushing = commandLine.PluginOnly is null;

        // Plugin-only runs push nothing, so they leave the push queue to the pushing runs.
        using var queue = FailQueue.Open(pushing ? config.FailLogPath : null);
        var workers = new SemaphoreSlim(commandLine.Workers);
        var retryCap = TimeSpan.FromMinutes(Math.Min(1, config.FailRetryMinutes));
        // The daemon names paths by their real path; so do the node link and the two-way bookkeeping.
        var realRoots = roots.Select(r => NameText.ToBytes(Posix.RealPath(r) ?? r)).ToList();
        var dirty = new DirtySet(realRoots, roots.Select((_, i) => pushing ? config.Watches[i].Remotes.Count : 0).ToList());
        var pushers = new List<RemotePusher>[roots.Count];
        for (int i = 0; i < roots.Count; i++)
        {
            int root = i;
            pushers[i] = pushing
                ? config.Watches[i].Remotes.Select((r, remote) => new RemotePusher(roots[root], r, config.Rsync, filter, config.CrontabExcludes, queue, workers, retryCap)
                    { Dirty = dirty, RootIndex = root, RemoteIndex = remote }).ToList()
                : [];
        }
        var allPushers = pushers.SelectMany(p => p).ToList();

        foreach (var push in queue.Recovered)
        {
            var owner = allPushers.FirstOrDefault(p => p.Root == push.Root && p.Remote.Key == push.Remote);
            if (owner is null)
            {
                Log.Error($"fail queue: {push.Paths.Count} path(s) for {push.Root} -> {push.Remote} belong to no configured remote; left out");
                queue.Done(push.Id);
                continue;
            }
            Log.Info($"fail queue: resuming {push.Paths.Count} path(s) for {owner.Name}");
            owner.Recover(push);
            // Not yet delivered: still local changes should the peer send these paths meanwhile.
            dirty.Owed(owner.RootIndex, owner.RemoteIndex, push.Paths);
        }

        var plugins = new PluginHost(CreatePlugins());
        var batcher = new ChangeBatcher(roots.Count, config.SettleWindow, batch =>
        {
            foreach (var pusher in pushers[batch.RootIndex])
                pusher.Enqueue(batch.Paths, batch.FirstEventTimestamp);
            if (plugins.Any)
            {
                string root = roots[batch.RootIndex];
                byte[] rootBytes = NameText.ToBytes(root);
                plugins.Publish(root, batch.Paths
                    .Where(kv => kv.Key.Length > 0 && (kv.Value & ChangeFlags.Update) != 0)
                    .Select(kv => Names.Join(rootBytes, kv.Key)).ToList());
            }
        });

        var gate = new EchoGate(realRoots, batcher, dirty);
        using var watcher = new TreeWatcher(roots, filter, config.Events, gate);
        gate.CatchUpEvents = watcher.CatchUp;
        watcher.WatchAll();
        // Plugin-only runs push nothing: they neither need the daemon's records nor may answer its questions.
        var linkMessages = new LinkMessages();
        using var link = pushing ? OpenNodeLink(realRoots, gate, linkMessages) : null;

        if (commandLine.FullSyncFirst)
        {
            foreach (var pusher in allPushers)
                pusher.Enqueue(new Dictionary<byte[], ChangeFlags>(Names.Comparer) { [Names.Empty] = FullSyncFlags }, 0);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var watcherThread = new Thread(() => watcher.Run(stop.Token)) { IsBackground = true, Name = "inotify" };
        watcherThread.Start();
        var batcherTask = batcher.RunAsync(stop.Token);
        var pusherTasks = allPushers.Select(p => Task.Run(() => p.RunAsync(stop.Token))).ToList();
        var pluginTask = plugins.RunAsync(stop.Token);
        var timers = new List<Task>
        {
            EveryAsync(StatusInterval, () => Log.Info(Counters.Summary(queue.Depth, watcher.WatchCount, dirty.Count)), stop.Token),
            EveryAsync(config.RescanInterval, () =>
            {
                if (!watcher.WatchLimitHit)
                    return;
                Log.Info("watch limit was hit: rescanning every watched directory");
                for (int i = 0; i < roots.Count; i++)
                {
                    watcher.Rewatch(i);
                    gate.Report(i, Names.Empty, FullSyncFlags);
                }
            }, stop.Token),
        };
        if (link is not null)
            timers.Add(SayOnceWhileAbsentAsync(link, linkMessages, stop.Token));
        if (config.CrontabEnabled && pushing)
        {
            timers.Add(EveryAsync(TimeSpan.FromMinutes(config.CrontabMinutes), () =>
            {
                Log.Info("crontab: full sync of every watched directory");
                foreach (var pusher in allPushers)
                    pusher.Enqueue(new Dictionary<byte[], ChangeFlags>(Names.Comparer) { [Names.Empty] = FullSyncFlags | ChangeFlags.Crontab }, 0);
            }, stop.Token));
        }

        // kill -USR1 prints the counters on demand.
        using var statusSignal = PosixSignalRegistration.Create((PosixSignal)SigUsr1, ctx =>
        {
            ctx.Cancel = true;
            Log.Info(Counters.Summary(queue.Depth, watcher.WatchCount, dirty.Count));
        });

        string ready = $"watching {watcher.WatchCount} directories under {string.Join(", ", roots)}; " +
            (pushing ? $"pushing to {string.Join(", ", allPushers.Select(p => RemotePusher.RemoteDisplay(p.Remote, config.Rsync)).Distinct())}" : $"plugin {commandLine.PluginOnly} only") +
            $"; {queue.Recovered.Sum(p => p.Paths.Count)} path(s) queued from before";
        Log.Info("netsersync ready: " + ready);
        SystemdNotify.Ready(ready);

        try
        {
            await Task.Delay(Timeout.Infinite, cancel);
        }
        catch (OperationCanceledException)
        {
        }

        Log.Info("stopping: pushing what is pending");
        SystemdNotify.Stopping("pushing what is pending");
        await stop.CancelAsync();
        watcherThread.Join();
        await batcherTask;
        batcher.Flush();
        await Task.WhenAll(timers);
        await Task.WhenAll(pusherTasks);
        // One last pass for what settled meanwhile; whatever does not finish stays in the fail queue.
        using (var drain = new CancellationTokenSource(DrainDeadline))
        {
            var finals = allPushers.Select(p => Task.Run(() => DrainAsync(p, drain.Token))).ToList();
            await Task.WhenAll(finals);
        }
        await pluginTask;
        Log.Info(Counters.Summary(queue.Depth, 0, dirty.Count));
        return 0;
    }

    /// <summary>-r and crontab runs push everything, with --delete when deletions are propagated at all,
    /// as sersync's <c>rsync PARAMS -R [--delete] ./ HOST::MODULE</c> did.</summary>
    private ChangeFlags FullSyncFlags => config.Events.Delete ? ChangeFlags.Rescan | ChangeFlags.Mirror : ChangeFlags.Rescan;

    /// <summary>
    /// Connects to the local netrsyncd (in the background, again and again while it is absent), so
    /// what it writes into the watched trees is not pushed back and its questions about local
    /// changes are answered. A node without a daemon simply stays unconnected.
    /// </summary>
    private static NodeLinkClient? OpenNodeLink(IReadOnlyList<byte[]> realRoots, EchoGate gate, LinkMessages messages)
    {
        NodeLinkClient link;
        try
        {
            link = new NodeLinkClient(NodeLink.DefaultRunDirectory(), realRoots, gate) { Log = messages.Say };
        }
        catch (Exception ex) when (ex is ArgumentException or IOException)
        {
            Log.Error($"node link: {ex.Message}; files netrsyncd writes here will be pushed back");
            return null;
        }
        gate.DrainLink = link.Drain;
        link.Start();
        return link;
    }

    /// <summary>The link says why each attempt to connect failed; once is enough until something changes.</summary>
    private sealed class LinkMessages
    {
        private string? _last;

        public bool Any => Volatile.Read(ref _last) is not null;

        public void Say(string message)
        {
            if (message.Length == 0 || message == Interlocked.Exchange(ref _last, message))
                return;
            Log.Info(message);
        }
    }

    /// <summary>Says once, a moment after the start, that no daemon has been reached yet, unless the link said why already.</summary>
    private static async Task SayOnceWhileAbsentAsync(NodeLinkClient link, LinkMessages messages, CancellationToken cancel)
    {
        try
        {
            await Task.Delay(NodeLinkGrace, cancel);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (link.Connections == 0 && !messages.Any)
            Log.Info($"node link: no netrsyncd at {NodeLink.SocketPath(NodeLink.DefaultRunDirectory())} yet; trying again every second " +
                "(until it is there, nothing is known of what it writes)");
    }

    /// <summary>How long the first connection to the local daemon may take before its absence is logged.</summary>
    private static readonly TimeSpan NodeLinkGrace = TimeSpan.FromSeconds(2);

    private static async Task DrainAsync(RemotePusher pusher, CancellationToken deadline)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(deadline);
        var run = pusher.RunAsync(done.Token);
        while (!pusher.Idle && !deadline.IsCancellationRequested)
            await Task.Delay(20, CancellationToken.None);
        await done.CancelAsync();
        await run;
    }

    private List<IChangePlugin> CreatePlugins()
    {
        string? name = commandLine.PluginOnly ?? config.EnabledPlugin;
        return name switch
        {
            null => [],
            "command" => [new CommandPlugin(config.CommandPlugin ?? throw new ConfigException("the command plugin is switched on but there is no <plugin name=\"command\"> section"))],
            "socket" => [new SocketPlugin(config.SocketTargets)],
            "http" => [new HttpPlugin(config.HttpTargets)],
            "refreshCDN" => throw new ConfigException("the refreshCDN plugin (ChinaCache's purge API) is not supported; switch it off"),
            _ => throw new ConfigException($"unknown plugin \"{name}\" (known: command, socket, http)"),
        };
    }

    private static async Task EveryAsync(TimeSpan interval, Action action, CancellationToken cancel)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancel))
                action();
        }
        catch (OperationCanceledException)
        {
        }
    }
}
