using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Tests.Wire;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

/// <summary>
/// A file name is any byte string without '/' and NUL: such names, and paths made of them, must come
/// through the file-list codec unchanged, sort as rsync's f_name_cmp sorts them, be matched by a literal
/// filter rule made from them and by nothing else, and survive the trip through <see cref="NameText"/>.
/// </summary>
public sealed class NameBytesPropertyTests
{
    /// <summary>Bytes around '/' (0x2F) and the other separators, the UTF-8 lead and continuation
    /// ranges, control characters and the filter syntax characters are drawn often, so names share
    /// prefixes and differ in the bytes that matter; any other byte can still appear.</summary>
    private static readonly byte[] Hot =
    [
        0x01, 0x09, 0x0A, 0x0D, 0x20, 0x21, 0x2A, 0x2D, 0x2E, 0x30, 0x3F, 0x41, 0x5B, 0x5C, 0x5D, 0x5F, 0x61, 0x62, 0x7E, 0x7F,
        0x80, 0xA0, 0xAF, 0xB8, 0xBF, 0xC0, 0xC3, 0xC4, 0xCE, 0xD0, 0xD6, 0xE4, 0xE8, 0xE9, 0xED, 0xEF, 0xF0, 0xF4, 0xF8, 0xFE, 0xFF,
    ];

    private static Gen<byte> NameByte { get; } = Gen.Frequency(
        (3, Gen.Elements(Hot)),
        (1, Gen.Choose(1, 255).Where(b => b != '/').Select(b => (byte)b)));

    /// <summary>One path component: 1..8 bytes, now and then up to 255 (NAME_MAX); never "." or "..".</summary>
    private static Gen<byte[]> Component { get; } =
        Gen.Frequency(
            (12, Gen.Choose(1, 8)),
            (1, Gen.Choose(200, 255)))
        .SelectMany(len => Gen.ArrayOf(NameByte, len))
        .Where(c => !c.AsSpan().SequenceEqual("."u8) && !c.AsSpan().SequenceEqual(".."u8));

    /// <summary>A relative path of 1..4 components.</summary>
    private static Gen<byte[]> RelativePath { get; } =
        from n in Gen.Choose(1, 4)
        from parts in Gen.ArrayOf(Component, n)
        select Join(parts);

    private static byte[] Join(IEnumerable<byte[]> parts)
    {
        var path = new List<byte>();
        foreach (byte[] p in parts)
        {
            if (path.Count > 0)
                path.Add((byte)'/');
            path.AddRange(p);
        }
        return [.. path];
    }

    private static string Show(byte[] b) => Convert.ToHexString(b);

    // ---------------------------------------------------------------- codec

    private sealed record ListCase(FileListSettings Settings, List<FileEntry> Entries);

    private static Gen<ListCase> AnyList { get; } =
        from protocol in Gen.Elements(30, 31)
        from varint in Gen.Elements(false, true)
        from count in Gen.Choose(1, 40)
        from paths in Gen.ArrayOf(RelativePath, count)
        from kinds in Gen.ArrayOf(Gen.Choose(0, 2), count)
        from targets in Gen.ArrayOf(Gen.Choose(1, 3).SelectMany(n => Gen.ArrayOf(Component, n)).Select(Join), count)
        select BuildList(protocol, varint, paths, kinds, targets);

    private static ListCase BuildList(int protocol, bool varint, byte[][] paths, int[] kinds, byte[][] targets)
    {
        var settings = new FileListSettings(protocol, PreserveUid: false, PreserveGid: false, PreserveLinks: true,
            PreserveDevices: false, PreserveSpecials: false, PreserveHardLinks: false, AlwaysChecksum: false,
            NumericIds: true, SafeFileList: true) { VarintFlags = varint };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var entries = new List<FileEntry>();
        for (int i = 0; i < paths.Length; i++)
        {
            if (!seen.Add(Show(paths[i])))
                continue;
            int type = kinds[i] switch { 0 => Posix.S_IFREG, 1 => Posix.S_IFDIR, _ => Posix.S_IFLNK };
            var e = new FileEntry(paths[i], type | 0x1A4, type == Posix.S_IFREG ? i : 0, 1_300_000_000 + i);
            if (type == Posix.S_IFLNK)
            {
                e.LinkTarget = targets[i];
                e.Size = targets[i].Length;
            }
            entries.Add(e);
        }
        entries.Sort(FileNameComparer.Instance);
        return new ListCase(settings, entries);
    }

