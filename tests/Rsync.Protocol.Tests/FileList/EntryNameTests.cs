using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Tests.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

/// <summary>
/// A name is kept as its directory part, shared by the entries in that directory, and its base:
/// split and joined again it must be the bytes it was, whatever they are.
/// </summary>
public sealed class EntryNameTests
{
    private static Gen<byte[]> SlashyName { get; } =
        from parts in FileEntryArenaTests.ArrayOf(Gen.Elements("a"u8.ToArray(), "bc"u8.ToArray(), [0xFF, 0x2E], "."u8.ToArray(), "/"u8.ToArray(), []), 0, 8)
        select parts.SelectMany(p => p).ToArray();

    [Fact]
    public void SplittingAndJoiningGivesBackTheSameBytes()
    {
        Props.Check(Gen.OneOf(SlashyName, Props.Bytes(300)), bytes =>
        {
            var name = EntryName.Split(bytes);
            Assert.Equal(bytes.Length, name.Length);
            Assert.Equal(bytes, name.ToArray());
            Assert.True(name.SequenceEqual(bytes));
            byte[]? scratch = null;
            Assert.Equal(bytes, name.Joined(ref scratch).ToArray());
            Assert.Equal(bytes is [(byte)'.'], name.IsDot);
            Assert.False(name.Base.Contains((byte)'/') && !name.Directory.IsEmpty, "a slash in the base of a name with a directory");
            if (bytes.Length > 0)
                Assert.False(name.SequenceEqual(bytes.AsSpan(0, bytes.Length - 1)));
        });
    }

    [Theory]
    [InlineData("a/b/c", "a/b", "c")]
    [InlineData("c", "", "c")]
    [InlineData(".", "", ".")]
    [InlineData("/x", "", "/x")] // kept whole, so a receiver still sees the leading slash it refuses
    [InlineData("a//b", "a/", "b")]
    [InlineData("a/", "a", "")]
    public void ANameSplitsAtItsLastSlash(string whole, string directory, string baseName)
    {
        var name = EntryName.Split(System.Text.Encoding.ASCII.GetBytes(whole));
        Assert.Equal(directory, System.Text.Encoding.ASCII.GetString(name.Directory));
        Assert.Equal(baseName, System.Text.Encoding.ASCII.GetString(name.Base));
    }

    [Fact]
    public void EntriesOfOneDirectoryShareItsBytes()
    {
        var arena = new FileEntryArena();
        var first = arena.Add("photos/2019/a.jpg"u8, Posix.S_IFREG | 0x1A4, 1, 1);
        var second = arena.Add("photos/2019/b.jpg"u8, Posix.S_IFREG | 0x1A4, 1, 1);
        var other = arena.Add("photos/2020/c.jpg"u8, Posix.S_IFREG | 0x1A4, 1, 1);
        var back = arena.Add("photos/2019/d.jpg"u8, Posix.S_IFREG | 0x1A4, 1, 1);
        Assert.True(SameBytes(first.Name.Directory, second.Name.Directory), "one directory stored twice");
        Assert.Equal("photos/2020/c.jpg"u8.ToArray(), other.Name.ToArray());
        Assert.Equal("photos/2019/d.jpg"u8.ToArray(), back.Name.ToArray());
        Assert.Equal("photos/2019/a.jpg"u8.ToArray(), first.Name.ToArray());
    }

    private static bool SameBytes(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) =>
        a.Length == b.Length && Unsafe.AreSame(ref MemoryMarshal.GetReference(a), ref MemoryMarshal.GetReference(b));
}
