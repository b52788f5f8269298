using System.Text;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.FileList;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

/// <summary>flist.c, flist_sort_and_clean on the receiving side: one entry per name, a directory first.</summary>
public sealed class DuplicateNameTests
{
    private static FileEntry Entry(string name, int mode) => new(Encoding.UTF8.GetBytes(name), mode, 0, 0);

    [Fact]
    public void ADirectoryWinsOverALinkOfTheSameName()
    {
        var link = Entry("a", 0xA1FF);
        var dir = Entry("a", 0x41ED);
        var child = Entry("a/x", 0x81A4);
        var files = new List<FileEntry> { link, dir, child };
        files.Sort(FileNameComparer.Instance);
        RsyncClient.DropDuplicateNames(files);
        Assert.NotEqual(EntryFlags.None, link.Flags & EntryFlags.Inactive);
        Assert.Equal(EntryFlags.None, dir.Flags & EntryFlags.Inactive);
        Assert.Equal(EntryFlags.None, child.Flags & EntryFlags.Inactive);
    }

    [Fact]
    public void TwoFilesKeepTheFirstAndTwoDirectoriesMergeTheirFlags()
    {
        var first = Entry("f", 0x81A4);
        var second = Entry("f", 0x81A4);
        var implied = Entry("d", 0x41ED);
        implied.Flags = EntryFlags.ImpliedDir;
        var content = Entry("d", 0x41ED);
        content.Flags = EntryFlags.ContentDir;
        var files = new List<FileEntry> { first, second, implied, content };
        RsyncClient.DropDuplicateNames(files);
        Assert.Equal(EntryFlags.None, first.Flags & EntryFlags.Inactive);
        Assert.NotEqual(EntryFlags.None, second.Flags & EntryFlags.Inactive);
        Assert.Equal(EntryFlags.ContentDir, implied.Flags);
        Assert.NotEqual(EntryFlags.None, content.Flags & EntryFlags.Inactive);
    }
}
