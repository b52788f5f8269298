using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using NetRsync.Protocol.Options;
using Xunit;

namespace NetRsync.Protocol.Tests.Options;

/// <summary>
/// Runs the stock rsync clients on this machine against a loopback listener that acts as a
/// protocol 31 daemon just far enough to take the client's arguments ("@RSYNCD: 31.0", the
/// client's greeting and module line, "@RSYNCD: OK", then the arguments up to an empty one,
/// NUL-separated from protocol 30 and newline-separated before), and parses them. The clients
/// are "rsync" on PATH, every path in RSYNC_PEERS, and ../shared/peers/rsync-3.1.1 beside the
/// repository. A missing client is a failing case, not a skipped one.
/// </summary>
public sealed partial class StockClientCaptureTests
{
    private const string NoClient = "(no stock rsync client found)";

    public static TheoryData<string> Clients
    {
        get
        {
            var data = new TheoryData<string>();
            var found = FindClients().ToList();
            if (found.Count == 0)
                data.Add(NoClient);
            foreach (string client in found)
                data.Add(client);
            return data;
        }
    }

    /// <summary>
    /// The command (as in <see cref="ServerInvocationTests.Captured"/>) and the parse, with
    /// "caps=*" standing for any capability string (it differs between versions).
    /// </summary>
    private static readonly (string Command, string Expected)[] Scenarios =
    [
        ("push -a", "receiver -rlptgoD caps=* paths=/dst/"),
        ("pull -a", "sender -rlptgoD caps=* paths=/src/"),
        ("push -avz", "receiver -rlptgoDvz caps=* paths=/dst/"),
        ("pull -avz", "sender -rlptgoDvz caps=* paths=/src/"),
        ("push -aH --delete", "receiver -rlptgoDH --delete=Unspecified caps=* paths=/dst/"),
        ("pull -aH --delete", "sender -rlptgoDH caps=* paths=/src/"),
        ("push -a --exclude=*.o --exclude=tmp/", "receiver -rlptgoD caps=* paths=/dst/"),
        ("pull -a --exclude=*.o --exclude=tmp/", "sender -rlptgoD caps=* paths=/src/"),
        ("push -aR", "receiver -rlptgoDR caps=* paths=/dst/"),
        ("pull -aR", "sender -rlptgoDR caps=* paths=/src/"),
        ("push -au", "receiver -rlptgoDu caps=* paths=/dst/"),
        ("pull -au", "sender -rlptgoDu caps=* paths=/src/"),
        ("push -a --partial", "receiver -rlptgoD --partial caps=* paths=/dst/"),
        ("pull -a --partial", "sender -rlptgoD caps=* paths=/src/"),
        ("push -a --inplace", "receiver -rlptgoD --inplace caps=* paths=/dst/"),
        ("pull -a --inplace", "sender -rlptgoD --inplace caps=* paths=/src/"),
        ("push -a --checksum", "receiver -rlptgoDc caps=* paths=/dst/"),
        ("pull -a --checksum", "sender -rlptgoDc caps=* paths=/src/"),
        ("push -a --protocol=30", "receiver -rlptgoD caps=* paths=/dst/"),
        ("pull -a --protocol=30", "sender -rlptgoD caps=* paths=/src/"),
        ("push -artuz", "receiver -rlptgoDuz caps=* paths=/dst/"),
        ("pull -artuz", "sender -rlptgoDuz caps=* paths=/src/"),
        ("push -a --protocol=29", "receiver -rlptgoD caps=none paths=/dst/"),
        ("pull -a --protocol=29", "sender -rlptgoD caps=none paths=/src/"),
        ("push -as", "receiver -rlptgoDs caps=* paths=/dst/"),
        ("pull -as", "sender -rlptgoDs caps=* paths=/src/"),
        ("push -a -b --suffix=.bak --delete-before", "receiver -rlptgoDb --delete=Before --suffix=.bak caps=* paths=/dst/"),
        ("pull -a rsync://h/mod/src/a rsync://h/mod/src/sub dst/", "sender -rlptgoD caps=* paths=/src/a|/src/sub"),
        ("pull rsync://h/mod/", "sender -d caps=* paths=/"),
    ];

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task StockClientsArgumentsParseAsExpected(string client)
    {
        Assert.True(client != NoClient, "no stock rsync client: install rsync or name one in RSYNC_PEERS");
        string version = Version(client);
        var recorded = ServerInvocationTests.Captured.ToDictionary(row => ((string)row[0] + " " + (string)row[1]), row => row);

        string work = Directory.CreateTempSubdirectory("netrsync-capture-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(work, "src", "sub"));
            File.WriteAllText(Path.Combine(work, "src", "a"), "a\n");
            Directory.CreateDirectory(Path.Combine(work, "dst"));

            var failures = new List<string>();
            foreach (var (command, expected) in Scenarios)
            {
                var (args, protectedArgs) = await CaptureAsync(client, work, command);
                var inv = OptionParser.ParseServer(args, new ServerParseSettings { ModuleName = "mod", ProtectedArgs = protectedArgs });
                string actual = ServerInvocationTests.Describe(inv);
                if (expected.Contains("caps=*", StringComparison.Ordinal))
                {
                    actual = CapsWord().Replace(actual, "caps=*");
                    if (!inv.Capabilities.SafeFileList || !inv.Capabilities.SymlinkTimes)
                        failures.Add($"{command}: capability string {inv.ClientInfo}");
                }

                if (actual != expected)
                    failures.Add($"{command}: sent [{string.Join(", ", args)}], parsed as \"{actual}\", expected \"{expected}\"");

                // The words must be those recorded from the same version.
                if (recorded.TryGetValue(version + " " + command, out var row) && !((string[])row[2]).SequenceEqual(args))
                    failures.Add($"{command}: sent [{string.Join(", ", args)}], recorded [{string.Join(", ", (string[])row[2])}]");
            }

            Assert.True(failures.Count == 0, $"rsync {version} ({client}):\n" + string.Join("\n", failures));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<(List<string> Args, List<string>? ProtectedArgs)> CaptureAsync(string client, string work, string command)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        string url = $"rsync://127.0.0.1:{port}/";

        string[] words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        bool push = words[0] == "push";
        var argv = words.Skip(1).Select(w => w.Replace("rsync://h/", url, StringComparison.Ordinal)).ToList();
        if (!argv.Any(a => a.StartsWith(url, StringComparison.Ordinal)))
            argv.AddRange(push ? ["src/", url + "mod/dst/"] : [url + "mod/src/", "dst/"]);

        var start = new ProcessStartInfo(client)
        {
            WorkingDirectory = work,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string a in argv)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            using TcpClient connection = await listener.AcceptTcpClientAsync(timeout.Token);
            NetworkStream stream = connection.GetStream();
            stream.ReadTimeout = 20_000;
            stream.Write("@RSYNCD: 31.0\n"u8);
            string greeting = ReadItem(stream, (byte)'\n');
            _ = ReadItem(stream, (byte)'\n'); // the module line
            stream.Write("@RSYNCD: OK\n"u8);

            // clientserver.c, exchange_protocols: NUL-separated arguments from protocol 30 on.
            int theirs = int.Parse(greeting.Split(' ')[1].Split('.')[0], System.Globalization.CultureInfo.InvariantCulture);
            byte end = Math.Min(theirs, 31) >= 30 ? (byte)0 : (byte)'\n';
            var args = ReadItems(stream, end);
            List<string>? protectedArgs = null;
            if (OptionParser.ParseServer(args, new ServerParseSettings { ModuleName = "mod" }).ProtectedArgsPending)
                protectedArgs = ReadItems(stream, 0);
            return (args, protectedArgs);
        }
        finally
        {
            if (!process.WaitForExit(20_000))
                process.Kill(entireProcessTree: true);
        }
    }

