using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>Proves <see cref="TreeComparer"/> can fail: two identical torture trees, one mutated in exactly
/// one way (times of touched entries and their parent folders restored so only that one thing differs),
/// must be reported with the expected message; options that turn a check off must make it pass.</summary>
public sealed class HarnessComparerTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, int> Mutations => new()
    {
        { "content", "\"a/size-700.bin\": content differs, first at byte offset 350", 1 },
        { "content-last-byte", "\"a/size-1048593.bin\": content differs, first at byte offset 1048592", 1 },
        { "long-path-content", "content differs, first at byte offset 0", 1 },
        { "size", "\"a/size-1.bin\": size 1 expected, 2 found", 1 },
        { "setgid", "\"modes/setgid-dir\": mode 2755 expected, 0755 found", 1 },
        { "sticky", "\"modes/sticky-dir\": mode 1777 expected, 0777 found", 1 },
        { "setuid", "\"modes/setuid-4755\": mode 4755 expected, 0755 found", 1 },
        { "fifo-mode", "\"special/fifo\": mode 0640 expected, 0600 found", 1 },
        { "root-mode", "\".\": mode 0755 expected, 0700 found", 1 },
        { "mtime-seconds", "\"a/b/small.txt\": mtime", 1 },
        { "mtime-nanoseconds", "\"a/b/small.txt\": mtime", 1 },
        { "dir-mtime", "\"a/b\": mtime", 1 },
        { "symlink-mtime", "\"links/relative\": mtime", 1 },
        { "symlink-target", "\"links/relative\": symlink target \"../a/size-700.bin\" expected, \"../a/size-1.bin\" found", 1 },
        { "type", "\"special/fifo\": type Fifo expected, Regular found", 1 },
        { "missing", "\"a/b/c/d/e/deep.txt\": missing (file of 12 bytes expected)", 1 },
        { "extra-hidden", "\"a/.size-700.bin.Ab12Cd\": unexpected (file of 3 bytes)", 1 },
        { "uid", "\"owners/nobody-nogroup.txt\": owner 65534:65534 expected, 0:65534 found", 1 },
        { "gid", "\"owners/uid1234-gid5678.txt\": owner 1234:5678 expected, 1234:0 found", 1 },
        { "hardlink-broken", "\"with space/hard three.bin\": hard-link group {\"a/b/hard-two.bin\", \"hard/one.bin\", \"with space/hard three.bin\"} expected, {\"with space/hard three.bin\"} found", 3 },
    };

    [Theory]
    [MemberData(nameof(Mutations))]
    public void Comparer_ReportsEachKindOfDifference(string mutation, string expectedMessage, int expectedCount)
    {
        using var t = new TempDir();
        TortureTreeInfo one = TortureTree.Create(t.Sub("one"), includeHugeFile: false);
        TortureTreeInfo two = TortureTree.Create(t.Sub("two"), includeHugeFile: false);
        TreeComparer.AssertIdentical(one.Root, two.Root); // precondition

        Mutate(two, mutation);

        var ex = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => TreeComparer.AssertIdentical(one.Root, two.Root));
        output.WriteLine(ex.Message);
        Assert.Contains(expectedMessage, ex.Message, StringComparison.Ordinal);
        IReadOnlyList<string> diffs = TreeComparer.FindDifferences(one.Root, two.Root);
        Assert.True(diffs.Count == expectedCount, $"the mutation should cause exactly {expectedCount} difference(s):\n  {string.Join("\n  ", diffs)}");
    }

    public static TheoryData<string, string> Relaxations => new()
    {
        { "mtime-nanoseconds", nameof(TreeCompareOptions.CompareNanoseconds) },
        { "dir-mtime", nameof(TreeCompareOptions.CompareDirectoryTimes) },
        { "symlink-mtime", nameof(TreeCompareOptions.CompareSymlinkTimes) },
        { "uid", nameof(TreeCompareOptions.CompareOwnership) },
        { "root-mode", nameof(TreeCompareOptions.CompareRoot) },
    };

    [Theory]
    [MemberData(nameof(Relaxations))]
    public void Comparer_OptionTurnsItsCheckOff(string mutation, string option)
    {
        using var t = new TempDir();
        TortureTreeInfo one = TortureTree.Create(t.Sub("one"), includeHugeFile: false);
        TortureTreeInfo two = TortureTree.Create(t.Sub("two"), includeHugeFile: false);
        Mutate(two, mutation);
        var relaxed = option switch
        {
            nameof(TreeCompareOptions.CompareNanoseconds) => new TreeCompareOptions { CompareNanoseconds = false },
            nameof(TreeCompareOptions.CompareDirectoryTimes) => new TreeCompareOptions { CompareDirectoryTimes = false },
            nameof(TreeCompareOptions.CompareSymlinkTimes) => new TreeCompareOptions { CompareSymlinkTimes = false },
            nameof(TreeCompareOptions.CompareOwnership) => new TreeCompareOptions { CompareOwnership = false },
            nameof(TreeCompareOptions.CompareRoot) => new TreeCompareOptions { CompareRoot = false },
            _ => throw new ArgumentException(option),
        };

        Assert.NotEmpty(TreeComparer.FindDifferences(one.Root, two.Root));
        TreeComparer.AssertIdentical(one.Root, two.Root, relaxed);
    }

    [Fact]
    public void Comparer_SecondsStillCountWithoutNanoseconds()
    {
        using var t = new TempDir();
        TortureTreeInfo one = TortureTree.Create(t.Sub("one"), includeHugeFile: false);
        TortureTreeInfo two = TortureTree.Create(t.Sub("two"), includeHugeFile: false);
        Mutate(two, "mtime-seconds");
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() =>
            TreeComparer.AssertIdentical(one.Root, two.Root, new TreeCompareOptions { CompareNanoseconds = false }));
    }

    [Fact]
    public void Comparer_ListsAtMostTwentyDifferences()
    {
        using var t = new TempDir();
        string one = t.Sub("one");
        string two = t.Sub("two");
        for (int i = 0; i < 50; i++)
        {
            File.WriteAllText(Path.Combine(one, $"f{i:D2}"), "x");
        }
        var ex = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => TreeComparer.AssertIdentical(one, two, new TreeCompareOptions { CompareRoot = false }));
        output.WriteLine(ex.Message);
        Assert.Equal(20, ex.Message.Split('\n').Count(l => l.Contains(": missing", StringComparison.Ordinal)));
        Assert.Contains("f00", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("...", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Applies one mutation, restoring the mtimes of what it touched and of the parent folder.</summary>
    private static void Mutate(TortureTreeInfo tree, string mutation)
    {
        string P(string rel) => Path.Combine(tree.Root, rel);
        void KeepTimes(string rel, Action action)
        {
            string full = P(rel);
            string parent = Path.GetDirectoryName(full)!;
            PosixStat parentBefore = Posix.LStat(parent);
            bool existed = Posix.TryLStat(full, out PosixStat before, out _);
            action();
            if (existed && Posix.TryLStat(full, out _, out _))
            {
                Posix.SetTimes(full, before.MtimeSeconds, before.MtimeNanoseconds);
            }
            Posix.SetTimes(parent, parentBefore.MtimeSeconds, parentBefore.MtimeNanoseconds);
        }
        void FlipByte(string rel, long offset) => KeepTimes(rel, () =>
        {
            using var fs = new FileStream(P(rel), FileMode.Open, FileAccess.ReadWrite);
            fs.Position = offset;
            int b = fs.ReadByte();
            fs.Position = offset;
            fs.WriteByte((byte)(b ^ 0x01));
        });
        void ShiftTime(string rel, long seconds, long nanoseconds)
        {
            PosixStat st = Posix.LStat(P(rel));
            long ns = st.MtimeNanoseconds + nanoseconds;
            Posix.SetTimes(P(rel), st.MtimeSeconds + seconds + ns / 1_000_000_000, ns % 1_000_000_000);
        }

        switch (mutation)
        {
            case "content":
                FlipByte("a/size-700.bin", 350);
                break;
            case "content-last-byte":
                FlipByte("a/size-1048593.bin", 1048592);
                break;
            case "long-path-content":
                FlipByte(tree.LongPathFile, 0);
                break;
            case "size":
                KeepTimes("a/size-1.bin", () => File.AppendAllText(P("a/size-1.bin"), "+"));
                break;
            case "setgid":
                Posix.Chmod(P("modes/setgid-dir"), Posix.Mode("755"));
                break;
            case "sticky":
                Posix.Chmod(P("modes/sticky-dir"), Posix.Mode("777"));
                break;
            case "setuid":
                Posix.Chmod(P("modes/setuid-4755"), Posix.Mode("755"));
                break;
            case "fifo-mode":
                Posix.Chmod(P("special/fifo"), Posix.Mode("600"));
                break;
            case "root-mode":
                Posix.Chmod(tree.Root, Posix.Mode("700"));
                break;
            case "mtime-seconds":
                ShiftTime("a/b/small.txt", 1, 0);
                break;
            case "mtime-nanoseconds":
                ShiftTime("a/b/small.txt", 0, 1);
                break;
            case "dir-mtime":
                ShiftTime("a/b", 0, 1000);
                break;
            case "symlink-mtime":
                ShiftTime("links/relative", 0, 1);
                break;
            case "symlink-target":
                KeepTimes("links/relative", () =>
                {
                    PosixStat st = Posix.LStat(P("links/relative"));
                    File.Delete(P("links/relative"));
                    File.CreateSymbolicLink(P("links/relative"), "../a/size-1.bin");
                    Posix.SetTimes(P("links/relative"), st.MtimeSeconds, st.MtimeNanoseconds);
                });
                break;
            case "type":
                KeepTimes("special/fifo", () =>
                {
                    File.Delete(P("special/fifo"));
                    File.WriteAllText(P("special/fifo"), "");
                    Posix.Chmod(P("special/fifo"), Posix.Mode("640"));
                });
                break;
            case "missing":
                KeepTimes("a/b/c/d/e/deep.txt", () => File.Delete(P("a/b/c/d/e/deep.txt")));
                break;
            case "extra-hidden":
                KeepTimes("a/.size-700.bin.Ab12Cd", () => File.WriteAllText(P("a/.size-700.bin.Ab12Cd"), "tmp"));
                break;
            case "uid":
                Posix.LChown(P("owners/nobody-nogroup.txt"), 0, 65534);
                break;
            case "gid":
                Posix.LChown(P("owners/uid1234-gid5678.txt"), 1234, 0);
                Posix.Chmod(P("owners/uid1234-gid5678.txt"), Posix.Mode("640"));
                break;
            case "hardlink-broken":
                KeepTimes("with space/hard three.bin", () =>
                {
                    string name = P("with space/hard three.bin");
                    File.Copy(name, name + ".copy");
                    File.Move(name + ".copy", name, overwrite: true);
                    PosixStat other = Posix.LStat(P("hard/one.bin"));
                    Posix.Chmod(name, other.Permissions);
                });
                break;
            default:
                throw new ArgumentException(mutation);
        }
    }
}
