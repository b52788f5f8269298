using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// Hostile and careless clients against netrsyncd on loopback: idle connections, descriptor
/// exhaustion, a full module, floods of names. The daemon must stay up, keep serving a stock
/// client, and stay within the memory it documents.
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed class DaemonLimitTests(ITestOutputHelper output)
{
    /// <summary>README.md's per-session budget: the daemon's peak resident size may grow by at most this under one hostile session.</summary>
    private const long SessionBudgetBytes = 256L * 1024 * 1024;

    [Fact]
    public async Task TwoThousandIdleConnections_TimeOut_WhileAStockClientIsServed()
    {
        const int Idle = 2000;
        const int Addresses = 20;
        await using var f = await NetRsyncDaemonFixture.StartAsync(globalLines: ["handshake timeout = 5", "max clients = 3000", "listen backlog = 4096"]);
        File.WriteAllText(Path.Combine(f.ModuleDir, "hello.txt"), "hello\n");
        f.AgeModuleRoot();
        int threadsBefore = ThreadCount(f.Daemon.ProcessId);

        // 100 connections from each of 127.0.0.21..2, within the default per-address cap; 127.0.0.2's
        // come last, so none of them has timed out when one more is tried from there.
        var idle = new List<Socket>(Idle);
        try
        {
            for (int i = 0; i < Idle; i++)
                idle.Add(await ConnectAsync(f.Daemon.Port, IPAddress.Parse($"127.0.0.{2 + Addresses - 1 - i / (Idle / Addresses)}")));
            await f.Daemon.WaitForConnectionsAsync(Idle, TimeSpan.FromSeconds(20));
            int threadsDuring = ThreadCount(f.Daemon.ProcessId);
            output.WriteLine($"threads: {threadsBefore} before, {threadsDuring} with {Idle} idle connections");
            Assert.True(threadsDuring < threadsBefore + 50, $"{Idle} idle connections hold {threadsDuring - threadsBefore} threads");

            // Each address holds its 100 places: one more from any of them is refused at once.
            using (var extra = await ConnectAsync(f.Daemon.Port, IPAddress.Parse("127.0.0.2")))
                Assert.Equal("@ERROR: max connections (100) from one address reached -- try again later", await FirstAnswerAsync(extra));

            var list = await ProcessRunner.RunAsync(RsyncPeers.DebianRsync, [f.Daemon.Url(null)], timeout: TimeSpan.FromSeconds(20));
            Assert.True(list.ExitCode == 0 && list.Stdout.Contains(NetRsyncDaemonFixture.ModuleName, StringComparison.Ordinal), list.ToString());
            string dst = f.Temp.Sub("dst");
            var pull = await ProcessRunner.RunAsync(RsyncPeers.DebianRsync, ["-a", f.Url(), dst + "/"], timeout: TimeSpan.FromSeconds(20));
            Assert.True(pull.ExitCode == 0, pull.ToString());
            Assert.Equal("hello\n", File.ReadAllText(Path.Combine(dst, "hello.txt")));

            // Every idle client is told and cut off once its handshake time is up.
            var answers = await Task.WhenAll(idle.Select(s => ReadAllTextAsync(s, TimeSpan.FromSeconds(20))));
            int told = answers.Count(a => a.Contains("@ERROR: timed out", StringComparison.Ordinal));
            if (told != Idle)
                Assert.Fail($"{Idle - told} idle clients were not told of the timeout; one answer: {answers.First(a => !a.Contains("@ERROR: timed out", StringComparison.Ordinal))}");
            await f.Daemon.WaitForIdleAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
        Assert.False(f.Daemon.HasExited);
    }

    [Fact]
    public async Task UnderALowDescriptorLimit_ExcessClientsAreTurnedAway_AndTheDaemonServesOn()
    {
        using var dir = new TempDir();
        string module = dir.Sub("mod");
        File.WriteAllText(Path.Combine(module, "hello.txt"), "hello\n");
        int port = StockDaemon.FreePort();
        string config = dir.File("rsyncd.conf");
        File.WriteAllText(config, NetRsyncDaemon.GenerateConfig([new DaemonModule("mod", module)], dir,
            ["handshake timeout = 10", "max clients = 0", "max clients per address = 0", "listen backlog = 64"]));
        var (program, prefix) = NetRsyncDaemon.Locate();
        string command = string.Join(' ', prefix.Prepend(program).Concat(["--no-detach", $"--config={config}", $"--port={port}", "--address=127.0.0.1"]).Select(Quote));
        var (process, processOutput) = ProcessRunner.StartCaptured("bash", ["-c", $"ulimit -n 256; exec {command}"]);
        var idle = new List<Socket>();
        try
        {
            await WaitUntilAsync(async () => await StockDaemon.Probe(port), "netrsyncd under ulimit -n 256 to listen", TimeSpan.FromSeconds(20), () => process.HasExited);

            // More clients than descriptors: each is greeted and held, or refused with an error, or closed.
            int greeted = 0, refused = 0;
            var firstLines = new List<Task<string>>();
            for (int i = 0; i < 400; i++)
            {
                var s = await ConnectAsync(port, IPAddress.Loopback);
                idle.Add(s);
                firstLines.Add(FirstAnswerAsync(s));
            }
            foreach (string line in await Task.WhenAll(firstLines))
            {
                if (line.StartsWith("@RSYNCD: ", StringComparison.Ordinal))
                    greeted++;
                else if (line.StartsWith("@ERROR", StringComparison.Ordinal) || line is "(closed)" or "(reset)")
                    refused++;
                else
                    Assert.Fail($"unexpected answer to an excess client: {line}");
            }
            output.WriteLine($"400 clients: {greeted} greeted, {refused} turned away");
            Assert.True(refused > 0, "no client was turned away: the descriptor limit was not reached");
            Assert.False(process.HasExited, $"netrsyncd exited:\n{processOutput}");

            idle.ForEach(s => s.Dispose());
            idle.Clear();
            ProcessResult list = null!;
            await WaitUntilAsync(async () =>
            {
                list = await ProcessRunner.RunAsync(RsyncPeers.DebianRsync, [$"rsync://127.0.0.1:{port}/"], timeout: TimeSpan.FromSeconds(10));
                return list.ExitCode == 0;
            }, "a stock client to list the modules after the flood", TimeSpan.FromSeconds(20), () => process.HasExited);
            Assert.Contains("mod", list.Stdout, StringComparison.Ordinal);
            Assert.False(process.HasExited, $"netrsyncd exited:\n{processOutput}");
            Assert.Contains("max clients lowered to 96 by the limit on open files", File.ReadAllText(dir.File("rsyncd.log")), StringComparison.Ordinal);
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
            if (!process.HasExited)
                process.Kill();
            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task AModuleFullOfIdleClients_TakesANewOneAfterTheirDeadline()
    {
        await using var f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ["max connections = 3"] }, globalLines: ["handshake timeout = 2"]);
        File.WriteAllText(Path.Combine(f.ModuleDir, "hello.txt"), "hello\n");
        f.AgeModuleRoot();
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < 3; i++)
                idle.Add(await AdmitAsync(f.Daemon.Port, NetRsyncDaemonFixture.ModuleName));
            string dst = f.Temp.Sub("dst");
            var full = await ProcessRunner.RunAsync(RsyncPeers.DebianRsync, ["-a", f.Url(), dst + "/"], timeout: TimeSpan.FromSeconds(20));
            Assert.True(full.ExitCode != 0 && full.Stderr.Contains("max connections (3) reached -- try again later", StringComparison.Ordinal), full.ToString());

            // The idle three are cut off at their deadline, and their places are free at once.
            foreach (var s in idle)
                Assert.Contains("@ERROR: timed out", await ReadAllTextAsync(s, TimeSpan.FromSeconds(10)), StringComparison.Ordinal);
            await f.Daemon.WaitForIdleAsync(TimeSpan.FromSeconds(10));
            var pull = await ProcessRunner.RunAsync(RsyncPeers.DebianRsync, ["-a", f.Url(), dst + "/"], timeout: TimeSpan.FromSeconds(20));
            Assert.True(pull.ExitCode == 0, pull + "\n" + f.Daemon.Diagnostics());
            Assert.Equal("hello\n", File.ReadAllText(Path.Combine(dst, "hello.txt")));
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task TheModulesTimeout_RunsFromAdmission()
    {
        await using var f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ["timeout = 1"] }, globalLines: ["handshake timeout = 60"]);
        using var s = await AdmitAsync(f.Daemon.Port, NetRsyncDaemonFixture.ModuleName);
        var sw = Stopwatch.StartNew();
        string rest = await ReadAllTextAsync(s, TimeSpan.FromSeconds(10));
        output.WriteLine($"an admitted client that sends no arguments was cut off after {sw.Elapsed.TotalSeconds:F1}s");
        Assert.NotEqual("(timeout)", rest);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(4), $"cut off only after {sw.Elapsed.TotalSeconds:F1}s");
        await f.Daemon.WaitForIdleAsync(TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(64)]
    public async Task AFileListFlood_IsCutOffWithinTheSessionBudget(int nameLength)
    {
        await using var f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ["read only = no"] });
        long before = PeakResidentBytes(f.Daemon.ProcessId);
        using var s = await AdmitAsync(f.Daemon.Port, NetRsyncDaemonFixture.ModuleName);
        await StartPushAsync(s);

        // Entries of flags, name length, name and size 0, repeating the first one's mode and time:
        // more than the default caps allow (a million entries, 64 MiB of names).
        const int Entries = 1_500_000;
        int entrySize = 2 + nameLength + 3;
        var sw = Stopwatch.StartNew();
        bool cut = await SendMultiplexedAsync(s, (long)Entries * entrySize, entrySize * 1000, (chunk, offset) =>
        {
            for (int i = 0; i < chunk.Length; i += entrySize)
            {
                long n = (offset + i) / entrySize;
                chunk[i] = 0x82; // SameMode | SameTime
                chunk[i + 1] = (byte)nameLength;
                for (int k = 0; k < nameLength; k++)
                    chunk[i + 2 + k] = (byte)('a' + ((n >> (5 * (k % 6))) % 26));
                chunk[i + 2 + nameLength] = chunk[i + 3 + nameLength] = chunk[i + 4 + nameLength] = 0;
            }
        }, firstChunk: FirstEntryHeader());
        long after = PeakResidentBytes(f.Daemon.ProcessId);
        output.WriteLine($"file-list flood, {nameLength}-byte names: cut={cut} after {sw.Elapsed.TotalSeconds:F1}s; peak RSS {before / 1048576} MiB before, {after / 1048576} MiB after");
        Assert.True(cut, "the daemon read a file list past its caps");
        Assert.True(after - before <= SessionBudgetBytes, $"a file-list flood grew netrsyncd by {(after - before) / 1048576} MiB");
        await f.Daemon.WaitForLogAsync(l => l.Contains("more than this side accepts", StringComparison.Ordinal), "the file-list cap");
        await AssertStillServesAsync(f);
    }

    [Fact]
    public async Task AHugeFilesFromName_IsCutOffWithinTheSessionBudget()
    {
        await using var f = await NetRsyncDaemonFixture.StartAsync();
        long before = PeakResidentBytes(f.Daemon.ProcessId);
        using var s = await AdmitAsync(f.Daemon.Port, NetRsyncDaemonFixture.ModuleName);
        await SendArgumentsAsync(s, ["--server", "--sender", "-e.Ls", "--files-from=-", "--from0", ".", "mod/"]);
        await ReadSetupAsync(s);
        var sw = Stopwatch.StartNew();
        // No filter rules (int 0), then one name of 200 MB.
        bool cut = await SendMultiplexedAsync(s, 200L * 1024 * 1024, 64 * 1024, (chunk, _) => chunk.AsSpan().Fill((byte)'a'), firstChunk: [0, 0, 0, 0]);
        long after = PeakResidentBytes(f.Daemon.ProcessId);
        output.WriteLine($"files-from flood: cut={cut} after {sw.Elapsed.TotalSeconds:F1}s; peak RSS {before / 1048576} MiB before, {after / 1048576} MiB after");
        Assert.True(cut, "the daemon read a 200 MB --files-from name to its end");
        Assert.True(after - before <= SessionBudgetBytes, $"a 200 MB --files-from name grew netrsyncd by {(after - before) / 1048576} MiB");
        await f.Daemon.WaitForLogAsync(l => l.Contains("--files-from name from the client is longer than", StringComparison.Ordinal), "the name-length check");
        await AssertStillServesAsync(f);
    }

    /// <summary>In the listening process, and in a connection process of its own (a chrooted module, run as root).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AProtocolError_ClosesTheConnectionAtOnce(bool handedOff)
    {
        await using var f = await NetRsyncDaemonFixture.StartAsync(m => m with { ExtraLines = ["read only = no", handedOff ? "use chroot = yes" : "use chroot = no"] });
        using var s = await AdmitAsync(f.Daemon.Port, NetRsyncDaemonFixture.ModuleName);
        await StartPushAsync(s);
        // An entry that claims to share 200 bytes with a previous name that does not exist.
        byte[] bad = [0x20, 200, 1, (byte)'x'];
        await s.SendAsync(Frame(bad), SocketFlags.None);
        var sw = Stopwatch.StartNew();
        string rest = await ReadAllTextAsync(s, TimeSpan.FromSeconds(10));
        output.WriteLine($"closed {sw.ElapsedMilliseconds} ms after the bad entry");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"the connection stayed open {sw.Elapsed.TotalSeconds:F1}s after a protocol error ({rest})");
        Assert.Contains("overflow", rest, StringComparison.Ordinal);
        await AssertStillServesAsync(f);
    }

    /// <summary>The greeting when the client is held, else the error or end that follows it.</summary>
    private static async Task<string> FirstAnswerAsync(Socket s)
    {
        string first = await ReadLineOrEndAsync(s, TimeSpan.FromSeconds(8));
        if (!first.StartsWith("@RSYNCD: ", StringComparison.Ordinal))
            return first;
        string next = await ReadLineOrEndAsync(s, TimeSpan.FromMilliseconds(500));
        return next == "(timeout)" ? first : next;
    }

    private static async Task AssertStillServesAsync(NetRsyncDaemonFixture f)
    {
        var list = await ProcessRunner.RunAsync(RsyncPeers.DebianRsync, [f.Daemon.Url(null)], timeout: TimeSpan.FromSeconds(20));
        Assert.True(list.ExitCode == 0 && list.Stdout.Contains(NetRsyncDaemonFixture.ModuleName, StringComparison.Ordinal), list + "\n" + f.Daemon.Diagnostics());
        Assert.False(f.Daemon.HasExited);
    }

    /// <summary>The first entry of the flood: a regular file with its time and mode (the rest repeat them).</summary>
    private static byte[] FirstEntryHeader()
    {
        var b = new List<byte> { 0x08, 4 };
        b.AddRange("aaaa"u8.ToArray());
        b.AddRange([0, 0, 0]); // size 0 (varlong, 3 bytes)
        b.AddRange([0, 1, 0, 0]); // mtime 1 (varlong, 4 bytes)
        b.AddRange(BitConverter.GetBytes(0x81A4)); // mode 0100644
        return [.. b];
    }

    /// <summary>Push arguments at protocol 30 without capabilities: then only the compat byte and the seed come back.</summary>
    private static async Task StartPushAsync(Socket s)
    {
        await SendArgumentsAsync(s, ["--server", "-e.Ls", ".", "mod/"]);
        await ReadSetupAsync(s);
    }

    private static async Task SendArgumentsAsync(Socket s, string[] args)
    {
        var bytes = new List<byte>();
        foreach (string a in args)
        {
            bytes.AddRange(Encoding.UTF8.GetBytes(a));
            bytes.Add(0);
        }
        bytes.Add(0);
        await s.SendAsync(bytes.ToArray(), SocketFlags.None);
    }

    /// <summary>The compat flags byte and the checksum seed.</summary>
    private static async Task ReadSetupAsync(Socket s)
    {
        var buffer = new byte[5];
        int got = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (got < buffer.Length)
        {
            int n = await s.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, cts.Token);
            Assert.True(n > 0, $"the daemon closed during setup after {got} bytes");
            got += n;
        }
    }

    /// <summary>A MSG_DATA frame (io.c, multiplexing: tag 7 and a 24-bit length).</summary>
    private static byte[] Frame(ReadOnlySpan<byte> data)
    {
        var frame = new byte[4 + data.Length];
        BitConverter.TryWriteBytes(frame, (7 << 24) | data.Length);
        data.CopyTo(frame.AsSpan(4));
        return frame;
    }

    /// <summary>
    /// Streams <paramref name="total"/> bytes in MSG_DATA frames, filled by <paramref name="fill"/>;
    /// true when the daemon cut the connection before all of it went out.
    /// </summary>
    private static async Task<bool> SendMultiplexedAsync(Socket s, long total, int chunkSize, Action<byte[], long> fill, byte[] firstChunk)
    {
        var chunk = new byte[chunkSize];
        var frame = new byte[4 + chunkSize];
        try
        {
            await s.SendAsync(Frame(firstChunk), SocketFlags.None);
            for (long offset = 0; offset < total; offset += chunkSize)
            {
                int len = (int)Math.Min(chunkSize, total - offset);
                fill(chunk, offset);
                BitConverter.TryWriteBytes(frame, (7 << 24) | len);
                chunk.AsSpan(0, len).CopyTo(frame.AsSpan(4));
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                int sent = 0;
                while (sent < len + 4)
                    sent += await s.SendAsync(frame.AsMemory(sent, len + 4 - sent), SocketFlags.None, cts.Token);
            }
        }
        catch (SocketException)
        {
            return true;
        }
        // All sent: the daemon may still be reading; it has not cut us off unless the stream ends now.
        string rest = await ReadAllTextAsync(s, TimeSpan.FromSeconds(5));
        return rest != "(timeout)";
    }

    /// <summary>Connects to the daemon, greets at protocol 30, picks the module and reads "@RSYNCD: OK".</summary>
    private static async Task<Socket> AdmitAsync(int port, string module)
    {
        var s = await ConnectAsync(port, IPAddress.Loopback);
        string greeting = await ReadLineOrEndAsync(s, TimeSpan.FromSeconds(10));
        Assert.StartsWith("@RSYNCD: ", greeting, StringComparison.Ordinal);
        await s.SendAsync(Encoding.ASCII.GetBytes($"@RSYNCD: 30.0\n{module}\n"), SocketFlags.None);
        string line = await ReadLineOrEndAsync(s, TimeSpan.FromSeconds(10));
        Assert.Equal("@RSYNCD: OK", line);
        return s;
    }

    private static async Task<Socket> ConnectAsync(int port, IPAddress from)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(from, 0));
        await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return s;
    }

    /// <summary>One line, or "(closed)", "(reset)" or "(timeout)".</summary>
    private static async Task<string> ReadLineOrEndAsync(Socket s, TimeSpan timeout)
    {
        var line = new List<byte>();
        var one = new byte[1];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                int n = await s.ReceiveAsync(one, SocketFlags.None, cts.Token);
                if (n == 0)
                    return line.Count > 0 ? Encoding.UTF8.GetString([.. line]) : "(closed)";
                if (one[0] == '\n')
                    return Encoding.UTF8.GetString([.. line]);
                line.Add(one[0]);
            }
        }
        catch (OperationCanceledException)
        {
            return "(timeout)";
        }
        catch (SocketException)
        {
            return "(reset)";
        }
    }

    /// <summary>Everything until the daemon closes (as Latin-1 text), or "(timeout)".</summary>
    private static async Task<string> ReadAllTextAsync(Socket s, TimeSpan timeout)
    {
        var all = new MemoryStream();
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                    return Encoding.Latin1.GetString(all.ToArray());
                all.Write(buffer, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            return "(timeout)";
        }
        catch (SocketException)
        {
            return Encoding.Latin1.GetString(all.ToArray());
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan limit, Func<bool> givenUp)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (givenUp() || sw.Elapsed > limit)
                Assert.Fail($"gave up waiting for {what}");
            await Task.Delay(50); // poll interval
        }
    }

    private static int ThreadCount(int pid) => (int)StatusField(pid, "Threads:");

    /// <summary>VmHWM: the most memory the process has held resident.</summary>
    private static long PeakResidentBytes(int pid) => StatusField(pid, "VmHWM:") * 1024;

    private static long StatusField(int pid, string name)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(name, StringComparison.Ordinal))
                return long.Parse(line[name.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"no {name} in /proc/{pid}/status");
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
