using System.Runtime.ExceptionServices;

namespace NetRsync.Protocol.Wire;

/// <summary>
/// One direction of a local copy's connection between its sender and its receiving side (rsync
/// uses a socket pair, main.c, local_child): a ring buffer that the writing thread fills and the
/// reading thread drains, each blocking on a monitor when it must wait. Both ends are plain
/// blocking streams, so no byte crosses a thread-pool hop or a system call.
/// </summary>
internal sealed class LocalPipe
{
    private readonly byte[] _ring;
    private int _start;
    private int _count;
    private bool _writerDone;
    private Exception? _failure;

    /// <param name="capacity">At least a whole flush of the writer, so one flush rarely waits.</param>
    public LocalPipe(int capacity = 256 * 1024)
    {
        _ring = new byte[capacity];
        Reader = new ReadEnd(this);
        Writer = new WriteEnd(this);
    }

    public Stream Reader { get; }

    public Stream Writer { get; }

    /// <summary>
    /// Ends the pipe for both sides: a waiting or later read or write throws <paramref name="error"/>,
    /// as a reset socket fails both ends. The first failure is the one kept.
    /// </summary>
    public void Fail(Exception error)
    {
        lock (_ring)
        {
            _failure ??= error;
            Monitor.PulseAll(_ring);
        }
    }

    private int Read(Span<byte> into)
    {
        if (into.IsEmpty)
            return 0;
        lock (_ring)
        {
            while (_count == 0)
            {
                ThrowIfFailed();
                if (_writerDone)
                    return 0;
                Monitor.Wait(_ring);
            }
            ThrowIfFailed();
            bool wasFull = _count == _ring.Length;
            int n = Math.Min(into.Length, _count);
            int first = Math.Min(n, _ring.Length - _start);
            _ring.AsSpan(_start, first).CopyTo(into);
            _ring.AsSpan(0, n - first).CopyTo(into[first..]);
            _start = (_start + n) % _ring.Length;
            _count -= n;
            if (_count == 0)
                _start = 0;
            if (wasFull)
                Monitor.PulseAll(_ring);
            return n;
        }
    }

    private void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            lock (_ring)
            {
                while (_count == _ring.Length && _failure is null)
                    Monitor.Wait(_ring);
                ThrowIfFailed();
                if (_writerDone)
                    throw new ObjectDisposedException(nameof(LocalPipe), "write after the end of the stream");
                bool wasEmpty = _count == 0;
                int end = (_start + _count) % _ring.Length;
                int n = Math.Min(data.Length, _ring.Length - _count);
                int first = Math.Min(n, _ring.Length - end);
                data[..first].CopyTo(_ring.AsSpan(end));
                data[first..n].CopyTo(_ring);
                _count += n;
                data = data[n..];
                if (wasEmpty)
                    Monitor.PulseAll(_ring);
            }
        }
    }

    /// <summary>The writer is done: the reader gets the rest, then the end of the stream.</summary>
    private void EndWriting()
    {
        lock (_ring)
        {
            _writerDone = true;
            Monitor.PulseAll(_ring);
        }
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null)
            ExceptionDispatchInfo.Throw(_failure);
    }

    private sealed class ReadEnd(LocalPipe pipe) : ReadOnlyForwardStream
    {
        public override int Read(Span<byte> buffer) => pipe.Read(buffer);
    }

    private sealed class WriteEnd(LocalPipe pipe) : WriteOnlyForwardStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => pipe.Write(buffer);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                pipe.EndWriting();
            base.Dispose(disposing);
        }
    }
}
