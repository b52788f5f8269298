using System.Diagnostics;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Client;

/// <summary>A remote-shell location, [USER@]HOST:PATH (options.c, check_for_hostspec and parse_hostspec).</summary>
public sealed record RemoteShellPath(string? User, string Host, string Path)
{
    /// <summary>
    /// Null for a local path or a daemon address. A colon before any slash makes an argument remote;
    /// "[v6addr]" may follow "USER@" (options.c, parse_hostspec).
    /// </summary>
    public static RemoteShellPath? TryParse(string argument)
    {
        if (DaemonUrl.TryParse(argument) is not null)
            return null;
        int hostStart = 0;
        for (int i = 0; i < argument.Length; i++)
        {
            char c = argument[i];
            if (c == '/')
                return null;
            if (c == '@')
                hostStart = i + 1;
            else if (c == '[')
            {
                int close = i == hostStart ? argument.IndexOf(']', i) : -1;
                if (close < 0 || close == i + 1 || argument.IndexOf('/', i, close - i) >= 0 || close + 1 >= argument.Length || argument[close + 1] != ':')
                    return null;
                return new RemoteShellPath(hostStart > 0 ? argument[..(hostStart - 1)] : null, argument[(i + 1)..close], argument[(close + 2)..]);
            }
            else if (c == ':')
            {
                if (i == hostStart)
                    return null;
                return new RemoteShellPath(hostStart > 0 ? argument[..(hostStart - 1)] : null, argument[hostStart..i], argument[(i + 1)..]);
            }
        }
        return null;
    }
}

/// <summary>
/// The remote shell that runs rsync (or netrsync) at the far end, and its pipes (main.c, do_cmd and
/// piped_child): "RSH [-l USER] HOST RSYNC-PATH --server ... . PATH...".
/// </summary>
internal static class RemoteShell
{
    /// <summary>rsync's default remote shell (config.h, RSYNC_RSH).</summary>
    public const string DefaultCommand = "ssh";

    /// <summary>rsync's default program at the far end (config.h, RSYNC_PATH).</summary>
    public const string DefaultRsyncPath = "rsync";

    /// <summary>
    /// Splits -e/RSYNC_RSH as rsync does (main.c, do_cmd): words at spaces; single or double quotes
    /// group, and a doubled quote inside quotes stands for itself. Null on a missing closing quote.
    /// </summary>
    public static List<string>? Split(string command, out char unclosed)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        char quote = '\0';
        bool inWord = false;
        unclosed = '\0';
        for (int i = 0; i < command.Length; i++)
        {
            char c = command[i];
            if (quote == '\0' && c == ' ')
            {
                if (inWord)
                    words.Add(word.ToString());
                word.Clear();
                inWord = false;
                continue;
            }
            inWord = true;
            if (c is '\'' or '"')
            {
                if (quote == '\0')
                {
                    quote = c;
                    continue;
                }
                if (c == quote)
                {
                    if (i + 1 < command.Length && command[i + 1] == quote)
                    {
                        word.Append(c);
                        i++;
                        continue;
                    }
                    quote = '\0';
                    continue;
                }
            }
            word.Append(c);
        }
        if (quote != '\0')
        {
            unclosed = quote;
            return null;
        }
        if (inWord)
            words.Add(word.ToString());
        return words;
    }

    /// <summary>
    /// The command line: the shell's words, "-l USER" unless a daemon over the shell already has one,
    /// the host, the far end's program and <paramref name="serverArgs"/> (which end with "." and the paths).
    /// </summary>
    public static List<string> CommandLine(string? rsh, string? user, string host, string? rsyncPath, IEnumerable<string> serverArgs, bool daemonOverShell = false)
    {
        string command = rsh ?? Environment.GetEnvironmentVariable("RSYNC_RSH") ?? DefaultCommand;
        var words = Split(command, out char unclosed)
            ?? throw new RsyncException($"Missing trailing-{unclosed} in remote-shell command.", ExitCodes.Syntax);
        if (words.Count == 0)
            throw new RsyncException("the remote-shell command is empty", ExitCodes.Syntax);
        bool dashL = false;
        for (int i = 0; i < words.Count - 1; i++)
            dashL |= words[i] == "-l" && !words[i + 1].StartsWith('-');
        if (user is not null && !(daemonOverShell && dashL))
            words.AddRange(["-l", user]);
        words.Add(host);
        words.Add(rsyncPath ?? DefaultRsyncPath);
        words.AddRange(serverArgs);
        return words;
    }

    /// <summary>Starts the shell with its stdin and stdout as the connection; its stderr is ours, as rsync leaves it.</summary>
    public static (Process Process, Connection Connection) Start(IReadOnlyList<string> commandLine, int timeoutSeconds, int bandwidthLimitKiB, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(commandLine[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
        };
        foreach (string word in commandLine.Skip(1))
            info.ArgumentList.Add(word);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new RsyncException($"Failed to exec {commandLine[0]}", ExitCodes.Ipc);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            // main.c, piped_child: the exec failed in the child.
            throw new RsyncException($"rsync: Failed to exec {commandLine[0]}: {ex.Message} ({ex.NativeErrorCode})", ExitCodes.Ipc, ex);
        }
        Stream toShell = process.StandardInput.BaseStream;
        Stream fromShell = process.StandardOutput.BaseStream;
        var connection = new Connection(fromShell, toShell, timeoutSeconds, bandwidthLimitKiB, cancellationToken,
            cut: () =>
            {
                Close(toShell);
                Close(fromShell);
                try
                {
                    if (!process.HasExited)
                        process.Kill();
                }
                catch (InvalidOperationException)
                {
                }
            },
            finishSending: () => Close(toShell),
            owned: process)
        {
            Shell = process,
        };
        return (process, connection);
    }

    private static void Close(Stream stream)
    {
        try
        {
            stream.Dispose();
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// The exit code of a run over a shell (main.c, client_run and wait_process_with_flush; cleanup.c):
    /// the shell's own status when it is not 0 (the far end's code, or ssh's 255), else ours; after a
    /// failure of ours, the larger of the two.
    /// </summary>
    public static int ExitCode(Process process, int ours, bool failed)
    {
        if (!failed)
        {
            process.WaitForExit();
            return process.ExitCode != 0 ? StatusOf(process) : ours;
        }
        // cleanup.c, _exit_cleanup: the shell's status counts only if it has already exited (WNOHANG),
        // so a dead ssh ends the run with 12 or its own 255, whichever the timing gives, as in rsync.
        return process.HasExited ? Math.Max(ours, StatusOf(process)) : ours;
    }

    /// <summary>A shell killed by a signal ends rsync with RERR_TERMINATED (main.c, wait_process_with_flush).</summary>
    private static int StatusOf(Process process) => process.ExitCode > 128 && process.ExitCode < 160 && process.ExitCode != 255 ? ExitCodes.Terminated : process.ExitCode;
}
