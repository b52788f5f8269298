namespace NetRsync.Protocol.Daemon.Config;

/// <summary>A config problem, with the file and line it was found at.</summary>
public sealed record DaemonConfigDiagnostic(string FileName, int Line, string Message)
{
    public override string ToString() => Line > 0 ? $"{FileName}:{Line}: {Message}" : $"{FileName}: {Message}";
}

/// <summary>
/// The config cannot be used: the errors rsync treats as fatal (a malformed section header, an empty
/// parameter name, a failed &amp;include / &amp;merge, a module name with a slash), or, when loading
/// strictly, any problem rsync would merely log.
/// </summary>
public sealed class DaemonConfigException : Exception
{
    public DaemonConfigException(string fileName, int line, string detail, Exception? inner = null)
        : base(new DaemonConfigDiagnostic(fileName, line, detail).ToString(), inner)
    {
        FileName = fileName;
        Line = line;
        Detail = detail;
    }

    internal DaemonConfigException(SourceLocation where, string detail, Exception? inner = null)
        : this(where.FileName, where.Line, detail, inner)
    {
    }

    /// <summary>The file the problem is in (an included file when it is there).</summary>
    public string FileName { get; }

    /// <summary>The 1-based line the offending item starts on; 0 when it has none (a --dparam value).</summary>
    public int Line { get; }

    /// <summary>The message without the location.</summary>
    public string Detail { get; }
}
