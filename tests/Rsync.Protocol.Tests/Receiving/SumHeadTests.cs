using NetRsync.Protocol.Delta;
using Xunit;

namespace NetRsync.Protocol.Tests.Receiving;

/// <summary>Block layouts as stock rsync's generator chose them (rsync --no-W --protocol=30 --debug=deltasum2).</summary>
public sealed class SumHeadTests
{
    [Theory]
    [InlineData(1L, 1, 700, 2, 1)]
    [InlineData(700L, 1, 700, 2, 0)]
    [InlineData(701L, 2, 700, 2, 1)]
    [InlineData(490_000L, 700, 700, 2, 0)]
    [InlineData(490_001L, 701, 700, 2, 1)]
    [InlineData(1_000_000L, 1000, 1000, 2, 0)]
    [InlineData(67_108_864L, 8192, 8192, 3, 0)]
    [InlineData(4_296_015_872L, 65552, 65536, 4, 0)]
    [InlineData(10_737_418_240L, 103628, 103616, 4, 3008)]
    public void MatchesStockRsync(long length, int count, int blockLength, int strongLength, int remainder) =>
        Assert.Equal(new SumHead(count, blockLength, strongLength, remainder), SumHead.For(length, fullStrongSums: false));

    [Fact]
    public void RedoAsksForFullStrongSums() => Assert.Equal(16, SumHead.For(1_000_000, fullStrongSums: true).StrongLength);
}
