using System.Text;
using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.Daemon.Config;

/// <summary>How to read an rsyncd.conf.</summary>
public sealed class DaemonConfigOptions
{
    /// <summary>Throw on the problems rsync only logs (unknown parameters, bad booleans, malformed lines...).</summary>
    public bool Strict { get; init; }

    /// <summary>
    /// Read only the global part: stop at the first section header, as the daemon does when it starts
    /// (clientserver.c, daemon_main: lp_load(config, 1)); &amp;include then keeps no separate defaults.
    /// </summary>
    public bool GlobalsOnly { get; init; }

    /// <summary>
    /// --dparam / -M "NAME=VALUE" items. They apply where the global part ends (loadparm.c, set_dparams):
    /// before the first module, or after the file when it has none. An unknown name is fatal, as in rsync.
    /// </summary>
    public IReadOnlyList<string> DaemonParameters { get; init; } = [];

    /// <summary>Environment for %VAR% in non-string values, which are expanded while reading; the process environment when null.</summary>
    public Func<string, string?>? Environment { get; init; }
}

/// <summary>
/// A parsed rsyncd.conf, read as rsync reads it (params.c for the grammar, loadparm.c for the parameters):
/// the lines before the first [module] and those of any [global] section set daemon parameters and the
/// defaults later modules start from; [module] sections; keys matched case-insensitively with whitespace
/// ignored; &amp;include and &amp;merge of a file or a directory (its *.conf or *.inc files in name order).
/// Problems rsync only logs are collected in <see cref="Warnings"/>; the ones it refuses to go on from
/// throw <see cref="DaemonConfigException"/>.
/// </summary>
public sealed class DaemonConfig
{
    /// <summary>rsync's default config path when the daemon runs as root (RSYNCD_SYSCONF).</summary>
    public const string DefaultPath = "/etc/rsyncd.conf";

    private DaemonConfig(string fileName, DaemonGlobalSettings global, List<DaemonModule> modules, List<DaemonConfigDiagnostic> warnings)
    {
        FileName = fileName;
        Global = global;
        Modules = modules;
        Warnings = warnings;
    }

    /// <summary>The file that was read (the top one, when it includes others).</summary>
    public string FileName { get; }

    /// <summary>The global section as it stands at the end of the file.</summary>
    public DaemonGlobalSettings Global { get; }

    /// <summary>The modules in the order their sections first appear.</summary>
    public IReadOnlyList<DaemonModule> Modules { get; }

    /// <summary>What rsync would have logged and gone on from, each with its file and line.</summary>
    public IReadOnlyList<DaemonConfigDiagnostic> Warnings { get; }

    /// <summary>The module a client asks for: names match exactly, the last match wins (loadparm.c, lp_number).</summary>
    public DaemonModule? FindModule(string name)
    {
        for (int i = Modules.Count - 1; i >= 0; i--)
        {
            if (string.Equals(Modules[i].Name, name, StringComparison.Ordinal))
                return Modules[i];
        }
        return null;
    }

    /// <summary>Reads a config file.</summary>
    public static DaemonConfig Load(string path, DaemonConfigOptions? options = null)
    {
        byte[] data = Loader.ReadConfigFile(path, new SourceLocation(path, 0));
        return Loader.Run(data, path, options ?? new DaemonConfigOptions());
    }

    /// <summary>Reads config text; <paramref name="fileName"/> names it in messages. Relative includes resolve from the current directory, as in rsync.</summary>
    public static DaemonConfig Parse(string text, string fileName, DaemonConfigOptions? options = null) =>
        Loader.Run(NetRsync.Protocol.Text.NameText.ToBytes(text), fileName, options ?? new DaemonConfigOptions());

    /// <summary>
    /// Expands %NAME% where NAME starts with an upper-case letter and is set in the environment; anything
    /// else, an unset name or a lone '%', stays as written (loadparm.c, expand_vars, rsync 3.4).
    /// </summary>
    public static string ExpandVariables(string value, Func<string, string?>? lookup = null)
    {
        if (!value.Contains('%'))
            return value;
        lookup ??= System.Environment.GetEnvironmentVariable;
        var sb = new StringBuilder(value.Length);
        int f = 0;
        while (f < value.Length)
        {
            if (value[f] == '%' && f + 1 < value.Length && value[f + 1] is >= 'A' and <= 'Z')
            {
                int close = value.IndexOf('%', f + 1);
                if (close > 0)
                {
                    string? v = lookup(value[(f + 1)..close]);
                    if (v is not null)
                    {
                        sb.Append(v);
                        f = close + 1;
                        continue;
                    }
                }
            }
            sb.Append(value[f++]);
        }
        return sb.ToString();
    }

