using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace NetRsync.Protocol.Hosting;

/// <summary>
/// The service manager's readiness protocol (sd_notify(3)) without libsystemd: one datagram of
/// "KEY=VALUE" lines to the socket named by NOTIFY_SOCKET. Without that variable every call does
/// nothing, so a program can always call it.
/// </summary>
public static class SystemdNotify
{
    public const string SocketVariable = "NOTIFY_SOCKET";

    /// <summary>The datagram's size limit we hold ourselves to; a status line is cut to fit.</summary>
    private const int MaxMessageBytes = 4096;

    /// <summary>Startup is over: the service does what it is for (listens, watches).</summary>
    public static bool Ready(string? status = null) =>
        Send(status is null ? "READY=1" : "READY=1\nSTATUS=" + OneLine(status));

    /// <summary>Shutdown has begun; the manager waits for the exit instead of taking it for a crash.</summary>
    public static bool Stopping(string? status = null) =>
        Send(status is null ? "STOPPING=1" : "STOPPING=1\nSTATUS=" + OneLine(status));

    /// <summary>A one-line state shown by "systemctl status".</summary>
    public static bool Status(string status) => Send("STATUS=" + OneLine(status));

    /// <summary>Names the service's main process, when it is not the one that was started.</summary>
    public static bool MainPid(int pid) => Send("MAINPID=" + pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>Sends <paramref name="state"/> to NOTIFY_SOCKET; false when unset, unusable or refused.</summary>
    public static bool Send(string state) => Send(Environment.GetEnvironmentVariable(SocketVariable), state);

    /// <summary>
    /// Sends one datagram to <paramref name="socketName"/>: a path ("/run/systemd/notify") or an
    /// abstract name ("@name"). Anything else is ignored, as are send errors: telling the manager
    /// is a courtesy that must never stop the service.
    /// </summary>
    public static bool Send(string? socketName, string state)
    {
        if (string.IsNullOrEmpty(socketName) || (socketName[0] != '/' && socketName[0] != '@') || socketName.Length < 2)
            return false;
        // In the abstract namespace the name starts with a NUL byte where the '@' is written.
        string address = socketName[0] == '@' ? "\0" + socketName[1..] : socketName;
        byte[] message = Encoding.UTF8.GetBytes(state);
        if (message.Length > MaxMessageBytes)
            return false;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            var endpoint = new UnixDomainSocketEndPoint(address);
            return socket.SendTo(message, SocketFlags.None, endpoint) == message.Length;
        }
        catch (Exception ex) when (ex is SocketException or ArgumentException or ObjectDisposedException)
        {
            return false;
        }
    }

    private static string OneLine(string status)
    {
        string line = status.ReplaceLineEndings(" ");
        return line.Length > 1024 ? line[..1024] : line;
    }
}
