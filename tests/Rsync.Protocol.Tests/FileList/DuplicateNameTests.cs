using System.Text;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Tests.Wire;
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
        RsyncClient.DropDuplicateNames(files, isSorted: true);
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
        RsyncClient.DropDuplicateNames(files, isSorted: false);
        Assert.Equal(EntryFlags.None, first.Flags & EntryFlags.Inactive);
        Assert.NotEqual(EntryFlags.None, second.Flags & EntryFlags.Inactive);
        Assert.Equal(EntryFlags.ContentDir, implied.Flags);
        Assert.NotEqual(EntryFlags.None, content.Flags & EntryFlags.Inactive);
    }

    private sealed record Spec(string Name, int Mode, EntryFlags Flags);

    // Names that collide, and a name between a file and a directory of one name in sort order.
    private static readonly Gen<Spec> AnySpec =
        from name in Gen.Elements("a", "a.b", "a/c", "b", "b/a")
        from mode in Gen.Elements(0x81A4, 0x41ED, 0xA1FF)
        from flags in Gen.Elements(EntryFlags.None, EntryFlags.TopDir, EntryFlags.ContentDir, EntryFlags.ImpliedDir, EntryFlags.ImpliedDir | EntryFlags.ContentDir)
        select new Spec(name, mode, flags);

    // The sorted list is cleaned by looking at neighbours, as rsync does; the order as sent (--iconv)
    // through a table of names. On a list sorted stably both keep and merge the same entries.
    [Fact]
    public void NeighboursFindWhatATableOfNamesFinds()
    {
        Props.Check(from n in Gen.Choose(0, 30) from specs in Gen.ArrayOf(AnySpec, n) select specs, specs =>
        {
            List<FileEntry> Make() => [.. specs.Select(sp => { var e = Entry(sp.Name, sp.Mode); e.Flags = sp.Flags; return e; })
                .OrderBy(e => e, FileNameComparer.Instance)];
            var byTable = Make();
            var byNeighbours = Make();
            RsyncClient.DropDuplicateNames(byTable, isSorted: false);
            RsyncClient.DropDuplicateNames(byNeighbours, isSorted: true);
            Assert.Equal(byTable.Select(e => e.Flags), byNeighbours.Select(e => e.Flags));
        }, maxTest: 500);
    }
}
