using Xunit;

namespace NetRsync.Interop.Tests;

/// <summary>Runs the client under test. The test project references src/Rsync.Cli, so the build copies
/// its apphost (<c>netrsync</c>) and <c>netrsync.dll</c> next to the test assembly: the apphost is run
/// when present, else <c>dotnet netrsync.dll</c>.</summary>
public sealed class NetRsync : IRsyncClient
{
    public static NetRsync Instance { get; } = new();

    public string Name => "netrsync";

    /// <summary>The apphost path, if the build produced one.</summary>
    public static string AppHostPath => Path.Combine(AppContext.BaseDirectory, "netrsync");

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "netrsync.dll");

    /// <summary>The executable and the leading arguments that start the client. Fails the test when
    /// neither the apphost nor the dll is next to the test assembly.</summary>
    public static (string FileName, string[] Prefix) Locate()
    {
        if (File.Exists(AppHostPath))
        {
            return (AppHostPath, []);
        }
        if (File.Exists(DllPath))
        {
            string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
            return (dotnet, [DllPath]);
        }
        Assert.Fail($"netrsync is not built: neither {AppHostPath} nor {DllPath} exists (the test project must reference src/Rsync.Cli)");
        throw new InvalidOperationException(); // unreachable
    }

    public Task<ProcessResult> RunAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        (string fileName, string[] prefix) = Locate();
        return ProcessRunner.RunAsync(fileName, prefix.Concat(arguments), environment, timeout, workingDirectory);
    }

    public override string ToString() => Name;
}
