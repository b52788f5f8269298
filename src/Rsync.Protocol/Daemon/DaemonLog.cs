using System.Globalization;

namespace NetRsync.Protocol.Daemon;

/// <summary>The daemon's log file in rsync's line format: "YYYY/MM/DD HH:MM:SS [PID] text" (log.c, logit).</summary>
public sealed class DaemonLog : IDisposable
{
    private readonly StreamWriter? _file;
    private readonly object _gate = new();
    private readonly Action<string>? _echo;

    public DaemonLog(string? path, Action<string>? echo = null)
    {
        _echo = echo;
        if (path is not null)
        {
            var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            _file = new StreamWriter(stream) { AutoFlush = true };
        }
    }

    public void Write(string text)
    {
        string line = $"{DateTime.Now.ToString("yyyy/MM/dd HH:mm:ss", CultureInfo.InvariantCulture)} [{Environment.ProcessId}] {text.TrimEnd('\n')}";
        lock (_gate)
        {
            _file?.WriteLine(line);
            _echo?.Invoke(line);
        }
    }

    public void Dispose()
    {
        lock (_gate)
            _file?.Dispose();
    }
}
