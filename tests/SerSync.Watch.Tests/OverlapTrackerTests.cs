using NetRsync.SerSync.Sync;
using Xunit;

namespace NetRsync.SerSync.Tests;

public sealed class OverlapTrackerTests
{
    [Fact]
    public void ABatchAloneNeverResendsItsDirectories()
    {
        var t = new OverlapTracker();
        t.Started(1);
        Assert.False(t.Finished(1));
        t.Started(2);
        Assert.False(t.Finished(2));
    }

    [Fact]
    public void BothBatchesOfAnOverlapResendWhicheverFinishesLast()
    {
        var t = new OverlapTracker();
        t.Started(1);
        t.Started(2);
        Assert.True(t.Finished(2));
        Assert.True(t.Finished(1));
        Assert.Equal(0, t.Running);
    }

    [Fact]
    public void ABatchStartedAfterAnOverlapEndedRunsClean()
    {
        var t = new OverlapTracker();
        t.Started(1);
        t.Started(2);
        Assert.True(t.Finished(1));
        // 3 starts while 2 still runs: both overlap.
        t.Started(3);
        Assert.True(t.Finished(2));
        Assert.True(t.Finished(3));
        t.Started(4);
        Assert.False(t.Finished(4));
    }
}
