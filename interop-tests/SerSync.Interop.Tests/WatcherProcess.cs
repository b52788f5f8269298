using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using NetRsync.Interop.Tests;
using Xunit;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary><c>netsersync --no-detach -o CONFIG [args]</c> as a child process, its output captured.
/// Ready once it logs "netsersync ready" (polled with a deadline). Disposing sends SIGTERM and waits.</summary>
public sealed class WatcherProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(30);
    private readonly Process _process;
    private readonly StringBuilder _output;

    private WatcherProcess(Process process, StringBuilder output)
    {
        _process = process;
        _output = output;
    }

    public static string AppHost => Path.Combine(AppContext.BaseDirectory, "netsersync");

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public int ProcessId => _process.Id;

    public static async Task<WatcherProcess> StartAsync(string configPath, IEnumerable<string>? extraArgs = null, IDictionary<string, string>? environment = null)
    {
        var (process, output) = ProcessRunner.StartCaptured(AppHost, ["--no-detach", "-o", configPath, .. extraArgs ?? []], environment);
        var watcher = new WatcherProcess(process, output);
        await watcher.WaitForOutputAsync("netsersync ready", StartDeadline);
        return watcher;
    }

    /// <summary>Polls the output for <paramref name="text"/>; fails after the deadline or when the process ends.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync();
                Assert.Fail($"netsersync exited with {_process.ExitCode} before saying \"{text}\":\n{Output}");
            }
            if (clock.Elapsed > timeout)
                Assert.Fail($"netsersync did not say \"{text}\" within {timeout.TotalSeconds:F0}s:\n{Output}");
            await Task.Delay(20); // poll interval
        }
    }

    /// <summary>SIGKILL: no chance to flush or tidy anything.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _ = Signals.Kill(_process.Id, Signals.SigTerm);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
            }
        }
        _process.Dispose();
    }
}

internal static partial class Signals
{
    public const int SigTerm = 15;
    public const int SigStop = 19;
    public const int SigCont = 18;

    [LibraryImport("libc", EntryPoint = "kill")]
    public static partial int Kill(int pid, int signal);
}