    /// <summary>Whether rsync knows a parameter by this name (loadparm.c, map_parameter).</summary>
    public static bool IsKnownParameter(string name) => DaemonParameters.Find(name) is not null;

    /// <summary>The state loadparm.c keeps while reading: current globals, the module being filled, the include stack.</summary>
    private sealed class Loader : IConfigSink
    {
        private const int MaxIncludeDepth = 32;

        private readonly DaemonConfigOptions _options;
        private readonly List<object?[]> _sections = [];
        private readonly Stack<object?[]> _saved = new();
        private readonly List<DaemonConfigDiagnostic> _warnings = [];
        private object?[] _vars;
        private bool _inGlobal = true;
        private int _current = -1;
        private bool _dparamsApplied;
        private int _depth;

        private Loader(DaemonConfigOptions options)
        {
            _options = options;
            _vars = new object?[DaemonParameters.Count];
            foreach (DaemonParameter p in DaemonParameters.All)
                _vars[p.Index] = p.DefaultValue;
        }

        public bool WantsSections => !_options.GlobalsOnly;

        public static DaemonConfig Run(byte[] data, string fileName, DaemonConfigOptions options)
        {
            var loader = new Loader(options);
            loader.CheckDaemonParameters();
            ConfigScanner.Scan(data, fileName, loader);
            loader.ApplyDaemonParameters();
            object?[] globals = loader._vars;
            var modules = loader._sections.Select(s => new DaemonModule(s, globals)).ToList();
            return new DaemonConfig(fileName, new DaemonGlobalSettings(globals), modules, loader._warnings);
        }

