namespace NetRsync.Protocol.Options;

/// <summary>
/// A command-line problem that ends the run before any transfer starts.
/// <see cref="Exception.Message"/> is the line rsync itself would print (without the
/// trailing "rsync error: ..." summary line).
/// </summary>
public sealed class RsyncUsageException : Exception
{
    /// <summary>RERR_SYNTAX (errcode.h): syntax or usage error.</summary>
    public const int SyntaxError = 1;

    /// <summary>RERR_UNSUPPORTED (errcode.h): requested action not supported.</summary>
    public const int Unsupported = 4;

    /// <summary>RERR_FILEIO (errcode.h): error in file IO.</summary>
    public const int FileIoError = 11;

    public RsyncUsageException(string message)
        : this(message, SyntaxError)
    {
    }

    public RsyncUsageException(string message, int exitCode, bool showUsage = false)
        : base(message)
    {
        ExitCode = exitCode;
        ShowUsage = showUsage;
    }

    public RsyncUsageException(string message, Exception innerException)
        : base(message, innerException)
    {
        ExitCode = SyntaxError;
    }

    /// <summary>The process exit code rsync uses for this error.</summary>
    public int ExitCode { get; }

    /// <summary>True where rsync prints its usage text instead of a one-line message.</summary>
    public bool ShowUsage { get; }

    /// <summary>True when a daemon's refused option caused the error.</summary>
    internal bool IsRefusal { get; init; }
}
