using System.Globalization;
using System.Runtime.InteropServices;
using System.Buffers;
using NetRsync.Protocol.Text;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// The daemon's log file in rsync's line format: "YYYY/MM/DD HH:MM:SS [PID] text" (log.c, logit).
/// Opened for appending at the end, so the lines of a connection's own process and of the
/// listening daemon never overwrite each other.
/// </summary>
public sealed partial class DaemonLog : IDisposable
{
    private readonly object _gate = new();
    private readonly Action<string>? _echo;
    private int _fd = -1;

    public DaemonLog(string? path, Action<string>? echo = null)
    {
        _echo = echo;
        Path = path;
        if (path is not null)
        {
            const int OWronly = 0x1, OCreat = 0x40, OAppend = 0x400, OCloexec = 0x80000;
            _fd = Open(path, OWronly | OCreat | OAppend | OCloexec, 0x1A4);
            if (_fd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"failed to open log-file {path}: {Native.Posix.StrError(errno)} ({errno})");
            }
        }
    }

    /// <summary>The file written to, or null when there is none.</summary>
    public string? Path { get; }

    public void Write(string text)
    {
        string line = $"{DateTime.Now.ToString("yyyy/MM/dd HH:mm:ss", CultureInfo.InvariantCulture)} [{Environment.ProcessId}] {text.TrimEnd('\n')}";
        byte[] bytes = Escape(line);
        lock (_gate)
        {
            // One write per line: with O_APPEND each lands whole at the end.
            if (_fd >= 0)
                WriteAll(_fd, bytes);
            _echo?.Invoke(line);
        }
    }

    /// <summary>
    /// The line as bytes, with control bytes, "\#ddd" and C1 bytes escaped so a client's file name
    /// cannot forge lines or terminal sequences in the log (rsync 3.5's log.c, logit).
    /// </summary>
    internal static byte[] Escape(string line)
    {
        var raw = new ArrayBufferWriter<byte>(line.Length + 1);
        NameText.Append(line, raw);
        if (!line.EndsWith('\n'))
            NameText.Append("\n", raw);
        var escaped = new ArrayBufferWriter<byte>(raw.WrittenCount + 16);
        OutputEscape.LogFile.Write(raw.WrittenSpan, escaped);
        return escaped.WrittenSpan.ToArray();
    }

    private static unsafe void WriteAll(int fd, byte[] bytes)
    {
        fixed (byte* p = bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                nint n = WriteRaw(fd, p + done, (nuint)(bytes.Length - done));
                if (n <= 0)
                {
                    if (n < 0 && Marshal.GetLastPInvokeError() == 4) // EINTR
                        continue;
                    return;
                }
                done += (int)n;
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteRaw(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    public void Dispose()
    {
        lock (_gate)
        {
            if (_fd >= 0)
                Close(_fd);
            _fd = -1;
        }
    }
}
