using System.Runtime.ExceptionServices;

namespace NetRsync.Protocol.Roles;

/// <summary>
/// What the receiver tells the generator, in order (rsync's pipe between the two processes,
/// receiver.c to generator.c): one thread posts, one takes, and the taker blocks when there is
/// nothing. A monitor hands each event straight to the waiting thread; a channel's asynchronous
/// wake-up went through the thread pool, whose idle workers then spun for work on every event.
/// </summary>
internal sealed class ReceiverEvents
{
    private readonly Queue<ReceiverEvent> _queue = new();
    private bool _completed;
    private Exception? _error;
    private bool _takerWaiting;

    public void Post(ReceiverEvent ev)
    {
        lock (_queue)
        {
            if (_completed)
                return;
            _queue.Enqueue(ev);
            if (_takerWaiting)
                Monitor.Pulse(_queue);
        }
    }

    /// <summary>No more events; a waiting taker gets <paramref name="error"/>, or false without one.</summary>
    public void Complete(Exception? error = null)
    {
        lock (_queue)
        {
            _completed = true;
            _error ??= error;
            Monitor.PulseAll(_queue);
        }
    }

    public bool TryTake(out ReceiverEvent ev)
    {
        lock (_queue)
            return _queue.TryDequeue(out ev);
    }

    /// <summary>The next event, waiting for it; false once the receiver has stopped and none is left.</summary>
    public bool Take(out ReceiverEvent ev)
    {
        lock (_queue)
        {
            while (!_queue.TryDequeue(out ev))
            {
                if (_error is not null)
                    ExceptionDispatchInfo.Throw(_error);
                if (_completed)
                    return false;
                _takerWaiting = true;
                Monitor.Wait(_queue);
                _takerWaiting = false;
            }
            return true;
        }
    }
}