    [Fact]
    public void AnyNames_SurviveFileListEncodeAndDecode() =>
        Props.Check(AnyList, c =>
        {
            var output = new MemoryStream();
            var writer = new RsyncWriter(output);
            var encoder = new FileListEncoder(writer, c.Settings);
            for (int i = 0; i < c.Entries.Count; i++)
                encoder.Write(c.Entries[i], i);
            encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
            writer.Flush();

            using var reader = new RsyncReader(new MemoryStream(output.ToArray()));
            var decoder = new FileListDecoder(reader, c.Settings);
            decoder.ReadAll();

            Assert.Equal(c.Entries.Count, decoder.Entries.Count);
            for (int i = 0; i < c.Entries.Count; i++)
            {
                FileEntry expected = c.Entries[i], actual = decoder.Entries[i];
                Assert.True(expected.Name.SequenceEqual(actual.Name), $"entry {i}: name {Show(expected.Name.ToArray())} came back as {Show(actual.Name.ToArray())}");
                Assert.Equal(expected.Mode, actual.Mode);
                if (expected.IsSymlink)
                    Assert.True(expected.LinkTarget.AsSpan().SequenceEqual(actual.LinkTarget), $"entry {i}: target {Show(expected.LinkTarget!)} came back as {Show(actual.LinkTarget!)}");
                // The display form is lossless too.
                Assert.True(NameText.ToBytes(actual.NameString).AsSpan().SequenceEqual(expected.Name.ToArray()), $"entry {i}: NameString of {Show(expected.Name.ToArray())} is lossy");
            }
        }, maxTest: 300);

    // ---------------------------------------------------------------- sort order

    /// <summary>rsync's order, written out as a tree walk instead of f_name_cmp's state machine
    /// (flist.c, f_name_cmp, protocol 29 and later): in each directory the non-directories come
    /// first, then the directories, each directly followed by what it holds. Names compare as unsigned
    /// bytes, a directory's name as if it ended in '/'. So a path is a sequence of steps (is it a
    /// directory step, its bytes [+ '/']) compared step by step, a file step before a directory step,
    /// and a path before the longer paths it starts.</summary>
    private static int ReferenceCompare(byte[] name1, bool isDir1, byte[] name2, bool isDir2)
    {
        List<(bool Dir, byte[] Text)> s1 = Steps(name1, isDir1), s2 = Steps(name2, isDir2);
        for (int i = 0; i < Math.Min(s1.Count, s2.Count); i++)
        {
            if (s1[i].Dir != s2[i].Dir)
                return s1[i].Dir ? 1 : -1;
            int c = s1[i].Text.AsSpan().SequenceCompareTo(s2[i].Text);
            if (c != 0)
                return c;
        }
        return s1.Count.CompareTo(s2.Count);
    }

    private static List<(bool Dir, byte[] Text)> Steps(byte[] name, bool isDir)
    {
        var steps = new List<(bool, byte[])>();
        int start = 0;
        for (int i = 0; i <= name.Length; i++)
        {
            if (i < name.Length && name[i] != '/')
                continue;
            bool last = i == name.Length;
            bool dir = !last || isDir;
            byte[] part = name[start..i];
            steps.Add((dir, dir ? [.. part, (byte)'/'] : part));
            start = i + 1;
        }
        return steps;
    }

    private static Gen<(byte[] Name, bool Dir)> AnyEntry { get; } =
        from path in RelativePath
        from dir in Gen.Elements(false, true)
        select (path, dir);

    /// <summary>Pairs that often share a parent or a prefix: the second is sometimes derived from the first.</summary>
    private static Gen<((byte[] Name, bool Dir) A, (byte[] Name, bool Dir) B)> AnyPair { get; } =
        from a in AnyEntry
        from b in AnyEntry
        from how in Gen.Choose(0, 3)
        from extra in Component
        select (a, how switch
        {
            0 => b,
            1 => (Sibling(a.Name, b.Name), b.Dir),
            2 => ([.. a.Name, (byte)'/', .. extra], b.Dir),
            _ => ([.. a.Name, .. extra], b.Dir),
        });

