using System.Globalization;

namespace NetRsync.SerSync;

/// <summary>Timestamped lines on stdout (the log file when detached, as start.sh redirects it).</summary>
public static class Log
{
    private static readonly Lock Gate = new();

    public static bool DebugEnabled { get; set; }

    public static void Info(string message) => Write("info", message);

    public static void Error(string message) => Write("ERROR", message);

    public static void Debug(string message)
    {
        if (DebugEnabled)
            Write("debug", message);
    }

    private static void Write(string level, string message)
    {
        string line = $"{DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture)} {level}: {message}";
        lock (Gate)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }
}