        public static byte[] ReadConfigFile(string path, SourceLocation where)
        {
            try
            {
                return Directory.Exists(path) ? [] : File.ReadAllBytes(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new DaemonConfigException(where, $"unable to open config file \"{path}\": {Describe(ex)}", ex);
            }
        }

        private static string Describe(Exception ex) => ex switch
        {
            FileNotFoundException or DirectoryNotFoundException => "No such file or directory (2)",
            UnauthorizedAccessException => "Permission denied (13)",
            _ => ex.Message,
        };

        public void Warn(SourceLocation where, string message)
        {
            if (_options.Strict)
                throw new DaemonConfigException(where, message);
            _warnings.Add(new DaemonConfigDiagnostic(where.FileName, where.Line, message));
        }

        // loadparm.c, do_section.
        public void Section(string name, SourceLocation where)
        {
            bool isGlobal = DaemonParameters.LooseEquals(name, "global");
            if (_inGlobal && !isGlobal && _sections.Count == 0)
                ApplyDaemonParameters();
            _inGlobal = isGlobal;
            if (isGlobal)
                return;
            if (name.Contains('/'))
                throw new DaemonConfigException(where, $"invalid section name in configuration file: {name}");

            for (int i = _sections.Count - 1; i >= 0; i--)
            {
                if (_sections[i][DaemonParameters.Name.Index] is string existing && DaemonParameters.LooseEquals(existing, name))
                {
                    _current = i;
                    return;
                }
            }
            object?[] section = (object?[])_vars.Clone();
            section[DaemonParameters.Name.Index] = name;
            _sections.Add(section);
            _current = _sections.Count - 1;
        }

        // loadparm.c, do_parameter.
        public void Parameter(string name, string value, SourceLocation where)
        {
            DaemonParameter? p = DaemonParameters.Find(name);
            if (p is null)
            {
                Warn(where, $"IGNORING unknown parameter \"{name}\"");
                return;
            }
            object?[] target;
            if (_inGlobal)
            {
                target = _vars;
            }
            else if (p.Scope == DaemonParameterScope.Global)
            {
                Warn(where, $"Global parameter {name} found in module section!");
                return;
            }
            else
            {
                target = _sections[_current];
            }
            Store(target, p, value, where);
        }

        private void Store(object?[] target, DaemonParameter p, string value, SourceLocation where)
        {
            if (p.Kind is not (DaemonParameterKind.String or DaemonParameterKind.Path))
                value = ExpandVariables(value, _options.Environment);

            switch (p.Kind)
            {
                case DaemonParameterKind.String:
                    target[p.Index] = value;
                    break;
                case DaemonParameterKind.Path:
                    int len = value.Length;
                    while (len > 1 && value[len - 1] == '/')
                        len--;
                    target[p.Index] = value[..len];
                    break;
                case DaemonParameterKind.Integer:
                    int n = CInt(value, out bool clean);
                    if (!clean)
                        Warn(where, $"Badly formed number in configuration file: \"{value}\" (read as {n}).");
                    target[p.Index] = n;
                    break;
                case DaemonParameterKind.Boolean:
                case DaemonParameterKind.TriState:
                    if (TryParseBoolean(value, p.Kind == DaemonParameterKind.TriState, out bool? b))
                        target[p.Index] = p.Kind == DaemonParameterKind.Boolean ? b!.Value : b;
                    else
                        Warn(where, $"Badly formed boolean in configuration file: \"{value}\".");
                    break;
                case DaemonParameterKind.Facility:
                    int? code = SyslogFacilities.Parse(value);
                    if (code is not null)
                        target[p.Index] = code.Value;
                    else
                        Warn(where, $"Unknown syslog facility in configuration file: \"{value}\".");
                    break;
            }
        }

        // params.c, parse_directives and include_config.
        public bool Directive(string name, string value, SourceLocation where)
        {
            bool include = string.Equals(name, "&include", StringComparison.OrdinalIgnoreCase);
            if (!include && !string.Equals(name, "&merge", StringComparison.OrdinalIgnoreCase))
                throw new DaemonConfigException(where, $"Unknown directive: {name}.");
            if (_depth >= MaxIncludeDepth)
                throw new DaemonConfigException(where, $"config files nested more than {MaxIncludeDepth} deep at \"{value}\"");

            int err = Posix.TryStat(value, out FileStatus st);
            if (err != 0)
                throw new DaemonConfigException(where, $"unable to stat config file \"{value}\": {Posix.StrError(err)} ({err})");

            bool manage = include && WantsSections;
            _depth++;
            try
            {
                if (st.IsRegular)
                {
                    if (manage)
                        Push();
                    bool go = ConfigScanner.Scan(ReadConfigFile(value, where), value, this);
                    if (manage)
                        Pop();
                    return go;
                }
                if (!st.IsDirectory)
                    throw new DaemonConfigException(where, $"config path \"{value}\" is neither a file nor a directory");

                string suffix = include ? ".conf" : ".inc";
                List<string> files;
                try
                {
                    files = [.. Directory.EnumerateFileSystemEntries(value)
                        .Select(System.IO.Path.GetFileName)
                        .Where(n => n!.EndsWith(suffix, StringComparison.Ordinal))
                        .Select(n => JoinPath(value, n!))
                        .OrderBy(f => Encoding.UTF8.GetBytes(f), ByteOrder.Instance)];
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new DaemonConfigException(where, $"unable to open config dir \"{value}\": {Describe(ex)}", ex);
                }
                if (files.Count == 0)
                    return true;

                bool result = true;
                for (int j = 0; j < files.Count; j++)
                {
                    if (manage)
                    {
                        if (j == 0)
                            Push();
                        else
                            Reset();
                    }
                    result = ConfigScanner.Scan(ReadConfigFile(files[j], where), files[j], this);
                    if (!result)
                        break;
                }
                if (manage)
                    Pop();
                return result;
            }
            finally
            {
                _depth--;
            }
        }

        private static string JoinPath(string dir, string name) => dir.EndsWith('/') ? dir + name : dir + "/" + name;

        // loadparm.c, do_section's "]push", "]reset" and "]pop": each also returns to the global context.
        private void Push()
        {
            _saved.Push((object?[])_vars.Clone());
            _inGlobal = true;
        }

        private void Reset()
        {
            _vars = (object?[])_saved.Peek().Clone();
            _inGlobal = true;
        }

        private void Pop()
        {
            _vars = _saved.Pop();
            _inGlobal = true;
        }

        private void CheckDaemonParameters()
        {
            for (int i = 0; i < _options.DaemonParameters.Count; i++)
            {
                string item = _options.DaemonParameters[i];
                int eq = item.IndexOf('=');
                if (eq < 0)
                    throw new DaemonConfigException("--dparam", 0, $"malformed --dparam \"{item}\": expected NAME=VALUE");
                if (DaemonParameters.Find(item[..eq]) is null)
                    throw new DaemonConfigException("--dparam", 0, $"Unknown parameter \"{item[..eq]}\"");
            }
        }

        // loadparm.c, set_dparams.
        private void ApplyDaemonParameters()
        {
            if (_dparamsApplied)
                return;
            _dparamsApplied = true;
            foreach (string item in _options.DaemonParameters)
            {
                int eq = item.IndexOf('=');
                string value = item[(eq + 1)..].TrimStart(' ', '\t', '\n', '\v', '\f', '\r');
                Parameter(item[..eq], value, new SourceLocation("--dparam", 0));
            }
        }

        private sealed class ByteOrder : IComparer<byte[]>
        {
            public static readonly ByteOrder Instance = new();

            public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
        }
    }

