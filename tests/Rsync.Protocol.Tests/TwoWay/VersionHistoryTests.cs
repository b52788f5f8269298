using NetRsync.Protocol.TwoWay;
using Xunit;

namespace NetRsync.Protocol.Tests.TwoWay;

public sealed class VersionHistoryTests
{
    private sealed class ManualClock : TimeProvider
    {
        public long Ticks { get; set; }

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Ticks;

        public void Advance(TimeSpan by) => Ticks += by.Ticks;
    }

    private static byte[] P(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    [Fact]
    public void AVersionPutAtAPathIsKnownThereAndNowhereElse()
    {
        var history = new VersionHistory(new ManualClock());
        history.Add(P("/t/a"), 10, 1000, 5);
        Assert.True(history.Had(P("/t/a"), 10, 1000, 5));
        Assert.True(history.Had(P("/t/a"), 10, 1000, null));
        Assert.False(history.Had(P("/t/a"), 10, 1000, 6));
        Assert.False(history.Had(P("/t/a"), 11, 1000, 5));
        Assert.False(history.Had(P("/t/b"), 10, 1000, 5));
        Assert.False(history.Had([0x2F, 0x74, 0x2F, 0xE9], 10, 1000, 5));
    }

    [Fact]
    public void OnlyTheLastFewVersionsOfAPathAreKept()
    {
        var history = new VersionHistory(new ManualClock());
        for (int i = 0; i <= VersionHistory.PerPath; i++)
            history.Add(P("/t/a"), i, 1000 + i, 0);
        Assert.False(history.Had(P("/t/a"), 0, 1000, 0));
        for (int i = 1; i <= VersionHistory.PerPath; i++)
            Assert.True(history.Had(P("/t/a"), i, 1000 + i, 0));
    }

    [Fact]
    public void VersionsExpireAfterMaxAge()
    {
        var clock = new ManualClock();
        var history = new VersionHistory(clock);
        history.Add(P("/t/a"), 1, 1000, 0);
        clock.Advance(VersionHistory.MaxAge / 2);
        history.Add(P("/t/b"), 2, 2000, 0);
        clock.Advance(VersionHistory.MaxAge / 2 + TimeSpan.FromSeconds(1));
        Assert.False(history.Had(P("/t/a"), 1, 1000, 0));
        Assert.True(history.Had(P("/t/b"), 2, 2000, 0));
        Assert.Equal(1, history.PathCount);
    }

    [Fact]
    public void ThePathsHeldAreBounded()
    {
        var history = new VersionHistory(new ManualClock());
        for (int i = 0; i < VersionHistory.MaxPaths + 10; i++)
            history.Add(P($"/t/{i}"), 1, 1, 0);
        Assert.Equal(VersionHistory.MaxPaths, history.PathCount);
        Assert.False(history.Had(P("/t/0"), 1, 1, 0));
        Assert.True(history.Had(P($"/t/{VersionHistory.MaxPaths + 9}"), 1, 1, 0));
    }
}
