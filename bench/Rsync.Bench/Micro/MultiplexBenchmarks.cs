using BenchmarkDotNet.Attributes;
using NetRsync.Protocol.Wire;

namespace NetRsync.Bench.Micro;

/// <summary>
/// The connection's framing both ways: file data written through a multiplexed
/// <see cref="RsyncWriter"/> (headers patched into the buffer as frames close), and the same
/// frames read back through an <see cref="RsyncReader"/>, which takes the headers out in place and
/// hands each out-of-band message over where it lies (a 4-byte MSG_NO_SEND every 64 KiB here).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
[Throughput(ThroughputUnit.Bytes, "size")]
public class MultiplexBenchmarks
{
    private const int Size = 1024 * 1024;
    private const int MessageEvery = 64 * 1024;

    private byte[] _data = [];
    private byte[] _into = [];
    private RsyncWriter _writer = null!;
    private RsyncReader _reader = null!;
    private int _messages;

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        _into = new byte[Size];
        new Random(12345).NextBytes(_data);
        _writer = new RsyncWriter(Stream.Null);
        _writer.StartMultiplexing();

        // One cycle of the wire: Size bytes of data, a message every MessageEvery.
        var wire = new MemoryStream();
        var framer = new RsyncWriter(wire);
        framer.StartMultiplexing();
        for (int at = 0; at < Size; at += MessageEvery)
        {
            framer.WriteBytes(_data.AsSpan(at, MessageEvery));
            framer.WriteMessageInt(MessageCode.NoSend, at);
        }
        framer.Flush();
        _reader = new RsyncReader(new EndlessStream(wire.ToArray())) { MessageHandler = (_, payload) => _messages += payload.Length };
        _reader.StartMultiplexing();
    }

    /// <summary>Writes <paramref name="size"/> bytes of data and flushes them to a null socket.</summary>
    [Benchmark]
    [Arguments(Size)]
    public long Frame(int size)
    {
        for (int at = 0; at < size; at += MessageEvery)
            _writer.WriteBytes(_data.AsSpan(at, MessageEvery));
        _writer.Flush();
        return _writer.BytesWritten;
    }

    /// <summary>Reads <paramref name="size"/> bytes of data out of the frames, messages passed on as met.</summary>
    [Benchmark]
    [Arguments(Size)]
    public int Demultiplex(int size)
    {
        _reader.ReadBytes(_into.AsSpan(0, size));
        return _messages;
    }

    /// <summary>The same bytes over and over, as a socket that never runs dry.</summary>
    private sealed class EndlessStream(byte[] cycle) : ReadOnlyForwardStream
    {
        private int _position;

        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, cycle.Length - _position);
            cycle.AsSpan(_position, n).CopyTo(buffer);
            _position = (_position + n) % cycle.Length;
            return n;
        }
    }
}
