using NetRsync.Protocol.Native;

namespace NetRsync.Protocol.Options;

/// <summary>
/// --chmod: comma-separated clauses such as "Dg+s", "F644", "ug=rwX,o-w", applied in order to
/// the modes in the file list (chmod.c, parse_chmod and tweak_mode).
/// </summary>
public sealed class ChmodRules
{
    private const int ChmodBits = 0xFFF;

    [Flags]
    private enum Scope { All = 0, DirsOnly = 1, FilesOnly = 2, KeepX = 4 }

    private readonly record struct Clause(int And, int Or, Scope Flags);

    private readonly List<Clause> _clauses = [];

    public bool IsEmpty => _clauses.Count == 0;

    /// <summary>Parses every --chmod value; null when one is malformed.</summary>
    public static ChmodRules? Parse(IEnumerable<string> values, int umask)
    {
        var rules = new ChmodRules();
        foreach (string value in values)
        {
            foreach (string clause in value.Split(','))
            {
                if (ParseClause(clause, umask) is not { } c)
                    return null;
                rules._clauses.Add(c);
            }
        }
        return rules;
    }

    private static Clause? ParseClause(string text, int umask)
    {
        int where = 0, what = 0, topBits = 0, topOctal = 0;
        char op = '\0';
        var flags = Scope.All;
        int i = 0;
        for (; i < text.Length && op == '\0'; i++)
        {
            char c = text[i];
            switch (c)
            {
                case 'D' when (flags & Scope.FilesOnly) == 0: flags |= Scope.DirsOnly; break;
                case 'F' when (flags & Scope.DirsOnly) == 0: flags |= Scope.FilesOnly; break;
                case 'u': where |= 0x40; topBits |= 0x800; break;
                case 'g': where |= 0x8; topBits |= 0x400; break;
                case 'o': where |= 0x1; break;
                case 'a': where |= 0x49; break;
                case '+' or '-' or '=': op = c; break;
                case >= '0' and <= '7' when where == 0:
                    int octal = 0;
                    for (; i < text.Length; i++)
                    {
                        if (text[i] is < '0' or > '7')
                            return null;
                        octal = octal * 8 + (text[i] - '0');
                        if (octal > ChmodBits)
                            return null;
                    }
                    return new Clause(0, octal, flags);
                default:
                    return null;
            }
        }
        if (op == '\0')
            return null;
        for (; i < text.Length; i++)
        {
            switch (text[i])
            {
                case 'r': what |= 4; break;
                case 'w': what |= 2; break;
                case 'X': flags |= Scope.KeepX; what |= 1; break;
                case 'x': what |= 1; break;
                case 's': topOctal = topBits != 0 ? topOctal | topBits : 0x800; break;
                case 't': topOctal |= 0x200; break;
                default: return null;
            }
        }
        int bits;
        if (where != 0)
            bits = where * what;
        else
        {
            // No who: like chmod(1), the umask limits what is given.
            where = 0x49;
            bits = where * what & ~umask;
        }
        return op switch
        {
            '+' => new Clause(ChmodBits, bits + topOctal, flags),
            '-' => new Clause(ChmodBits - bits - topOctal, 0, flags),
            _ => new Clause(ChmodBits - where * 7 - (topOctal != 0 ? topBits : 0), bits + topOctal, flags),
        };
    }

    public int Apply(int mode)
    {
        if (IsEmpty || (mode & Posix.S_IFMT) == Posix.S_IFLNK || mode == 0)
            return mode;
        bool isDir = (mode & Posix.S_IFMT) == Posix.S_IFDIR;
        bool wasExecutable = (mode & 0x49) != 0;
        int type = mode & ~ChmodBits;
        foreach (var c in _clauses)
        {
            if ((c.Flags & Scope.DirsOnly) != 0 && !isDir)
                continue;
            if ((c.Flags & Scope.FilesOnly) != 0 && isDir)
                continue;
            mode &= c.And;
            mode |= (c.Flags & Scope.KeepX) != 0 && !wasExecutable && !isDir ? c.Or & ~0x49 : c.Or;
        }
        return mode | type;
    }
}
