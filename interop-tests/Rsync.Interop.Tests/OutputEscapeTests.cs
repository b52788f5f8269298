using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// What netrsync prints for names is byte for byte what stock rsync prints for the same transfer:
/// unprintable bytes as "\#ooo" for the locale (log.c, rwrite), with -v, -i and --out-format=%n, for
/// pushes, pulls, deletions, a local copy and a daemon's error message, under C.UTF-8 and C. Stdout is
/// compared as bytes; the only lines left out name no file (the list header, "created directory", the
/// closing totals), where the programs differ for reasons that have nothing to do with names.
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed partial class OutputEscapeTests(ITestOutputHelper output)
{
    /// <summary>Names that need escaping in one locale or the other, plus a plain one.</summary>
    private static readonly byte[][] Names =
    [
        "plain"u8.ToArray(),
        "caf\u00e9"u8.ToArray(), // UTF-8
        Latin1("caf\xe9"), // Latin-1
        Latin1("caf\xe8"),
        Latin1("\xd6\xd0\xce\xc4.txt"), // GBK for 中文
        Latin1("bad\xff\xfe"), // never UTF-8
        Latin1("c1\xc2\x85"), // UTF-8 for a C1 control
        Latin1("ctl\x01\x1b[31m"),
        Latin1("new\nline"),
        Latin1("cr\rname"),
        Latin1("tab\there"),
        Latin1("lit\\#123"),
        Latin1("del\x7f"),
    ];

    /// <summary>Sorts after every name above, so rsync's incremental list prints its contents in the same place.</summary>
    private static readonly byte[] SubDir = Latin1("\xff\xfe" + "dir");

    private static readonly byte[] SubFile = Latin1("in\x01side\xe9");

    private static readonly byte[] LinkName = Latin1("link\x02");

    private static readonly byte[] LinkTarget = Latin1("to\xe9\n\\#001");

    public static TheoryData<string, string> PeersAndLocales
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "LANG=C.UTF-8");
                data.Add(peer, "LC_ALL=C");
            }
            return data;
        }
    }

    public static TheoryData<string> Locales => new() { "LANG=C.UTF-8", "LC_ALL=C" };

    /// <summary>Also a locale that is usually not installed (both programs then fall back to C) and LC_CTYPE over LANG.</summary>
    public static TheoryData<string, string> PeersAndMoreLocales
    {
        get
        {
            var data = PeersAndLocales;
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "LANG=en_US.UTF-8");
                data.Add(peer, "LC_CTYPE=C.UTF-8");
            }
            return data;
        }
    }

    private static readonly string[][] OptionSets = [["-rlv"], ["-rli"], ["-rl", "--out-format=%n%L"], ["-rli", "-8"]];

    [Theory]
    [MemberData(nameof(PeersAndLocales))]
    public async Task Push_PrintsNamesAsStockDoes(string peer, string locale)
    {
        using var temp = new TempDir();
        string src = temp.Sub("src");
        MakeTree(src);
        string mod = temp.Sub("mod");
        await using var daemon = await StockDaemon.StartAsync(peer, [new DaemonModule("mod", mod)]);
        foreach (string[] options in OptionSets)
        {
            Reset(mod);
            var stock = await RunAsync(Stock(peer), [.. options, src + "/", daemon.Url("mod")], locale);
            Reset(mod);
            var ours = await RunAsync(Ours(), [.. options, src + "/", daemon.Url("mod")], locale);
            AssertSameOutput(stock, ours, $"push {string.Join(' ', options)} under {locale}");
        }
    }

    [Theory]
    [MemberData(nameof(PeersAndLocales))]
    public async Task Pull_PrintsNamesAsStockDoes(string peer, string locale)
    {
        using var temp = new TempDir();
        string mod = temp.Sub("mod");
        MakeTree(mod);
        await using var daemon = await StockDaemon.StartAsync(peer, [new DaemonModule("mod", mod) { ReadOnly = true }]);
        foreach (string[] options in OptionSets)
        {
            string dst = temp.File("dst");
            TempDir.DeleteTree(dst);
            var stock = await RunAsync(Stock(peer), [.. options, daemon.Url("mod"), dst + "/"], locale);
            TempDir.DeleteTree(dst);
            var ours = await RunAsync(Ours(), [.. options, daemon.Url("mod"), dst + "/"], locale);
            AssertSameOutput(stock, ours, $"pull {string.Join(' ', options)} under {locale}");
        }
    }

    /// <summary>The daemon reports each deletion (MSG_DELETED); the client prints it.</summary>
    [Theory]
    [MemberData(nameof(PeersAndLocales))]
    public async Task DeletionsReportedByTheDaemon_PrintAsStockDoes(string peer, string locale)
    {
        using var temp = new TempDir();
        string empty = temp.Sub("empty");
        string mod = temp.Sub("mod");
        await using var daemon = await StockDaemon.StartAsync(peer, [new DaemonModule("mod", mod)]);
        foreach (string[] options in new[] { new[] { "-rv", "--delete" }, ["-ri", "--delete"] })
        {
            Reset(mod);
            MakeTree(mod);
            var stock = await RunAsync(Stock(peer), [.. options, empty + "/", daemon.Url("mod")], locale);
            Reset(mod);
            MakeTree(mod);
            var ours = await RunAsync(Ours(), [.. options, empty + "/", daemon.Url("mod")], locale);
            Assert.Contains("deleting", Encoding.Latin1.GetString(stock.Stdout), StringComparison.Ordinal);
            AssertSameOutput(stock, ours, $"{string.Join(' ', options)} under {locale}");
        }
    }

    /// <summary>The daemon's MSG_ERROR and "@ERROR" lines carry the name's bytes; the client escapes them.</summary>
    [Theory]
    [MemberData(nameof(PeersAndLocales))]
    public async Task MessagesFromTheDaemon_PrintAsStockDoes(string peer, string locale)
    {
        using var temp = new TempDir();
        string mod = temp.Sub("mod");
        await using var daemon = await StockDaemon.StartAsync(peer, [new DaemonModule("mod", mod) { ReadOnly = true }]);
        string missing = daemon.Url("mod") + Missing;
        var stock = await PullMissingAsync(Stock(peer), missing, temp.File("d1") + "/", locale);
        var ours = await PullMissingAsync(Ours(), missing, temp.File("d2") + "/", locale);
        byte[] expected = LinesWith(stock.Stderr, "link_stat");
        Assert.True(expected.Length > 0, $"the stock client printed no link_stat error:\n{Show(stock.Stderr)}");
        Assert.True(expected.AsSpan().SequenceEqual(LinesWith(ours.Stderr, "link_stat")),
            $"under {locale}\n--- {peer} ---\n{Show(stock.Stderr)}--- netrsync ---\n{Show(ours.Stderr)}");

        // Refused before the transfer starts: the daemon's "@ERROR" line echoes the module's name.
        string unknown = daemon.Url("no\u0001mod\u00e9\\#012");
        stock = await RunAsync(Stock(peer), [unknown, temp.File("d3") + "/"], locale);
        ours = await RunAsync(Ours(), [unknown, temp.File("d4") + "/"], locale);
        expected = LinesWith(stock.Stderr, "@ERROR");
        Assert.True(expected.Length > 0, $"the stock client printed no @ERROR line:\n{Show(stock.Stderr)}");
        Assert.True(expected.AsSpan().SequenceEqual(LinesWith(ours.Stderr, "@ERROR")),
            $"under {locale}\n--- {peer} ---\n{Show(stock.Stderr)}--- netrsync ---\n{Show(ours.Stderr)}");
    }

    [Theory]
    [MemberData(nameof(PeersAndMoreLocales))]
    public async Task LocalCopy_PrintsNamesAsStockDoes(string peer, string locale)
    {
        using var temp = new TempDir();
        string src = temp.Sub("src");
        MakeTree(src);
        // -i is left out: a local netrsync itemizes from the sender's side ("<f"), stock from the receiver's.
        foreach (string[] options in new[] { new[] { "-rlv" }, ["-rl", "--out-format=%n%L"] })
        {
            string dst = temp.File("dst");
            TempDir.DeleteTree(dst);
            var stock = await RunAsync(Stock(peer), [.. options, src + "/", dst + "/"], locale);
            TempDir.DeleteTree(dst);
            var ours = await RunAsync(Ours(), [.. options, src + "/", dst + "/"], locale);
            AssertSameOutput(stock, ours, $"local {string.Join(' ', options)} under {locale}");
        }
    }

    /// <summary>
    /// netrsyncd sends its messages as the name's bytes, so a stock client shows them as it shows a
    /// stock daemon's (rsync 3.5 adds "[sender] ", which the comparison leaves out).
    /// </summary>
    [Theory]
    [MemberData(nameof(Locales))]
    public async Task NetrsyncdMessages_ReachAStockClientAsBytes(string locale)
    {
        using var temp = new TempDir();
        string mod = temp.Sub("mod");
        await using var stockDaemon = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, [new DaemonModule("mod", mod) { ReadOnly = true }]);
        await using var ourDaemon = await NetRsyncDaemon.StartAsync([new DaemonModule("mod", mod) { ReadOnly = true }]);
        var client = Stock(RsyncPeers.DebianRsync);
        var fromStock = await PullMissingAsync(client, stockDaemon.Url("mod") + Missing, temp.File("d1") + "/", locale);
        var fromOurs = await PullMissingAsync(client, ourDaemon.Url("mod") + Missing, temp.File("d2") + "/", locale);
        byte[] expected = LinesWith(fromStock.Stderr, "link_stat");
        byte[] actual = LinesWith(fromOurs.Stderr, "link_stat");
        Assert.True(expected.Length > 0, Show(fromStock.Stderr));
        Assert.True(Unprefixed(expected).SequenceEqual(Unprefixed(actual)),
            $"under {locale}\n--- stock daemon ---\n{Show(fromStock.Stderr)}--- netrsyncd ---\n{Show(fromOurs.Stderr)}");
    }

    /// <summary>
    /// A stock client pushes the tree to netrsyncd and to Debian's daemon with the same "log format":
    /// the transfer lines are the same bytes (rsync 3.5 escapes control and C1 bytes in its log file,
    /// log.c, logit; 3.1.1 wrote them raw, so the reference is Debian's daemon).
    /// </summary>
    [Fact]
    public async Task NetrsyncdLog_WritesNamesAsStockDaemonDoes()
    {
        using var temp = new TempDir();
        string src = temp.Sub("src");
        MakeTree(src);
        string[] lines = ["log format = %o %f %n%L"];
        // A global "log file" keeps the module's lines in it (a stock daemon's --log-file does not).
        string stockLog = temp.File("stock.log");
        await using var stockDaemon = await StockDaemon.StartAsync(RsyncPeers.DebianRsync, [new DaemonModule("mod", temp.Sub("m1")) { ExtraLines = lines }],
            globalLines: [$"log file = {stockLog}"]);
        await using var ourDaemon = await NetRsyncDaemon.StartAsync([new DaemonModule("mod", temp.Sub("m2")) { ExtraLines = lines }]);
        string client = RsyncPeers.Resolve(RsyncPeers.DebianRsync);
        var toStock = await RunAsync((client, Array.Empty<string>()), ["-rl", src + "/", stockDaemon.Url("mod")], "LC_ALL=C");
        var toOurs = await RunAsync((client, Array.Empty<string>()), ["-rl", src + "/", ourDaemon.Url("mod")], "LC_ALL=C");
        Assert.True(toStock.ExitCode == 0 && toOurs.ExitCode == 0, Show(toStock.Stderr) + Show(toOurs.Stderr));
        byte[] expected = TransferLines(await SessionLogAsync(stockLog));
        byte[] actual = TransferLines(await SessionLogAsync(ourDaemon.LogPath));
        Assert.True(expected.Length > 0, Show(File.ReadAllBytes(stockLog)));
        output.WriteLine($"transfer lines:\n{Show(expected)}");
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"--- stock daemon ---\n{Show(expected)}--- netrsyncd ---\n{Show(actual)}");
    }

    /// <summary>The log once the session's closing "sent ... bytes" line is in it.</summary>
    private static async Task<byte[]> SessionLogAsync(string path)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            byte[] log = File.Exists(path) ? File.ReadAllBytes(path) : [];
            if (Encoding.Latin1.GetString(log).Contains("] sent ", StringComparison.Ordinal) || waited.Elapsed > TimeSpan.FromSeconds(20))
                return log;
            await Task.Delay(50);
        }
    }

    /// <summary>A name that is not in the module: a control byte, UTF-8, a literal escape; a Latin-1 byte follows.</summary>
    private const string Missing = "miss\u0001ing\u00e9\\#007";

    /// <summary>
    /// Pulls <paramref name="url"/> with the byte 0xE9 appended, which .NET cannot put in an argument
    /// itself, so a shell's printf adds it.
    /// </summary>
    private Task<RawResult> PullMissingAsync((string FileName, string[] Prefix) program, string url, string dst, string locale) =>
        RunAsync(("/bin/sh", []), ["-c", "p=\"$1\"; u=\"$2$(printf '\\351')\"; d=\"$3\"; shift 3; exec \"$p\" \"$@\" -r \"$u\" \"$d\"",
            "sh", program.FileName, url, dst, .. program.Prefix], locale);

    private sealed record RawResult(int ExitCode, byte[] Stdout, byte[] Stderr);

    private static (string FileName, string[] Prefix) Stock(string peer) => (RsyncPeers.Resolve(peer), []);

    private static (string FileName, string[] Prefix) Ours() => NetRsync.Locate();

    /// <summary>Runs a client with only <paramref name="locale"/> setting the locale, keeping its output as bytes.</summary>
    private async Task<RawResult> RunAsync((string FileName, string[] Prefix) program, IEnumerable<string> arguments, string locale)
    {
        var psi = new ProcessStartInfo(program.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in program.Prefix.Concat(arguments))
            psi.ArgumentList.Add(a);
        foreach (string name in psi.Environment.Keys.Where(k => k is "LANG" or "LANGUAGE" || k.StartsWith("LC_", StringComparison.Ordinal)).ToArray())
            psi.Environment.Remove(name);
        string[] setting = locale.Split('=', 2);
        psi.Environment[setting[0]] = setting[1];
        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await Task.WhenAll(
            process.StandardOutput.BaseStream.CopyToAsync(stdout, timeout.Token),
            process.StandardError.BaseStream.CopyToAsync(stderr, timeout.Token));
        await process.WaitForExitAsync(timeout.Token);
        var result = new RawResult(process.ExitCode, stdout.ToArray(), stderr.ToArray());
        output.WriteLine($"{ProcessRunner.FormatCommandLine(program.FileName, program.Prefix.Concat(arguments))} ({locale}) -> {result.ExitCode}\n{Show(result.Stdout)}{Show(result.Stderr)}");
        return result;
    }

    private static void AssertSameOutput(RawResult stock, RawResult ours, string what)
    {
        Assert.True(stock.ExitCode == 0, $"{what}: the stock client failed\n{Show(stock.Stderr)}");
        Assert.True(ours.ExitCode == 0, $"{what}: netrsync failed\n{Show(ours.Stderr)}");
        byte[] expected = NameLines(stock.Stdout);
        byte[] actual = NameLines(ours.Stdout);
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{what}\n--- stock ---\n{Show(expected)}--- netrsync ---\n{Show(actual)}");
    }

    /// <summary>Stdout without the lines that name no file.</summary>
    private static byte[] NameLines(byte[] stdout)
    {
        var kept = new List<byte>();
        foreach (byte[] line in Lines(stdout))
        {
            string text = Encoding.Latin1.GetString(line);
            bool nameless = text is "" or "sending incremental file list" or "receiving incremental file list"
                    or "building file list ... done" or "receiving file list ... done"
                || text.StartsWith("created directory ", StringComparison.Ordinal)
                || SummaryLine().IsMatch(text);
            if (!nameless)
                kept.AddRange([.. line, (byte)'\n']);
        }
        return kept.ToArray();
    }

    [GeneratedRegex(@"^(sent [\d,]+ bytes  received [\d,]+ bytes  [\d,.]+ bytes/sec|total size is [\d,]+  speedup is [\d,.]+)$")]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\d+\] ")]
    private static partial Regex LogPrefix();

    /// <summary>The log's "recv" lines without date and pid, in order of the names.</summary>
    private static byte[] TransferLines(byte[] log)
    {
        var lines = Lines(log)
            .Select(l => Encoding.Latin1.GetString(l))
            .Select(l => LogPrefix().Replace(l, ""))
            .Where(l => l.StartsWith("recv ", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        return Encoding.Latin1.GetBytes(string.Concat(lines.Select(l => l + "\n")));
    }

    private static byte[] LinesWith(byte[] text, string marker) =>
        Encoding.Latin1.GetBytes(string.Concat(Lines(text).Select(l => Encoding.Latin1.GetString(l)).Where(l => l.Contains(marker, StringComparison.Ordinal)).Select(l => l + "\n")));

    private static byte[] Unprefixed(byte[] line) => Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(line).Replace("rsync: [sender] ", "rsync: ", StringComparison.Ordinal));

    private static IEnumerable<byte[]> Lines(byte[] text)
    {
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        if (start < text.Length)
            yield return text[start..];
    }

    /// <summary>Bytes for a failure message: printable ASCII as is, everything else as \xNN.</summary>
    private static string Show(byte[] bytes)
    {
        var sb = new StringBuilder();
        foreach (byte b in bytes)
            sb.Append(b == '\n' ? "\n" : b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:x2}");
        if (sb.Length > 0 && sb[^1] != '\n')
            sb.Append('\n');
        return sb.ToString();
    }

    private static byte[] Latin1(string text) => Encoding.Latin1.GetBytes(text);

    private static void Reset(string dir)
    {
        TempDir.DeleteTree(dir);
        Directory.CreateDirectory(dir);
    }

    /// <summary>Every name in <see cref="Names"/> as a one-byte file, a subdirectory with one file, and a symlink.</summary>
    private static void MakeTree(string root)
    {
        byte[] dir = Join(root, SubDir);
        foreach (byte[] name in Names)
            CreateFile(Join(root, name));
        Check(MkDir([.. dir, 0], Convert.ToInt32("755", 8)), "mkdir");
        CreateFile([.. dir, (byte)'/', .. SubFile]);
        Check(SymLink([.. LinkTarget, 0], [.. Join(root, LinkName), 0]), "symlink");
    }

    private static byte[] Join(string root, byte[] name) => [.. Encoding.UTF8.GetBytes(root), (byte)'/', .. name];

    private static void CreateFile(byte[] path)
    {
        path = [.. path, 0];
        const int OWronly = 0x1, OCreat = 0x40, OTrunc = 0x200;
        int fd = Open(path, OWronly | OCreat | OTrunc, Convert.ToInt32("644", 8));
        Check(fd, "open");
        Check((int)Write(fd, "x"u8.ToArray(), 1), "write");
        Close(fd);
    }

    private static void Check(int rc, string call)
    {
        if (rc < 0)
            throw new IOException($"{call} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int Open(byte[] path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte[] buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true)]
    private static partial int MkDir(byte[] path, int mode);

    [LibraryImport("libc", EntryPoint = "symlink", SetLastError = true)]
    private static partial int SymLink(byte[] target, byte[] path);
}
