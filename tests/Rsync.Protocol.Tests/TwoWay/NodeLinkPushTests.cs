using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using NetRsync.Protocol.TwoWay;
using Xunit;

namespace NetRsync.Protocol.Tests.TwoWay;

/// <summary>PUSH: the daemon asks its watchers to push a path whose newer local version it kept.</summary>
public sealed class NodeLinkPushTests : IDisposable
{
    private readonly string _runDirectory = Path.Join(Directory.CreateTempSubdirectory("nodelink-push-").FullName, "run");
    private readonly List<IDisposable> _owned = [];

    private static byte[] P(string s) => Encoding.UTF8.GetBytes(s);

    public void Dispose()
    {
        foreach (var d in Enumerable.Reverse(_owned))
            d.Dispose();
        Directory.Delete(Path.GetDirectoryName(_runDirectory)!, recursive: true);
    }

    [Fact]
    public void A_push_request_survives_the_trip_with_any_path_bytes()
    {
        byte[] path = [(byte)'/', 0xff, 0x80, (byte)'/', 0xc3, 0xa9, (byte)'\n'];
        var bytes = NodeLinkCodec.Encode(new PushFrame(path));
        Assert.Equal(NodeLinkCodec.PushType, bytes[4]);
        var buffer = new NodeLinkFrameBuffer();
        buffer.Append(bytes);
        var back = Assert.IsType<PushFrame>(buffer.TryTake());
        Assert.Equal(path, back.Path);
        Assert.Equal(0, buffer.Pending);
    }

    [Theory]
    [InlineData("")]
    [InlineData("relative")]
    [InlineData("/with\0nul")]
    public void A_push_of_a_bad_path_is_refused_both_ways(string path)
    {
        Assert.Throws<ArgumentException>(() => NodeLinkCodec.Encode(new PushFrame(P(path))));
        byte[] body = [NodeLinkCodec.PushType, 0, 0, 0, 0, .. P(path)];
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(1), (uint)path.Length);
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(body));
    }

    [Fact]
    public void A_push_longer_than_path_max_or_with_bytes_left_over_is_refused()
    {
        byte[] tooLong = [NodeLinkCodec.PushType, 0, 0, 0, 0, (byte)'/', .. new byte[NodeLinkCodec.MaxPathLength]];
        BinaryPrimitives.WriteUInt32LittleEndian(tooLong.AsSpan(1), (uint)(NodeLinkCodec.MaxPathLength + 1));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(tooLong));
        byte[] extra = [.. NodeLinkCodec.Encode(new PushFrame(P("/a")))[4..], 0];
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(extra));
        byte[] shortened = NodeLinkCodec.Encode(new PushFrame(P("/abc")))[4..^1];
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(shortened));
    }

    [Fact]
    public void A_push_request_reaches_the_covering_watcher_in_order_with_the_records()
    {
        var server = NodeLinkServer.Start(_runDirectory);
        _owned.Add(server);
        var handler = new RecordingHandler();
        var client = new NodeLinkClient(_runDirectory, [P("/data/tree")], handler) { ReconnectInterval = TimeSpan.FromMilliseconds(50) };
        _owned.Add(client);
        client.Start();
        var clock = Stopwatch.StartNew();
        while (server.WatcherCount != 1)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the watcher's HELLO did not come within 10 s");
            Thread.Sleep(10);
        }

        server.PushBack(P("/data/treeish/g"));
        server.Publish(new WrittenRecord(WrittenKind.File, P("/data/tree/f"), 1, 2, 3, 4));
        server.PushBack(P("/data/tree/g"));
        // PushBack does not wait, but the frame is in the socket once Send returned; Drain reads it.
        clock.Restart();
        int handed = 0;
        while (handed < 2 && clock.Elapsed < TimeSpan.FromSeconds(10))
            handed += client.Drain();
        Assert.Equal(2, handed);
        Assert.Equal(P("/data/tree/f"), Assert.Single(handler.Records).Path);
        Assert.Equal(P("/data/tree/g"), Assert.Single(handler.PushBacks));
    }
}
