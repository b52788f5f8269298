using System.Net;
using System.Net.Sockets;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NetRsync.Protocol.Text;
using NetRsync.SerSync.Config;
using NetRsync.SerSync.Plugins;
using NetRsync.SerSync.Sync;
using Xunit;

namespace NetRsync.SerSync.Tests;

/// <summary>Any name (bytes without '/' and NUL) passes through netsersync unchanged.</summary>
public sealed class NameBytesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("netsersync-names-").FullName;

    public void Dispose() => RawFs.DeleteTree(_dir);

    private static readonly byte[][] Pieces =
    [
        "a"u8.ToArray(), "Z"u8.ToArray(), "."u8.ToArray(), " "u8.ToArray(), "*"u8.ToArray(), "?"u8.ToArray(), "["u8.ToArray(),
        "\\"u8.ToArray(), "\n"u8.ToArray(), "\t"u8.ToArray(), [0x01], [0x7F], "é"u8.ToArray(), "中"u8.ToArray(), "😀"u8.ToArray(),
        [0xE9], [0xE8], [0xFF], [0x80], [0xC3], [0xD6, 0xD0, 0xCE, 0xC4], [0xED, 0xA0, 0x80], "\\#123"u8.ToArray(),
    ];

    /// <summary>Names of 1 to 255 bytes: uniform bytes, or pieces chosen to meet the edge cases often.</summary>
    private static readonly Gen<byte[]> Name = Gen.OneOf(
        Gen.Choose(1, 255).SelectMany(n => Gen.Choose(1, 255).Where(b => b != '/').Select(b => (byte)b).ArrayOf(n)),
        Gen.Choose(1, 30).SelectMany(n => Gen.Elements(Pieces).ArrayOf(n)).Select(parts => parts.SelectMany(p => p).Take(255).ToArray()));

    private static readonly Gen<byte[]> RelativePath =
        Gen.Choose(1, 4).SelectMany(n => Name.ArrayOf(n)).Select(parts => parts.Aggregate((a, b) => Names.Join(a, b)));

    /// <summary>A regular expression matching exactly these bytes, as a user could write it in the config.</summary>
    private static string Literal(byte[] path) =>
        string.Concat(path.Select(b => b == (byte)'/' ? "/" : $"\\x{b:X2}"));

    [Property(MaxTest = 60)]
    public Property EveryNameSurvivesTheFailQueue() =>
        Prop.ForAll(Gen.OneOf(Name, RelativePath).ArrayOf().Where(a => a.Length > 0).ToArbitrary(), paths =>
        {
            string file = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
            var written = new Dictionary<byte[], ChangeFlags>(Names.Comparer);
            for (int i = 0; i < paths.Length; i++)
                written[paths[i]] = i % 2 == 0 ? ChangeFlags.Update : ChangeFlags.MayRemove;
            using (var queue = FailQueue.Open(file))
                queue.Add("h::m", "/src", written);
            using var reopened = FailQueue.Open(file);
            var read = Assert.Single(reopened.Recovered).Paths;
            return read.Count == written.Count && written.All(kv => read.TryGetValue(kv.Key, out var flags) && flags == kv.Value);
        });

    [Property(MaxTest = 200)]
    public Property TheFilterMatchesEveryNameByItsBytes() =>
        Prop.ForAll(RelativePath.ToArbitrary(), Gen.Choose(0, 254).ToArbitrary(), Gen.Choose(1, 255).ToArbitrary(), (path, at, replacement) =>
        {
            var itself = new PathFilter([Literal(path)]);
            // One byte changed (never into '/' or NUL) and the same expression no longer matches.
            byte[] other = (byte[])path.Clone();
            int i = at % other.Length;
            bool changeable = other[i] != (byte)'/' && replacement != '/';
            if (changeable)
                other[i] = other[i] == replacement ? (byte)(replacement == 1 ? 2 : 1) : (byte)replacement;
            // An excluded first component takes everything below it along.
            byte[] first = path[..(Array.IndexOf(path, (byte)'/') is int s and >= 0 ? s : path.Length)];
            var parent = new PathFilter([Literal(first)]);
            return itself.ExcludesItself(path) && itself.Excludes(path)
                && (!changeable || !itself.ExcludesItself(other))
                && parent.Excludes(path);
        });

    [Property(MaxTest = 60)]
    public Property FilesFromListsAndRemovalRulesCarryTheBytes() =>
        Prop.ForAll(RelativePath.ArrayOf().Where(a => a.Length > 0).ToArbitrary(), paths =>
        {
            string list = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
            RemotePusher.WriteList(list, paths);
            byte[] expected = paths.SelectMany(p => p.Append((byte)0)).ToArray();
            bool listExact = File.ReadAllBytes(list).AsSpan().SequenceEqual(expected);
            var rules = SessionPlanner.RemovalArgs([paths[0]]);
            bool ruleExact = rules.Contains("--include=/" + NameText.FromBytes(SessionPlanner.EscapePattern(paths[0])))
                && NameText.ToBytes(rules.First(r => r.EndsWith("/**", StringComparison.Ordinal))["--include=/".Length..^3])
                    .AsSpan().SequenceEqual(SessionPlanner.EscapeWildcards(paths[0]));
            return listExact && ruleExact;
        });

    [Fact]
    public void ThePlannerListsAndRemovesByteNames()
    {
        byte[] dir = [0x64, 0xE8, 0xFF];
        byte[] latin1 = [0x63, 0x61, 0x66, 0xE9];
        byte[] gbk = [0xD6, 0xD0, 0xCE, 0xC4, 0x2E, 0x74, 0x78, 0x74];
        byte[] gone = [0x67, 0xF0, 0x0A];
        RawFs.MakeDirectory(RawFs.Under(_dir, dir));
        RawFs.WriteFile(RawFs.Under(_dir, Names.Join(dir, latin1)), "x"u8);
        RawFs.WriteFile(RawFs.Under(_dir, gbk), "x"u8);
        var planner = new SessionPlanner(_dir, new PathFilter([@"\xD6.*"]), []);

        var rescan = Assert.Single(planner.Plan(new Dictionary<byte[], ChangeFlags>(Names.Comparer) { [Names.Empty] = ChangeFlags.Rescan }));
        Assert.Equal([dir, Names.Join(dir, latin1)], rescan.FilesFrom!, Names.Comparer);

        var sessions = planner.Plan(new Dictionary<byte[], ChangeFlags>(Names.Comparer)
        {
            [Names.Join(dir, latin1)] = ChangeFlags.Update | ChangeFlags.MayRemove,
            [gone] = ChangeFlags.MayRemove,
        });
        Assert.Equal([Names.Join(dir, latin1)], Assert.Single(sessions, s => s.Purpose == "update").FilesFrom!, Names.Comparer);
        var remove = Assert.Single(sessions, s => s.Purpose == "remove");
        Assert.Equal(["-r", "--delete", "--include=/" + NameText.FromBytes(gone), "--include=/" + NameText.FromBytes(gone) + "/**", "--exclude=*"], remove.ExtraArgs);
    }

    [Theory]
    [InlineData(@"caf\xE9", new byte[] { 0x63, 0x61, 0x66, 0xE9 }, true)]
    [InlineData(@"caf\xE9", new byte[] { 0x63, 0x61, 0x66, 0xC3, 0xA9 }, false)]
    [InlineData("café", new byte[] { 0x63, 0x61, 0x66, 0xC3, 0xA9 }, true)]
    [InlineData("café", new byte[] { 0x63, 0x61, 0x66, 0xE9 }, false)]
    [InlineData(@"(.*)\.txt", new byte[] { 0xD6, 0xD0, 0xCE, 0xC4, 0x2E, 0x74, 0x78, 0x74 }, true)]
    [InlineData("caf.", new byte[] { 0x63, 0x61, 0x66, 0xE8 }, true)]
    [InlineData("caf.", new byte[] { 0x63, 0x61, 0x66, 0xC3, 0xA9 }, false)]
    public void ExpressionsMatchBytes(string expression, byte[] name, bool excluded) =>
        Assert.Equal(excluded, new PathFilter([expression]).Excludes(name));

    [Theory]
    [InlineData(new byte[] { 0x63, 0x61, 0x66, 0xE9 }, @"caf\#351")]
    [InlineData(new byte[] { 0xD6, 0xD0, 0xCE, 0xC4, 0x2E, 0x74, 0x78, 0x74 }, @"\#326\#320\#316\#304.txt")]
    [InlineData(new byte[] { 0x61, 0x0A, 0x62, 0x09, 0x01 }, "a\\#012b\t\\#001")]
    [InlineData(new byte[] { 0x63, 0x61, 0x66, 0xC3, 0xA9 }, "café")]
    [InlineData(new byte[] { 0x5C, 0x23, 0x31, 0x32, 0x33, 0x5C, 0x23, 0x78 }, @"\#134#123\#x")]
    public void DisplayEscapesAsRsyncDoes(byte[] name, string shown) => Assert.Equal(shown, Names.Display(name));

    [Fact]
    public async Task TheCommandPluginGetsTheNameBytes()
    {
        byte[] name = Names.Join(NameText.ToBytes(_dir), [0x63, 0x61, 0x66, 0xE9, 0x0A, 0xFF]);
        RawFs.WriteFile(name, "latin-1\n"u8);
        string copy = Path.Combine(_dir, "copy");
        var plugin = new CommandPlugin(new CommandPluginSettings("/bin/cp --", copy, IgnoreError: false, []));
        await plugin.PublishAsync(_dir, [name], CancellationToken.None);
        Assert.Equal("latin-1\n", File.ReadAllText(copy));
    }

    [Fact]
    public async Task TheSocketPluginSendsTheNameBytes()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        byte[] latin1 = Names.Join(NameText.ToBytes(_dir), [0x63, 0x61, 0x66, 0xE9]);
        byte[] gbk = Names.Join(NameText.ToBytes(_dir), [0xD6, 0xD0, 0xCE, 0xC4, 0x2E, 0x74, 0x78, 0x74]);
        var plugin = new SocketPlugin([new SocketPluginTarget(_dir, "127.0.0.1", port)]);
        var send = plugin.PublishAsync(_dir, [latin1, gbk], CancellationToken.None);
        using var client = await listener.AcceptTcpClientAsync();
        var received = new MemoryStream();
        await client.GetStream().CopyToAsync(received);
        await send;
        Assert.Equal([.. latin1, (byte)'\n', .. gbk, (byte)'\n'], received.ToArray());
    }

    [Fact]
    public void TheHttpBodyKeepsInvalidBytesAsSurrogateEscapes()
    {
        byte[] body = HttpPlugin.Body("/w", [[.. "/w/caf"u8, 0xE9], [.. "/w/é\"\n"u8]]);
        Assert.Equal("{\"root\":\"/w\",\"paths\":[\"/w/caf\\udce9\",\"/w/é\\\"\\u000a\"]}", Encoding.UTF8.GetString(body));
    }

    [Fact]
    public void IconvInCommonParamsReachesTheLibrary()
    {
        var config = ConfigLoader.ParseText("""
            <head version="2.5">
                <sersync>
                    <localpath watch="/src"><remote ip="127.0.0.1" name="mod"/></localpath>
                    <rsync><commonParams params="-artu --iconv=GBK,UTF-8"/></rsync>
                </sersync>
            </head>
            """);
        Assert.Contains("--iconv=GBK,UTF-8", RemotePusher.CommandLine([], config.Rsync, "/src/", "rsync://h/m/"));
        using var queue = FailQueue.Open(null);
        var pusher = new RemotePusher("/src", config.Watches[0].Remotes[0], config.Rsync, PathFilter.None, [], queue, new SemaphoreSlim(1), TimeSpan.FromSeconds(1));
        string list = Path.Combine(_dir, "list");
        RemotePusher.WriteList(list, [N.B("a")]);
        var options = pusher.SessionOptions(new PlannedSession("update", ["--force"], [N.B("a")], 1), list);
        Assert.Equal("GBK,UTF-8", options.Iconv);
        Assert.True(options.From0);
        Assert.Equal(list, options.FilesFrom);
    }
}
