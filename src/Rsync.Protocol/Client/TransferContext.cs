using NetRsync.Protocol.Options;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

/// <summary>Everything the roles of one connection share.</summary>
internal sealed class TransferContext
{
    private int _remoteIoError;
    private int _remoteExitCode = -1;
    private int _transferErrors;

    public required RsyncReader Reader { get; init; }
    public required RsyncWriter Writer { get; init; }
    public required RsyncOptions Options { get; init; }
    public required IRsyncOutput Output { get; init; }
    public required int Protocol { get; init; }
    public CompatFlags Compat { get; set; }
    public int ChecksumSeed { get; set; }

    /// <summary>Checksums and compression agreed during setup; md5 and no compression until then.</summary>
    public TransferAlgorithms Algorithms { get; set; } = new(Checksums.ChecksumKind.Md5, Checksums.ChecksumKind.Md5, false, Compression.CompressionKind.None, 0);

    /// <summary>The module's "dont compress" list on a daemon's side of a transfer; null elsewhere.</summary>
    public string? ModuleDontCompress { get; init; }

    private bool _iconvSet;
    private Text.NameCharset? _iconv;
    private bool? _symlinkIconv;

    /// <summary>
    /// The local charset names are converted from and to under --iconv, or null for none. A client
    /// takes it from the option's part before the comma; a daemon sets the module's "charset".
    /// </summary>
    public Text.NameCharset? Iconv
    {
        get
        {
            if (!_iconvSet)
            {
                _iconv = Text.NameCharset.ForOption(Options.Iconv, amServer: false);
                _iconvSet = true;
            }
            return _iconv;
        }
        set
        {
            _iconv = value;
            _iconvSet = true;
        }
    }

    /// <summary>
    /// Whether symlink targets are converted too: a client asks the server's compat flags, a server
    /// the client's 's' capability (compat.c, setup_protocol, sender_symlink_iconv).
    /// </summary>
    public bool SymlinkIconv
    {
        get => _symlinkIconv ?? (Iconv is not null && (Compat & CompatFlags.SymlinkIconv) != 0);
        set => _symlinkIconv = value;
    }

    /// <summary>A name or link target that could not be converted: noted as rsync's io_error, then reported.</summary>
    public void ConversionFailed(string message, bool transferError)
    {
        IoError |= IoErrorFlags.General;
        if (transferError)
        {
            NoteTransferError();
            Output.TransferError(message);
        }
        else
            Output.Error(message);
    }

    /// <summary>A fresh strong checksum for this connection's block and file sums.</summary>
    public Checksums.StrongChecksum NewStrongChecksum() => new(Algorithms.Checksum, ChecksumSeed, Algorithms.SeedFirst);

    /// <summary>What the file list carries on this connection.</summary>
    public FileList.FileListSettings FileListSettings() => new(
        Protocol,
        PreserveUid: Options.PreserveOwner,
        PreserveGid: Options.PreserveGroup,
        PreserveLinks: Options.PreserveLinks,
        PreserveDevices: Options.PreserveDevices,
        PreserveSpecials: Options.PreserveSpecials,
        PreserveHardLinks: Options.HardLinks > 0,
        AlwaysChecksum: Options.Checksum,
        NumericIds: Options.NumericIds,
        SafeFileList: SafeFileList,
        LookUpIdNames: !Options.IdsWithoutNames)
    {
        VarintFlags = VarintFlags,
        ChecksumLength = Checksums.ChecksumKinds.Length(Algorithms.FileChecksum),
        MaxEntries = MaxReceivedEntries,
        MaxNameBytes = MaxReceivedNameBytes,
        Iconv = Iconv,
        SymlinkIconv = SymlinkIconv,
        ConversionFailed = Iconv is null ? null : ConversionFailed,
        QuotePath = Quote,
        IncrementalRecursion = IncrementalRecursion,
    };

    /// <summary>Most entries a list from the peer may have (a daemon's "max file list entries", else what
    /// --max-alloc leaves room for); 0 for no limit.</summary>
    public int MaxReceivedEntries
    {
        get => _maxReceivedEntries ?? (int)Math.Min(int.MaxValue, Options.MaxAlloc / IntPtr.Size);
        init => _maxReceivedEntries = value;
    }

    /// <summary>Most bytes of names a list from the peer may carry (a daemon's "max file list size", else
    /// --max-alloc); 0 for no limit.</summary>
    public long MaxReceivedNameBytes
    {
        get => _maxReceivedNameBytes ?? Options.MaxAlloc;
        init => _maxReceivedNameBytes = value;
    }

    private readonly int? _maxReceivedEntries;
    private readonly long? _maxReceivedNameBytes;

