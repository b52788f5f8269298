using System.Text;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

/// <summary>rsync's --out-format escapes for the client's own lines (log.c, log_formatted).</summary>
internal static class LogFormat
{
    public const string Itemized = "%i %n%L";
    public const string Names = "%n%L";

    public static string Format(string format, FileEntry file, ItemFlags iflags, string? hardLinkTarget, bool sender, bool preserveTimes, bool receiverSymlinkTimes, long bytes)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 == format.Length)
            {
                sb.Append(c);
                continue;
            }
            char code = format[++i];
            switch (code)
            {
                case 'n':
                    sb.Append(Escape(file.NameString));
                    if (file.IsDirectory)
                        sb.Append('/');
                    break;
                case 'f':
                    sb.Append(Escape(file.NameString));
                    break;
                case 'L':
                    if (hardLinkTarget is { Length: > 0 })
                        sb.Append(" => ").Append(Escape(hardLinkTarget));
                    else if (file.IsSymlink && file.LinkTarget is not null)
                        sb.Append(" -> ").Append(Escape(Encoding.UTF8.GetString(file.LinkTarget)));
                    break;
                case 'i':
                    sb.Append(Itemize(file, iflags, sender, preserveTimes, receiverSymlinkTimes));
                    break;
                case 'l':
                    sb.Append(file.Size);
                    break;
                case 'b':
                    sb.Append(bytes);
                    break;
                case 'o':
                    sb.Append((iflags & ItemFlags.Deleted) != 0 ? "del." : sender ? "send" : "recv");
                    break;
                case '%':
                    sb.Append('%');
                    break;
                default:
                    sb.Append('%').Append(code);
                    break;
            }
        }
        return sb.ToString();
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
