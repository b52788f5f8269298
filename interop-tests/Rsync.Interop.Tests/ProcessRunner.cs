using System.Diagnostics;
using System.Text;
using NetRsync.Protocol.Text;
using Xunit;

namespace NetRsync.Interop.Tests;

/// <summary>The outcome of one finished child process.</summary>
public sealed record ProcessResult(string CommandLine, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    /// <summary>Everything a failure message needs.</summary>
    public override string ToString() =>
        $"$ {CommandLine}\nexit code {ExitCode} after {Elapsed.TotalSeconds:F1}s\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}--- end ---";
}

/// <summary>An rsync client under test: ours (<see cref="NetRsync"/>) or a stock binary (<see cref="StockClient"/>).</summary>
public interface IRsyncClient
{
    /// <summary>Short description for messages, e.g. "netrsync" or "/usr/bin/rsync".</summary>
    string Name { get; }

    /// <summary>Runs the client with these arguments (no shell involved). <paramref name="environment"/>
    /// entries override the inherited environment; a null value removes the variable.
    /// <paramref name="workingDirectory"/> defaults to the test runner's.</summary>
    Task<ProcessResult> RunAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null, string? workingDirectory = null);
}

/// <summary>Runs a child process with captured stdout/stderr and a hard timeout.</summary>
public static class ProcessRunner
{
    /// <summary>Starts a long-running child (a daemon) with stdin closed and stdout and stderr
    /// collected, as they arrive, into one buffer for failure messages.</summary>
    public static (Process Process, StringBuilder Output) StartCaptured(string fileName, IEnumerable<string> arguments,
        IEnumerable<KeyValuePair<string, string>>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (name, value) in environment ?? [])
        {
            psi.Environment[name] = value;
        }
        var output = new StringBuilder();
        var process = new Process { StartInfo = psi };
        DataReceivedEventHandler sink = (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += sink;
        process.ErrorDataReceived += sink;
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, output);
    }

    /// <summary>Every stock push in the suite takes a second or two; 30 s keeps a hanging client from
    /// stretching a run (dozens of cases) into hours, while leaving room for a loaded 2-core machine.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs <paramref name="fileName"/> to completion. stdin is an empty pipe (so a password
    /// prompt reads EOF instead of hanging). RSYNC_PASSWORD is removed from the inherited environment
    /// unless <paramref name="environment"/> sets it, so tests are hermetic. On timeout the whole process
    /// tree is killed and the test fails with the output captured so far.</summary>
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null)
    {
        TimeSpan limit = timeout ?? DefaultTimeout;
        string[] argv = arguments.ToArray();
        string commandLine = FormatCommandLine(fileName, argv);
        (fileName, argv) = WithByteArguments(fileName, argv);
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        foreach (string a in argv)
        {
            psi.ArgumentList.Add(a);
        }
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }
        psi.Environment.Remove("RSYNC_PASSWORD");
        if (environment is not null)
        {
            foreach ((string key, string? value) in environment)
            {
                if (value is null)
                {
                    psi.Environment.Remove(key);
                }
                else
                {
                    psi.Environment[key] = value;
                }
            }
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (Exception e)
        {
            Assert.Fail($"could not start {commandLine}: {e.Message}");
            throw; // unreachable
        }
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();

        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // exited in the meantime
            }
            await process.WaitForExitAsync();
            string so = await ReadRemainder(stdout);
            string se = await ReadRemainder(stderr);
            Assert.Fail($"timed out after {limit.TotalSeconds:F0}s and was killed:\n$ {commandLine}\n--- stdout ---\n{so}\n--- stderr ---\n{se}--- end ---");
        }

        // Output pipes close when the process (and any child still holding them) exits.
        string outText = await ReadRemainder(stdout);
        string errText = await ReadRemainder(stderr);
        return new ProcessResult(commandLine, process.ExitCode, outText, errText, stopwatch.Elapsed);
    }

    private static async Task<string> ReadRemainder(Task<string> reader)
    {
        Task finished = await Task.WhenAny(reader, Task.Delay(TimeSpan.FromSeconds(30)));
        return finished == reader ? await reader : "(output pipe still held open by a descendant process after 30s)";
    }

    /// <summary>The command line for messages; an argument holding bytes that are not UTF-8 is written
    /// the way bash's $'...' would take it back.</summary>
    public static string FormatCommandLine(string fileName, IEnumerable<string> arguments) =>
        string.Join(' ', new[] { fileName }.Concat(arguments).Select(Quote));

    private static string Quote(string s)
    {
        if (s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@,+%".Contains(c)))
        {
            return s;
        }
        if (!NameText.HasEscapedBytes(s) && !s.Any(char.IsControl))
        {
            return "'" + s.Replace("'", "'\\''") + "'";
        }
        var sb = new StringBuilder("$'");
        foreach (byte b in NameText.ToBytes(s))
        {
            sb.Append(b is >= 0x20 and < 0x7F && b != (byte)'\'' && b != (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}");
        }
        return sb.Append('\'').ToString();
    }

    /// <summary>.NET hands a child its arguments as UTF-8, so a <see cref="NameText"/> argument carrying a
    /// byte that is not UTF-8 (say the Latin-1 name "caf\xe9") would arrive as U+FFFD. Such a command is
    /// run through /bin/sh instead: every argument goes as printf %b octal escapes (plain ASCII), the
    /// shell rebuilds the bytes and execs the program with them. Other commands run as they are.</summary>
    public static (string FileName, string[] Arguments) WithByteArguments(string fileName, string[] arguments)
    {
        if (!arguments.Any(a => NameText.HasEscapedBytes(a)) && !NameText.HasEscapedBytes(fileName))
        {
            return (fileName, arguments);
        }
        // A trailing "x" protects trailing newlines from the command substitution; it is cut off again.
        const string Script = "n=$#; while [ \"$n\" -gt 0 ]; do a=$(printf '%bx' \"$1\"); shift; set -- \"$@\" \"${a%x}\"; n=$((n - 1)); done; exec \"$@\"";
        return ("/bin/sh", ["-c", Script, "sh", .. new[] { fileName }.Concat(arguments).Select(OctalEscaped)]);
    }

    private static string OctalEscaped(string argument)
    {
        var sb = new StringBuilder();
        foreach (byte b in NameText.ToBytes(argument))
        {
            if (char.IsAsciiLetterOrDigit((char)b) || "-_./:=@,+".Contains((char)b))
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('\\').Append('0').Append(Convert.ToString(b, 8).PadLeft(3, '0'));
            }
        }
        return sb.ToString();
    }
}
