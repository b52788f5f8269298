namespace NetRsync.Protocol.Client;

/// <summary>rsync's end-of-run counters (rsync.h, struct stats).</summary>
public sealed class TransferStats
{
    /// <summary>Counts a listed entry by its kind (flist.c, send_file_entry and recv_file_list: stats.num_dirs and the rest).</summary>
    public void CountListed(FileList.FileEntry file)
    {
        if (file.IsDirectory)
            NumDirs++;
        else if (file.IsSymlink)
            NumSymlinks++;
        else if (file.IsDevice)
            NumDevices++;
        else if (file.IsSpecial)
            NumSpecials++;
    }

    public int NumFiles { get; set; }
    public int NumDirs { get; set; }
    public int NumSymlinks { get; set; }
    public int NumDevices { get; set; }
    public int NumSpecials { get; set; }
    public int CreatedFiles { get; set; }
    public int CreatedDirs { get; set; }
    public int CreatedSymlinks { get; set; }
    public int CreatedDevices { get; set; }
    public int CreatedSpecials { get; set; }
    public int DeletedFiles { get; set; }
    public int DeletedDirs { get; set; }
    public int DeletedSymlinks { get; set; }
    public int DeletedDevices { get; set; }
    public int DeletedSpecials { get; set; }
    public int TransferredFiles { get; set; }
    public long TotalSize { get; set; }
    public long TotalTransferredSize { get; set; }
    public long LiteralData { get; set; }
    public long MatchedData { get; set; }
    public long FileListSize { get; set; }
    public long FileListBuildMilliseconds { get; set; }
    public long FileListTransferMilliseconds { get; set; }
    public long BytesSent { get; set; }
    public long BytesReceived { get; set; }
    public TimeSpan Elapsed { get; set; }

    /// <summary>Counts a created entry by type, as the "Number of created files" line reports them.</summary>
    public void CountCreated(FileList.FileEntry file)
    {
        CreatedFiles++;
        if (file.IsDirectory)
            CreatedDirs++;
        else if (file.IsSymlink)
            CreatedSymlinks++;
        else if (file.IsDevice)
            CreatedDevices++;
        else if (file.IsSpecial)
            CreatedSpecials++;
    }
}

/// <summary>The outcome of a transfer that ran to its end; fatal failures throw <see cref="RsyncException"/> instead.</summary>
public sealed record TransferResult(int ExitCode, TransferStats Stats);

/// <summary>Where a transfer's messages go: rsync's FINFO lines to stdout, errors and warnings to stderr.</summary>
public interface IRsyncOutput
{
    void Info(string text);
    void Error(string text);

    /// <summary>A per-file failure (rsync's FERROR_XFER): an error that leaves the run partial.</summary>
    void TransferError(string text) => Error(text);

    /// <summary>Something not done on purpose, said so (rsync's FWARNING): it leaves the exit code alone.</summary>
    void Warning(string text) => Error(text);
}

/// <summary>Progress of one file's transfer.</summary>
public readonly record struct FileProgress(string Name, long BytesDone, long Size);

/// <summary>
/// Writes to the console the way rsync's client does: each line as bytes, names escaped for the
/// locale (or only for control bytes with -8), so a name reaches the terminal as stock rsync shows it.
/// </summary>
public sealed class ConsoleOutput : IRsyncOutput
{
    public static readonly ConsoleOutput Instance = new(eightBitOutput: false);

    private static readonly object Gate = new();
    private static readonly Lazy<Stream> Stdout = new(Console.OpenStandardOutput);
    private static readonly Lazy<Stream> Stderr = new(Console.OpenStandardError);
    private readonly Text.OutputEscape _escape;

    /// <param name="eightBitOutput">-8/--8-bit-output: bytes above 0x7f pass unescaped.</param>
    public ConsoleOutput(bool eightBitOutput) => _escape = Text.OutputEscape.ForConsole(eightBitOutput);

    public void Info(string text) => Write(Stdout.Value, text);

    public void Error(string text) => Write(Stderr.Value, text);

    private void Write(Stream stream, string text)
    {
        byte[] line = _escape.Escape(text.EndsWith('\n') ? text : text + "\n");
        lock (Gate)
        {
            // Whatever went through Console.Out first stays ahead of this line.
            Console.Out.Flush();
            stream.Write(line);
            stream.Flush();
        }
    }
}

/// <summary>Swallows everything; the default for library use.</summary>
public sealed class NullOutput : IRsyncOutput
{
    public static readonly NullOutput Instance = new();
    public void Info(string text) { }
    public void Error(string text) { }
}
