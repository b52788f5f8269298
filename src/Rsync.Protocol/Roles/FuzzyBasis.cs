namespace NetRsync.Protocol.Roles;

/// <summary>
/// --fuzzy: for a file new in its directory, the file there most like it, to send the new one as a
/// delta against (generator.c, find_fuzzy): one of the same size and modification time if any,
/// else the nearest name, suffixes weighing ten times more, up to a distance of 25.
/// </summary>
internal static class FuzzyBasis
{
    // One edit (util.c, fuzzy_distance: UNIT), so that byte values only break ties.
    private const uint Unit = 1 << 16;
    private const uint Farthest = 25 * Unit;

    /// <summary>One regular file of the directory: its name, size and modification time.</summary>
    public readonly record struct Candidate(byte[] Name, long Size, long ModTime);

    /// <summary>The index of the candidate to use, or -1; <paramref name="usable"/> leaves out files about to change.</summary>
    public static int Choose(ReadOnlySpan<byte> name, long size, long modTime, IReadOnlyList<Candidate> candidates, Func<int, bool> usable)
    {
        for (int i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            if (c.Size > 0 && usable(i) && c.Size == size && c.ModTime == modTime)
                return i;
        }
        ReadOnlySpan<byte> suffix = Suffix(name);
        int best = -1;
        uint lowest = Farthest;
        for (int i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            if (c.Size <= 0 || !usable(i))
                continue;
            uint distance = Distance(c.Name, name) + Distance(Suffix(c.Name), suffix) * 10;
            if (distance <= lowest)
            {
                lowest = distance;
                best = i;
            }
        }
        return best;
    }

    /// <summary>An edit distance where each insertion, deletion or change costs one unit plus the bytes' values (util.c, fuzzy_distance).</summary>
    public static uint Distance(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.IsEmpty || b.IsEmpty)
        {
            ReadOnlySpan<byte> other = a.IsEmpty ? b : a;
            uint cost = 0;
            foreach (byte c in other)
                cost += c;
            return (uint)other.Length * Unit + cost;
        }
        Span<uint> row = b.Length <= 1024 ? stackalloc uint[b.Length] : new uint[b.Length];
        for (int j = 0; j < b.Length; j++)
            row[j] = (uint)(j + 1) * Unit;
        for (int i = 0; i < a.Length; i++)
        {
            uint diagonal = (uint)i * Unit;
            uint above = (uint)(i + 1) * Unit;
            for (int j = 0; j < b.Length; j++)
            {
                uint left = row[j];
                int difference = a[i] - b[j];
                uint change = difference == 0 ? 0 : difference < 0 ? Unit + (uint)-difference : Unit + (uint)difference;
                uint diagonalCost = diagonal + change;
                uint leftCost = left + Unit + a[i];
                uint aboveCost = above + Unit + b[j];
                row[j] = above = left < above ? Math.Min(leftCost, diagonalCost) : Math.Min(aboveCost, diagonalCost);
                diagonal = left;
            }
        }
        return row[^1];
    }

    /// <summary>
    /// The name's significant suffix, its dot included (util.c, find_filename_suffix): leading dots
    /// are none, ".bak", ".old", ".orig" and a "~" backup's ".~N" are looked past, and an all-digit
    /// suffix gives way to one before it.
    /// </summary>
    public static ReadOnlySpan<byte> Suffix(ReadOnlySpan<byte> name)
    {
        ReadOnlySpan<byte> whole = name.TrimStart((byte)'.');
        int length = whole.Length;
        bool tilde = length > 1 && whole[length - 1] == (byte)'~';
        if (tilde)
            length--;
        ReadOnlySpan<byte> found = default;
        int end = length;
        while (end > 1)
        {
            int dot = whole[..end].LastIndexOf((byte)'.');
            if (dot <= 0)
                break;
            int suffixLength = end - dot;
            end = dot;
            // As rsync compares them, through the end of the name.
            ReadOnlySpan<byte> rest = whole[(dot + 1)..];
            if ((suffixLength == 4 && (rest.SequenceEqual("bak"u8) || rest.SequenceEqual("old"u8)))
                || (suffixLength == 5 && rest.SequenceEqual("orig"u8))
                || (suffixLength > 2 && tilde && whole[dot + 1] == (byte)'~' && char.IsAsciiDigit((char)whole[dot + 2])))
                continue;
            found = whole.Slice(dot, suffixLength);
            if (suffixLength == 1 || found[1..].IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
                return found;
        }
        return found;
    }
}
