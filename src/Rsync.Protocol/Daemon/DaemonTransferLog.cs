using NetRsync.Protocol.Client;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// "transfer logging": one line per file in the daemon's log, in the module's "log format"
/// (clientserver.c, rsync_module sets logfile_format; log.c, log_item, maybe_log_item, log_delete).
/// </summary>
internal sealed class DaemonTransferLog : IItemLog
{
    private readonly DaemonLog _log;
    private readonly TransferContext _ctx;
    private readonly string _format;
    private readonly bool _hasItemize;
    private readonly bool _hasOperationOrItemize;
    private readonly bool _wantsChecksum;
    private readonly string _modulePath;
    private readonly LogFormatDetails _connection;

    private DaemonTransferLog(DaemonLog log, TransferContext ctx, string format, string modulePath, LogFormatDetails connection, bool sender)
    {
        Operation = sender ? "send" : "recv";
        _log = log;
        _ctx = ctx;
        _format = format;
        _hasItemize = FormatHas(format, 'i');
        _hasOperationOrItemize = _hasItemize || FormatHas(format, 'o');
        _wantsChecksum = FormatHas(format, 'C');
        _modulePath = modulePath;
        _connection = connection;
    }

    /// <summary>The module's transfer log, or null when "transfer logging" is off or the format is empty.</summary>
    public static DaemonTransferLog? For(DaemonModule module, DaemonLog log, TransferContext ctx, string modulePath, LogFormatDetails connection, bool sender)
    {
        if (!module.TransferLogging || module.LogFormat is not { Length: > 0 } format)
            return null;
        return new DaemonTransferLog(log, ctx, format, modulePath, connection, sender);
    }

    private static bool FormatHas(string format, char escape) => Options.OptionSyntax.LogFormatHas(format, escape);

    public void Item(FileEntry file, ItemFlags iflags, string hardLinkTarget, string localPath)
    {
        // A dry run writes nothing to the log (log.c: log_item(FCLIENT) and maybe_log_item skip it).
        if (_ctx.Options.DryRun)
            return;
        bool transferred = (iflags & ItemFlags.Transfer) != 0;
        if (!transferred)
        {
            // A server logs an untransferred item only when its format itemizes (log.c, maybe_log_item).
            bool significant = (iflags & ItemFlags.Significant) != 0;
            bool seeItem = _hasItemize && (significant || hardLinkTarget.Length > 0 || _ctx.Options.ItemizeChanges > 1);
            if (!seeItem)
                return;
        }
        Write(file, iflags, hardLinkTarget, localPath, transferred ? Checksum(file, localPath) : null);
    }

    public void Deleted(string localPath, int mode)
    {
        if (_ctx.Options.DryRun)
            return;
        // rsync formats a blank entry that has only the mode (log.c, log_delete).
        string name = ModuleRelative(localPath);
        var entry = new FileEntry(Text.NameText.ToBytes(name), mode, 0, 0);
        string format = _hasOperationOrItemize ? _format : "deleting %n";
        _log.Write(LogFormat.Format(format, entry, ItemFlags.Deleted, null, "del.", _ctx.Options.PreserveTimes, true,
            _connection with { FullName = name, OwnerPreserved = _ctx.Options.PreserveOwner, GroupPreserved = _ctx.Options.PreserveGroup }));
    }

    private void Write(FileEntry file, ItemFlags iflags, string hardLinkTarget, string localPath, string? checksum)
    {
        var (startRead, startWritten) = _ctx.ItemStart;
        var details = _connection with
        {
            FullName = FullName(file.NameString, localPath),
            BytesIn = _ctx.Reader.BytesRead - startRead,
            BytesOut = _ctx.Writer.BytesWritten - startWritten,
            Checksum = checksum,
            OwnerPreserved = _ctx.Options.PreserveOwner,
            GroupPreserved = _ctx.Options.PreserveGroup,
        };
        _log.Write(LogFormat.Format(_format, file, iflags, hardLinkTarget, Operation, _ctx.Options.PreserveTimes, true, details));
    }

    /// <summary>"send" on a pull, "recv" on a push; the role is fixed per connection.</summary>
    private string Operation { get; }

    /// <summary>
    /// %f: the transfer's directory below the module joined with the name as listed, so the top of
    /// "mod/sub/" shows as "sub/." (log.c, log_formatted: F_PATHNAME or curr_dir past the module).
    /// </summary>
    private string FullName(string name, string localPath)
    {
        string trimmed = localPath.Length > 1 ? localPath.TrimEnd('/') : localPath;
        string? dir = name == "." ? trimmed
            : trimmed.EndsWith("/" + name, StringComparison.Ordinal) ? trimmed[..^(name.Length + 1)] is { Length: > 0 } parent ? parent : "/"
            : null;
        if (dir is null)
            return ModuleRelative(localPath);
        string prefix = ModuleRelative(dir);
        return prefix == "." ? name : prefix + "/" + name;
    }

    /// <summary>The path below the module's root ("." for the root itself).</summary>
    private string ModuleRelative(string localPath)
    {
        string trimmed = localPath.Length > 1 ? localPath.TrimEnd('/') : localPath;
        string relative = Path.GetRelativePath(_modulePath, trimmed.Length > 0 ? trimmed : "/");
        return relative.Length == 0 ? "." : relative;
    }

    /// <summary>%C: the whole-file MD5 of what was transferred (protocols 30 and 31 use MD5, unseeded).</summary>
    private string? Checksum(FileEntry file, string localPath)
    {
        if (!_wantsChecksum || !file.IsRegular)
            return null;
        if (file.Checksum is { Length: > 0 } listed && _ctx.Options.Checksum)
            return Convert.ToHexStringLower(listed);
        // Opened by the name's bytes, never through a final symlink.
        if (Native.Confined.OpenAt(Native.Confined.AtFdCwd, Text.NameText.ToBytes(localPath), Native.Confined.ORdOnly | Native.Confined.ONoFollow, 0, 0, out var handle) != 0)
            return null;
        using var opened = handle!;
        try
        {
            Span<byte> sum = stackalloc byte[Checksums.Md5.HashLength];
            Checksums.StrongChecksum.FileSum(Checksums.ChecksumKind.Md5, opened, sum);
            return Convert.ToHexStringLower(sum);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