    private static byte[] Sibling(byte[] of, byte[] other)
    {
        int slash = Array.LastIndexOf(of, (byte)'/');
        int otherSlash = Array.LastIndexOf(other, (byte)'/');
        return [.. of.AsSpan(0, slash + 1), .. other.AsSpan(otherSlash + 1)];
    }

    [Fact]
    public void AnyNames_SortAsFNameCmpDoes() =>
        Props.Check(AnyPair, p =>
        {
            int expected = Math.Sign(ReferenceCompare(p.A.Name, p.A.Dir, p.B.Name, p.B.Dir));
            int actual = Math.Sign(FileNameComparer.Compare(p.A.Name, p.A.Dir, p.B.Name, p.B.Dir));
            Assert.True(expected == actual,
                $"{Show(p.A.Name)}{(p.A.Dir ? "/" : "")} vs {Show(p.B.Name)}{(p.B.Dir ? "/" : "")}: f_name_cmp gives {expected}, FileNameComparer {actual}");
            int reverse = Math.Sign(FileNameComparer.Compare(p.B.Name, p.B.Dir, p.A.Name, p.A.Dir));
            Assert.True(reverse == -actual, $"not antisymmetric: {Show(p.A.Name)} vs {Show(p.B.Name)}");
        }, maxTest: 2000);

    [Fact]
    public void AnyNames_ListSortsAsFNameCmpDoes() =>
        Props.Check(Gen.ArrayOf(AnyEntry, 30), list =>
        {
            var entries = list.Select(e => new FileEntry(e.Name, (e.Dir ? Posix.S_IFDIR : Posix.S_IFREG) | 0x1A4, 0, 0)).ToList();
            var sorted = entries.OrderBy(e => e, Comparer<FileEntry>.Create((x, y) => ReferenceCompare(x.Name.ToArray(), x.IsDirectory, y.Name.ToArray(), y.IsDirectory))).ToList();
            entries.Sort(FileNameComparer.Instance);
            for (int i = 0; i < entries.Count; i++)
            {
                Assert.True(ReferenceCompare(entries[i].Name.ToArray(), entries[i].IsDirectory, sorted[i].Name.ToArray(), sorted[i].IsDirectory) == 0,
                    $"position {i}: {Show(entries[i].Name.ToArray())} where f_name_cmp puts {Show(sorted[i].Name.ToArray())}");
            }
        }, maxTest: 300);

    /// <summary>Hand-picked pairs where byte order and a naive string order part ways.</summary>
    [Theory]
    [InlineData("caf\u00e9", false, "caf\u00e8", false, 1)] // Latin-1 bytes E9 > E8
    [InlineData("a", true, "a-c", true, 1)] // "a/" > "a-c/" since '/' > '-'
    [InlineData("a/x", false, "a-c", true, 1)]
    [InlineData("b", false, "a/x", false, -1)] // a file in the root before any subdirectory's contents
    [InlineData("\u00ff", false, "\u0001", true, -1)] // files before directories, whatever the bytes
    [InlineData("\u00c0\u00af", false, "\u00c0", false, 1)]
    public void KnownPairs_SortAsFNameCmpDoes(string latin1A, bool dirA, string latin1B, bool dirB, int expected)
    {
        byte[] a = System.Text.Encoding.Latin1.GetBytes(latin1A), b = System.Text.Encoding.Latin1.GetBytes(latin1B);
        Assert.Equal(expected, Math.Sign(ReferenceCompare(a, dirA, b, dirB)));
        Assert.Equal(expected, Math.Sign(FileNameComparer.Compare(a, dirA, b, dirB)));
    }

    // ---------------------------------------------------------------- filter matching

    /// <summary>A rule text that means exactly these bytes: rsync matches a pattern without '*', '?' or
    /// '[' literally (exclude.c, rule_matches: no FILTRULE_WILD, so strcmp); one with them goes through
    /// wildmatch, where a backslash takes the next byte literally.</summary>
    private static string LiteralPattern(byte[] name)
    {
        if (name.AsSpan().IndexOfAny("*?["u8) < 0)
            return NameText.FromBytes(name);
        var escaped = new List<byte>();
        foreach (byte b in name)
        {
            if (b is (byte)'*' or (byte)'?' or (byte)'[' or (byte)'\\')
                escaped.Add((byte)'\\');
            escaped.Add(b);
        }
        return NameText.FromBytes([.. escaped]);
    }

