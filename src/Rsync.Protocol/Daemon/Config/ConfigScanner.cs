using System.Text;

namespace NetRsync.Protocol.Daemon.Config;

/// <summary>Where a config item starts.</summary>
internal readonly record struct SourceLocation(string FileName, int Line);

/// <summary>What the scanner hands each item to (loadparm.c's do_section / do_parameter and params.c's directives).</summary>
internal interface IConfigSink
{
    /// <summary>False when only the global part is wanted: the scan stops at the first section header.</summary>
    bool WantsSections { get; }

    void Section(string name, SourceLocation where);

    void Parameter(string name, string value, SourceLocation where);

    /// <summary>An &amp;include / &amp;merge line; false when the scan must stop (a section reached in globals-only mode).</summary>
    bool Directive(string name, string value, SourceLocation where);

    void Warn(SourceLocation where, string message);
}

/// <summary>
/// The line grammar of rsyncd.conf, byte for byte as params.c reads it: blank lines, comment lines
/// ('#' or ';' as the first non-blank), "[section]" headers, "name = value" lines, '&amp;' directives,
/// a trailing '\' continuing a line, '\r' dropped from values. Fatal errors throw
/// <see cref="DaemonConfigException"/>; the rest are warnings, as rsync only logs them.
/// </summary>
internal sealed class ConfigScanner
{
    private const int Eof = -1;

    private readonly byte[] _data;
    private readonly string _fileName;
    private readonly IConfigSink _sink;
    private int _pos;
    private int _line = 1;
    private byte[] _buf = new byte[256];

    private ConfigScanner(byte[] data, string fileName, IConfigSink sink)
    {
        _data = data;
        _fileName = fileName;
        _sink = sink;
    }

    /// <summary>Scans a whole file; false when it stopped at a section header because the sink wants no sections.</summary>
    public static bool Scan(byte[] data, string fileName, IConfigSink sink) => new ConfigScanner(data, fileName, sink).Run();

    private static bool IsSpace(int c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private int Next()
    {
        if (_pos >= _data.Length)
            return Eof;
        byte b = _data[_pos++];
        if (b == '\n')
            _line++;
        return b;
    }

    // params.c, EatWhitespace: skips blanks but stops at a newline.
    private int SkipBlanks()
    {
        int c = Next();
        while (IsSpace(c) && c != '\n')
            c = Next();
        return c;
    }

    // params.c, EatComment: skips to the end of the line (NUL counts as end of input).
    private int SkipToLineEnd()
    {
        int c = Next();
        while (c != '\n' && c > 0)
            c = Next();
        return c;
    }

    private void Put(int index, int c)
    {
        if (index >= _buf.Length)
            Array.Resize(ref _buf, _buf.Length * 2);
        _buf[index] = (byte)c;
    }

    private string Text(int start, int end) => NetRsync.Protocol.Text.NameText.FromBytes(_buf.AsSpan(start, Math.Max(0, end - start)));

    // params.c, Continuation: the index of a '\' that is the last non-blank before `end`, else -1.
    private int ContinuationAt(int start, int end)
    {
        int p = end - 1;
        while (p >= start && IsSpace(_buf[p]))
            p--;
        return p >= start && _buf[p] == '\\' ? p : -1;
    }

    // params.c, Parse.
    private bool Run()
    {
        int c = SkipBlanks();
        while (c > 0)
        {
            switch (c)
            {
                case '\n':
                    c = SkipBlanks();
                    break;
                case ';':
                case '#':
                    c = SkipToLineEnd();
                    break;
                case '[':
                    if (!_sink.WantsSections)
                        return false;
                    ReadSection();
                    c = SkipBlanks();
                    break;
                case '\\':
                    // A stray backslash at the start of a line is skipped.
                    c = SkipBlanks();
                    break;
                default:
                    if (!ReadParameter(c))
                        return false;
                    c = SkipBlanks();
                    break;
            }
        }
        return true;
    }

    // params.c, Section: the name up to ']', blanks squeezed to one space, continuation allowed.
    private void ReadSection()
    {
        var where = new SourceLocation(_fileName, _line);
        int i = 0, end = 0;
        int c = SkipBlanks();
        while (c > 0)
        {
            switch (c)
            {
                case ']':
                    if (end == 0)
                        throw new DaemonConfigException(where, "Empty section name in config file.");
                    _sink.Section(Text(0, end), where);
                    SkipToLineEnd();
                    return;
                case '\n':
                    i = ContinuationAt(0, i);
                    if (i < 0)
                        throw new DaemonConfigException(where, $"Badly formed line in config file: {Text(0, end)}");
                    end = i > 0 && _buf[i - 1] == ' ' ? i - 1 : i;
                    c = Next();
                    break;
                default:
                    if (IsSpace(c))
                    {
                        Put(end, ' ');
                        i = end + 1;
                        c = SkipBlanks();
                    }
                    else
                    {
                        Put(i++, c);
                        end = i;
                        c = Next();
                    }
                    break;
            }
        }
        throw new DaemonConfigException(where, $"Unexpected EOF in the config file: {Text(0, end)}");
    }

    // params.c, Parameter: "name = value" (or "&directive value"); false only when a directive says stop.
    private bool ReadParameter(int c)
    {
        var where = new SourceLocation(_fileName, _line);
        bool directive = c == '&';
        int i = 0, end = 0, valueStart = -1;

        while (valueStart < 0)
        {
            switch (c)
            {
                case '=':
                    if (end == 0)
                        throw new DaemonConfigException(where, "Invalid parameter name in config file.");
                    valueStart = end;
                    c = SkipBlanks();
                    break;
                case '\n':
                    i = ContinuationAt(0, i);
                    if (i < 0)
                    {
                        _sink.Warn(where, $"Ignoring badly formed line in config file: {Text(0, end)}");
                        return true;
                    }
                    end = i > 0 && _buf[i - 1] == ' ' ? i - 1 : i;
                    c = Next();
                    break;
                case Eof:
                case 0:
                    _sink.Warn(where, $"Unexpected end-of-file at: {Text(0, i)}");
                    return true;
                case ' ' or '\t' when directive:
                    // A directive's name ends at its first blank; an '=' after it is optional.
                    valueStart = end;
                    c = SkipBlanks();
                    if (c == '=')
                        c = SkipBlanks();
                    break;
                default:
                    if (IsSpace(c))
                    {
                        Put(end, ' ');
                        i = end + 1;
                        c = SkipBlanks();
                    }
                    else
                    {
                        Put(i++, c);
                        end = i;
                        c = Next();
                    }
                    break;
            }
        }

        string name = Text(0, valueStart);
        i = end = valueStart;
        while (c > 0)
        {
            switch (c)
            {
                case '\r':
                    c = Next();
                    break;
                case '\n':
                    int backslash = ContinuationAt(valueStart, i);
                    if (backslash < 0)
                    {
                        c = 0;
                    }
                    else
                    {
                        // The next line's text replaces the backslash; what stood before it is kept as is.
                        i = end = backslash;
                        c = Next();
                    }
                    break;
                default:
                    Put(i++, c);
                    if (!IsSpace(c))
                        end = i;
                    c = Next();
                    break;
            }
        }
        string value = Text(valueStart, end);

        if (directive)
            return _sink.Directive(name, value, where);
        _sink.Parameter(name, value, where);
        return true;
    }
}
