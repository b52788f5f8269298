namespace NetRsync.Protocol.FileList;

/// <summary>
/// rsync's file-list order (flist.c, f_name_cmp): paths compare byte by byte as if every
/// directory had a trailing slash, and within one directory files come before directories.
/// The top "." sorts first. Both sides sort with it, and indexes refer to the sorted list.
/// </summary>
public sealed class FileNameComparer : IComparer<FileEntry>
{
    public static readonly FileNameComparer Instance = new();

    private enum State { Dir, Slash, Base, Trailing }

    private const int Item = 0;
    private const int PathType = 1;

    private ref struct Cursor
    {
        public ReadOnlySpan<byte> Text;
        public int Pos;
        public int End;
        public State State;
        public int Type;

        public readonly int Current => Pos < End ? Text[Pos] : 0;
    }

    public int Compare(FileEntry x, FileEntry y) =>
        x == y ? 0 : Compare(x.Name, x.IsDirectory, y.Name, y.IsDirectory, FileEntry.ShareDirectory(x, y));

    /// <summary>
    /// Where an entry of this name and kind is among the first <paramref name="count"/> of a list in
    /// this order, by binary search: one of the run of its copies, or -1 (flist.c, flist_find).
    /// </summary>
    public static int IndexOf(List<FileEntry> sorted, int count, EntryName name, bool isDirectory)
    {
        int low = 0;
        int high = count - 1;
        while (low <= high)
        {
            int mid = low + ((high - low) >> 1);
            var entry = sorted[mid];
            int order = Compare(entry.Name, entry.IsDirectory, name, isDirectory);
            if (order == 0)
                return mid;
            if (order < 0)
                low = mid + 1;
            else
                high = mid - 1;
        }
        return -1;
    }

    /// <summary>Whether an entry is one of the copies <see cref="IndexOf"/> finds a run of.</summary>
    public static bool SameName(FileEntry entry, EntryName name, bool isDirectory) =>
        entry.IsDirectory == isDirectory && entry.Name.SequenceEqual(name);

    public static int Compare(ReadOnlySpan<byte> name1, bool isDir1, ReadOnlySpan<byte> name2, bool isDir2) =>
        Compare(EntryName.Split(name1), isDir1, EntryName.Split(name2), isDir2);

    public static int Compare(EntryName name1, bool isDir1, EntryName name2, bool isDir2) =>
        Compare(name1, isDir1, name2, isDir2, knownSameDir: false);

    private static int Compare(EntryName name1, bool isDir1, EntryName name2, bool isDir2, bool knownSameDir)
    {
        bool sameDir = knownSameDir || (name1.Directory.Length == name2.Directory.Length
            && (name1.Directory.IsEmpty || name1.Directory.SequenceEqual(name2.Directory)));

        var c1 = Start(name1, isDir1, sameDir);
        var c2 = Start(name2, isDir2, sameDir);

        if (c1.Type != c2.Type)
            return c1.Type == PathType ? 1 : -1;

        int dif;
        do
        {
            if (c1.Current == 0)
            {
                Advance(ref c1, name1.Base, isDir1);
                if (c2.Current != 0 && c1.Type != c2.Type)
                    return c1.Type == PathType ? 1 : -1;
            }
            if (c2.Current == 0)
            {
                // A non-directory base falls through to the trailing case here (flist.c, f_name_cmp).
                if (c2.State == State.Trailing || (c2.State == State.Base && c2.Type != PathType))
                {
                    c2.State = State.Trailing;
                    if (c1.Current == 0)
                        return 0;
                    c2.Type = Item;
                }
                else
                    Advance(ref c2, name2.Base, isDir2);
                if (c1.Type != c2.Type)
                    return c1.Type == PathType ? 1 : -1;
            }
            dif = c1.Current - c2.Current;
            c1.Pos++;
            c2.Pos++;
        }
        while (dif == 0);
        return dif;
    }

    private static Cursor Start(EntryName name, bool isDir, bool sameDir)
    {
        if (name.Directory.IsEmpty || sameDir)
            return BaseCursor(name.Base, isDir);
        return new Cursor { Text = name.Directory, Pos = 0, End = name.Directory.Length, State = State.Dir, Type = PathType };
    }

    private static Cursor BaseCursor(ReadOnlySpan<byte> baseName, bool isDir)
    {
        int type = isDir ? PathType : Item;
        if (type == PathType && baseName is [(byte)'.'])
            return new Cursor { Text = default, Pos = 0, End = 0, State = State.Trailing, Type = Item };
        return new Cursor { Text = baseName, Pos = 0, End = baseName.Length, State = State.Base, Type = type };
    }

    private static void Advance(ref Cursor c, ReadOnlySpan<byte> baseName, bool isDir)
    {
        switch (c.State)
        {
            case State.Dir:
                c = new Cursor { Text = "/"u8, Pos = 0, End = 1, State = State.Slash, Type = c.Type };
                break;
            case State.Slash:
                c = BaseCursor(baseName, isDir);
                break;
            case State.Base:
                if (c.Type == PathType)
                {
                    c = new Cursor { Text = "/"u8, Pos = 0, End = 1, State = State.Trailing, Type = c.Type };
                    break;
                }
                c.State = State.Trailing;
                c.Type = Item;
                break;
            case State.Trailing:
                c.Type = Item;
                break;
        }
    }
}
