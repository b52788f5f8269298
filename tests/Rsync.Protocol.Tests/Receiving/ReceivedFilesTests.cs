using System.Text;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Roles;
using Xunit;

namespace NetRsync.Protocol.Tests.Receiving;

/// <summary>The receiving side's table of lists under incremental recursion.</summary>
public sealed class ReceivedFilesTests
{
    private static List<FileEntry> Directories(int count)
    {
        var arena = new FileEntryArena();
        return [.. Enumerable.Range(0, count).Select(i => arena.Add(Encoding.ASCII.GetBytes($"d{i:D4}"), Posix.S_IFDIR | 0x1ED, 0, 0))];
    }

    private static List<FileEntry> OneFileIn(int dir) =>
        [new FileEntryArena().Add(Encoding.ASCII.GetBytes($"d{dir:D4}/f"), Posix.S_IFREG | 0x1A4, 1, 0)];

    // flist.c, recv_file_list (3.5): a directory's list comes once, and never for a dropped duplicate.
    [Fact]
    public void ASecondListForADirectoryIsRefused()
    {
        var dirs = Directories(3);
        var table = ReceivedFiles.First(dirs);
        table.Add(OneFileIn(1), parentDir: 1);
        var ex = Assert.Throws<RsyncProtocolException>(() => table.Add(OneFileIn(1), parentDir: 1));
        Assert.Contains("duplicate flist for dir 1", ex.Message);

        var dropped = dirs[2];
        dropped.Flags |= EntryFlags.Inactive;
        ex = Assert.Throws<RsyncProtocolException>(() => table.Add(OneFileIn(2), parentDir: 2));
        Assert.Contains("cleared dir_ndx 2", ex.Message);
    }

    // The table sheds dropped lists, and a list keeps its position and its indexes when it does.
    [Fact]
    public void PositionsAndIndexesOutliveDroppedLists()
    {
        const int Lists = 300, Dropped = 250;
        var table = ReceivedFiles.First(Directories(Lists));
        var starts = new int[Lists];
        for (int i = 0; i < Lists; i++)
            starts[i] = table.Add(OneFileIn(i), parentDir: i).NdxStart;
        for (int i = 0; i < Dropped; i++)
            table.DropFirst();

        Assert.Equal(Lists + 1, table.ListCount);
        Assert.NotNull(table.FirstLive(out int position));
        Assert.Equal(Dropped, position);
        Assert.Null(table.List(10));
        for (int i = Dropped - 1; i < Lists; i++)
        {
            var list = table.List(i + 1)!;
            Assert.Equal(starts[i], list.NdxStart);
            Assert.Equal($"d{i:D4}/f", table[list.NdxStart].NameString);
            Assert.Equal($"d{i:D4}", table[list.NdxStart - 1].NameString);
        }
        Assert.Null(table.Find(starts[10], out _));
    }
}
