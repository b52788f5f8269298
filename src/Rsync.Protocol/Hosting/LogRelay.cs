using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NetRsync.Protocol.Hosting;

/// <summary>
/// A path the daemon's log can be opened at whose lines come out on stderr. The log is opened by
/// path, and stderr under systemd is a socket to the journal, which cannot be opened by path; a pipe
/// in between can (/proc/self/fd/N), and a thread copies what arrives to stderr.
/// </summary>
internal sealed class LogRelay : IDisposable
{
    private readonly SafeFileHandle _writeEnd;
    private readonly Thread _copier;

    private LogRelay(SafeFileHandle readEnd, SafeFileHandle writeEnd)
    {
        _writeEnd = writeEnd;
        Path = $"/proc/self/fd/{writeEnd.DangerousGetHandle()}";
        _copier = new Thread(() => Copy(readEnd)) { IsBackground = true, Name = "log-relay" };
        _copier.Start();
    }

    /// <summary>Where to open the log.</summary>
    public string Path { get; }

    /// <summary>A relay, or null when this system offers no pipe or no /proc (then there is no log, as before).</summary>
    public static LogRelay? TryStart()
    {
        if (!HostNative.TryCreatePipe(out var readEnd, out var writeEnd))
            return null;
        if (!File.Exists($"/proc/self/fd/{writeEnd.DangerousGetHandle()}"))
        {
            readEnd.Dispose();
            writeEnd.Dispose();
            return null;
        }
        return new LogRelay(readEnd, writeEnd);
    }

    private static void Copy(SafeFileHandle readEnd)
    {
        using var input = new FileStream(readEnd, FileAccess.Read, bufferSize: 0);
        using var stderr = Console.OpenStandardError();
        var buffer = new byte[8192];
        try
        {
            int n;
            while ((n = input.Read(buffer)) > 0)
            {
                stderr.Write(buffer, 0, n);
                stderr.Flush();
            }
        }
        catch (IOException)
        {
            // stderr went away; the log has nowhere else to go.
        }
    }

    public void Dispose()
    {
        // The daemon's own descriptor for the log closes when it is disposed; this closes ours, so
        // the copier reads to the end. Lines still in the pipe at exit are the copier's last work.
        _writeEnd.Dispose();
        _copier.Join(TimeSpan.FromSeconds(1));
    }
}
