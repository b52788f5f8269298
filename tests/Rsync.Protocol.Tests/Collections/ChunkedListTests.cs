using FsCheck.Fluent;
using NetRsync.Protocol.Collections;
using NetRsync.Protocol.Tests.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Collections;

public sealed class ChunkedListTests
{
    private readonly record struct Row(long A, long B, int C);

    [Fact]
    public void EveryRowReadsBackAndUpdatesInPlace()
    {
        Props.Check(Gen.Choose(0, 20_000), count =>
        {
            var rows = new ChunkedList<Row>();
            for (int i = 0; i < count; i++)
                rows.Add(new Row(i, -i, i * 7));
            Assert.Equal(count, rows.Count);
            for (int i = 0; i < count; i++)
                rows[i] = rows[i] with { C = rows[i].C + 1 };
            for (int i = 0; i < count; i++)
                Assert.Equal(new Row(i, -i, i * 7 + 1), rows[i]);
            Assert.Throws<ArgumentOutOfRangeException>(() => rows[count]);
            Assert.Throws<ArgumentOutOfRangeException>(() => rows[-1]);
        }, maxTest: 40);
    }

    // A List<T> doubles, so growing to n rows allocates about 2n; the blocks allocate about n,
    // none of them large enough for the large-object heap.
    [Fact]
    public void GrowingCopiesNothing()
    {
        const int Rows = 100_000;
        long payload = (long)Rows * 24;
        long before = GC.GetAllocatedBytesForCurrentThread();
        var rows = new ChunkedList<Row>();
        for (int i = 0; i < Rows; i++)
            rows.Add(new Row(i, i, i));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.InRange(allocated, payload, payload * 11 / 10);
        Assert.Equal(Rows - 1, rows[Rows - 1].C);
    }
}
