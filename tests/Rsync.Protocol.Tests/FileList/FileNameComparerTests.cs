using System.Text;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Tests.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

public sealed class FileNameComparerTests
{
    /// <summary>
    /// The order rsync's f_name_cmp gives at protocol 29+, restated as a tree walk: the top "."
    /// comes first; inside each directory its non-directories come first, then its
    /// subdirectories, each directly followed by everything below it. Names at one level compare
    /// as unsigned bytes, directories with a '/' appended (so "a b/" &lt; "a.d/" &lt; "a/" &lt; "a0/").
    /// As a key: one (kind, bytes) pair per path component, kind 0 for a final non-directory and
    /// 1 otherwise, compared pair by pair, a shorter key that is a prefix coming first.
    /// </summary>
    private static int Reference(byte[] name1, bool isDir1, byte[] name2, bool isDir2)
    {
        var k1 = Key(name1, isDir1);
        var k2 = Key(name2, isDir2);
        for (int i = 0; i < Math.Min(k1.Count, k2.Count); i++)
        {
            if (k1[i].Kind != k2[i].Kind)
                return k1[i].Kind - k2[i].Kind;
            int c = k1[i].Bytes.AsSpan().SequenceCompareTo(k2[i].Bytes);
            if (c != 0)
                return c;
        }
        return k1.Count - k2.Count;
    }

    private static List<(int Kind, byte[] Bytes)> Key(byte[] name, bool isDir)
    {
        var key = new List<(int, byte[])>();
        if (isDir && name is [(byte)'.'])
            return key;
        var parts = Split(name);
        for (int i = 0; i < parts.Count; i++)
        {
            bool last = i == parts.Count - 1;
            key.Add(last && !isDir ? (0, parts[i]) : (1, [.. parts[i], (byte)'/']));
        }
        return key;
    }

    private static List<byte[]> Split(byte[] name)
    {
        var parts = new List<byte[]>();
        int start = 0;
        for (int i = 0; i <= name.Length; i++)
        {
            if (i == name.Length || name[i] == (byte)'/')
            {
                parts.Add(name[start..i]);
                start = i + 1;
            }
        }
        return parts;
    }

    private static FileEntry Entry(string name, bool dir) =>
        new(Encoding.UTF8.GetBytes(name), dir ? Posix.S_IFDIR | 0x1ED : Posix.S_IFREG | 0x1A4, 0, 0);

    private static int Compare(string a, bool aDir, string b, bool bDir) =>
        Math.Sign(FileNameComparer.Instance.Compare(Entry(a, aDir), Entry(b, bDir)));

    [Theory]
    // A file sorts before a directory of the same name, and every file of a directory before its subdirectories.
    [InlineData("a", false, "a", true)]
    [InlineData("a", false, "a.txt", false)]
    [InlineData("a.txt", false, "a", true)]
    [InlineData("a.txt", false, "a/b", false)]
    [InlineData("b.txt", false, "a/b", false)]
    [InlineData("zzz", false, "a", true)]
    [InlineData("foo.bar", false, "foo", true)]
    // Directories compare with their slash: '.' (2E) < '/' (2F) < '0' (30).
    [InlineData("foo.bar", true, "foo", true)]
    [InlineData("foo", true, "foo0", true)]
    [InlineData("a b", true, "a", true)]
    // A directory comes right before its contents, and its contents before any later sibling.
    [InlineData("a", true, "a/b", false)]
    [InlineData("a/b", false, "a/b", true)]
    [InlineData("a/z", false, "a/b", true)]
    [InlineData("a.d", true, "a/b/c", false)]
    // The top directory "." precedes everything.
    [InlineData(".", true, " ", false)]
    [InlineData(".", true, "-", true)]
    // Bytes compare unsigned: "é" (C3 A9) after "z".
    [InlineData("z", false, "é", false)]
    public void PairwiseOrder(string first, bool firstDir, string second, bool secondDir)
    {
        Assert.Equal(-1, Compare(first, firstDir, second, secondDir));
        Assert.Equal(1, Compare(second, secondDir, first, firstDir));
    }

    [Fact]
    public void SpotChecksOfTheReference()
    {
        // The reference itself, on the cases worked out from f_name_cmp by hand.
        int R(string a, bool ad, string b, bool bd) => Math.Sign(Reference(Encoding.UTF8.GetBytes(a), ad, Encoding.UTF8.GetBytes(b), bd));
        Assert.Equal(-1, R("a", false, "a", true));
        Assert.Equal(-1, R("a.txt", false, "a", true));
        Assert.Equal(-1, R("b.txt", false, "a/b", false)); // "a/b" is a path, it follows all top-level files
        Assert.Equal(-1, R("foo.bar", false, "foo", true));
        Assert.Equal(-1, R("foo.bar", true, "foo", true));
        Assert.Equal(-1, R("a", true, "a/b", false));
        Assert.Equal(-1, R("a/b", false, "a/b", true));
        Assert.Equal(1, R("a/b/c", false, "a.d", true));
        Assert.Equal(-1, R(".", true, "0", false));
        Assert.Equal(0, R("a/b", false, "a/b", false));
    }

