using System.Buffers.Binary;
using System.Collections.Concurrent;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Wire;

public sealed class MultiplexTests
{
    private const int MplexBase = 7;
    private const int MaxDataFrame = 32 * 1024;

    private sealed record Frame(int Tag, byte[] Payload);

    /// <summary>A frame as rsync lays it out (io.c, mplex_write): 4-byte LE header ((7 + tag) &lt;&lt; 24 | length), then the payload.</summary>
    private static void AppendFrame(MemoryStream stream, int tag, byte[] payload)
    {
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(header, ((uint)(MplexBase + tag) << 24) | (uint)payload.Length);
        stream.Write(header);
        stream.Write(payload);
    }

    /// <summary>Splits raw output into frames, independently of the reader under test.</summary>
    private static List<Frame> ParseFrames(byte[] raw)
    {
        var frames = new List<Frame>();
        int i = 0;
        while (i < raw.Length)
        {
            Assert.True(raw.Length - i >= 4, "truncated frame header");
            uint header = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(i));
            int tag = (int)(header >> 24) - MplexBase;
            int length = (int)(header & 0xFFFFFF);
            Assert.True(tag >= 0, $"bad tag byte {header >> 24:x2}");
            Assert.True(raw.Length - i - 4 >= length, "truncated frame payload");
            frames.Add(new Frame(tag, raw.AsSpan(i + 4, length).ToArray()));
            i += 4 + length;
        }
        return frames;
    }

    private static readonly int[] OtherTags =
    [
        (int)MessageCode.ErrorXfer, (int)MessageCode.Info, (int)MessageCode.Error, (int)MessageCode.Warning,
        (int)MessageCode.Log, (int)MessageCode.Redo, (int)MessageCode.IoError, (int)MessageCode.Noop,
        (int)MessageCode.Success, (int)MessageCode.Deleted, (int)MessageCode.NoSend,
    ];

    private static Gen<Frame> AnyFrame { get; } = Gen.Frequency(
        (5, Props.Bytes(3000).Select(p => new Frame(0, p))),
        (1, Gen.Constant(new Frame(0, []))),
        (4, from tag in Gen.Elements(OtherTags)
            from payload in Props.Bytes(300)
            select new Frame(tag, payload)));

    private static Gen<List<int>> ChunkSizes { get; } = Gen.OneOf(
        Gen.ListOf(Gen.Choose(1, 7)),
        Gen.ListOf(Gen.Choose(1, 5000)),
        Gen.Constant(new List<int> { 1 }),
        Gen.Constant(new List<int>()));

    [Fact]
    public void DemultiplexesUnderArbitrarySplitPoints()
    {
        var gen =
            from frames in Gen.ListOf(AnyFrame)
            from chunks in ChunkSizes
            from preamble in Props.Bytes(12)
            select (frames, chunks, preamble);
        Props.Check(gen, t =>
        {
            // A plain preamble first, as the handshake precedes multiplexing: whatever the reader
            // buffered beyond it must be fed to the demultiplexer.
            var raw = new MemoryStream();
            raw.Write(t.preamble);
            foreach (var f in t.frames)
                AppendFrame(raw, f.Tag, f.Payload);
            const byte sentinel = 0xA5;
            AppendFrame(raw, 0, [sentinel]);

            var seen = new ConcurrentQueue<Frame>();
            using var open = new ManualResetEventSlim();
            using var reader = new RsyncReader(new ChunkedStream(raw.ToArray(), t.chunks, open), bufferSize: 4096)
            {
                MessageHandler = (code, payload) => seen.Enqueue(new Frame((int)code, payload.ToArray())),
            };
            Assert.Equal(t.preamble, reader.ReadBytes(t.preamble.Length));
            reader.StartMultiplexing();

            byte[] expectedData = t.frames.Where(f => f.Tag == 0).SelectMany(f => f.Payload).ToArray();
            Assert.Equal(expectedData, reader.ReadBytes(expectedData.Length));
            // The sentinel comes after every message, and the pump hands a message over before
            // it moves on to the next frame, so by now the handler has seen them all.
            Assert.Equal(sentinel, reader.ReadByte());
            var expectedMessages = t.frames.Where(f => f.Tag != 0).ToList();
            var actual = seen.ToList();
            Assert.Equal(expectedMessages.Count, actual.Count);
            for (int i = 0; i < actual.Count; i++)
            {
                Assert.Equal(expectedMessages[i].Tag, actual[i].Tag);
                Assert.Equal(expectedMessages[i].Payload, actual[i].Payload);
            }

            // Only now does the peer hang up.
            open.Set();
            var ex = Assert.Throws<RsyncProtocolException>(() => reader.ReadByte());
            Assert.Equal(ExitCodes.StreamIo, ex.ExitCode);
            Assert.Contains("connection unexpectedly closed", ex.Message);
        }, maxTest: 150);
    }

    /// <summary>
    /// The stream is demultiplexed by the thread that reads it, as the data is asked for: a message
    /// is handled on that thread, and nothing is read from the socket beyond what a read needs.
    /// </summary>
    [Fact]
    public void MessagesAreHandledOnTheReadingThreadAndOnlyWhenReached()
    {
        var raw = new MemoryStream();
        AppendFrame(raw, 0, [1, 2]);
        AppendFrame(raw, (int)MessageCode.Info, "hello\n"u8.ToArray());
        AppendFrame(raw, 0, [3]);
        byte[] bytes = raw.ToArray();
        var handledOn = new List<int>();
        using var reader = new RsyncReader(new ChunkedStream(bytes, [6]))
        {
            MessageHandler = (_, _) => handledOn.Add(Environment.CurrentManagedThreadId),
        };
        reader.StartMultiplexing();
        Assert.Equal(1, reader.ReadByte());
        Assert.Equal(2, reader.ReadByte());
        // The message's frame has not been needed yet, so nothing read it.
        Assert.Empty(handledOn);
        Assert.Equal(6, reader.BytesRead);
        Assert.Equal(3, reader.ReadByte());
        Assert.Equal([Environment.CurrentManagedThreadId], handledOn);
        Assert.Equal(bytes.Length, reader.BytesRead);
    }

    [Fact]
    public void StreamCutShortRaisesConnectionClosed()
    {
        var gen =
            from frames in Gen.NonEmptyListOf(AnyFrame)
            from cutFraction in Gen.Choose(0, 999)
            from chunks in ChunkSizes
            select (frames, cutFraction, chunks);
        Props.Check(gen, t =>
        {
            var raw = new MemoryStream();
            foreach (var f in t.frames)
                AppendFrame(raw, f.Tag, f.Payload);
            byte[] all = raw.ToArray();
            // Cut anywhere but at the very end: some frame is left incomplete.
            byte[] cut = all[..(int)((long)(all.Length - 1) * t.cutFraction / 1000)];

            using var reader = new RsyncReader(new ChunkedStream(cut, t.chunks));
            reader.StartMultiplexing();
            int dataLength = t.frames.Where(f => f.Tag == 0).Sum(f => f.Payload.Length);
            var ex = Assert.Throws<RsyncProtocolException>(() => reader.ReadBytes(dataLength + 1));
            Assert.Equal(ExitCodes.StreamIo, ex.ExitCode);
            Assert.Contains("connection unexpectedly closed", ex.Message);
        }, maxTest: 150);
    }

    [Fact]
    public void PlainStreamCutShortRaisesConnectionClosed()
    {
        using var reader = new RsyncReader(new MemoryStream([1, 2, 3]));
        var ex = Assert.Throws<RsyncProtocolException>(() => reader.ReadInt32());
        Assert.Equal(ExitCodes.StreamIo, ex.ExitCode);
        Assert.Contains("connection unexpectedly closed", ex.Message);
    }

    [Fact]
    public void FailingSocketRaisesConnectionClosed()
    {
        var raw = new MemoryStream();
        AppendFrame(raw, 0, [1, 2, 3]);
        using var open = new ManualResetEventSlim();
        using var reader = new RsyncReader(new FailingStream(raw.ToArray(), open));
        reader.StartMultiplexing();
        Assert.Equal([1, 2, 3], reader.ReadBytes(3));
        open.Set();
        var ex = Assert.ThrowsAny<RsyncException>(() => reader.ReadByte());
        Assert.Equal(ExitCodes.StreamIo, ex.ExitCode);
    }

    private abstract record WriterOp;
    private sealed record DataOp(byte[] Data) : WriterOp;
    private sealed record IntOp(int Value) : WriterOp;
    private sealed record MessageOp(int Tag, byte[] Payload) : WriterOp;
    private sealed record FlushOp : WriterOp;
    private sealed record TokensInPlaceOp(int Total, int MaxCount) : WriterOp;

    private static Gen<WriterOp> AnyWriterOp { get; } = Gen.Frequency(
        (4, Props.Bytes(2000).Select(d => (WriterOp)new DataOp(d))),
        (1, Gen.Choose(0, 100_000).Select(n => (WriterOp)new DataOp(new byte[n].Select((_, i) => (byte)(i * 7 + n)).ToArray()))),
        (3, Props.AnyInt.Select(v => (WriterOp)new IntOp(v))),
        (2, from tag in Gen.Elements(OtherTags)
            from payload in Props.Bytes(500)
            select (WriterOp)new MessageOp(tag, payload)),
        (1, Gen.Constant((WriterOp)new FlushOp())),
        (2, from total in Gen.Choose(1, 300_000)
            from maxCount in Gen.Choose(1, 16)
            select (WriterOp)new TokensInPlaceOp(total, maxCount)));

    [Fact]
    public void WriterFramesStayWithinLimitsAndParseBack()
    {
        var gen =
            from ops in Gen.ListOf(AnyWriterOp)
            from bufferSize in Gen.Elements(40_000, 100_000, 256 * 1024)
            select (ops, bufferSize);
        Props.Check(gen, t =>
        {
            var output = new MemoryStream();
            var writer = new RsyncWriter(output, t.bufferSize);
            writer.StartMultiplexing();
            var expectedData = new MemoryStream();
            var expectedMessages = new List<(int Tag, byte[] Payload, long DataOffset)>();
            foreach (var op in t.ops)
            {
                switch (op)
                {
                    case DataOp d:
                        writer.WriteBytes(d.Data);
                        expectedData.Write(d.Data);
                        break;
                    case IntOp i:
                        writer.WriteInt32(i.Value);
                        expectedData.Write(BitConverter.GetBytes(i.Value));
                        break;
                    case MessageOp m:
                        writer.WriteMessage((MessageCode)m.Tag, m.Payload);
                        expectedMessages.Add((m.Tag, m.Payload, expectedData.Length));
                        break;
                    case FlushOp:
                        writer.Flush();
                        break;
                    case TokensInPlaceOp tokens:
                        var rooms = new Range[tokens.MaxCount];
                        Span<byte> region = writer.ReserveTokens(tokens.Total, rooms, out int count);
                        Assert.InRange(count, 1, tokens.MaxCount);
                        long laidOut = 0;
                        foreach (var r in rooms.AsSpan(0, count))
                        {
                            Span<byte> room = region[r];
                            Assert.InRange(room.Length, 1, RsyncWriter.LargestTokenInPlace);
                            for (int i = 0; i < room.Length; i++)
                                room[i] = (byte)(i * 13 + room.Length);
                            expectedData.Write(BitConverter.GetBytes(room.Length));
                            expectedData.Write(room);
                            laidOut += room.Length;
                        }
                        Assert.True(laidOut <= tokens.Total);
                        break;
                }
            }
            writer.Flush();
            Assert.Equal(output.Length, writer.BytesWritten);

            var data = new MemoryStream();
            var messages = new List<(int Tag, byte[] Payload, long DataOffset)>();
            foreach (var frame in ParseFrames(output.ToArray()))
            {
                if (frame.Tag == 0)
                {
                    Assert.InRange(frame.Payload.Length, 1, MaxDataFrame);
                    data.Write(frame.Payload);
                }
                else
                    messages.Add((frame.Tag, frame.Payload, data.Length));
            }
            Assert.Equal(expectedData.ToArray(), data.ToArray());
            Assert.Equal(expectedMessages.Count, messages.Count);
            for (int i = 0; i < messages.Count; i++)
            {
                Assert.Equal(expectedMessages[i].Tag, messages[i].Tag);
                Assert.Equal(expectedMessages[i].Payload, messages[i].Payload);
                // Everything written before the message precedes it on the wire, nothing after does.
                Assert.Equal(expectedMessages[i].DataOffset, messages[i].DataOffset);
            }
        }, maxTest: 100);
    }

    [Fact]
    public void TokensLaidOutInPlaceAreAFrameEach()
    {
        var output = new MemoryStream();
        var writer = new RsyncWriter(output, 200_000);
        writer.StartMultiplexing();
        writer.WriteInt32(7);
        const int piece = RsyncWriter.LargestTokenInPlace;
        var rooms = new Range[16];
        Span<byte> region = writer.ReserveTokens(7L * piece, rooms, out int count);
        // Seven would not fit in 200,000 bytes: six are laid out, the rest waits for the next call.
        Assert.Equal(6, count);
        for (int t = 0; t < count; t++)
            region[rooms[t]].Fill((byte)t);
        writer.Flush();
        var frames = ParseFrames(output.ToArray());
        // The open frame ends before the tokens; each token with its length fills one frame.
        Assert.Equal([4, .. Enumerable.Repeat(MaxDataFrame, 6)], frames.Select(f => f.Payload.Length));
        for (int t = 0; t < count; t++)
        {
            Assert.Equal(piece, BinaryPrimitives.ReadInt32LittleEndian(frames[t + 1].Payload));
            Assert.True(frames[t + 1].Payload.AsSpan(4).IndexOfAnyExcept((byte)t) < 0);
        }
    }

    [Fact]
    public void ReadInPlaceHandsOutDataUpToTheFrameAndSkipsMessages()
    {
        var raw = new MemoryStream();
        AppendFrame(raw, 0, [1, 2, 3]);
        AppendFrame(raw, (int)MessageCode.Info, "hi\n"u8.ToArray());
        AppendFrame(raw, 0, [4, 5]);
        var reader = new RsyncReader(new MemoryStream(raw.ToArray()));
        var seen = new List<MessageCode>();
        reader.MessageHandler = (code, _) => seen.Add(code);
        reader.StartMultiplexing();
        Assert.Equal([1, 2], reader.ReadInPlace(2).ToArray());
        Assert.Equal([3], reader.ReadInPlace(10).ToArray());
        Assert.Empty(seen);
        Assert.Equal([4, 5], reader.ReadInPlace(10).ToArray());
        Assert.Equal([MessageCode.Info], seen);
    }

    [Fact]
    public void WriterSendsNothingBeforeMultiplexingButRawBytes()
    {
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        writer.WriteInt32(31);
        writer.StartMultiplexing();
        writer.WriteInt32(0x01020304);
        writer.WriteMessageInt(MessageCode.IoError, 3);
        writer.Flush();
        // 31 raw; then a 4-byte data frame: header (7 << 24 | 4) = 04 00 00 07; then MSG_IO_ERROR
        // (tag 22): header ((7 + 22) << 24 | 4) = 04 00 00 1D, payload 3.
        Assert.Equal(
            Convert.FromHexString("1F000000" + "04000007" + "04030201" + "0400001D" + "03000000"),
            output.ToArray());
    }

    private sealed class FailingStream(byte[] data, ManualResetEventSlim failNow) : ReadOnlyForwardStream
    {
        private int _position;

        public override int Read(Span<byte> buffer)
        {
            if (_position >= data.Length)
            {
                failNow.Wait(TimeSpan.FromSeconds(30));
                throw new IOException("Connection reset by peer");
            }
            int n = Math.Min(buffer.Length, data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

    }
}