    private static Gen<(byte[] Name, byte[] Other, byte[] Dir)> FilterCase { get; } =
        from name in Component
        from other in Component
        from dir in RelativePath
        from how in Gen.Choose(0, 2)
        select (name, how switch
        {
            // Names one byte away from the rule's: another last byte, or one more byte.
            0 => [.. name[..^1], (byte)(name[^1] == 0xFF ? 0xFE : name[^1] + 1 == '/' ? 0x30 : name[^1] + 1)],
            1 => [.. name, 0xE9],
            _ => other,
        }, dir);

    [Fact]
    public void AnyName_IsMatchedByItsLiteralRuleAndNothingElse() =>
        Props.Check(FilterCase, c =>
        {
            var rule = FilterRule.Parse("- " + LiteralPattern(c.Name));
            byte[] nested = [.. c.Dir, (byte)'/', .. c.Name];
            Assert.True(rule.Matches(c.Name, isDirectory: false), $"rule for {Show(c.Name)} does not match it");
            Assert.True(rule.Matches(nested, isDirectory: true), $"rule for {Show(c.Name)} does not match {Show(nested)}");
            if (!c.Other.AsSpan().SequenceEqual(c.Name))
            {
                Assert.False(rule.Matches(c.Other, isDirectory: false), $"rule for {Show(c.Name)} matches {Show(c.Other)}");
                Assert.False(rule.Matches([.. c.Dir, (byte)'/', .. c.Other], isDirectory: false), $"rule for {Show(c.Name)} matches {Show(c.Other)} in a directory");
            }
            // Anchored: the name at the root only.
            var anchored = FilterRule.Parse("- /" + LiteralPattern(c.Name));
            Assert.True(anchored.Matches(c.Name, isDirectory: false), $"anchored rule for {Show(c.Name)} does not match it");
            Assert.False(anchored.Matches(nested, isDirectory: false), $"anchored rule for {Show(c.Name)} matches {Show(nested)}");
        }, maxTest: 2000);

    /// <summary>Named cases of the property above, so a failure says which kind of name it is.</summary>
    [Theory]
    [InlineData("caf\u00e9")]
    [InlineData("\u00d6\u00d0\u00ce\u00c4.txt")]
    [InlineData("\u00ff\u00fe")]
    [InlineData("\u00c0\u00af")]
    [InlineData("\u0001x")]
    [InlineData("tab\there")]
    [InlineData("new\nline")]
    [InlineData("trailing-newline\n")]
    [InlineData("trailing-cr\r")]
    [InlineData("back\\slash")] // no wildcard: matched literally, backslash and all (exclude.c, rule_matches)
    [InlineData("star*\u00e9")]
    [InlineData("[ab]\u00e9?")]
    [InlineData(" leading space")]
    [InlineData("_under")]
    [InlineData("!bang")]
    public void KnownNames_AreMatchedByTheirLiteralRule(string latin1)
    {
        byte[] name = System.Text.Encoding.Latin1.GetBytes(latin1);
        var rule = FilterRule.Parse("- " + LiteralPattern(name));
        Assert.True(rule.Matches(name, isDirectory: false), $"rule for {Show(name)} does not match it");
        Assert.True(rule.Matches([.. "d/"u8, .. name], isDirectory: false), $"rule for {Show(name)} does not match it in a directory");
        Assert.False(rule.Matches([.. name, 0xE9], isDirectory: false), $"rule for {Show(name)} matches {Show([.. name, 0xE9])}");
    }

    // ---------------------------------------------------------------- NameText

    [Fact]
    public void AnyBytes_RoundTripThroughNameText() =>
        Props.Check(Gen.Frequency((3, Gen.ArrayOf(NameByte)), (1, Props.Bytes(64))), bytes =>
        {
            string text = NameText.FromBytes(bytes);
            Assert.True(NameText.ToBytes(text).AsSpan().SequenceEqual(bytes), $"{Show(bytes)} came back as {Show(NameText.ToBytes(text))}");
            // Distinct bytes never share a text, and valid UTF-8 reads as itself.
            if (System.Text.Unicode.Utf8.IsValid(bytes))
                Assert.Equal(System.Text.Encoding.UTF8.GetString(bytes), text);
            else
                Assert.True(NameText.HasEscapedBytes(text), $"{Show(bytes)} is not UTF-8 but its text has no escaped byte");
        }, maxTest: 2000);
}
