using System.Text;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

/// <summary>rsync's --out-format escapes for the client's own lines (log.c, log_formatted).</summary>
internal static class LogFormat
{
    public const string Itemized = "%i %n%L";
    public const string Names = "%n%L";

    public static string Format(string format, FileEntry file, ItemFlags iflags, string? hardLinkTarget, bool sender, bool preserveTimes, bool receiverSymlinkTimes, long bytes) =>
        Format(format, file, iflags, hardLinkTarget, sender ? "send" : "recv", preserveTimes, receiverSymlinkTimes, new LogFormatDetails { BytesIn = bytes, BytesOut = bytes });

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
                'n' => Name(file.NameString, details.EscapeNames) + (file.IsDirectory ? "/" : ""),
                'f' => details.FullName ?? Name(file.NameString, details.EscapeNames),
                'L' => LinkSuffix(file, hardLinkTarget, details.EscapeNames, hasWidth || left),
                'i' => Itemize(file, iflags, sender, preserveTimes, receiverSymlinkTimes),
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
            if (hasWidth && value.Length < width)
                value = left ? value.PadRight(width) : value.PadLeft(width);
            sb.Append(value);
        }
        return sb.ToString();
    }

    private static string Name(string name, bool escape) => escape ? Escape(name) : name;

    /// <summary>" -> target" for a symlink, " => target" for a hard link; with a width, four spaces otherwise (log.c, the 'L' escape).</summary>
    private static string LinkSuffix(FileEntry file, string? hardLinkTarget, bool escape, bool padded)
    {
        if (hardLinkTarget is { Length: > 0 })
            return " => " + Name(hardLinkTarget, escape);
        if (file.IsSymlink && file.LinkTarget is not null)
            return " -> " + Name(Encoding.UTF8.GetString(file.LinkTarget), escape);
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

    /// <summary>
    /// Control characters other than tab are shown as \#ooo, and so is the backslash of a literal
    /// "\#ddd", so the output stays one line per name (log.c, filtered_fwrite).
    /// </summary>
    public static string Escape(string name)
    {
        if (!name.AsSpan().ContainsAnyInRange('\0', '\x1f') && !name.Contains("\\#", StringComparison.Ordinal))
            return name;
        var sb = new StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool literalEscape = c == '\\' && i + 4 < name.Length && name[i + 1] == '#'
                && char.IsAsciiDigit(name[i + 2]) && char.IsAsciiDigit(name[i + 3]) && char.IsAsciiDigit(name[i + 4]);
            if (literalEscape || (c < 0x20 && c != '\t'))
                sb.Append("\\#").Append(Convert.ToString(c, 8).PadLeft(3, '0'));
            else
                sb.Append(c);
        }
        return sb.ToString();
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

    /// <summary>Client output escapes control characters; a daemon's log file gets names as they are (log.c, rwrite).</summary>
    public bool EscapeNames { get; init; } = true;
}
