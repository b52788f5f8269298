using NetRsync.Protocol.Client;
using NetRsync.Protocol.Options;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Client;

/// <summary>A client holds no more of a daemon's file list than --max-alloc allows (options.c, max_alloc).</summary>
public sealed class ClientListBoundsTests
{
    private sealed class Quiet : IRsyncOutput
    {
        public void Info(string text)
        {
        }

        public void Error(string text)
        {
        }
    }

    private static TransferContext Context(RsyncOptions options) => new()
    {
        Reader = new RsyncReader(new MemoryStream()),
        Writer = new RsyncWriter(new MemoryStream()),
        Options = options,
        Output = new Quiet(),
        Protocol = 31,
    };

    [Fact]
    public void ByDefaultAListIsBoundedByOneGibibyte()
    {
        var settings = Context(OptionParser.Parse(["-a", "src/", "dst/"])).FileListSettings();
        Assert.Equal(1L << 30, settings.MaxNameBytes);
        Assert.Equal((1 << 30) / IntPtr.Size, settings.MaxEntries);
    }

    [Fact]
    public void MaxAllocSetsTheBoundsAndZeroLiftsThem()
    {
        var small = Context(OptionParser.Parse(["--max-alloc=2M", "src/", "dst/"])).FileListSettings();
        Assert.Equal(2L << 20, small.MaxNameBytes);
        Assert.Equal((2 << 20) / IntPtr.Size, small.MaxEntries);
        var none = Context(OptionParser.Parse(["--max-alloc=0", "src/", "dst/"])).FileListSettings();
        Assert.Equal(0, none.MaxEntries);
        Assert.Equal(0, none.MaxNameBytes);
    }

    [Theory]
    [InlineData("--max-alloc=1K")]
    [InlineData("--max-alloc=lots")]
    public void AMaxAllocTooSmallOrMalformedIsAUsageError(string option) =>
        Assert.Throws<RsyncUsageException>(() => OptionParser.Parse([option, "src/", "dst/"]));

    [Fact]
    public void AFloodingListStopsAtTheBound()
    {
        var ctx = Context(OptionParser.Parse(["--max-alloc=1M", "src/", "dst/"]));
        var stream = new MemoryStream();
        var writer = new RsyncWriter(stream);
        var encoder = new NetRsync.Protocol.FileList.FileListEncoder(writer, ctx.FileListSettings());
        for (int i = 0; i < 200_000; i++)
            encoder.Write(new NetRsync.Protocol.FileList.FileEntry(System.Text.Encoding.ASCII.GetBytes($"f{i:D7}"), 0x81A4, 0, 0), i);
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        writer.Flush();
        var decoder = new NetRsync.Protocol.FileList.FileListDecoder(new RsyncReader(new MemoryStream(stream.ToArray())), ctx.FileListSettings());
        var ex = Assert.Throws<RsyncProtocolException>(decoder.ReadAll);
        Assert.Contains("more than", ex.Message);
    }
}