    /// <summary>Booleans as rsync reads them: yes/true/1, no/false/0, and for tri-states unset/-1 (loadparm.c, set_boolean).</summary>
    internal static bool TryParseBoolean(string value, bool allowUnset, out bool? result)
    {
        static bool Is(string v, string word) => DaemonParameters.LooseEquals(v, word);
        if (Is(value, "yes") || Is(value, "true") || Is(value, "1"))
            result = true;
        else if (Is(value, "no") || Is(value, "false") || Is(value, "0"))
            result = false;
        else if (allowUnset && (Is(value, "unset") || Is(value, "-1")))
            result = null;
        else
        {
            result = null;
            return false;
        }
        return true;
    }

    /// <summary>C's atoi: leading blanks, a sign, then digits; <paramref name="clean"/> tells whether that was all there was.</summary>
    internal static int CInt(string s, out bool clean)
    {
        int i = 0;
        while (i < s.Length && DaemonParameters.IsCSpace(s[i]))
            i++;
        bool negative = false;
        if (i < s.Length && s[i] is '+' or '-')
            negative = s[i++] == '-';
        int digitsStart = i;
        long n = 0;
        while (i < s.Length && s[i] is >= '0' and <= '9')
        {
            n = Math.Min(n * 10 + (s[i] - '0'), (long)int.MaxValue + 1);
            i++;
        }
        clean = i > digitsStart && i == s.Length;
        if (negative)
            n = -n;
        return (int)Math.Clamp(n, int.MinValue, int.MaxValue);
    }
}

/// <summary>syslog facility names as rsync accepts them (loadparm.c, enum_syslog_facility).</summary>
internal static class SyslogFacilities
{
    private static readonly (string Name, int Code)[] Names =
    [
        ("auth", 4 << 3), ("authpriv", 10 << 3), ("cron", 9 << 3), ("daemon", 3 << 3), ("ftp", 11 << 3),
        ("kern", 0), ("lpr", 6 << 3), ("mail", 2 << 3), ("news", 7 << 3), ("security", 4 << 3),
        ("syslog", 5 << 3), ("user", 1 << 3), ("uucp", 8 << 3),
        ("local0", 16 << 3), ("local1", 17 << 3), ("local2", 18 << 3), ("local3", 19 << 3),
        ("local4", 20 << 3), ("local5", 21 << 3), ("local6", 22 << 3), ("local7", 23 << 3),
    ];

    /// <summary>The facility code for a name (case-insensitive) or a positive number; null leaves the setting as it was.</summary>
    public static int? Parse(string value)
    {
        foreach ((string name, int code) in Names)
        {
            if (string.Equals(name, value, StringComparison.OrdinalIgnoreCase))
                return code;
        }
        int n = DaemonConfig.CInt(value, out _);
        return n > 0 ? n : null;
    }
}
