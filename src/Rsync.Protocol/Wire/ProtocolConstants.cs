namespace NetRsync.Protocol.Wire;

/// <summary>rsync's exit codes (errcode.h).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Syntax = 1;
    public const int Protocol = 2;
    public const int FileSelect = 3;
    public const int Unsupported = 4;
    public const int StartClient = 5;
    public const int SocketIo = 10;
    public const int FileIo = 11;
    public const int StreamIo = 12;
    public const int MessageIo = 13;
    public const int Ipc = 14;
    public const int Signal = 20;
    public const int Malloc = 22;
    public const int Partial = 23;
    public const int Vanished = 24;
    public const int DeleteLimit = 25;
    public const int Timeout = 30;
    public const int ConnectTimeout = 35;

    /// <summary>A child (the remote shell) killed by a signal (errcode.h, RERR_TERMINATED).</summary>
    public const int Terminated = 16;
}

/// <summary>Multiplexed message tags (rsync.h, enum msgcode).</summary>
public enum MessageCode : byte
{
    Data = 0,
    ErrorXfer = 1,
    Info = 2,
    Error = 3,
    Warning = 4,
    ErrorSocket = 5,
    Log = 6,
    Client = 7,
    ErrorUtf8 = 8,
    Redo = 9,
    Stats = 10,
    IoError = 22,
    IoTimeout = 33,
    Noop = 42,
    ErrorExit = 86,
    Success = 100,
    Deleted = 101,
    NoSend = 102,
}

/// <summary>File-list transmit flags (rsync.h, XMIT_*).</summary>
[Flags]
public enum XmitFlags : ushort
{
    None = 0,
    TopDir = 1 << 0,
    SameMode = 1 << 1,
    ExtendedFlags = 1 << 2,
    SameUid = 1 << 3,
    SameGid = 1 << 4,
    SameName = 1 << 5,
    LongName = 1 << 6,
    SameTime = 1 << 7,
    SameRdevMajor = 1 << 8,
    NoContentDir = 1 << 8,
    HardLinked = 1 << 9,
    UserNameFollows = 1 << 10,
    GroupNameFollows = 1 << 11,
    HardLinkFirst = 1 << 12,
    IoErrorEndList = 1 << 12,
    ModNsec = 1 << 13,
}

/// <summary>Itemize flags exchanged between generator and sender (rsync.h, ITEM_*).</summary>
[Flags]
public enum ItemFlags : int
{
    None = 0,
    ReportAtime = 1 << 0,
    ReportChange = 1 << 1,
    ReportSize = 1 << 2,
    ReportTimeFail = 1 << 2,
    ReportTime = 1 << 3,
    ReportPerms = 1 << 4,
    ReportOwner = 1 << 5,
    ReportGroup = 1 << 6,
    ReportAcl = 1 << 7,
    ReportXattr = 1 << 8,
    BasisTypeFollows = 1 << 11,
    XnameFollows = 1 << 12,
    IsNew = 1 << 13,
    LocalChange = 1 << 14,
    Transfer = 1 << 15,
    MissingData = 1 << 16,
    Deleted = 1 << 17,
    Matched = 1 << 18,
    /// <summary>Everything but the bookkeeping bits (rsync.h, SIGNIFICANT_ITEM_FLAGS).</summary>
    Significant = ~(BasisTypeFollows | XnameFollows | LocalChange),
}

/// <summary>Compatibility flags the server announces at protocol 30+ (compat.c, CF_*).</summary>
[Flags]
public enum CompatFlags
{
    None = 0,
    IncRecurse = 1 << 0,
    SymlinkTimes = 1 << 1,
    SymlinkIconv = 1 << 2,
    SafeFileList = 1 << 3,
    AvoidXattrOptim = 1 << 4,
    ChecksumSeedFix = 1 << 5,
    InplacePartialDir = 1 << 6,
    VarintFileListFlags = 1 << 7,
    Id0Names = 1 << 8,
}

/// <summary>Special file-list indexes (rsync.h, NDX_*).</summary>
public static class Ndx
{
    public const int Done = -1;
    public const int FileListEof = -2;
    public const int DeleteStats = -3;
    public const int FileListOffset = -101;
}

/// <summary>Io-error bits carried by MSG_IO_ERROR and the file-list end (rsync.h, IOERR_*).</summary>
[Flags]
public enum IoErrorFlags
{
    None = 0,
    General = 1 << 0,
    Vanished = 1 << 1,
    DeleteLimit = 1 << 2,
}

public static class ProtocolLimits
{
    public const int MinProtocol = 30;
    public const int MaxProtocol = 31;
    /// <summary>Largest literal run per token: newer receivers reject longer ones (rsync.h, CHUNK_SIZE).</summary>
    public const int ChunkSize = 32 * 1024;
    /// <summary>Largest block length a protocol-30+ generator may ask for (rsync.h, MAX_BLOCK_SIZE).</summary>
    public const int MaxBlockSize = 1 << 17;
    public const int MaxDigestLength = 64;
    public const int MaxPath = 4096;
}
