using System.Diagnostics;
using System.Text;
using NetRsync.Interop.Tests;
using NetRsync.SerSync.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.SerSync.Interop.Tests;

/// <summary>
/// netsersync pushing every kind of change on names that are not UTF-8 (or not printable) to a stock
/// rsync daemon: the trees end up byte-identical, and stock rsync finds nothing left to send.
/// </summary>
public sealed class NameBytesEndToEndTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private static readonly byte[] Latin1Acute = [0x63, 0x61, 0x66, 0xE9];
    private static readonly byte[] Latin1Grave = [0x63, 0x61, 0x66, 0xE8];
    private static readonly byte[] Gbk = [0xD6, 0xD0, 0xCE, 0xC4, 0x2E, 0x74, 0x78, 0x74];
    private static readonly byte[] GbkDir = [0xD6, 0xD0, 0xCE, 0xC4];
    private static readonly byte[] InvalidUtf8 = [0x62, 0x61, 0x64, 0xFF, 0xFE, 0x80, 0xC3];
    private static readonly byte[] Control = [0x63, 0x74, 0x6C, 0x01, 0x1B, 0x78];
    private static readonly byte[] Newline = [0x6E, 0x65, 0x77, 0x0A, 0x6C, 0x69, 0x6E, 0x65];
    private static readonly byte[] Long = [.. Enumerable.Range(0, 255).Select(i => (byte)(i % 2 == 0 ? 0xE9 : 0x41 + i % 26))];

    private static readonly byte[][] AllNames = [Latin1Acute, Latin1Grave, Gbk, InvalidUtf8, Control, Newline, Long];

    private static byte[] P(params byte[][] parts) => parts.Aggregate((a, b) => Names.Join(a, b));

    [Fact]
    public async Task EveryKindOfChangeOnByteNamesReachesAStockDaemon()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        await using var daemon = await RemoteDaemon.StartAsync(RemoteDaemon.Stock, new DaemonModule("mod", target));
        var setup = new WatchSetup(source, daemon.Port) { Debug = true };
        await using var watcher = await WatcherProcess.StartAsync(setup.WriteTo(temp), ["-r"]);
        byte[] In(params byte[][] parts) => RawFs.Under(source, P(parts));

        // create and mkdir: each name as a file at the top, and in a directory named in Latin-1.
        foreach (byte[] name in AllNames)
            RawFs.WriteFile(In(name), Encoding.ASCII.GetBytes($"{Names.Display(name)}\n"));
        byte[] dir = [.. Latin1Acute, .. "-dir"u8];
        RawFs.MakeDirectory(In(dir));
        foreach (byte[] name in AllNames)
            RawFs.WriteFile(In(dir, name), "inside\n"u8);
        RawFs.MakeDirectory(In(GbkDir));
        RawFs.MakeDirectory(In(GbkDir, InvalidUtf8));
        await ConvergedAsync(source, target, daemon.Port, watcher, "create and mkdir");

        // modify: appends and rewrites.
        foreach (byte[] name in AllNames)
            RawFs.WriteFile(In(name), "appended\n"u8, append: true);
        RawFs.WriteFile(In(dir, Newline), "rewritten\n"u8);
        await ConvergedAsync(source, target, daemon.Port, watcher, "modify");

        // rename: files to names differing only in invalid bytes, and a directory.
        RawFs.Move(In(Latin1Acute), In([.. Latin1Acute, 0xFF]));
        RawFs.Move(In(Control), In(dir, [.. Control, 0x80]));
        RawFs.Move(In(dir), In([.. Latin1Grave, .. "-moved"u8, 0xFE]));
        await ConvergedAsync(source, target, daemon.Port, watcher, "rename");

        // delete and rmdir.
        byte[] moved = [.. Latin1Grave, .. "-moved"u8, 0xFE];
        RawFs.Delete(In(Long));
        RawFs.Delete(In(Gbk));
        RawFs.Delete(In(moved, Newline));
        RawFs.RemoveDirectory(In(GbkDir, InvalidUtf8));
        RawFs.RemoveDirectory(In(GbkDir));
        await ConvergedAsync(source, target, daemon.Port, watcher, "delete and rmdir");
        output.WriteLine(watcher.Output);
    }

    /// <summary>
    /// commonParams with --iconv=GBK,UTF-8: the GBK names land as stock rsync lands them when it
    /// pushes the same tree with the same option to a second module of the same daemon.
    /// </summary>
    [Fact]
    public async Task IconvInCommonParamsLandsTheNamesStockRsyncLands()
    {
        using var temp = new TempDir();
        string source = temp.Sub("src");
        string target = temp.Sub("dst");
        string reference = temp.Sub("ref");
        byte[] In(params byte[][] parts) => RawFs.Under(source, P(parts));
        RawFs.WriteFile(In(Gbk), "gbk\n"u8);
        RawFs.MakeDirectory(In(GbkDir));
        RawFs.WriteFile(In(GbkDir, Gbk), "inside\n"u8);
        RawFs.WriteFile(In("plain"u8.ToArray()), "plain\n"u8);
        // A daemon takes --iconv only for a module with a charset (loadparm.c, charset; clientserver.c refuses it otherwise).
        string[] charset = ["charset = UTF-8"];
        await using var daemon = await StockDaemon.StartAsync(RsyncPeers.DebianRsync,
            [new DaemonModule("mod", target) { ExtraLines = charset }, new DaemonModule("ref", reference) { ExtraLines = charset }]);
        var stock = await RunAsync(RsyncPeers.DebianRsync, ["-rt", "--iconv=GBK,UTF-8", source + "/", $"rsync://127.0.0.1:{daemon.Port}/ref/"]);
        Assert.True(stock.ExitCode == 0, Encoding.UTF8.GetString(stock.Stdout));

        var setup = new WatchSetup(source, daemon.Port) { Params = "-rtu --iconv=GBK,UTF-8" };
        await using var watcher = await WatcherProcess.StartAsync(setup.WriteTo(temp), ["-r"]);
        var clock = Stopwatch.StartNew();
        byte[] want = await ListingAsync(reference);
        byte[] have;
        while (!(have = await ListingAsync(target)).AsSpan().SequenceEqual(want))
        {
            if (clock.Elapsed > Deadline)
                Assert.Fail($"the names did not land as stock's did within {Deadline.TotalSeconds:F0}s\nstock:\n{Show(want)}\nnetsersync:\n{Show(have)}\n--- netsersync ---\n{watcher.Output}");
            await Task.Delay(100); // poll interval
        }
        output.WriteLine($"landed as stock's after {clock.ElapsedMilliseconds} ms:\n{Show(have)}");
    }

    /// <summary>Waits until both trees list the same names, types, modes and sizes (as bytes) and
    /// diff -r finds no difference; then stock rsync -ani against the daemon must list nothing.</summary>
    private async Task ConvergedAsync(string source, string target, int port, WatcherProcess watcher, string phase)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            byte[] want = await ListingAsync(source);
            byte[] have = await ListingAsync(target);
            if (want.AsSpan().SequenceEqual(have) && (await RunAsync("diff", ["-r", "--no-dereference", source, target])).ExitCode == 0)
                break;
            if (clock.Elapsed > Deadline)
            {
                var diff = await RunAsync("diff", ["-r", "--no-dereference", source, target]);
                Assert.Fail($"{phase}: the target did not match within {Deadline.TotalSeconds:F0}s\nsource:\n{Show(want)}\ntarget:\n{Show(have)}\n" +
                    $"diff -r: {Encoding.UTF8.GetString(diff.Stdout)}\n--- netsersync ---\n{watcher.Output}");
            }
            await Task.Delay(100); // poll interval
        }
        var check = await RunAsync(RsyncPeers.DebianRsync, ["-ani", source + "/", $"rsync://127.0.0.1:{port}/mod/"]);
        string itemized = Encoding.UTF8.GetString(check.Stdout);
        output.WriteLine($"{phase}: converged after {clock.ElapsedMilliseconds} ms; rsync -ani exit {check.ExitCode}: [{itemized}]");
        // The module root is the daemon's: its time is never pushed (a --files-from list does not name "."), as with sersync.
        var changes = itemized.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => line != ".d..t...... ./").ToList();
        Assert.True(check.ExitCode == 0 && changes.Count == 0, $"{phase}: stock rsync -ani found changes (exit {check.ExitCode}):\n{itemized}\n--- netsersync ---\n{watcher.Output}");
    }

    /// <summary>Every entry below the root, NUL-separated: path, type, mode and size, sorted bytewise.</summary>
    private static async Task<byte[]> ListingAsync(string root)
    {
        var listing = await RunAsync("find", [root, "-mindepth", "1", "-printf", "%P\\t%y %m %s\\0"]);
        var entries = Split(listing.Stdout).Order(Names.Comparer).ToList();
        return entries.SelectMany(e => e.Append((byte)0)).ToArray();
    }

    private static IEnumerable<byte[]> Split(byte[] data)
    {
        int start = 0;
        for (int i = 0; i < data.Length; i++)
        {
            if (data[i] != 0)
                continue;
            yield return data[start..i];
            start = i + 1;
        }
    }

    private static string Show(byte[] listing) => string.Join("\n", Split(listing).Select(e => "  " + Names.Display(e)));

    private sealed record RawResult(int ExitCode, byte[] Stdout);

    /// <summary>Runs a command with ASCII arguments, keeping its output as bytes.</summary>
    private static async Task<RawResult> RunAsync(string program, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
            psi.ArgumentList.Add(arg);
        using var process = Process.Start(psi)!;
        var stdout = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        await copy;
        string errors = await stderr;
        byte[] bytes = stdout.ToArray();
        if (errors.Length > 0)
            bytes = [.. bytes, .. Encoding.UTF8.GetBytes(errors)];
        return new RawResult(process.ExitCode, bytes);
    }
}
