using System.Collections.Concurrent;
using System.Text;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// A daemon's messages for its client travel as MSG_INFO / MSG_ERROR frames. Any thread may
/// report; the frames are written by the thread that owns the connection's writer, when it
/// next flushes, so the output buffer is only ever touched by one thread.
/// </summary>
internal sealed class DaemonOutput : IRsyncOutput
{
    private readonly ConcurrentQueue<(MessageCode Code, string Text)> _pending = new();
    private readonly DaemonLog _log;
    private readonly RsyncWriter _writer;
    private bool _draining;

    public DaemonOutput(RsyncWriter writer, DaemonLog log)
    {
        _writer = writer;
        _log = log;
        writer.BeforeFlush = Drain;
    }

    public void Info(string text) => _pending.Enqueue((MessageCode.Info, text.EndsWith('\n') ? text : text + "\n"));

    public void Error(string text)
    {
        _log.Write(text);
        _pending.Enqueue((MessageCode.Error, text.EndsWith('\n') ? text : text + "\n"));
    }

    public void Drain()
    {
        if (_draining || !_writer.Multiplexed)
            return;
        _draining = true;
        try
        {
            while (_pending.TryDequeue(out var m))
                _writer.WriteMessage(m.Code, Encoding.UTF8.GetBytes(m.Text));
        }
        finally
        {
            _draining = false;
        }
    }
}
