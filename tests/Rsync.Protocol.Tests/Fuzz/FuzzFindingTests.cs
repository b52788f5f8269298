using System.Buffers.Binary;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Fuzz;

/// <summary>One test per failure the fuzzer found, on the smallest input that shows it.</summary>
[Collection(FuzzCollection.Name)]
public sealed class FuzzFindingTests
{
    private static byte[] SumHeadBytes(int count, int blockLength, int strongLength, int remainder)
    {
        var raw = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(raw, count);
        BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(4), blockLength);
        BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(8), strongLength);
        BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(12), remainder);
        return raw;
    }

    [Fact]
    public void BlockSumsAnnouncingMillionsOfBlocksAllocateOnlyForTheSumsThatArrive()
    {
        // 16 bytes announcing 2^26 - 1 blocks used to allocate 1.3 GB before the first sum was read.
        byte[] raw = [.. SumHeadBytes((1 << 26) - 1, 700, 16, 0), .. new byte[3 * 20]];
        using var reader = new RsyncReader(new MemoryStream(raw));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<RsyncProtocolException>(() => BlockSums.Read(reader, 31));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 8 * 1024 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void BlockSumsLongerThanTheFirstAllocationArriveWhole()
    {
        // More blocks than are made room for up front: the arrays grow and keep every sum in place.
        const int count = 150_000;
        var raw = new MemoryStream();
        var writer = new RsyncWriter(raw);
        var sent = new BlockSums(count, 700, 3, 5);
        for (int i = 0; i < count; i++)
            sent.Set(i, (uint)i * 2654435761u, [(byte)i, (byte)(i >> 8), (byte)(i >> 16)]);
        sent.Write(writer);
        writer.Flush();

        using var reader = new RsyncReader(new MemoryStream(raw.ToArray()));
        var read = BlockSums.Read(reader, 31);
        Assert.Equal(count, read.Count);
        Assert.Equal(sent.FileLength, read.FileLength);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(sent.Weak(i), read.Weak(i));
            Assert.True(sent.Strong(i).SequenceEqual(read.Strong(i)), $"strong sum {i}");
        }
        foreach (int i in new[] { 0, 65_535, 65_536, count - 2 })
        {
            int j = read.FirstWithSums(read.Weak(i), read.Strong(i));
            while (j >= 0 && !(read.Weak(j) == read.Weak(i) && read.Strong(j).SequenceEqual(read.Strong(i))))
                j = read.NextWithOtherSums(j);
            Assert.True(j >= 0 && j <= i, $"block {i} is not found by its sums");
        }
    }

    [Fact]
    public void FileNameLengthsWhoseSumWrapsAreRefused()
    {
        // 3 bytes shared with the previous name plus a varint of 2^31 - 2 more: the sum wrapped to a
        // negative length and the array allocation threw OverflowException.
        var settings = new FileListSettings(31, false, false, false, false, false, false, false, true, false);
        var raw = new MemoryStream();
        var writer = new RsyncWriter(raw);
        new FileListEncoder(writer, settings).Write(new FileEntry("abc"u8.ToArray(), 0x81A4, 1, 1), 0);
        writer.WriteByte((byte)(XmitFlags.SameName | XmitFlags.LongName));
        writer.WriteByte(3);
        writer.WriteVarInt(int.MaxValue - 1);
        writer.Flush();

        var decoder = new FileListDecoder(new RsyncReader(new MemoryStream(raw.ToArray())), settings);
        var ex = Assert.Throws<RsyncProtocolException>(decoder.ReadAll);
        Assert.StartsWith("overflow:", ex.Message);
    }

    [Fact]
    public void ANonAsciiClientGreetingGetsAnErrorLineBack()
    {
        // The daemon echoes the bad greeting in its @ERROR line; a line sized in chars once overflowed
        // on the byte 0x80 (ArgumentException).
        byte[] greeting = [.. "@RSYNCD: 30."u8, 0x80, (byte)'\n'];
        var sent = new MemoryStream();
        var channel = new HandshakeChannel(new DuplexStream(new MemoryStream(greeting), sent));
        var ex = Assert.Throws<RsyncException>(() => DaemonServerHandshake.ExchangeAsync(channel, null, CancellationToken.None).GetAwaiter().GetResult());
        Assert.Contains("omitted the subprotocol", ex.Message);
        // The echo carries the client's own byte back, as rsync's does.
        byte[] expected = NetRsync.Protocol.Text.NameText.ToBytes("@ERROR: " + ex.Message + "\n");
        Assert.Contains((byte)0x80, expected);
        Assert.True(sent.ToArray().AsSpan().EndsWith(expected));
    }
}

/// <summary>Reads from one stream and writes to another, as a connection does.</summary>
internal sealed class DuplexStream(Stream incoming, Stream outgoing) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => outgoing.Flush();
    public override int Read(byte[] buffer, int offset, int count) => incoming.Read(buffer, offset, count);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => outgoing.Write(buffer, offset, count);
}
