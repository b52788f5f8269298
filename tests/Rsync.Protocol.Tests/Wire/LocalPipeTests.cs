using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Wire;

public sealed class LocalPipeTests
{
    /// <summary>Writes and reads of any sizes, on two threads, through a ring smaller than the data: the same bytes arrive in order.</summary>
    [Fact]
    public void BytesArriveWholeAndInOrderWhateverTheChunkSizes()
    {
        var gen =
            from length in Gen.Choose(0, 20_000)
            from capacity in Gen.Choose(1, 4096)
            from writes in Gen.Choose(1, 3000)
            from reads in Gen.Choose(1, 3000)
            select (length, capacity, writes, reads);
        Props.Check(gen, t =>
        {
            var (length, capacity, writes, reads) = t;
            byte[] data = new byte[length];
            new Random(length).NextBytes(data);
            var pipe = new LocalPipe(capacity);
            var writer = new Thread(() =>
            {
                for (int at = 0; at < data.Length; at += writes)
                    pipe.Writer.Write(data, at, Math.Min(writes, data.Length - at));
                pipe.Writer.Dispose();
            });
            writer.Start();
            var received = new MemoryStream();
            byte[] buffer = new byte[reads];
            int n;
            while ((n = pipe.Reader.Read(buffer, 0, buffer.Length)) > 0)
                received.Write(buffer, 0, n);
            writer.Join();
            Assert.Equal(data, received.ToArray());
        }, maxTest: 200);
    }

    /// <summary>A failure ends both directions at once, as a reset socket does: a reader waiting for data and a writer waiting for room both get it.</summary>
    [Fact]
    public void AFailureWakesAWaitingReaderAndAWaitingWriter()
    {
        var empty = new LocalPipe(16);
        var full = new LocalPipe(16);
        full.Writer.Write(new byte[16]);
        Exception? readError = null, writeError = null;
        var reader = new Thread(() => readError = Record(() => empty.Reader.ReadExactly(new byte[1])));
        var writer = new Thread(() => writeError = Record(() => full.Writer.Write(new byte[1])));
        reader.Start();
        writer.Start();
        while (reader.ThreadState != ThreadState.WaitSleepJoin || writer.ThreadState != ThreadState.WaitSleepJoin)
            Thread.Yield();
        var failure = new OperationCanceledException("stopped");
        empty.Fail(failure);
        full.Fail(failure);
        Assert.True(reader.Join(TimeSpan.FromSeconds(10)) && writer.Join(TimeSpan.FromSeconds(10)));
        Assert.Same(failure, readError);
        Assert.Same(failure, writeError);
        Assert.Same(failure, Record(() => empty.Writer.Write(new byte[1])));
    }

    [Fact]
    public void TheEndOfWritingIsTheEndOfTheStreamAfterTheRest()
    {
        var pipe = new LocalPipe(8);
        pipe.Writer.Write([1, 2, 3]);
        pipe.Writer.Dispose();
        byte[] buffer = new byte[8];
        Assert.Equal(3, pipe.Reader.Read(buffer, 0, 8));
        Assert.Equal(0, pipe.Reader.Read(buffer, 0, 8));
    }

    private static Exception? Record(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }
}
