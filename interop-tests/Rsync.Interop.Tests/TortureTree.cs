using Microsoft.Win32.SafeHandles;

namespace NetRsync.Interop.Tests;

/// <summary>What <see cref="TortureTree.Create"/> made, for tests that want to poke at specific entries.</summary>
public sealed record TortureTreeInfo(
    string Root,
    string? HugeFile,
    IReadOnlyList<string> HardLinkNames,
    string LongPathFile,
    IReadOnlyList<string> RelativePaths);

/// <summary>A deterministic source tree full of things file-copying code gets wrong.</summary>
public static class TortureTree
{
    /// <summary>4 GiB + 1 MiB: past every 32-bit size boundary.</summary>
    public const long HugeFileLength = (4L << 30) + (1L << 20);

    public const string HugeFileName = "huge/sparse-4G.bin";

    /// <summary>Relative path lengths of the long-path file, in bytes (UTF-8); about 4000.</summary>
    public const int LongPathTargetBytes = 4000;

    private const int Seed = 0x5EED;

    /// <summary>Builds the tree under <paramref name="root"/> (created if missing; should be short, e.g.
    /// /tmp/nr-XXXXXXXX/src, because one path inside is ~4000 bytes long):
    /// nested folders, empty files and folders, random files of 0, 1, 700, 64 KiB+3 and 1 MiB+17
    /// bytes, odd names (spaces, UTF-8, a newline, leading dashes), a ~4000-byte relative path,
    /// relative/absolute/dangling symlinks, a file with three hard links in different folders,
    /// a fifo, setuid/setgid/sticky/0600/0777/0700 modes, foreign owners, mtimes before 1970 and
    /// with non-zero nanoseconds on files, directories and symlinks (directory times set last,
    /// deepest first), and optionally a sparse file of 4 GiB + 1 MiB.
    /// Same result every time (seeded RNG; every mode, owner and time is set explicitly).</summary>
    public static TortureTreeInfo Create(string root, bool includeHugeFile)
    {
        var rng = new Random(Seed);
        Directory.CreateDirectory(root);
        root = Path.GetFullPath(root).TrimEnd('/');
        var entries = new List<string>(); // relative, in creation order
        string P(string rel) => Path.Combine(root, rel);

        void Dir(string rel, string mode = "755")
        {
            Directory.CreateDirectory(P(rel));
            Posix.Chmod(P(rel), Posix.Mode(mode));
            entries.Add(rel);
        }

        void FileBytes(string rel, byte[] content, string mode = "644")
        {
            File.WriteAllBytes(P(rel), content);
            Posix.Chmod(P(rel), Posix.Mode(mode));
            entries.Add(rel);
        }

        byte[] RandomBytes(int n)
        {
            byte[] b = new byte[n];
            rng.NextBytes(b);
            return b;
        }

        void Symlink(string rel, string target)
        {
            File.CreateSymbolicLink(P(rel), target);
            entries.Add(rel);
        }

        // Nested folders with random files of the interesting sizes.
        int[] sizes = [0, 1, 700, 64 * 1024 + 3, 1024 * 1024 + 17];
        Dir("a");
        Dir("a/b");
        Dir("a/b/c");
        Dir("a/b/c/d");
        Dir("a/b/c/d/e");
        foreach (int size in sizes)
        {
            FileBytes($"a/size-{size}.bin", RandomBytes(size));
        }
        FileBytes("a/b/c/d/e/deep.txt", "deep inside\n"u8.ToArray());
        FileBytes("a/b/c/mid-64k.bin", RandomBytes(64 * 1024 + 3));
        FileBytes("a/b/small.txt", "small\n"u8.ToArray());

        // Empty files and folders.
        FileBytes("empty-file", []);
        FileBytes("a/b/empty-inner-file", []);
        Dir("empty-dir");
        Dir("a/empty-inner-dir");
        Dir("a/b/c/d/e/empty-leaf-dir");

        // Odd names.
        Dir("with space");
        FileBytes("with space/file with  two  spaces.txt", RandomBytes(700));
        FileBytes("Grüße – 日本語.txt", "unicode name\n"u8.ToArray());
        Dir("ünïcödé dir – 目录");
        FileBytes("ünïcödé dir – 目录/データ.bin", RandomBytes(1000));
        FileBytes("new\nline.txt", "newline in name\n"u8.ToArray());
        FileBytes("-rf", "leading dash\n"u8.ToArray());
        FileBytes("--help", "two leading dashes\n"u8.ToArray());
        Dir("-dir");
        FileBytes("-dir/--version", RandomBytes(1));
        FileBytes("tab\tname.txt", "tab\n"u8.ToArray());
        FileBytes("quote'and\"backslash\\.txt", "quotes\n"u8.ToArray());
        FileBytes(".hidden", "dot file\n"u8.ToArray());
        FileBytes("trailing space ", "trailing space\n"u8.ToArray());

        // A ~4000-byte relative path: ~200-byte components.
        string longRel = "long";
        Dir(longRel);
        int level = 0;
        while (longRel.Length + 1 + 200 + 1 + 150 <= LongPathTargetBytes)
        {
            string component = $"d{level:D2}-".PadRight(200, (char)('a' + (level % 26)));
            longRel = longRel + "/" + component;
            Dir(longRel);
            level++;
        }
        string longFileName = "f-".PadRight(LongPathTargetBytes - longRel.Length - 1, 'z');
        if (longFileName.Length > 200)
        {
            throw new InvalidOperationException($"long-path file name would be {longFileName.Length} bytes; keep it under NAME_MAX with room for rsync's temp-name suffix");
        }
        string longFile = longRel + "/" + longFileName;
        FileBytes(longFile, RandomBytes(700));

        // Symlinks: relative, absolute, dangling, to a directory, and one chowned.
        Dir("links");
        Symlink("links/relative", "../a/size-700.bin");
        Symlink("links/absolute", "/etc/hostname");
        Symlink("links/dangling", "no/such/target");
        Symlink("links/to-dir", "../a/b");
        Symlink("links/odd target", "../Grüße – 日本語.txt");

        // A file with three names in different folders.
        Dir("hard");
        FileBytes("hard/one.bin", RandomBytes(64 * 1024 + 3));
        Posix.Link(P("hard/one.bin"), P("a/b/hard-two.bin"));
        entries.Add("a/b/hard-two.bin");
        Posix.Link(P("hard/one.bin"), P("with space/hard three.bin"));
        entries.Add("with space/hard three.bin");
        // A second, two-name group, to make the grouping non-trivial.
        FileBytes("hard/pair-a.txt", "pair\n"u8.ToArray());
        Posix.Link(P("hard/pair-a.txt"), P("a/hard-pair-b.txt"));
        entries.Add("a/hard-pair-b.txt");

        // A fifo.
        Dir("special");
        Posix.MkFifo(P("special/fifo"), Posix.Mode("644"));
        Posix.Chmod(P("special/fifo"), Posix.Mode("640"));
        entries.Add("special/fifo");

        // Odd modes.
        Dir("modes");
        Dir("modes/setgid-dir", "2755");
        FileBytes("modes/setgid-dir/inside.txt", "in setgid dir\n"u8.ToArray());
        Dir("modes/private-dir", "700");
        FileBytes("modes/private-dir/secret.txt", "secret\n"u8.ToArray(), "600");
        Dir("modes/sticky-dir", "1777");
        FileBytes("modes/private-0600.txt", RandomBytes(700), "600");
        FileBytes("modes/open-0777.sh", "#!/bin/sh\n"u8.ToArray(), "777");
        FileBytes("modes/setuid-4755", RandomBytes(1), "4755");
        FileBytes("modes/setgid-file-2755", RandomBytes(1), "2755");
        FileBytes("modes/no-perms-0000", RandomBytes(1), "000");
        FileBytes("modes/read-only-0444", RandomBytes(1), "444");

        // Foreign owners (chown first: chown clears setuid/setgid, so modes are re-applied below).
        Dir("owners");
        FileBytes("owners/uid1234-gid5678.txt", "owned by 1234:5678\n"u8.ToArray(), "640");
        FileBytes("owners/nobody-nogroup.txt", "owned by 65534:65534\n"u8.ToArray());
        Symlink("owners/link-1234", "uid1234-gid5678.txt");
        Dir("owners/dir-1234", "750");
        Posix.LChown(P("owners/uid1234-gid5678.txt"), 1234, 5678);
        Posix.LChown(P("owners/nobody-nogroup.txt"), 65534, 65534);
        Posix.LChown(P("owners/link-1234"), 1234, 5678);
        Posix.LChown(P("owners/dir-1234"), 1234, 5678);
        Posix.Chmod(P("owners/uid1234-gid5678.txt"), Posix.Mode("640"));
        Posix.Chmod(P("owners/dir-1234"), Posix.Mode("750"));

        // Old and odd times get their own folder so they are easy to find in a failure.
        Dir("times");
        FileBytes("times/1965.txt", "from 1965\n"u8.ToArray());
        Dir("times/1965-dir");
        Symlink("times/1965-link", "1965.txt");
        FileBytes("times/epoch.txt", "epoch\n"u8.ToArray());
        FileBytes("times/2038-plus.txt", "after 2038\n"u8.ToArray());

        string? huge = null;
        if (includeHugeFile)
        {
            Dir("huge");
            huge = P(HugeFileName);
            CreateSparse(huge, HugeFileLength, rng);
            Posix.Chmod(huge, Posix.Mode("644"));
            entries.Add(HugeFileName);
        }

        // Times: non-directories first, then directories deepest first, the root last.
        var fixedTimes = new Dictionary<string, (long Sec, long Nsec)>
        {
            ["times/1965.txt"] = (-152_000_000, 123_456_789), // 1965-03-07
            ["times/1965-dir"] = (-150_000_000, 987_654_321),
            ["times/1965-link"] = (-149_000_000, 500_000_001),
            ["times/epoch.txt"] = (0, 0),
            ["times/2038-plus.txt"] = (2_200_000_000, 1), // 2039-09
        };
        (long, long) TimeFor(string rel) =>
            fixedTimes.TryGetValue(rel, out var t)
                ? t
                : (946_684_800 + rng.NextInt64(0, 20L * 365 * 86400), rng.Next(1, 1_000_000_000)); // 2000..2020, nsec != 0
        var done = new HashSet<(ulong, ulong)>();
        foreach (string rel in entries)
        {
            PosixStat st = Posix.LStat(P(rel));
            if (st.Type == PosixFileType.Directory || !done.Add((st.Device, st.Inode)))
            {
                continue; // directories later; hard links share one inode's time
            }
            (long s, long ns) = TimeFor(rel);
            Posix.SetTimes(P(rel), s, ns);
        }
        foreach (string rel in entries.Where(e => Posix.LStat(P(e)).Type == PosixFileType.Directory)
                     .OrderByDescending(e => e.Count(c => c == '/')).ThenBy(e => e, StringComparer.Ordinal))
        {
            (long s, long ns) = TimeFor(rel);
            Posix.SetTimes(P(rel), s, ns);
        }
        Posix.Chmod(root, Posix.Mode("755"));
        Posix.SetTimes(root, 1_234_567_890, 123_456_789);

        return new TortureTreeInfo(
            root,
            huge,
            ["hard/one.bin", "a/b/hard-two.bin", "with space/hard three.bin"],
            longFile,
            entries.ToArray());
    }

    /// <summary>A sparse file of <paramref name="length"/> bytes, with a few non-zero bytes at the
    /// start, around the 4 GiB boundary and near the end.</summary>
    public static void CreateSparse(string path, long length, Random rng)
    {
        using SafeFileHandle h = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.SetLength(h, length);
        long[] offsets = [0, 1L << 31, (4L << 30) - 3, length - 4096 - 5, length - 7];
        foreach (long offset in offsets)
        {
            byte[] b = new byte[5];
            rng.NextBytes(b);
            for (int i = 0; i < b.Length; i++)
            {
                b[i] |= 1; // never zero
            }
            RandomAccess.Write(h, b, Math.Min(offset, length - b.Length));
        }
    }
}
