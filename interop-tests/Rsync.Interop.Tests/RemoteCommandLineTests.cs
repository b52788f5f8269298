using System.Text;
using NetRsync.Protocol.Options;
using Xunit;
using Xunit.Abstractions;

namespace NetRsync.Interop.Tests;

/// <summary>
/// The command line a client hands its remote shell, recorded by a shell that writes its arguments
/// down and exits: netrsync's is stock rsync 3.1.1's (options.c, server_options) but for the
/// capability letters after "-e.", and netrsync --server accepts what every stock client sends.
/// </summary>
public sealed class RemoteCommandLineTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// The options netrsync supports whose server arguments differ from one another (options.c,
    /// server_options). --delay-updates, -T and the --*-dest options are not supported:
    /// netrsync's client refuses them before any shell runs, and its server refuses them by name.
    /// </summary>
    public static TheoryData<string> OptionSets() => new()
    {
        "-a",
        "-aH",
        "-rlptgoD -v",
        "-avz",
        "-a --delete",
        "-a --delete-before --force",
        "-a --delete-during --delete-excluded",
        "-a --delete-after --max-delete=5",
        "-a --delete-delay",
        "-ac --size-only",
        "-a --ignore-times",
        "-au --existing",
        "-a --ignore-existing",
        "-a --inplace",
        "-a --append",
        "-a --partial --partial-dir=.part",
        "-a -b --suffix=.old",
        "-a --backup-dir=/tmp/bak",
        "-a --numeric-ids",
        "-a -x",
        "-a --chmod=Du+w,Fgo-w",
        "-a --timeout=30",
        "-a --bwlimit=100",
        "-a -W",
        "-a --no-W",
        "-a -S",
        "-a --remove-source-files",
        "-a --prune-empty-dirs",
        "-a -R",
        "-a --no-implied-dirs -R",
        "-a -L",
        "-a --copy-unsafe-links",
        "-a --safe-links",
        "-a -k",
        "-a -K",
        "-a -O",
        "-a -J",
        "-a --modify-window=2",
        "-a -B 4096",
        "-a --checksum-seed=7",
        "-a -s",
        "-a --iconv=UTF-8,GBK",
        "-a -n",
        "-a -i",
        "-a --log-format=%n",
        "-a --one-file-system --one-file-system",
        "-a --protocol=30",
        "-a --info=del2,name",
        "-a --info=all2,progress0",
        "-av --info=progress2 --stats",
        "-a --debug=recv2,send,flist",
        "-ay",
        "-a --fuzzy --no-y",
    };

    private string Recorder()
    {
        string script = _temp.File("record.sh");
        if (!File.Exists(script))
        {
            File.WriteAllText(script, "#!/bin/sh\n# Writes its arguments down, NUL-terminated, and fails: the client stops there.\nout=\"$RECORD_TO\"\n: > \"$out\"\nfor a in \"$@\"; do printf '%s\\0' \"$a\" >> \"$out\"; done\nexit 1\n");
            Posix.Chmod(script, Posix.Mode("755"));
        }
        return script;
    }

    /// <summary>The words the client ran its shell with, after the shell's own: HOST, the program, the server's arguments.</summary>
    private async Task<List<string>> Record(IRsyncClient client, string options, string direction)
    {
        string file = _temp.File($"{client.Name.Replace('/', '_')}-{Guid.NewGuid():N}.args");
        string source = _temp.Sub("src");
        string[] ends = direction == "push" ? [source + "/", "farhost:dst/"] : ["farhost:src/", _temp.Sub("dst") + "/"];
        ProcessResult r = await client.RunAsync(["-e", Recorder(), .. options.Split(' '), .. ends],
            new Dictionary<string, string?> { ["RECORD_TO"] = file });
        output.WriteLine(r.ToString());
        Assert.True(File.Exists(file), $"{client.Name} never ran the remote shell:\n{r}");
        var words = Encoding.UTF8.GetString(File.ReadAllBytes(file)).Split('\0').SkipLast(1).ToList();
        Assert.True(words.Count >= 3 && words[0] == "farhost" && words[1] == "rsync", $"unexpected command line: {string.Join(' ', words)}");
        return words;
    }

    /// <summary>"-e.LsfxCIvu" names what the client can do; ours leaves out what it does not do (ServerArgs.CapabilityFlags).</summary>
    private static string WithoutCapabilities(string word) =>
        word.StartsWith('-') && !word.StartsWith("--", StringComparison.Ordinal) && word.Contains("e.", StringComparison.Ordinal)
            ? word[..word.IndexOf("e.", StringComparison.Ordinal)] : word;

    [Theory]
    [MemberData(nameof(OptionSets))]
    public async Task Our_remote_command_line_is_rsync_3_1_1s(string options)
    {
        string peer = RsyncPeers.All.FirstOrDefault(p => RsyncPeers.VersionOf(p) is { Major: 3, Minor: 1 })
            ?? throw new Xunit.Sdk.XunitException("no rsync 3.1.x in RSYNC_PEERS: .ci/run adds ../shared/peers/rsync-3.1.1");
        foreach (string direction in new[] { "push", "pull" })
        {
            var stock = await Record(new StockClient(peer), options, direction);
            var ours = await Record(NetRsync.Instance, options, direction);
            Assert.Equal(stock.Select(WithoutCapabilities), ours.Select(WithoutCapabilities));
        }
    }

    [Theory]
    [InlineData("--delay-updates", "--delay-updates")]
    [InlineData("--link-dest=/tmp/l", "--link-dest")]
    public async Task What_netrsync_cannot_do_is_refused_by_name_at_either_end(string option, string named)
    {
        ProcessResult client = await NetRsync.Instance.RunAsync(["-e", Recorder(), "-a", option, _temp.Sub("src") + "/", "farhost:dst/"],
            new Dictionary<string, string?> { ["RECORD_TO"] = _temp.File("never.args") });
        output.WriteLine(client.ToString());
        Assert.NotEqual(0, client.ExitCode);
        Assert.False(File.Exists(_temp.File("never.args")), "the remote shell ran for an option netrsync refuses");
        Assert.Contains(option.Split('=')[0], client.Stderr, StringComparison.Ordinal);

        var words = await Record(new StockClient(RsyncPeers.DebianRsync), "-a " + option, "push");
        var ex = Assert.Throws<RsyncUsageException>(() => OptionParser.ParseServer(words.Skip(2).ToList(), new ServerParseSettings()));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(OptionSets))]
    public async Task Netrsync_server_accepts_what_every_stock_client_sends(string options)
    {
        foreach (string peer in RsyncPeers.All)
        {
            foreach (string direction in new[] { "push", "pull" })
            {
                var words = await Record(new StockClient(peer), options, direction);
                var serverArgs = words.Skip(2).ToList();
                var invocation = OptionParser.ParseServer(serverArgs, new ServerParseSettings { Refuse = new RefuseOptions(null, charsetConfigured: true) });
                Assert.True(invocation.IsServer, $"{peer}: {string.Join(' ', serverArgs)}");
                Assert.Equal(direction == "pull", invocation.IsSender);
            }
        }
    }
}
