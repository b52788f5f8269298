namespace NetRsync.Protocol;

/// <summary>A failure that ends a transfer, carrying the exit code rsync would use.</summary>
public class RsyncException : Exception
{
    public RsyncException(string message, int exitCode, Exception? inner = null) : base(message, inner) => ExitCode = exitCode;

    public int ExitCode { get; }
}

/// <summary>The peer broke the protocol, or the stream ended early.</summary>
public sealed class RsyncProtocolException : RsyncException
{
    public RsyncProtocolException(string message, int exitCode = Wire.ExitCodes.Protocol, Exception? inner = null)
        : base(message, exitCode, inner) { }
}