    /// <summary>The sender could not send a file the generator asked for (MSG_NO_SEND); the receiving
    /// side counts it as finished under incremental recursion (io.c, read_a_msg).</summary>
    public Action<int>? SenderSkipped { get; set; }

    /// <summary>Lists go one directory at a time (CF_INC_RECURSE).</summary>
    public bool IncrementalRecursion => (Compat & CompatFlags.IncRecurse) != 0;

    /// <summary>File-list flags travel as varints (CF_VARINT_FLIST_FLAGS).</summary>
    public bool VarintFlags => (Compat & CompatFlags.VarintFileListFlags) != 0;
    public TransferStats Stats { get; } = new();

    /// <summary>The sender's list, for --remove-source-files.</summary>
    internal Roles.SendingList? SentFiles { get; set; }
    public IProgress<FileProgress>? Progress { get; init; }

    /// <summary>
    /// Told of each file a role transferred or itemized and of each deletion, for a daemon's transfer
    /// log (log.c, log_item and log_delete); null when nobody keeps one.
    /// </summary>
    public IItemLog? ItemLog { get; set; }

    /// <summary>The byte counts when the current file's transfer began (log.c, remember_initial_stats).</summary>
    public (long Read, long Written) ItemStart { get; private set; }

    public void MarkItemStart() => ItemStart = (Reader.BytesRead, Writer.BytesWritten);

    /// <summary>
    /// How messages quote a local path (util.c, full_fname): "/full/path" by default; a daemon shows
    /// it from the module's root and names the module, so its clients never learn where modules live.
    /// </summary>
    public Func<string, string>? QuotePath { get; set; }

    public string Quote(string path) => QuotePath?.Invoke(path) ?? $"\"{Path.GetFullPath(path)}\"";

    /// <summary>Errors on our side (rsync's io_error).</summary>
    public IoErrorFlags IoError { get; set; }

    public IoErrorFlags RemoteIoError => (IoErrorFlags)Volatile.Read(ref _remoteIoError);

    /// <summary>The code from the peer's MSG_ERROR_EXIT, or -1.</summary>
    public int RemoteExitCode => Volatile.Read(ref _remoteExitCode);

    /// <summary>A per-file error was reported by either side (rsync's got_xfer_error).</summary>
    public bool GotTransferError => Volatile.Read(ref _transferErrors) > 0;

    public bool SafeFileList => Protocol >= 31 || (Compat & CompatFlags.SafeFileList) != 0;

    public void NoteTransferError() => Interlocked.Increment(ref _transferErrors);

    public void NoteRemoteIoError(int bits)
    {
        Interlocked.Or(ref _remoteIoError, bits);
        Interlocked.Or(ref _messageIoError, bits);
    }

    /// <summary>Error bits that ended a received list: counted for the exit code, and left to the
    /// generator to take in when it reaches that list (incremental recursion).</summary>
    public void NoteListIoError(int bits) => Interlocked.Or(ref _remoteIoError, bits);

    /// <summary>The peer's error bits that came as MSG_IO_ERROR, apart from any list's end.</summary>
    public IoErrorFlags MessageIoError => (IoErrorFlags)Volatile.Read(ref _messageIoError);

    private int _messageIoError;

    public void NoteRemoteExit(int code) => Volatile.Write(ref _remoteExitCode, code);

    public void Info(string text)
    {
        if (Options.Quiet == 0)
            Output.Info(text);
    }

    public void Error(string text) => Output.Error(text);

    /// <summary>A per-file failure on our side, reported as rsync reports FERROR_XFER.</summary>
    public void TransferError(string text)
    {
        NoteTransferError();
        Output.TransferError("rsync: " + text);
    }

    /// <summary>The exit code for a run that reached its end (cleanup.c, _exit_cleanup).</summary>
    public int FinalExitCode()
    {
        var io = IoError | RemoteIoError;
        int code = ExitCodes.Ok;
        if ((io & IoErrorFlags.DeleteLimit) != 0)
            code = ExitCodes.DeleteLimit;
        if ((io & IoErrorFlags.Vanished) != 0)
            code = ExitCodes.Vanished;
        if ((io & IoErrorFlags.General) != 0 || GotTransferError)
            code = ExitCodes.Partial;
        if (RemoteExitCode > 0)
            code = RemoteExitCode;
        return code;
    }
}

/// <summary>Receives the per-file events a daemon writes to its log.</summary>
internal interface IItemLog
{
    /// <summary>A file was transferred (<see cref="ItemFlags.Transfer"/> set) or itemized without a transfer.</summary>
    /// <param name="localPath">Where the file is on this side.</param>
    void Item(FileList.FileEntry file, ItemFlags iflags, string hardLinkTarget, string localPath);

    /// <summary>The receiving side deleted <paramref name="localPath"/>, which had <paramref name="mode"/>.</summary>
    void Deleted(string localPath, int mode);
}
