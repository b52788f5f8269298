using System.Collections.Concurrent;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Text;
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

    /// <summary>
    /// The thread that writes the connection's data, when one does throughout (a pull's sender): its
    /// messages go out at once, in order with the data, as rsync's rwrite sends them.
    /// </summary>
    public Thread? WriterThread { get; set; }

    public void Info(string text) => Send(MessageCode.Info, text);

    public void Error(string text)
    {
        _log.Write(text);
        Send(MessageCode.Error, text);
    }

    /// <summary>Shown by the client on stderr; the daemon's own log has its own line for it.</summary>
    public void Warning(string text) => Send(MessageCode.Warning, text);

    /// <summary>The client counts these toward a partial transfer (log.c, rwrite: MSG_ERROR_XFER).</summary>
    public void TransferError(string text)
    {
        _log.Write(text);
        Send(MessageCode.ErrorXfer, text);
    }

    private void Send(MessageCode code, string text)
    {
        _pending.Enqueue((code, text.EndsWith('\n') ? text : text + "\n"));
        if (WriterThread == Thread.CurrentThread)
            Drain();
    }

    public void Drain()
    {
        if (_draining || !_writer.Multiplexed)
            return;
        _draining = true;
        try
        {
            // The line's own bytes: the client escapes them for its terminal (log.c, rwrite: send_msg).
            while (_pending.TryDequeue(out var m))
                _writer.WriteMessage(m.Code, NameText.ToBytes(m.Text));
        }
        finally
        {
            _draining = false;
        }
    }
}
