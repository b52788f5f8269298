using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;

namespace NetRsync.SerSync.Config;

/// <summary>A confxml.xml that cannot be used as written.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>
/// Reads sersync 2.5's confxml.xml. The encoding the declaration names is honoured (ISO-8859-1 in the
/// stock file, whose UTF-8 comments then read as Latin-1 text, harmlessly). Attribute values may carry
/// {NAME} placeholders, filled from the environment the way start.sh fills {target_host} with sed.
/// </summary>
public static partial class ConfigLoader
{
    public static WatchConfig Load(string path, Func<string, string?>? environment = null)
    {
        if (!File.Exists(path))
            throw new ConfigException($"{path}: no such config file");
        XDocument doc;
        try
        {
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };
            using var reader = XmlReader.Create(path, settings);
            doc = XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException ex)
        {
            throw new ConfigException($"{path}: not well-formed XML: {ex.Message}");
        }
        return Parse(doc, path, environment ?? Environment.GetEnvironmentVariable);
    }

    public static WatchConfig ParseText(string xml, Func<string, string?>? environment = null)
    {
        XDocument doc;
        try
        {
            doc = XDocument.Parse(xml, LoadOptions.SetLineInfo);
        }
        catch (XmlException ex)
        {
            throw new ConfigException($"config: not well-formed XML: {ex.Message}");
        }
        return Parse(doc, "config", environment ?? Environment.GetEnvironmentVariable);
    }

    private static WatchConfig Parse(XDocument doc, string source, Func<string, string?> env)
    {
        var ctx = new Context(source, env);
        var head = doc.Root ?? throw new ConfigException($"{source}: empty document");
        if (head.Name.LocalName != "head")
            throw new ConfigException($"{source}: the root element is <{head.Name.LocalName}>, expected <head>");

        var sersync = head.Element("sersync") ?? throw ctx.Error(head, "no <sersync> element");
        var filter = head.Element("filter");
        bool filterOn = ctx.Switch(filter);
        var excludes = filter?.Elements("exclude").Select(e => ctx.Required(e, "expression")).ToList() ?? [];
        if (filterOn)
            foreach (var (expr, el) in excludes.Zip(filter!.Elements("exclude")))
                ctx.CheckRegex(el, expr);

        var watches = new List<WatchedPath>();
        foreach (var local in sersync.Elements("localpath"))
        {
            string watch = ctx.Required(local, "watch");
            var remotes = local.Elements("remote")
                .Select(r => new RemoteTarget(ctx.Required(r, "ip"), ctx.Required(r, "name")))
                .ToList();
            // Each remote is one bit of the two-way bookkeeping (TwoWay.DirtySet).
            if (remotes.Count > TwoWay.DirtySet.MaxRemotesPerRoot)
                throw ctx.Error(local, $"more than {TwoWay.DirtySet.MaxRemotesPerRoot} <remote> elements for one localpath");
            watches.Add(new WatchedPath(Path.GetFullPath(watch).TrimEnd('/') is { Length: > 0 } full ? full : "/", remotes));
        }
        if (watches.Count == 0)
            throw ctx.Error(sersync, "no <localpath watch=\"...\"> to watch");
        foreach (var group in watches.GroupBy(w => w.Path).Where(g => g.Count() > 1))
            throw ctx.Error(sersync, $"localpath {group.Key} is listed twice");

        var rsync = sersync.Element("rsync");
        var auth = rsync?.Element("auth");
        var port = rsync?.Element("userDefinedPort");
        var timeout = rsync?.Element("timeout");
        var rsyncSettings = new RsyncSettings
        {
            CommonParams = ctx.Attr(rsync?.Element("commonParams"), "params") ?? "-artuz",
            AuthEnabled = ctx.Switch(auth),
            AuthUser = ctx.Attr(auth, "users"),
            PasswordFile = ctx.Attr(auth, "passwordfile"),
            Port = ctx.Switch(port) ? ctx.Int(port!, "port", 1, 65535) : null,
            TimeoutSeconds = ctx.Switch(timeout) ? ctx.Int(timeout!, "time", 0, int.MaxValue) : null,
            Ssh = ctx.Switch(rsync?.Element("ssh")),
        };
        if (rsyncSettings.AuthEnabled && (string.IsNullOrEmpty(rsyncSettings.AuthUser) || string.IsNullOrEmpty(rsyncSettings.PasswordFile)))
            throw ctx.Error(auth!, "<auth start=\"true\"> needs users and passwordfile");

        var failLog = sersync.Element("failLog");
        var crontab = sersync.Element("crontab");
        var crontabFilter = crontab?.Element("crontabfilter");

        var inotify = head.Element("inotify");
        var events = new EventSwitches
        {
            Delete = ctx.Switch(inotify?.Element("delete"), false),
            CreateFolder = ctx.Switch(inotify?.Element("createFolder"), true),
            CreateFile = ctx.Switch(inotify?.Element("createFile"), false),
            CloseWrite = ctx.Switch(inotify?.Element("closeWrite"), true),
            MoveFrom = ctx.Switch(inotify?.Element("moveFrom"), true),
            MoveTo = ctx.Switch(inotify?.Element("moveTo"), true),
            Attrib = ctx.Switch(inotify?.Element("attrib"), false),
            Modify = ctx.Switch(inotify?.Element("modify"), false),
        };

        string? enabledPlugin = null;
        var pluginSwitch = sersync.Element("plugin");
        if (ctx.Switch(pluginSwitch))
            enabledPlugin = ctx.Required(pluginSwitch!, "name");

        CommandPluginSettings? command = null;
        var sockets = new List<SocketPluginTarget>();
        var https = new List<HttpPluginTarget>();
        bool refreshCdn = false;
        foreach (var plugin in head.Elements("plugin"))
        {
            switch (ctx.Required(plugin, "name"))
            {
                case "command":
                    var param = plugin.Element("param");
                    var includeFilter = plugin.Element("filter");
                    var includes = ctx.Switch(includeFilter)
                        ? includeFilter!.Elements("include").Select(e => ctx.CheckRegex(e, ctx.Required(e, "expression"))).ToList()
                        : [];
                    command = new CommandPluginSettings(
                        ctx.Attr(param, "prefix") ?? "",
                        ctx.Attr(param, "suffix") ?? "",
                        !string.Equals(ctx.Attr(param, "ignoreError"), "false", StringComparison.OrdinalIgnoreCase),
                        includes);
                    break;
                case "socket":
                    foreach (var local in plugin.Elements("localpath"))
                        foreach (var host in local.Elements("deshost"))
                            sockets.Add(new SocketPluginTarget(Path.GetFullPath(ctx.Required(local, "watch")).TrimEnd('/'),
                                ctx.Required(host, "ip"), ctx.Int(host, "port", 1, 65535)));
                    break;
                case "http":
                    foreach (var local in plugin.Elements("localpath"))
                        foreach (var host in local.Elements("deshost"))
                            https.Add(new HttpPluginTarget(Path.GetFullPath(ctx.Required(local, "watch")).TrimEnd('/'),
                                ctx.Attr(host, "url") ?? $"http://{ctx.Required(host, "ip")}:{ctx.Int(host, "port", 1, 65535)}/"));
                    break;
                case "refreshCDN":
                    refreshCdn = true;
                    break;
                default:
                    throw ctx.Error(plugin, $"unknown plugin \"{plugin.Attribute("name")?.Value}\" (known: command, socket, http, refreshCDN)");
            }
        }

        var settle = head.Element("settle");
        var rescan = head.Element("rescan");
        return new WatchConfig
        {
            Debug = ctx.Switch(head.Element("debug")),
            XfsFileSystem = string.Equals(ctx.Attr(head.Element("fileSystem"), "xfs"), "true", StringComparison.OrdinalIgnoreCase),
            FilterEnabled = filterOn,
            ExcludeExpressions = filterOn ? excludes : [],
            Events = events,
            Watches = watches,
            Rsync = rsyncSettings,
            FailLogPath = ctx.Attr(failLog, "path"),
            FailRetryMinutes = failLog?.Attribute("timeToExecute") is null ? 60 : ctx.Int(failLog, "timeToExecute", 1, int.MaxValue),
            CrontabEnabled = ctx.Switch(crontab),
            CrontabMinutes = crontab?.Attribute("schedule") is null ? 600 : ctx.Int(crontab, "schedule", 1, int.MaxValue),
            CrontabExcludes = ctx.Switch(crontabFilter)
                ? crontabFilter!.Elements("exclude").Select(e => ctx.Required(e, "expression")).ToList()
                : [],
            EnabledPlugin = enabledPlugin,
            CommandPlugin = command,
            SocketTargets = sockets,
            HttpTargets = https,
            RefreshCdnConfigured = refreshCdn,
            SettleWindow = settle is null ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromMilliseconds(ctx.Int(settle, "ms", 0, 60_000)),
            RescanInterval = rescan is null ? TimeSpan.FromMinutes(5) : TimeSpan.FromMinutes(ctx.Int(rescan, "minutes", 1, int.MaxValue)),
        };
    }

    [GeneratedRegex(@"\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex Placeholder();

    private sealed class Context(string source, Func<string, string?> env)
    {
        public ConfigException Error(XElement at, string message)
        {
            var info = (IXmlLineInfo)at;
            string where = info.HasLineInfo() ? $"{source}:{info.LineNumber}" : source;
            return new ConfigException($"{where}: <{at.Name.LocalName}>: {message}");
        }

        public string? Attr(XElement? element, string name)
        {
            if (element?.Attribute(name) is not { } attribute)
                return null;
            return Placeholder().Replace(attribute.Value, m => env(m.Groups[1].Value)
                ?? throw Error(element, $"{name}=\"{attribute.Value}\" names the environment variable {m.Groups[1].Value}, which is not set"));
        }

        public string Required(XElement element, string name)
        {
            string? value = Attr(element, name);
            if (string.IsNullOrWhiteSpace(value))
                throw Error(element, $"the attribute {name} is missing or empty");
            return value;
        }

        public bool Switch(XElement? element, bool missing = false)
        {
            if (element is null)
                return missing;
            string? value = Attr(element, "start");
            if (value is null)
                return missing;
            if (value.Equals("true", StringComparison.OrdinalIgnoreCase))
                return true;
            if (value.Equals("false", StringComparison.OrdinalIgnoreCase))
                return false;
            throw Error(element, $"start=\"{value}\" is neither true nor false");
        }

        public int Int(XElement element, string name, int min, int max)
        {
            string value = Required(element, name);
            if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < min || n > max)
                throw Error(element, $"{name}=\"{value}\" is not a whole number from {min} to {max}");
            return n;
        }

        public string CheckRegex(XElement element, string expression)
        {
            try
            {
                // Compiled as it is matched: over the bytes of names (see PathFilter).
                _ = PathFilter.ByteRegex(expression);
            }
            catch (ArgumentException ex)
            {
                throw Error(element, $"expression=\"{expression}\" is not a valid regular expression: {ex.Message}");
            }
            return expression;
        }
    }
}
