using System.Text;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Filters;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Regressions;

/// <summary>Cases that once went wrong, each pinned to the rsync rule it follows.</summary>
public sealed class CoreRegressionTests
{
    [Fact]
    public void DemultiplexedDataIsReadBeforeTheEndOfStreamIsReported()
    {
        // One MSG_DATA frame of three bytes, then the peer closes: the bytes still arrive (io.c reads its buffer first).
        var reader = new RsyncReader(new MemoryStream([0x03, 0x00, 0x00, 0x07, 1, 2, 3]));
        reader.StartMultiplexing();
        Assert.Equal(new byte[] { 1, 2, 3 }, reader.ReadBytes(3));
        var ex = Assert.ThrowsAny<RsyncException>(() => reader.ReadByte());
        Assert.Equal(ExitCodes.StreamIo, ex.ExitCode);
        Assert.Contains("connection unexpectedly closed", ex.Message);
    }

    private static readonly FileListSettings AllTypes = new(31, PreserveUid: false, PreserveGid: false, PreserveLinks: true,
        PreserveDevices: true, PreserveSpecials: true, PreserveHardLinks: true, AlwaysChecksum: false, NumericIds: true, SafeFileList: false);

    private static List<FileEntry> RoundTrip(List<FileEntry> entries)
    {
        var stream = new MemoryStream();
        var writer = new RsyncWriter(stream);
        var encoder = new FileListEncoder(writer, AllTypes);
        for (int i = 0; i < entries.Count; i++)
            encoder.Write(entries[i], i);
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        writer.Flush();
        var decoder = new FileListDecoder(new RsyncReader(new MemoryStream(stream.ToArray())), AllTypes);
        decoder.ReadAll();
        return decoder.Entries;
    }

    private static FileEntry Device(string name, int major, int minor, long inode = 0) =>
        new(Encoding.UTF8.GetBytes(name), Posix.S_IFCHR | 0x1A4, 0, 100)
        {
            Rdev = Posix.MakeDev(major, minor),
            Flags = inode != 0 ? EntryFlags.HardLinked : EntryFlags.None,
            Device = inode != 0 ? 1 : 0,
            Inode = inode,
        };

    [Fact]
    public void HardLinkedDeviceFollowerKeepsItsRdevAndTheMajorStaysInStep()
    {
        // flist.c: the sender moves its major number for a follower too; recv_file_entry must follow.
        var decoded = RoundTrip([Device("a", 5, 1, inode: 10), Device("b", 7, 2), Device("c", 5, 1, inode: 10), Device("d", 5, 3)]);
        Assert.Equal(Posix.MakeDev(5, 1), decoded[2].Rdev);
        Assert.Equal(Posix.MakeDev(5, 3), decoded[3].Rdev);
        Assert.Equal(Posix.MakeDev(7, 2), decoded[1].Rdev);
    }

    [Fact]
    public void HardLinkedSymlinkFollowerKeepsItsTarget()
    {
        FileEntry Link(string name) => new(Encoding.UTF8.GetBytes(name), Posix.S_IFLNK | 0x1FF, 3, 100)
        {
            LinkTarget = "xyz"u8.ToArray(),
            Flags = EntryFlags.HardLinked,
            Device = 1,
            Inode = 10,
        };
        var decoded = RoundTrip([Link("a"), Link("b")]);
        Assert.Equal("xyz"u8.ToArray(), decoded[1].LinkTarget);
        Assert.Equal(0, decoded[1].HardLinkIndex);
    }

    [Fact]
    public void ImpliedDirectoryDecodesAsImplied()
    {
        var dir = new FileEntry("a"u8.ToArray(), Posix.S_IFDIR | 0x1ED, 4096, 100) { Flags = EntryFlags.ImpliedDir };
        var decoded = RoundTrip([dir]);
        Assert.Equal(EntryFlags.ImpliedDir, decoded[0].Flags & (EntryFlags.ImpliedDir | EntryFlags.TopDir | EntryFlags.ContentDir));
    }

    [Theory]
    [InlineData("- **/foo", "foo", true, true)]
    [InlineData("- **/foo", "a/b/foo", true, true)]
    [InlineData("- **/foo", "xfoo", true, false)]
    [InlineData("- **/node_modules/", "node_modules", true, true)]
    public void LeadingDoubleStarAlsoMatchesAtTheTop(string rule, string path, bool isDir, bool expected) =>
        Assert.Equal(expected, FilterRule.Parse(rule).Matches(Encoding.UTF8.GetBytes(path), isDir));

    [Theory]
    [InlineData("[[:digit:]]", "5", true)]
    [InlineData("[[:digit:]]", "a", false)]
    [InlineData("[[:upper:][:digit:]]x", "Qx", true)]
    [InlineData("[[:bogus:]]", "b", false)]
    [InlineData(@"[\]]", "]", true)]
    [InlineData(@"[\-_]", "-", true)]
    [InlineData(@"[\1-\3]", "2", true)]
    [InlineData(@"[\1-\3]", "4", false)]
    [InlineData("a[]b", "a[]b", false)]
    [InlineData("ab[", "ab[", false)]
    [InlineData(@"ab\", @"ab\", false)]
    [InlineData("[[:]ab]", "[ab]", true)]
    [InlineData("[[:]ab]", ":ab]", true)]
    public void WildMatchFollowsWildmatchForClassesAndEscapes(string pattern, string text, bool expected) =>
        Assert.Equal(expected, WildMatch.Match(Encoding.UTF8.GetBytes(pattern), Encoding.UTF8.GetBytes(text)));

    [Theory]
    [InlineData("../../x", "a/./l", true)]
    [InlineData("../../x", "a//l", true)]
    [InlineData("../x", "a//l", false)]
    [InlineData("x", "./l", false)]
    public void UnsafeLinkDepthCountsRealComponents(string target, string linkName, bool expected) =>
        Assert.Equal(expected, FileListBuilder.IsUnsafeSymlink(target, linkName));
}
