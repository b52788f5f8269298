using System.Globalization;

namespace NetRsync.Protocol.Options;

/// <summary>Small value parsers that follow the C routines rsync relies on.</summary>
internal static class OptionSyntax
{
    internal enum NumberStatus
    {
        Ok,
        BadNumber,
        Overflow,
    }

    /// <summary>
    /// popt's integer conversion (popt.c, poptGetNextOpt): strtol with base 0, the whole
    /// text must be consumed, and the value must fit an int.
    /// </summary>
    internal static NumberStatus ParseInt(string text, out int value)
    {
        value = 0;
        int i = 0;
        while (i < text.Length && IsCSpace(text[i]))
            i++;
        bool negative = false;
        if (i < text.Length && (text[i] == '+' || text[i] == '-'))
        {
            negative = text[i] == '-';
            i++;
        }

        int numberBase = 10;
        if (i + 2 < text.Length && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X')
            && DigitValue(text[i + 2]) is >= 0 and < 16)
        {
            numberBase = 16;
            i += 2;
        }
        else if (i < text.Length && text[i] == '0')
        {
            numberBase = 8;
        }

        int digitsStart = i;
        bool overflow = false;
        long acc = 0;
        while (i < text.Length)
        {
            int d = DigitValue(text[i]);
            if (d < 0 || d >= numberBase)
                break;
            if (!overflow)
            {
                // strtol saturates at LONG_MAX/LONG_MIN; anything that large fails the int check anyway.
                acc = acc * numberBase + d;
                if (acc > (long)int.MaxValue + 1)
                    overflow = true;
            }
            i++;
        }

        // With no digits strtol reports no conversion: the end pointer is the start of the text.
        int end = i == digitsStart ? 0 : i;
        if (end != text.Length)
            return NumberStatus.BadNumber;
        if (overflow)
            return NumberStatus.Overflow;
        long signedValue = negative ? -acc : acc;
        if (signedValue > int.MaxValue || signedValue < int.MinValue)
            return NumberStatus.Overflow;
        value = (int)signedValue;
        return NumberStatus.Ok;
    }

    /// <summary>
    /// options.c (3.1.1), parse_size_arg: digits with an optional fraction, an optional
    /// B/K/M/G suffix (default <paramref name="defaultSuffix"/>), "B" for powers of 1000 or
    /// "iB"/nothing for powers of 1024, and an optional trailing "+1" or "-1".
    /// Returns a negative number when the text is invalid.
    /// </summary>
    internal static long ParseSizeArg(string text, char defaultSuffix)
    {
        int i = 0;
        while (i < text.Length && IsDigit(text[i]))
            i++;
        if (i < text.Length && text[i] == '.')
        {
            i++;
            while (i < text.Length && IsDigit(text[i]))
                i++;
        }

        char suffix = i < text.Length && text[i] != '+' && text[i] != '-' ? text[i++] : defaultSuffix;
        int reps;
        switch (suffix)
        {
            case 'b' or 'B': reps = 0; break;
            case 'k' or 'K': reps = 1; break;
            case 'm' or 'M': reps = 2; break;
            case 'g' or 'G': reps = 3; break;
            default: return -1;
        }

        long mult;
        if (i < text.Length && (text[i] == 'b' || text[i] == 'B'))
        {
            mult = 1000;
            i++;
        }
        else if (i >= text.Length || text[i] == '+' || text[i] == '-')
        {
            mult = 1024;
        }
        else if (i + 1 < text.Length && (text[i] == 'i' || text[i] == 'I') && (text[i + 1] == 'b' || text[i + 1] == 'B'))
        {
            mult = 1024;
            i += 2;
        }
        else
        {
            return -1;
        }

        long unit = 1;
        while (reps-- > 0)
            unit *= mult;
        double scaled = unit * LeadingNumber(text);
        if (double.IsNaN(scaled) || scaled >= long.MaxValue || scaled <= long.MinValue)
            return -1;
        long size = (long)scaled;
        if (i + 1 < text.Length && (text[i] == '+' || text[i] == '-') && text[i + 1] == '1')
        {
            // C's atoi on the rest; any digit after the "1" makes the text invalid below.
            size += text[i] == '+' ? 1 : -1;
            i += 2;
        }

        return i < text.Length ? -1 : size;
    }

    // atof on the forms parse_size_arg lets through: [sign] digits [. digits].
    private static double LeadingNumber(string text)
    {
        int i = 0;
        if (i < text.Length && (text[i] == '+' || text[i] == '-'))
            i++;
        int start = i;
        while (i < text.Length && IsDigit(text[i]))
            i++;
        if (i < text.Length && text[i] == '.')
        {
            i++;
            while (i < text.Length && IsDigit(text[i]))
                i++;
        }

        string number = text[start..i];
        if (number.Length == 0 || number == ".")
            return 0;
        double v = double.Parse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        return text.Length > 0 && text[0] == '-' ? -v : v;
    }

