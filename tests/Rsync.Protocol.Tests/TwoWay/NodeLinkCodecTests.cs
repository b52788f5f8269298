using System.Buffers.Binary;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Tests.Wire;
using NetRsync.Protocol.TwoWay;
using Xunit;

namespace NetRsync.Protocol.Tests.TwoWay;

public sealed class NodeLinkCodecTests
{
    private static byte[] P(string s) => Encoding.UTF8.GetBytes(s);

    private static NodeLinkFrame RoundTrip(NodeLinkFrame frame)
    {
        var bytes = NodeLinkCodec.Encode(frame);
        Assert.Equal(bytes.Length - 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        var buffer = new NodeLinkFrameBuffer();
        buffer.Append(bytes);
        var back = buffer.TryTake();
        Assert.NotNull(back);
        Assert.Null(buffer.TryTake());
        Assert.Equal(0, buffer.Pending);
        return back!;
    }

    private static Gen<byte[]> AnyPath { get; } =
        from length in Gen.Choose(0, 300)
        from bytes in Gen.ArrayOf(Gen.Choose(1, 255).Select(b => (byte)b), length)
        select (byte[])[(byte)'/', .. bytes];

    [Fact]
    public void Written_records_of_every_kind_and_any_path_bytes_survive_the_trip()
    {
        var gen =
            from kind in Gen.Elements(Enum.GetValues<WrittenKind>())
            from path in AnyPath
            from size in Gen.Choose(0, int.MaxValue)
            from seconds in Gen.Choose(int.MinValue, int.MaxValue)
            from ns in Gen.Choose(0, 999_999_999)
            from inode in Gen.Choose(0, int.MaxValue)
            select new WrittenRecord(kind, path, size * 3L, seconds * 5L, ns, (ulong)inode << 20);
        Props.Check(gen, record =>
        {
            var back = Assert.IsType<WrittenFrame>(RoundTrip(new WrittenFrame(record))).Record;
            Assert.Equal(record.Kind, back.Kind);
            Assert.Equal(record.Path, back.Path);
            Assert.Equal((record.Size, record.MtimeSeconds, record.MtimeNanoseconds, record.Inode), (back.Size, back.MtimeSeconds, back.MtimeNanoseconds, back.Inode));
        });
    }

    [Fact]
    public void Hello_query_and_answer_survive_the_trip()
    {
        var hello = Assert.IsType<HelloFrame>(RoundTrip(new HelloFrame(1, [P("/a"), [(byte)'/', 0xFF, 0x80]])));
        Assert.Equal(1u, hello.Version);
        Assert.Equal([P("/a"), [(byte)'/', 0xFF, 0x80]], hello.Roots);

        var query = Assert.IsType<QueryFrame>(RoundTrip(new QueryFrame(uint.MaxValue, P("/x/y"), long.MaxValue, -1, 999_999_999, ulong.MaxValue)));
        Assert.Equal((uint.MaxValue, long.MaxValue, -1L, 999_999_999, ulong.MaxValue), (query.Id, query.Size, query.MtimeSeconds, query.MtimeNanoseconds, query.Inode));
        Assert.Equal(P("/x/y"), query.Path);

        Assert.Equal(new AnswerFrame(7, true), RoundTrip(new AnswerFrame(7, true)));
        Assert.Equal(new AnswerFrame(8, false), RoundTrip(new AnswerFrame(8, false)));
    }

    [Fact]
    public void Frames_arriving_a_byte_at_a_time_come_out_whole_and_in_order()
    {
        var frames = new NodeLinkFrame[]
        {
            new WrittenFrame(new WrittenRecord(WrittenKind.File, P("/m/one"), 10, 20, 30, 40)),
            new QueryFrame(3, P("/m/two"), 1, 2, 3, 4),
            new WrittenFrame(new WrittenRecord(WrittenKind.Deleted, P("/m/three"), 0, 0, 0, 0)),
        };
        var stream = frames.SelectMany(NodeLinkCodec.Encode).ToArray();
        var buffer = new NodeLinkFrameBuffer();
        var seen = new List<NodeLinkFrame>();
        foreach (byte b in stream)
        {
            buffer.Append([b]);
            while (buffer.TryTake() is { } f)
                seen.Add(f);
        }
        Assert.Equal(3, seen.Count);
        Assert.Equal(P("/m/one"), Assert.IsType<WrittenFrame>(seen[0]).Record.Path);
        Assert.Equal(3u, Assert.IsType<QueryFrame>(seen[1]).Id);
        Assert.Equal(WrittenKind.Deleted, Assert.IsType<WrittenFrame>(seen[2]).Record.Kind);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(NodeLinkCodec.MaxFrameLength + 1u)]
    [InlineData(uint.MaxValue)]
    public void A_bad_length_is_refused_from_the_header_alone(uint length)
    {
        var buffer = new NodeLinkFrameBuffer();
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(header, length);
        buffer.Append(header);
        Assert.Throws<NodeLinkProtocolException>(() => buffer.TryTake());
    }

    [Fact]
    public void A_frame_of_the_largest_length_is_waited_for_and_accepted()
    {
        // A HELLO padded with roots up to exactly the limit.
        var roots = new List<byte[]>();
        int body = 1 + 4 + 4;
        while (body + 4 + 4000 <= NodeLinkCodec.MaxFrameLength)
        {
            roots.Add([(byte)'/', .. Enumerable.Repeat((byte)'r', 3999)]);
            body += 4 + 4000;
        }
        int rest = NodeLinkCodec.MaxFrameLength - body - 4;
        roots.Add([(byte)'/', .. Enumerable.Repeat((byte)'s', rest - 1)]);
        var bytes = NodeLinkCodec.Encode(new HelloFrame(1, roots));
        Assert.Equal(NodeLinkCodec.MaxFrameLength + 4, bytes.Length);
        var buffer = new NodeLinkFrameBuffer();
        buffer.Append(bytes.AsSpan(0, bytes.Length - 1));
        Assert.Null(buffer.TryTake());
        buffer.Append(bytes.AsSpan(bytes.Length - 1));
        Assert.Equal(roots.Count, Assert.IsType<HelloFrame>(buffer.TryTake()).Roots.Count);
    }

    [Fact]
    public void A_frame_over_the_limit_cannot_be_encoded()
    {
        var roots = Enumerable.Range(0, 20).Select(_ => (byte[])[(byte)'/', .. Enumerable.Repeat((byte)'x', 4000)]).ToList();
        Assert.Throws<ArgumentException>(() => NodeLinkCodec.Encode(new HelloFrame(1, roots)));
    }

    [Fact]
    public void Paths_must_be_absolute_without_nul_and_shorter_than_path_max()
    {
        Assert.Throws<ArgumentException>(() => NodeLinkCodec.Encode(new WrittenFrame(new WrittenRecord(WrittenKind.File, P("relative"), 0, 0, 0, 0))));
        Assert.Throws<ArgumentException>(() => NodeLinkCodec.Encode(new WrittenFrame(new WrittenRecord(WrittenKind.File, [(byte)'/', 0, (byte)'x'], 0, 0, 0, 0))));
        Assert.Throws<ArgumentException>(() => NodeLinkCodec.Encode(new WrittenFrame(new WrittenRecord(WrittenKind.File, [], 0, 0, 0, 0))));
        byte[] longest = [(byte)'/', .. Enumerable.Repeat((byte)'a', NodeLinkCodec.MaxPathLength - 1)];
        RoundTrip(new WrittenFrame(new WrittenRecord(WrittenKind.File, longest, 0, 0, 0, 0)));
        Assert.Throws<ArgumentException>(() => NodeLinkCodec.Encode(new WrittenFrame(new WrittenRecord(WrittenKind.File, [.. longest, (byte)'a'], 0, 0, 0, 0))));

        // The same rules on the way in, for a peer that does not keep them.
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(WrittenBody(P("rel"))));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(WrittenBody([(byte)'/', 0])));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(WrittenBody([])));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(WrittenBody([.. longest, (byte)'a'])));
        NodeLinkCodec.Decode(WrittenBody(longest));
    }

    /// <summary>A WRITTEN body built by hand, so that invalid paths can be sent.</summary>
    private static byte[] WrittenBody(byte[] path, byte kind = 1, uint nanoseconds = 0, long size = 0)
    {
        var body = new List<byte> { NodeLinkCodec.WrittenType, kind };
        body.AddRange(BitConverter.GetBytes((uint)path.Length));
        body.AddRange(path);
        body.AddRange(BitConverter.GetBytes(size));
        body.AddRange(BitConverter.GetBytes(0L));
        body.AddRange(BitConverter.GetBytes(nanoseconds));
        body.AddRange(BitConverter.GetBytes(0UL));
        return [.. body];
    }

    [Fact]
    public void Malformed_bodies_are_refused()
    {
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode([]));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode([99]));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(WrittenBody(P("/a"), kind: 0)));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(WrittenBody(P("/a"), kind: 6)));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(WrittenBody(P("/a"), nanoseconds: 1_000_000_000)));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(WrittenBody(P("/a"), size: -1)));
        var good = WrittenBody(P("/a"));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(good[..^1]));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode([.. good, 0]));
        // A path length beyond the frame.
        var lying = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(lying.AsSpan(2), 1000);
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(lying));
        // A HELLO announcing more roots than its bytes can hold.
        byte[] hello = [NodeLinkCodec.HelloType, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode(hello));
        Assert.Throws<NodeLinkProtocolException>(() => NodeLinkCodec.Decode([NodeLinkCodec.AnswerType, 1, 0, 0, 0, 2]));
    }

    [Fact]
    public void Random_bytes_never_throw_anything_but_a_protocol_error()
    {
        var bodies =
            from type in Gen.Choose(0, 5)
            from length in Gen.Choose(0, 60)
            from rest in Gen.ArrayOf(Gen.Elements<byte>(0, 1, 2, 47, 255), length)
            select (byte[])[(byte)type, .. rest];
        Props.Check(bodies, body =>
        {
            try
            {
                NodeLinkCodec.Decode(body);
            }
            catch (NodeLinkProtocolException)
            {
            }
        }, maxTest: 500);
    }

    [Fact]
    public void Within_and_overlap_compare_whole_components()
    {
        Assert.True(NodeLink.IsWithin(P("/a/b"), P("/a")));
        Assert.True(NodeLink.IsWithin(P("/a"), P("/a")));
        Assert.True(NodeLink.IsWithin(P("/a/b"), P("/a/")));
        Assert.True(NodeLink.IsWithin(P("/a/b"), P("/")));
        Assert.False(NodeLink.IsWithin(P("/ab"), P("/a")));
        Assert.False(NodeLink.IsWithin(P("/a"), P("/a/b")));
        Assert.True(NodeLink.Overlaps(P("/a"), P("/a/b")));
        Assert.True(NodeLink.Overlaps(P("/a/b"), P("/a")));
        Assert.False(NodeLink.Overlaps(P("/a/b"), P("/a/c")));
    }
}
