using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Roles;
using NetRsync.Protocol.Tests.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

/// <summary>
/// Entries live in an arena, not in objects: each must read back what was put in, across chunk
/// boundaries and growing name storage, and updates through one handle must show through another.
/// </summary>
public sealed class FileEntryArenaTests
{
    private sealed record Put(byte[] Name, int Mode, long Size, long ModTime, int Nsec, int Uid, int Gid, EntryFlags Flags,
        byte[]? Target, long Rdev, int HardLinkIndex, string? Root);

    private static Gen<Put> AnyPut { get; } =
        from name in Props.Bytes(300).Where(n => n.Length > 0)
        from type in Gen.Elements(Posix.S_IFREG, Posix.S_IFDIR, Posix.S_IFLNK, Posix.S_IFCHR)
        from perm in Gen.Choose(0, 0xFFF)
        from size in Props.AnyLong
        from mtime in Props.AnyLong
        from nsec in Gen.Choose(0, 999_999_999)
        from uid in Props.AnyInt
        from gid in Props.AnyInt
        from flags in Gen.Choose(0, 0x3FF)
        from target in Gen.Frequency((4, Gen.Constant<byte[]?>(null)), (1, Props.Bytes(40).Select(b => (byte[]?)b)))
        from rdev in Gen.Frequency((4, Gen.Constant(0L)), (1, Props.AnyLong))
        from link in Gen.Frequency((4, Gen.Constant(-1)), (1, Gen.Choose(0, 1_000_000)))
        from root in Gen.Elements<string?>(null, "/src", "/other/root")
        select new Put(name, type | perm, size, mtime, nsec, uid, gid, (EntryFlags)flags, target, rdev, link, root);

    internal static Gen<T[]> ArrayOf<T>(Gen<T> gen, int min, int max) =>
        from n in Gen.Choose(min, max)
        from items in Gen.ArrayOf(gen, n)
        select items;

    [Fact]
    public void EveryEntryReadsBackWhatWasPutIn()
    {
        Props.Check(ArrayOf(AnyPut, 0, 3000), puts =>
        {
            var arena = new FileEntryArena();
            var entries = new List<FileEntry>();
            foreach (var p in puts)
            {
                // Expectations, right or wrong, size chunks and never change what reads back.
                if (entries.Count % 97 == 0)
                    arena.Expect(p.Size == 0 ? 0 : (int)(p.Size & 2047), p.Mode & 0xFFF);
                var e = arena.Add(p.Name, p.Mode, p.Size, p.ModTime);
                e.ModNanoseconds = p.Nsec;
                e.Uid = p.Uid;
                e.Gid = p.Gid;
                e.Flags = p.Flags;
                e.LinkTarget = p.Target;
                e.Rdev = p.Rdev;
                e.HardLinkIndex = p.HardLinkIndex;
                e.Root = p.Root;
                entries.Add(e);
            }
            arena.Seal();
            for (int i = 0; i < puts.Length; i++)
            {
                var (p, e) = (puts[i], entries[i]);
                Assert.True(e.Name.SequenceEqual(p.Name), $"entry {i}: name");
                Assert.Equal((p.Mode, p.Size, p.ModTime, p.Nsec, p.Uid, p.Gid, p.Flags), (e.Mode, e.Size, e.ModTime, e.ModNanoseconds, e.Uid, e.Gid, e.Flags));
                Assert.Equal(p.Target, e.LinkTarget);
                Assert.Equal((p.Rdev, p.HardLinkIndex, p.Root), (e.Rdev, e.HardLinkIndex, e.Root));
                for (int j = Math.Max(0, i - 2); j < i; j++)
                    Assert.NotEqual(entries[j], e);
            }
        }, maxTest: 40);
    }

    [Fact]
    public void AnEntryIsSmall()
    {
        // The record, and the handle a list keeps: what FileListMemoryTests adds up per entry.
        Assert.Equal(48, System.Runtime.CompilerServices.Unsafe.SizeOf<EntryRecord>());
        Assert.Equal(16, System.Runtime.CompilerServices.Unsafe.SizeOf<FileEntry>());
    }

    [Fact]
    public void AnUpdateThroughOneHandleShowsThroughAnother()
    {
        var arena = new FileEntryArena();
        var first = arena.Add("a"u8, Posix.S_IFREG | 0x1A4, 1, 2);
        for (int i = 0; i < 5000; i++)
            arena.Add(System.Text.Encoding.ASCII.GetBytes($"name{i}"), Posix.S_IFDIR | 0x1ED, i, i);
        var copy = first;
        copy.Flags |= EntryFlags.Sent;
        copy.Checksum = [1, 2, 3];
        Assert.Equal(EntryFlags.Sent, first.Flags);
        Assert.Equal([1, 2, 3], first.Checksum);
        Assert.Equal(first, copy);
        Assert.True(first.Name.SequenceEqual("a"u8));
    }
}

/// <summary>
/// Deletion asks the sorted list itself whether a name on disk is still listed: a binary search
/// over f_name_cmp order must find exactly the names a plain scan finds.
/// </summary>
public sealed class ListedNameTests
{
    private static Gen<(byte[] Name, bool Dir, bool Inactive)> AnyEntry { get; } =
        from dir in Gen.Elements<byte[]>([], "d"u8.ToArray(), "d/e"u8.ToArray(), "d\x01"u8.ToArray())
        from leaf in FileEntryArenaTests.ArrayOf(Gen.Elements((byte)'a', (byte)'b', (byte)'.', (byte)'-', (byte)0xE9), 1, 3)
        from isDir in Gen.Elements(false, true)
        from inactive in Gen.Frequency((5, Gen.Constant(false)), (1, Gen.Constant(true)))
        select (dir.Length == 0 ? leaf : [.. dir, (byte)'/', .. leaf], isDir, inactive);

    [Fact]
    public void TheSearchFindsWhatAScanFinds()
    {
        Props.Check(FileEntryArenaTests.ArrayOf(AnyEntry, 0, 60).Zip(FileEntryArenaTests.ArrayOf(AnyEntry, 1, 20)), c =>
        {
            var (listed, asked) = c;
            var arena = new FileEntryArena();
            var sorted = new List<FileEntry>();
            foreach (var (name, dir, inactive) in listed)
            {
                var e = arena.Add(name, dir ? Posix.S_IFDIR | 0x1ED : Posix.S_IFREG | 0x1A4, 0, 0);
                if (inactive)
                    e.Flags = EntryFlags.Inactive;
                sorted.Add(e);
            }
            sorted.Sort(FileNameComparer.Instance);
            foreach (var (name, _, _) in asked.Concat(listed))
            {
                bool scan = sorted.Any(e => (e.Flags & EntryFlags.Inactive) == 0 && e.Name.SequenceEqual(name));
                Assert.True(scan == Generator.Listed(sorted, name), $"{Convert.ToHexString(name)}: a scan says {scan}");
            }
        });
    }
}