    /// <summary>Syntax check of a --chmod value, following chmod.c, parse_chmod.</summary>
    internal static bool IsValidChmod(string text)
    {
        const int error = 0, firstHalf = 1, secondHalf = 2, octal = 3;
        const int dirsOnly = 1, filesOnly = 2;
        int state = firstHalf, where = 0, what = 0, flags = 0;
        bool haveOp = false;
        int i = 0;
        while (state != error)
        {
            char c = CharAt(text, i);
            if (c == '\0' || c == ',')
            {
                // Each comma-separated clause must have an operator (or be octal).
                if (!haveOp)
                    return false;
                if (c == '\0')
                    break;
                i++;
                c = CharAt(text, i);
                state = firstHalf;
                where = what = flags = 0;
                haveOp = false;
            }

            switch (state)
            {
                case firstHalf:
                    switch (c)
                    {
                        case 'D':
                            if ((flags & filesOnly) != 0)
                                state = error;
                            flags |= dirsOnly;
                            break;
                        case 'F':
                            if ((flags & dirsOnly) != 0)
                                state = error;
                            flags |= filesOnly;
                            break;
                        case 'u' or 'g' or 'o' or 'a':
                            where |= 1;
                            break;
                        case '+' or '-' or '=':
                            haveOp = true;
                            state = secondHalf;
                            break;
                        default:
                            if (c is >= '0' and <= '7' && where == 0)
                            {
                                haveOp = true;
                                state = octal;
                                where = 1;
                                what = c - '0';
                            }
                            else
                            {
                                state = error;
                            }

                            break;
                    }

                    break;
                case secondHalf:
                    if (c is not ('r' or 'w' or 'X' or 'x' or 's' or 't'))
                        state = error;
                    break;
                case octal:
                    if (c is >= '0' and <= '7')
                    {
                        what = what * 8 + (c - '0');
                        if (what > 0xFFF) // CHMOD_BITS is 07777
                            state = error;
                    }
                    else
                    {
                        state = error;
                    }

                    break;
            }

            i++;
        }

        return state != error;
    }

    /// <summary>
    /// util.c, clean_fname with CFN_COLLAPSE_DOT_DOT_DIRS: squeeze repeated slashes, drop "."
    /// elements and a trailing slash, fold "dir/.." pairs; an empty result becomes ".".
    /// </summary>
    internal static string CleanFileName(string name)
    {
        char[] n = new char[name.Length + 3];
        name.CopyTo(0, n, 0, name.Length);
        int t = 0, f = 0, limit = -1;
        bool anchored = n[0] == '/';
        if (anchored)
            n[t++] = n[f++];
        while (n[f] != '\0')
        {
            if (n[f] == '/')
            {
                f++;
                continue;
            }

            if (n[f] == '.')
            {
                if (n[f + 1] == '/')
                {
                    f += 2;
                    continue;
                }

                if (n[f + 1] == '.' && (n[f + 2] == '/' || n[f + 2] == '\0'))
                {
                    int s = t - 1;
                    if (s == 0 && anchored)
                    {
                        f += 2;
                        continue;
                    }

                    while (s > limit)
                    {
                        s--;
                        if (s < 0 || n[s] == '/')
                            break;
                    }

                    if (s != t - 1 && (s < 0 || n[s] == '/'))
                    {
                        t = s + 1;
                        f += 2;
                        continue;
                    }

                    // A ".." that cannot be folded stays, and nothing before it may be folded later.
                    limit = t + 2;
                }
            }

            while (n[f] != '\0')
            {
                char ch = n[f++];
                n[t++] = ch;
                if (ch == '/')
                    break;
            }
        }

        if (t > (anchored ? 1 : 0) && n[t - 1] == '/')
            t--;
        if (t == 0)
            n[t++] = '.';
        return new string(n, 0, t);
    }

    /// <summary>
    /// options.c, check_for_hostspec without the rsync:// form (as used for --files-from):
    /// "[USER@]HOST:PATH" or "[USER@]HOST::PATH", HOST possibly a bracketed IPv6 literal.
    /// Returns false when <paramref name="text"/> names a local file.
    /// </summary>
    internal static bool TrySplitHostSpec(string text, out string host, out string path)
    {
        host = "";
        path = text;
        int hostStart = 0, hostLen = 0, userLen = 0, s = 0;
        for (; ; s++)
        {
            if (s >= text.Length)
                return false;
            char c = text[s];
            if (c == ':' || c == '/')
            {
                if (hostLen == 0)
                    hostLen = s - hostStart;
                s++;
                if (c == '/')
                    return false;
                break;
            }

            if (c == '@')
            {
                userLen = s + 1;
                hostStart = s + 1;
            }
            else if (c == '[')
            {
                if (s != hostStart++)
                    return false;
                while (s < text.Length && text[s] != ']' && text[s] != '/')
                    s++;
                hostLen = s - hostStart;
                if (s >= text.Length || text[s] != ']' || hostLen == 0
                    || (s + 1 < text.Length && text[s + 1] != '/' && text[s + 1] != ':'))
                    return false;
            }
        }

        host = text[..userLen] + text.Substring(hostStart, hostLen);
        path = s < text.Length && text[s] == ':' ? text[(s + 1)..] : text[s..];
        return true;
    }

    /// <summary>log.c, log_format_has: does the format use the given %-escape?</summary>
    internal static bool LogFormatHas(string? format, char escape)
    {
        if (format is null)
            return false;
        int p = 0;
        while ((p = format.IndexOf('%', p)) >= 0)
        {
            p++;
            while (p < format.Length && format[p] == '\'')
                p++;
            if (p < format.Length && format[p] == '-')
                p++;
            while (p < format.Length && IsDigit(format[p]))
                p++;
            while (p < format.Length && format[p] == '\'')
                p++;
            if (p >= format.Length)
                break;
            if (format[p] == escape)
                return true;
        }

        return false;
    }

    private static char CharAt(string s, int i) => i < s.Length ? s[i] : '\0';

    private static bool IsDigit(char c) => c is >= '0' and <= '9';

    private static bool IsCSpace(char c) => c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r';

    private static int DigitValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'z' => c - 'a' + 10,
        >= 'A' and <= 'Z' => c - 'A' + 10,
        _ => -1,
    };
}