    private static List<string> ReadItems(Stream stream, byte end)
    {
        var items = new List<string>();
        while (ReadItem(stream, end) is { Length: > 0 } item)
            items.Add(item);
        return items;
    }

    private static string ReadItem(Stream stream, byte end)
    {
        var bytes = new List<byte>();
        while (true)
        {
            int b = stream.ReadByte();
            if (b < 0)
                throw new EndOfStreamException("the client hung up while sending its arguments");
            if (b == end)
                return Encoding.UTF8.GetString(bytes.ToArray());
            bytes.Add((byte)b);
        }
    }

    private static string Version(string client)
    {
        var start = new ProcessStartInfo(client, "--version") { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var match = VersionWord().Match(output);
        return match.Success ? match.Groups[1].Value : "unknown";
    }

    private static IEnumerable<string> FindClients()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "rsync");
            if (File.Exists(candidate))
            {
                if (seen.Add(Path.GetFullPath(candidate)))
                    yield return Path.GetFullPath(candidate);
                break;
            }
        }

        foreach (string peer in (Environment.GetEnvironmentVariable("RSYNC_PEERS") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string full = Path.GetFullPath(peer);
            if (seen.Add(full))
                yield return full;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "NetRsync.sln")))
                continue;
            string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "peers", "rsync-3.1.1"));
            if (File.Exists(shared) && seen.Add(shared))
                yield return shared;
            break;
        }
    }

    [GeneratedRegex(@"caps=\S+")]
    private static partial Regex CapsWord();

    [GeneratedRegex(@"version\s+(\d+\.\d+\.\d+\S*)")]
    private static partial Regex VersionWord();
}
