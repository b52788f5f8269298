using System.Text;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

/// <summary>rsync's --out-format escapes for the client's own lines (log.c, log_formatted).</summary>
internal static class LogFormat
{
    public const string Itemized = "%i %n%L";
    public const string Names = "%n%L";

    public static string Format(string format, FileEntry file, ItemFlags iflags, string? hardLinkTarget, bool sender, bool preserveTimes, bool receiverSymlinkTimes, long bytes,
        bool localCopy = false) =>
        Format(format, file, iflags, hardLinkTarget, sender ? "send" : "recv", preserveTimes, receiverSymlinkTimes,
            new LogFormatDetails { BytesIn = bytes, BytesOut = bytes, LocalCopy = localCopy });

    /// <summary>
    /// Expands every escape of <paramref name="format"/>, each with an optional width ("%-10n", "%'l")
    /// (log.c, log_formatted). Escapes a client cannot answer (%h, %a, %m, %P, %u without
    /// <paramref name="details"/>) stay as written, as rsync leaves them.
    /// </summary>
    public static string Format(string format, FileEntry file, ItemFlags iflags, string? hardLinkTarget, string operation,
        bool preserveTimes, bool receiverSymlinkTimes, LogFormatDetails details)
    {
        bool sender = operation == "send";
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 == format.Length)
            {
                sb.Append(c);
                continue;
            }
            int start = i++;
            int humanize = 0;
            while (i < format.Length && format[i] == '\'')
            {
                humanize++;
                i++;
            }
            bool left = i < format.Length && format[i] == '-';
            if (left)
                i++;
            int width = 0;
            bool hasWidth = false;
            while (i < format.Length && char.IsAsciiDigit(format[i]))
            {
                hasWidth = true;
                width = Math.Min(width * 10 + (format[i++] - '0'), 4096);
            }
            while (i < format.Length && format[i] == '\'')
            {
                humanize++;
                i++;
            }
            if (i == format.Length)
            {
                sb.Append(format, start, i - start);
                break;
            }
            char code = format[i];
            string? value = code switch
            {
                'n' => file.NameString + (file.IsDirectory ? "/" : ""),
                'f' => details.FullName ?? file.NameString,
                'L' => LinkSuffix(file, hardLinkTarget, hasWidth || left),
                // A local copy shows its transfers as arriving, whichever side logs them (log.c: !local_server).
                'i' => Itemize(file, iflags, sender && !details.LocalCopy, preserveTimes, receiverSymlinkTimes),
                'l' => BigNumber(file.Size, humanize),
                'b' => BigNumber((iflags & ItemFlags.Transfer) == 0 ? 0 : sender ? details.BytesOut : details.BytesIn, humanize),
                'c' => BigNumber((iflags & ItemFlags.Transfer) == 0 ? 0 : sender ? details.BytesIn : details.BytesOut, humanize),
                'o' => (iflags & ItemFlags.Deleted) != 0 ? "del." : operation,
                'B' => Roles.Generator.PermString(file.Mode)[1..],
                'M' => Timestamp(DateTimeOffset.FromUnixTimeSeconds(file.ModTime)).Replace(' ', '-'),
                't' => Timestamp(DateTimeOffset.UtcNow),
                'p' => Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                'U' => details.OwnerPreserved ? ((uint)file.Uid).ToString(System.Globalization.CultureInfo.InvariantCulture) : "0",
                'G' => details.GroupPreserved ? ((uint)file.Gid).ToString(System.Globalization.CultureInfo.InvariantCulture) : "DEFAULT",
                'C' => details.Checksum ?? new string(' ', 32),
                'h' => details.HostName,
                'a' => details.HostAddress,
                'm' => details.ModuleName,
                'P' => details.ModulePath,
                'u' => details.UserName,
                '%' => "%",
                _ => null,
            };
            if (value is null)
            {
                sb.Append(format, start, i - start + 1);
                continue;
            }
            // The width counts bytes, as printf's does on rsync's byte strings.
            int shortBy = hasWidth ? width - ByteCount(value) : 0;
            if (shortBy > 0 && !left)
                sb.Append(' ', shortBy);
            sb.Append(value);
            if (shortBy > 0 && left)
                sb.Append(' ', shortBy);
        }
        return sb.ToString();
    }

    /// <summary>How many bytes <paramref name="text"/> (a <see cref="NameText"/> string) stands for.</summary>
    private static int ByteCount(string text)
    {
        if (!NameText.HasEscapedBytes(text))
            return Encoding.UTF8.GetByteCount(text);
        int count = 0;
        foreach (char c in text)
            count += c is >= '\uDC80' and <= '\uDCFF' ? 1 : c < 0x80 ? 1 : c < 0x800 ? 2 : char.IsSurrogate(c) ? 2 : 3;
        return count;
    }

    /// <summary>" -> target" for a symlink, " => target" for a hard link; with a width, four spaces otherwise (log.c, the 'L' escape).</summary>
    private static string LinkSuffix(FileEntry file, string? hardLinkTarget, bool padded)
    {
        if (hardLinkTarget is { Length: > 0 })
            return " => " + hardLinkTarget;
        if (file.IsSymlink && file.LinkTarget is not null)
            return " -> " + NameText.FromBytes(file.LinkTarget);
        return padded ? "    " : "";
    }

    /// <summary>rsync's local time stamp, "YYYY/MM/DD HH:MM:SS" (util.c, timestring).</summary>
    private static string Timestamp(DateTimeOffset when) =>
        when.ToLocalTime().ToString("yyyy/MM/dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A count as %l and %b show it: plain, or with one or more apostrophes grouped or scaled (util.c, do_big_num).</summary>
    private static string BigNumber(long n, int humanize)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (humanize <= 1 || n < 1000)
            return humanize == 0 ? n.ToString(inv) : n.ToString("#,0", inv);
        double mult = humanize == 2 ? 1000 : 1024;
        double value = n;
        int unit = -1;
        while (value >= mult && unit < 4)
        {
            value /= mult;
            unit++;
        }
        return value.ToString("0.00", inv) + "KMGTP"[unit];
    }

    /// <summary>The 11-character change summary (log.c, the 'i' escape).</summary>
    public static string Itemize(FileEntry file, ItemFlags f, bool sender, bool preserveTimes, bool receiverSymlinkTimes)
    {
        if ((f & ItemFlags.Deleted) != 0)
            return "*deleting  ";
        Span<char> c = stackalloc char[11];
        c[0] = (f & ItemFlags.LocalChange) != 0 ? ((f & ItemFlags.XnameFollows) != 0 ? 'h' : 'c')
            : (f & ItemFlags.Transfer) == 0 ? '.'
            : sender ? '<' : '>';
        if (file.IsSymlink)
        {
            c[1] = 'L';
            c[3] = '.';
            c[4] = (f & ItemFlags.ReportTime) == 0 ? '.'
                : !preserveTimes || !receiverSymlinkTimes || (f & ItemFlags.ReportTimeFail) != 0 ? 'T' : 't';
        }
        else
        {
            c[1] = file.IsDirectory ? 'd' : file.IsSpecial ? 'S' : file.IsDevice ? 'D' : 'f';
            c[3] = (f & ItemFlags.ReportSize) == 0 ? '.' : 's';
            c[4] = (f & ItemFlags.ReportTime) == 0 ? '.' : !preserveTimes ? 'T' : 't';
        }
        c[2] = (f & ItemFlags.ReportChange) == 0 ? '.' : 'c';
        c[5] = (f & ItemFlags.ReportPerms) == 0 ? '.' : 'p';
        c[6] = (f & ItemFlags.ReportOwner) == 0 ? '.' : 'o';
        c[7] = (f & ItemFlags.ReportGroup) == 0 ? '.' : 'g';
        c[8] = (f & ItemFlags.ReportAtime) == 0 ? '.' : 'u';
        c[9] = (f & ItemFlags.ReportAcl) == 0 ? '.' : 'a';
        c[10] = (f & ItemFlags.ReportXattr) == 0 ? '.' : 'x';

        if ((f & (ItemFlags.IsNew | ItemFlags.MissingData)) != 0)
            c[2..].Fill((f & ItemFlags.IsNew) != 0 ? '+' : '?');
        else if (c[0] is '.' or 'h' or 'c' && c[2..].IndexOfAnyExcept('.') < 0)
            c[2..].Fill(' ');
        return new string(c);
    }
}

/// <summary>What a log line may say beyond the file itself: a daemon's connection facts and per-file counts.</summary>
internal sealed record LogFormatDetails
{
    /// <summary>
    /// Bytes read and written while the file was transferred (log.c, remember_initial_stats). Counted
    /// at the socket, where buffering moves bytes between neighbouring files, so %b and %c are close, not exact.
    /// </summary>
    public long BytesIn { get; init; }
    public long BytesOut { get; init; }

    /// <summary>The name as %f shows it (a daemon shows it from the module's root); null for the plain name.</summary>
    public string? FullName { get; init; }

    /// <summary>The whole-file checksum in hex for %C, or null for blanks.</summary>
    public string? Checksum { get; init; }
    public bool OwnerPreserved { get; init; }
    public bool GroupPreserved { get; init; }
    public string? HostName { get; init; }
    public string? HostAddress { get; init; }
    public string? ModuleName { get; init; }
    public string? ModulePath { get; init; }
    public string? UserName { get; init; }

    /// <summary>Both ends are in this process (rsync's local_server).</summary>
    public bool LocalCopy { get; init; }
}
