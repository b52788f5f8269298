using System.Diagnostics;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// --iconv against stock daemons, and netrsyncd's "charset =" against stock clients: each transfer is
/// run once with stock rsync and once with ours into separate destinations, and the trees that land
/// (names byte for byte, kinds, sizes, contents, link targets, mtimes) and the exit codes must agree.
/// The trees hold names that convert, names that cannot (reported and left out by both), and
/// files whose sorted order differs between the charsets, so that a file sent under the wrong index
/// shows up as wrong content.
/// </summary>
[Collection(PushScenarios.Collection)]
public sealed class IconvTests(ITestOutputHelper output)
{
    /// <summary>"中文.txt" in GBK.</summary>
    private const string GbkChinese = @"\xd6\xd0\xce\xc4.txt";

    /// <summary>"中文.txt" in UTF-8.</summary>
    private static readonly byte[] Utf8Chinese = Encoding.UTF8.GetBytes("中文.txt");

    public static TheoryData<string, string> PeersAndSpecs
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in RsyncPeers.All)
            {
                data.Add(peer, "UTF-8,GBK");
                data.Add(peer, "GBK,UTF-8");
            }
            return data;
        }
    }

    private static string LocalCharset(string spec) => spec[..spec.IndexOf(',')];

    private static string RemoteCharset(string spec) => spec[(spec.IndexOf(',') + 1)..];

    /// <summary>Pulling from a stock daemon whose module holds names in the remote charset.</summary>
    [Theory]
    [MemberData(nameof(PeersAndSpecs))]
    public async Task Pull_FromStockDaemon_LandsWhatStockLands(string peer, string spec)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string module = temp.Sub("module");
        await MakeTree(module, RemoteCharset(spec));
        await using StockDaemon daemon = await StockDaemon.StartAsync(peer, [Module(module, RemoteCharset(spec))]);

        string stockDest = temp.Sub("stock");
        string ourDest = temp.Sub("ours");
        ProcessResult stock = await Run(peer, ["-rltv", "--iconv=" + spec, daemon.Url("m"), stockDest + "/"]);
        ProcessResult ours = await RunOurs(["-rltv", "--iconv=" + spec, daemon.Url("m"), ourDest + "/"]);

        await AssertSameOutcome(stock, ours, stockDest, ourDest, LocalCharset(spec));
    }

    /// <summary>Pushing a tree in the local charset into a stock daemon's module.</summary>
    [Theory]
    [MemberData(nameof(PeersAndSpecs))]
    public async Task Push_ToStockDaemon_LandsWhatStockLands(string peer, string spec)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string source = temp.Sub("source");
        await MakeTree(source, LocalCharset(spec));
        string module = temp.Sub("module");
        await using StockDaemon daemon = await StockDaemon.StartAsync(peer, [Module(module, RemoteCharset(spec))]);

        ProcessResult stock = await Run(peer, ["-rltv", "--iconv=" + spec, source + "/", daemon.Url("m") + "stock/"]);
        ProcessResult ours = await RunOurs(["-rltv", "--iconv=" + spec, source + "/", daemon.Url("m") + "ours/"]);

        await AssertSameOutcome(stock, ours, Path.Combine(module, "stock"), Path.Combine(module, "ours"), RemoteCharset(spec));
    }

    /// <summary>A local copy: the sending end names files in the first charset, the receiving end in the second.</summary>
    [Theory]
    [MemberData(nameof(PeersAndSpecs))]
    public async Task LocalCopy_LandsWhatStockLands(string peer, string spec)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string source = temp.Sub("source");
        await MakeTree(source, LocalCharset(spec));
        string stockDest = Path.Combine(temp.Path, "stock");
        string ourDest = Path.Combine(temp.Path, "ours");
        ProcessResult stock = await Run(peer, ["-rltv", "--iconv=" + spec, source + "/", stockDest + "/"]);
        ProcessResult ours = await RunOurs(["-rltv", "--iconv=" + spec, source + "/", ourDest + "/"]);
        await AssertSameOutcome(stock, ours, stockDest, ourDest, RemoteCharset(spec));
    }

    /// <summary>
    /// A stock client pulls from and pushes to netrsyncd with "charset =" in the module, and the same
    /// against a stock daemon (the same binary as the client) with the same module.
    /// </summary>
    [Theory]
    [MemberData(nameof(PeersAndSpecs))]
    public async Task StockClient_AgainstNetrsyncdWithCharset_LandsWhatStockDaemonLands(string peer, string spec)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string moduleCharset = RemoteCharset(spec);
        string stockModule = temp.Sub("stock-module");
        string ourModule = temp.Sub("our-module");
        await MakeTree(stockModule, moduleCharset);
        await MakeTree(ourModule, moduleCharset);
        string source = temp.Sub("source");
        await MakeTree(source, LocalCharset(spec));

        await using StockDaemon stockDaemon = await StockDaemon.StartAsync(peer, [Module(stockModule, moduleCharset)]);
        await using NetRsyncDaemon ourDaemon = await NetRsyncDaemon.StartAsync([Module(ourModule, moduleCharset)]);

        // Pull: names land in the client's charset.
        string fromStock = temp.Sub("pulled-stock");
        string fromOurs = temp.Sub("pulled-ours");
        ProcessResult stockPull = await Run(peer, ["-rltv", "--iconv=" + spec, stockDaemon.Url("m"), fromStock + "/"]);
        ProcessResult ourPull = await Run(peer, ["-rltv", "--iconv=" + spec, ourDaemon.Url("m"), fromOurs + "/"]);
        await AssertSameOutcome(stockPull, ourPull, fromStock, fromOurs, LocalCharset(spec), ourDaemon.Diagnostics());

        // Push: names land in the module's charset.
        ProcessResult stockPush = await Run(peer, ["-rltv", "--iconv=" + spec, source + "/", stockDaemon.Url("m") + "pushed/"]);
        ProcessResult ourPush = await Run(peer, ["-rltv", "--iconv=" + spec, source + "/", ourDaemon.Url("m") + "pushed/"]);
        await AssertSameOutcome(stockPush, ourPush, Path.Combine(stockModule, "pushed"), Path.Combine(ourModule, "pushed"), moduleCharset,
            ourDaemon.Diagnostics());
    }

    /// <summary>
    /// A name (and a link target) that the receiving side's charset cannot hold: reported, left out,
    /// the rest delivered, exit 23, as rsync 3.1.1 does, both with netrsync receiving from a 3.1.1
    /// daemon and with netrsyncd receiving from a 3.1.1 client. (rsync 3.2 and later abort here
    /// instead: their receivers refuse the empty name a failed conversion leaves.)
    /// </summary>
    [Fact]
    public async Task ReceiverWithoutALocalFormForAName_ReportsAndLeavesItOut_As311Does()
    {
        string peer = RsyncPeers.All.FirstOrDefault(p => File.Exists(p) && RsyncPeers.VersionOf(p) is { Major: 3, Minor: 1 })
            ?? throw new Xunit.Sdk.XunitException("this test needs rsync 3.1.x in RSYNC_PEERS (../shared/peers/rsync-3.1.1)");
        using var temp = new TempDir();
        string utf8Tree = temp.Sub("utf8");
        await MakeTree(utf8Tree, "UTF-8");
        await Shell(utf8Tree, "echo smile > smile🙂; ln -s smile🙂 lnk-smile; touch -h -d @1500000000 smile🙂 lnk-smile .");

        // netrsync receiving from a 3.1.1 daemon.
        await using (StockDaemon daemon = await StockDaemon.StartAsync(peer, [Module(utf8Tree, "UTF-8")]))
        {
            string stockDest = temp.Sub("stock-pull");
            string ourDest = temp.Sub("our-pull");
            ProcessResult stock = await Run(peer, ["-rlt", "--iconv=GBK,UTF-8", daemon.Url("m"), stockDest + "/"]);
            ProcessResult ours = await RunOurs(["-rlt", "--iconv=GBK,UTF-8", daemon.Url("m"), ourDest + "/"]);
            await AssertReceiverLeftOut(stock, ours, stockDest, ourDest);
        }

        // netrsyncd receiving from a 3.1.1 client.
        string stockModule = temp.Sub("stock-module");
        string ourModule = temp.Sub("our-module");
        await using StockDaemon stockDaemon = await StockDaemon.StartAsync(peer, [Module(stockModule, "GBK")]);
        await using NetRsyncDaemon ourDaemon = await NetRsyncDaemon.StartAsync([Module(ourModule, "GBK")]);
        ProcessResult stockPush = await Run(peer, ["-rlt", "--iconv=UTF-8,GBK", utf8Tree + "/", stockDaemon.Url("m")]);
        ProcessResult ourPush = await Run(peer, ["-rlt", "--iconv=UTF-8,GBK", utf8Tree + "/", ourDaemon.Url("m")]);
        await AssertReceiverLeftOut(stockPush, ourPush, stockModule, ourModule, ourDaemon.Diagnostics());
    }

    private async Task AssertReceiverLeftOut(ProcessResult stock, ProcessResult ours, string stockTree, string ourTree, string? diagnostics = null)
    {
        await AssertSameOutcome(stock, ours, stockTree, ourTree, "GBK", diagnostics);
        Assert.Equal(23, ours.ExitCode);
        Assert.Contains("[Receiver] cannot convert filename: smile", ours.Stderr, StringComparison.Ordinal);
        Assert.Contains("[Receiver] cannot convert symlink data for: ", ours.Stderr, StringComparison.Ordinal);
        string tree = await Snapshot(ourTree);
        Assert.DoesNotContain("smile", tree, StringComparison.Ordinal);
    }

    /// <summary>
    /// A push with --delete -v into netrsyncd with "charset = GBK": the deletions it reports name the
    /// files in UTF-8 on the wire, so the stock client prints what it prints for a stock daemon.
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task DeletionsReportedByNetrsyncdWithCharset_ReadAsAStockDaemonsDo(string peer)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string source = temp.Sub("source");
        await Shell(source, "echo keep > keep");
        string stockModule = temp.Sub("stock-module");
        string ourModule = temp.Sub("our-module");
        foreach (string module in new[] { stockModule, ourModule })
        {
            await MakeTree(module, "GBK");
            await Shell(module, "rm -rf \"$(printf 'caf\\xe9')\" \"$(printf 'bad\\xff\\xff')\"");
        }
        await using StockDaemon stockDaemon = await StockDaemon.StartAsync(peer, [Module(stockModule, "GBK")]);
        await using NetRsyncDaemon ourDaemon = await NetRsyncDaemon.StartAsync([Module(ourModule, "GBK")]);

        ProcessResult stock = await Run(peer, ["-rlt", "-v", "--delete", "--iconv=UTF-8,GBK", source + "/", stockDaemon.Url("m")]);
        ProcessResult ours = await Run(peer, ["-rlt", "-v", "--delete", "--iconv=UTF-8,GBK", source + "/", ourDaemon.Url("m")]);
        Assert.True(stock.ExitCode == 0 && ours.ExitCode == 0, $"{stock}\n{ours}\n{ourDaemon.Diagnostics()}");
        static List<string> Deleted(string stdout) =>
            stdout.Split('\n').Where(l => l.StartsWith("deleting ", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        List<string> expected = Deleted(stock.Stdout);
        Assert.Contains("deleting 中文.txt", expected);
        Assert.Equal(expected, Deleted(ours.Stdout));
        Assert.Equal(await Snapshot(stockModule), await Snapshot(ourModule));
    }

    /// <summary>
    /// With -s the client's arguments travel as UTF-8 and a module with a charset reads them in it:
    /// a stock client can name a GBK directory in UTF-8.
    /// </summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task ProtectedArgumentsNamingAPath_AreReadInTheModulesCharset(string peer)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string stockModule = temp.Sub("stock-module");
        string ourModule = temp.Sub("our-module");
        await MakeTree(stockModule, "GBK");
        await MakeTree(ourModule, "GBK");
        await using StockDaemon stockDaemon = await StockDaemon.StartAsync(peer, [Module(stockModule, "GBK")]);
        await using NetRsyncDaemon ourDaemon = await NetRsyncDaemon.StartAsync([Module(ourModule, "GBK")]);
        string fromStock = temp.Sub("pulled-stock");
        string fromOurs = temp.Sub("pulled-ours");
        ProcessResult stock = await Run(peer, ["-rlt", "-s", "--iconv=UTF-8,GBK", stockDaemon.Url("m") + "目录/", fromStock + "/"]);
        ProcessResult ours = await Run(peer, ["-rlt", "-s", "--iconv=UTF-8,GBK", ourDaemon.Url("m") + "目录/", fromOurs + "/"]);
        Assert.True(stock.ExitCode == 0, stock.ToString());
        Assert.True(ours.ExitCode == 0, $"{ours}\n{ourDaemon.Diagnostics()}");
        string tree = await Snapshot(fromStock);
        Assert.Contains("./文件\n", Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(tree)), StringComparison.Ordinal);
        Assert.Equal(tree, await Snapshot(fromOurs));
    }

    /// <summary>Without "charset =" a module refuses --iconv, as a stock daemon's does.</summary>
    [Theory]
    [MemberData(nameof(RsyncPeers.Peers), MemberType = typeof(RsyncPeers))]
    public async Task Netrsyncd_WithoutCharset_RefusesIconv(string peer)
    {
        RsyncPeers.Resolve(peer);
        using var temp = new TempDir();
        string module = temp.Sub("module");
        await MakeTree(module, "UTF-8");
        await using NetRsyncDaemon ourDaemon = await NetRsyncDaemon.StartAsync([new DaemonModule("m", module)]);
        ProcessResult pull = await Run(peer, ["-rlt", "--iconv=UTF-8,UTF-8", ourDaemon.Url("m"), temp.Sub("dest") + "/"]);
        // RERR_UNSUPPORTED, and the reason reaches the client before the exit does.
        Assert.True(pull.ExitCode == 4, pull.ToString());
        Assert.Contains("The server is configured to refuse --iconv", pull.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "dest", "plain")), "nothing is transferred");
    }

    private static DaemonModule Module(string path, string charset) =>
        new("m", path) { ExtraLines = [$"charset = {charset}"] };

    private async Task AssertSameOutcome(ProcessResult stock, ProcessResult ours, string stockTree, string ourTree, string landedCharset,
        string? diagnostics = null)
    {
        output.WriteLine($"stock: {stock}");
        output.WriteLine($"ours: {ours}");
        Assert.True(stock.ExitCode == ours.ExitCode, $"exit codes differ: stock {stock.ExitCode}, ours {ours.ExitCode}\n{stock}\n{ours}\n{diagnostics}");
        // The trees hold names that cannot be converted: both report them.
        Assert.Contains("cannot convert filename", stock.Stderr, StringComparison.Ordinal);
        Assert.Contains("cannot convert filename", ours.Stderr, StringComparison.Ordinal);
        // The same side reports the same kind of failure, as often (names are shown escaped by the output sinks).
        Assert.Equal(ConversionReports(stock.Stderr), ConversionReports(ours.Stderr));

        // -r goes one directory at a time under --iconv too, on both sides of each transfer.
        if (stock.Stdout.Contains(" file list", StringComparison.Ordinal))
        {
            Assert.Contains("incremental file list", stock.Stdout, StringComparison.Ordinal);
            Assert.Contains("incremental file list", ours.Stdout, StringComparison.Ordinal);
        }

        string expected = await Snapshot(stockTree);
        string actual = await Snapshot(ourTree);
        output.WriteLine("stock tree:\n" + Visible(expected));
        Assert.True(expected == actual, $"trees differ\nstock:\n{Visible(expected)}\nours:\n{Visible(actual)}\n{diagnostics}");

        // Not vacuous: the converted name is there, in the charset it should land in.
        string chinese = landedCharset == "GBK" ? Unescape(GbkChinese) : Encoding.Latin1.GetString(Utf8Chinese);
        Assert.Contains("./" + chinese + "\n", expected, StringComparison.Ordinal);
    }

    private static List<string> ConversionReports(string stderr) =>
        System.Text.RegularExpressions.Regex.Matches(stderr, @"^\[(\w+)\] cannot convert (filename|symlink data)", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value + " " + m.Groups[2].Value).Order(StringComparer.Ordinal).ToList();

    private Task<ProcessResult> Run(string peer, IEnumerable<string> args) => DaemonTestKit.RunStock(output, peer, args);

    private static Task<ProcessResult> RunOurs(IEnumerable<string> args) =>
        NetRsync.Instance.RunAsync(args, timeout: TimeSpan.FromMinutes(2));

    /// <summary>
    /// A tree in GBK or UTF-8: names that convert (CJK, "é", "€"), names that cannot ("caf\xe9" is
    /// incomplete in both charsets; "\xff\xff" is not GBK; U+1F642 has no GBK form), a directory whose
    /// name cannot be converted (its contents go unsent with it), and eight files named "测试N" whose
    /// order differs between the charsets relative to the ASCII and Latin names around them. The
    /// directory "sub" has some of each too, so a directory's own list (incremental recursion, on
    /// by default with -r) holds names that sort differently and one that cannot be converted.
    /// </summary>
    private static async Task MakeTree(string root, string charset)
    {
        string script = charset == "GBK"
            ? """
              n() { printf "$1"; }
              echo plain > plain
              echo chinese > "$(n '\xd6\xd0\xce\xc4.txt')"
              mkdir "$(n '\xc4\xbf\xc2\xbc')"; echo inner > "$(n '\xc4\xbf\xc2\xbc')/$(n '\xce\xc4\xbc\xfe')"
              ln -s "$(n '\xd6\xd0\xce\xc4.txt')" lnk
              for i in 1 2 3 4 5 6 7 8; do echo "file $i" > "$(n '\xb2\xe2\xca\xd4')$i"; done
              mkdir sub; for i in 1 2 3; do echo "inner $i" > "sub/$(n '\xb2\xe2\xca\xd4')$i"; echo "latin $i" > "sub/e$i"; done
              echo bad > "sub/$(n 'caf\xe9')"
              echo euro > "z$(n '\x80')"
              echo eacute > "$(n '\xa8\xa6')t$(n '\xa8\xa6')"
              echo bad > "$(n 'caf\xe9')"
              mkdir "$(n 'bad\xff\xff')"; echo lost > "$(n 'bad\xff\xff')/inner"
              """
            : """
              n() { printf "$1"; }
              echo plain > plain
              echo chinese > "中文.txt"
              mkdir "目录"; echo inner > "目录/文件"
              ln -s "中文.txt" lnk
              for i in 1 2 3 4 5 6 7 8; do echo "file $i" > "测试$i"; done
              mkdir sub; for i in 1 2 3; do echo "inner $i" > "sub/测试$i"; echo "latin $i" > "sub/e$i"; done
              echo bad > "sub/$(n 'caf\xe9')"
              echo euro > "z€"
              echo eacute > "été"
              echo bad > "$(n 'caf\xe9')"
              mkdir "$(n 'bad\xff\xff')"; echo lost > "$(n 'bad\xff\xff')/inner"
              """;
        var psi = new ProcessStartInfo("/bin/bash", ["-euc", script]) { WorkingDirectory = root, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        string err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"building the {charset} tree failed: {err}");
        // Fixed times, so that the trees compare on mtimes too.
        await Shell(root, "find . -mindepth 1 -exec touch -h -d @1500000000 {} +");
    }

    /// <summary>
    /// Every entry below <paramref name="root"/> as exact bytes (held one char per byte): its path,
    /// then its type, size and mtime, then its link target or a digest of its content.
    /// </summary>
    private static Task<string> Snapshot(string root) => Shell(root, """
        find . -mindepth 1 -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
          printf '%s\n' "$f"
          stat -c '%F %s %Y' -- "$f"
          if [ -L "$f" ]; then readlink -- "$f"; elif [ -f "$f" ]; then md5sum < "$f"; fi
        done
        """);

    private static async Task<string> Shell(string directory, string script)
    {
        var psi = new ProcessStartInfo("/bin/bash", ["-euc", script])
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.Latin1,
        };
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        string err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"{script} failed: {err}");
        return await stdout;
    }

    private static string Unescape(string text)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 3 < text.Length && text[i + 1] == 'x')
            {
                sb.Append((char)Convert.ToByte(text.Substring(i + 2, 2), 16));
                i += 3;
            }
            else
                sb.Append(text[i]);
        }
        return sb.ToString();
    }

    private static string Visible(string bytes)
    {
        var sb = new StringBuilder();
        foreach (char c in bytes)
            sb.Append(c is >= ' ' and < '\x7f' or '\n' ? c.ToString() : $"\\x{(int)c:x2}");
        return sb.ToString();
    }
}