    [Fact]
    public void MatchesTheOrderRsyncLists()
    {
        // rsync -r -l --list-only --no-inc-recursive --protocol=31 t/ over a tree made with
        //   mkdir -p a/b foo foo.d "a b" sub/x a.d
        //   touch a.txt foo.bar a/b/c a/z a/b.txt b.txt "a b/f" a- a_ sub/x/y sub/0 B a.d/k
        //   ln -s foo lnk
        // lists the entries in this order:
        (string Name, bool Dir)[] listed =
        [
            (".", true), ("B", false), ("a-", false), ("a.txt", false), ("a_", false), ("b.txt", false),
            ("foo.bar", false), ("lnk", false), ("a b", true), ("a b/f", false), ("a.d", true), ("a.d/k", false),
            ("a", true), ("a/b.txt", false), ("a/z", false), ("a/b", true), ("a/b/c", false), ("foo.d", true),
            ("foo", true), ("sub", true), ("sub/0", false), ("sub/x", true), ("sub/x/y", false),
        ];
        var entries = listed.Select(e => Entry(e.Name, e.Dir)).ToList();
        var shuffled = entries.OrderBy(e => Convert.ToHexString(System.Security.Cryptography.MD5.HashData(e.Name.ToArray()))).ToList();
        shuffled.Sort(FileNameComparer.Instance);
        Assert.Equal(listed.Select(e => e.Name), shuffled.Select(e => e.NameString));

        var byReference = entries.OrderBy(e => Convert.ToHexString(System.Security.Cryptography.MD5.HashData(e.Name.ToArray()))).ToList();
        byReference.Sort((x, y) => Reference(x.Name.ToArray(), x.IsDirectory, y.Name.ToArray(), y.IsDirectory));
        Assert.Equal(listed.Select(e => e.Name), byReference.Select(e => e.NameString));
    }

    private static readonly byte[][] Components =
    [
        "a"u8.ToArray(), "a"u8.ToArray(), "ab"u8.ToArray(), "a.b"u8.ToArray(), "a b"u8.ToArray(), "a0"u8.ToArray(),
        "b"u8.ToArray(), "B"u8.ToArray(), "é"u8.ToArray(), "z"u8.ToArray(), [0xFF], [0x80, 0x2E],
        "a-"u8.ToArray(), "a_"u8.ToArray(),
    ];

    private static Gen<(byte[] Name, bool Dir)> AnyName { get; } = Gen.Frequency(
        (1, Gen.Constant(("."u8.ToArray(), true))),
        (20, from depth in Gen.Choose(1, 4)
             from parts in Gen.ArrayOf(Gen.Elements(Components), depth)
             from dir in Gen.Elements(false, true)
             select (Name: Join(parts), Dir: dir)));

    private static byte[] Join(byte[][] parts)
    {
        var list = new List<byte>();
        for (int i = 0; i < parts.Length; i++)
        {
            if (i > 0)
                list.Add((byte)'/');
            list.AddRange(parts[i]);
        }
        return [.. list];
    }

    [Fact]
    public void AgreesWithTheReference()
    {
        var gen = from a in AnyName from b in AnyName select (a, b);
        Props.Check(gen, t =>
        {
            var (a, b) = t;
            int expected = Math.Sign(Reference(a.Name, a.Dir, b.Name, b.Dir));
            Assert.Equal(expected, Math.Sign(FileNameComparer.Compare(a.Name, a.Dir, b.Name, b.Dir)));
        }, maxTest: 5000);
    }

    [Fact]
    public void IsAConsistentTotalOrder()
    {
        var gen = from a in AnyName from b in AnyName from c in AnyName select (a, b, c);
        Props.Check(gen, t =>
        {
            int Cmp((byte[] Name, bool Dir) x, (byte[] Name, bool Dir) y) => Math.Sign(FileNameComparer.Compare(x.Name, x.Dir, y.Name, y.Dir));
            var (a, b, c) = t;
            Assert.Equal(0, Cmp(a, a));
            Assert.Equal(-Cmp(a, b), Cmp(b, a));
            // Equal only when the very same item.
            Assert.Equal(a.Name.AsSpan().SequenceEqual(b.Name) && a.Dir == b.Dir, Cmp(a, b) == 0);
            if (Cmp(a, b) <= 0 && Cmp(b, c) <= 0)
                Assert.True(Cmp(a, c) <= 0);
        }, maxTest: 5000);
    }

    [Fact]
    public void SortingAGeneratedListMatchesTheReference()
    {
        Props.Check(Gen.ListOf(AnyName), names =>
        {
            var distinct = names.DistinctBy(n => (Convert.ToHexString(n.Name), n.Dir)).ToList();
            var entries = distinct.Select(n => new FileEntry(n.Name, n.Dir ? Posix.S_IFDIR : Posix.S_IFREG, 0, 0)).ToList();
            var expected = distinct.ToList();
            expected.Sort((x, y) => Reference(x.Name, x.Dir, y.Name, y.Dir));
            entries.Sort(FileNameComparer.Instance);
            Assert.Equal(expected.Select(e => Convert.ToHexString(e.Name) + e.Dir), entries.Select(e => Convert.ToHexString(e.Name.ToArray()) + e.IsDirectory));
        }, maxTest: 300);
    }
}
