using System.Collections.Concurrent;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Wire;

/// <summary>Every field type written by <see cref="RsyncWriter"/> reads back through <see cref="RsyncReader"/>.</summary>
public sealed class StreamRoundTripTests
{
    private abstract record Field;
    private sealed record ByteField(byte Value) : Field;
    private sealed record IntField(int Value) : Field;
    private sealed record ShortField(int Value) : Field;
    private sealed record VarIntField(int Value) : Field;
    private sealed record VarLongField(long Value, int MinBytes) : Field;
    private sealed record NdxField(int Value) : Field;
    private sealed record VStringField(byte[] Value) : Field;
    private sealed record BytesField(byte[] Value) : Field;
    private sealed record MessageField(int Tag, byte[] Payload) : Field;

    private static Gen<Field> AnyField(bool multiplexed)
    {
        var fields = new List<(int, Gen<Field>)>
        {
            (2, Gen.Choose(0, 255).Select(b => (Field)new ByteField((byte)b))),
            (3, Props.AnyInt.Select(v => (Field)new IntField(v))),
            (1, Gen.Choose(0, 0xFFFF).Select(v => (Field)new ShortField(v))),
            (3, Props.AnyInt.Select(v => (Field)new VarIntField(v))),
            (3, from v in Props.AnyLong from min in Gen.Elements(3, 4) select (Field)new VarLongField(v, min)),
            (2, Gen.OneOf(Gen.Choose(0, 5000), Gen.Choose(-200, -1), Gen.Choose(0, int.MaxValue))
                .Select(v => (Field)new NdxField(v))),
            (2, Gen.OneOf(Props.Bytes(200), Props.Bytes(0x7FFF)).Select(v => (Field)new VStringField(v))),
            (2, Gen.OneOf(Props.Bytes(100), Props.Bytes(80_000)).Select(v => (Field)new BytesField(v))),
        };
        if (multiplexed)
        {
            fields.Add((1, from tag in Gen.Elements((int)MessageCode.Info, (int)MessageCode.Error, (int)MessageCode.IoError, (int)MessageCode.Noop)
                           from payload in Props.Bytes(100)
                           select (Field)new MessageField(tag, payload)));
        }
        return Gen.Frequency(fields.ToArray());
    }

    private static void Write(RsyncWriter writer, Field field)
    {
        switch (field)
        {
            case ByteField f: writer.WriteByte(f.Value); break;
            case IntField f: writer.WriteInt32(f.Value); break;
            case ShortField f: writer.WriteShortInt(f.Value); break;
            case VarIntField f: writer.WriteVarInt(f.Value); break;
            case VarLongField f: writer.WriteVarLong(f.Value, f.MinBytes); break;
            case NdxField f: writer.WriteNdx(f.Value); break;
            case VStringField f: writer.WriteVString(f.Value); break;
            case BytesField f: writer.WriteBytes(f.Value); break;
            case MessageField f: writer.WriteMessage((MessageCode)f.Tag, f.Payload); break;
        }
    }

    private static void ReadAndCheck(RsyncReader reader, Field field)
    {
        switch (field)
        {
            case ByteField f: Assert.Equal(f.Value, reader.ReadByte()); break;
            case IntField f: Assert.Equal(f.Value, reader.ReadInt32()); break;
            case ShortField f: Assert.Equal(f.Value, reader.ReadShortInt()); break;
            case VarIntField f: Assert.Equal(f.Value, reader.ReadVarInt()); break;
            case VarLongField f: Assert.Equal(f.Value, reader.ReadVarLong(f.MinBytes)); break;
            case NdxField f: Assert.Equal(f.Value, reader.ReadNdx()); break;
            case VStringField f: Assert.Equal(f.Value, reader.ReadVString(0x8000)); break;
            case BytesField f: Assert.Equal(f.Value, reader.ReadBytes(f.Value.Length)); break;
            case MessageField: break;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FieldsRoundTrip(bool multiplexed)
    {
        var gen =
            from fields in Gen.ListOf(AnyField(multiplexed))
            from chunks in Gen.OneOf(Gen.ListOf(Gen.Choose(1, 13)), Gen.ListOf(Gen.Choose(1, 70_000)))
            from writerBuffer in Gen.Elements(4096, 256 * 1024)
            from readerBuffer in Gen.Elements(16, 1000, 64 * 1024)
            select (fields, chunks, writerBuffer, readerBuffer);
        Props.Check(gen, t =>
        {
            var output = new MemoryStream();
            var writer = new RsyncWriter(output, t.writerBuffer);
            if (multiplexed)
                writer.StartMultiplexing();
            foreach (var field in t.fields)
                Write(writer, field);
            // A final byte after any trailing message, so all messages are handled once it is read.
            if (multiplexed)
                writer.WriteByte(0x5A);
            writer.Flush();

            var messages = new ConcurrentQueue<(int, byte[])>();
            using var open = new ManualResetEventSlim();
            using var reader = new RsyncReader(new ChunkedStream(output.ToArray(), t.chunks, open), t.readerBuffer)
            {
                MessageHandler = (code, payload) => messages.Enqueue(((int)code, payload.ToArray())),
            };
            if (multiplexed)
                reader.StartMultiplexing();
            foreach (var field in t.fields)
                ReadAndCheck(reader, field);
            if (multiplexed)
            {
                Assert.Equal(0x5A, reader.ReadByte());
                var expected = t.fields.OfType<MessageField>().Select(m => (m.Tag, m.Payload)).ToList();
                var actual = messages.ToList();
                Assert.Equal(expected.Count, actual.Count);
                for (int i = 0; i < expected.Count; i++)
                {
                    Assert.Equal(expected[i].Tag, actual[i].Item1);
                    Assert.Equal(expected[i].Payload, actual[i].Item2);
                }
            }
            open.Set();
            var ex = Assert.Throws<RsyncProtocolException>(() => reader.ReadByte());
            Assert.Equal(ExitCodes.StreamIo, ex.ExitCode);
        }, maxTest: 60, endSize: 40);
    }

    [Fact]
    public void VStringLengthPrefix()
    {
        // io.c write_vstring: up to 0x7F one length byte; above, (len / 0x100 + 0x80) then len & 0xFF.
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        writer.WriteVString(new byte[0x7F]);
        writer.WriteVString(new byte[0x80]);
        writer.WriteVString(new byte[0x7FFF]);
        writer.Flush();
        byte[] raw = output.ToArray();
        Assert.Equal(0x7F, raw[0]);
        Assert.Equal([0x80, 0x80], raw[0x80..0x82]);
        Assert.Equal([0xFF, 0xFF], raw[(0x80 + 0x82)..(0x80 + 0x84)]);
        Assert.Equal(1 + 0x7F + 2 + 0x80 + 2 + 0x7FFF, raw.Length);

        var ex = Assert.ThrowsAny<RsyncException>(() => writer.WriteVString(new byte[0x8000]));
        Assert.Contains("over-long vstring", ex.Message);
    }

    [Fact]
    public void ReaderRejectsVStringsAtTheLimit()
    {
        // io.c read_vstring refuses a length that would not fit the buffer with its terminator.
        using var reader = new RsyncReader(new MemoryStream([0x05, 1, 2, 3, 4, 5]));
        Assert.ThrowsAny<RsyncException>(() => reader.ReadVString(5));
    }
}
