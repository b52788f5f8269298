using System.Runtime.CompilerServices;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Compression;

/// <summary>
/// Token streams written by stock rsync (Golden/README.md) decode to the files they were made
/// from, and streams from our senders are accepted by stock rsync reading them from a batch file.
/// </summary>
public sealed class GoldenTokenStreamTests
{
    internal static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    private static byte[] Golden(string name) => File.ReadAllBytes(Path.Combine(SourceDirectory(), "Golden", name));

    internal static byte[][] Split(byte[] basis)
    {
        var blocks = new List<byte[]>();
        for (int i = 0; i < basis.Length; i += GoldenData.BlockSize)
            blocks.Add(basis[i..Math.Min(basis.Length, i + GoldenData.BlockSize)]);
        return blocks.ToArray();
    }

    /// <summary>One file's decoded delta: its steps (literal runs merged) and its bytes.</summary>
    internal static (List<DeltaStep> Steps, byte[] Data) DecodeFile(TokenReceiver receiver, byte[][] blocks)
    {
        var steps = new List<DeltaStep>();
        var output = new MemoryStream();
        var literal = new MemoryStream();
        int token;
        while ((token = receiver.Next(out var data)) != 0)
        {
            if (token > 0)
            {
                literal.Write(data);
                output.Write(data);
                continue;
            }
            if (literal.Length > 0)
            {
                steps.Add(DeltaStep.Data(literal.ToArray()));
                literal.SetLength(0);
            }
            int index = -token - 1;
            Assert.InRange(index, 0, blocks.Length - 1);
            steps.Add(DeltaStep.Match(index));
            output.Write(blocks[index]);
            receiver.SeeMatched(blocks[index]);
        }
        if (literal.Length > 0)
            steps.Add(DeltaStep.Data(literal.ToArray()));
        return (steps, output.ToArray());
    }

    private static void AssertGoldenDecodes(string name, TokenFormat format, int protocol)
    {
        byte[] stream = Golden(name);
        var reader = new RsyncReader(new MemoryStream(stream));
        var receiver = TokenStreamHarness.Receiver(format, reader, protocol);
        var a = DecodeFile(receiver, Split(GoldenData.BasisA));
        var b = DecodeFile(receiver, Split(GoldenData.BasisB));
        Assert.Equal(GoldenData.TargetA, a.Data);
        Assert.Equal(GoldenData.TargetB, b.Data);
        // File a: block 0, literal data, blocks 1 and 2, literal data; the literal data after a
        // match repeats that block's bytes, so it decodes only against the right history.
        Assert.Equal([0, 1, 2], a.Steps.Where(s => s.Literal is null).Select(s => s.Block));
        Assert.Equal(GoldenData.PrefixA, a.Steps[0].Literal);
        Assert.Equal(DeltaStep.Match(0), a.Steps[1]);
        Assert.Equal(GoldenData.LiteralA1, a.Steps[2].Literal);
        Assert.Throws<RsyncProtocolException>(() => reader.ReadByte());
    }

    [Fact]
    public void ZlibProtocol30FromRsync311Decodes() => AssertGoldenDecodes("zlib-p30.bin", TokenFormat.Zlib, 30);

    [Fact]
    public void ZlibProtocol31FromRsync311Decodes() => AssertGoldenDecodes("zlib-p31.bin", TokenFormat.Zlib, 31);

    [Fact]
    public void ZlibxFromRsync311Decodes() => AssertGoldenDecodes("zlibx.bin", TokenFormat.Zlibx, 31);

    /// <summary>File b's literal data repeats file a's: the zstd stream spans files, and so must the receiver.</summary>
    [Fact]
    public void ZstdFromRsync350Decodes()
    {
        AssertGoldenDecodes("zstd.bin", TokenFormat.Zstd, 31);
        Assert.True(Golden("zstd.bin").Length < Golden("zlib-p31.bin").Length);
    }

    [Fact]
    public void Lz4FromRsync350Decodes() => AssertGoldenDecodes("lz4.bin", TokenFormat.Lz4, 31);

    /// <summary>
    /// The golden streams decode only under their own history rule: leaving matched data out of a
    /// zlib window, putting it into a zlibx one, or feeding long blocks by the other protocol's
    /// rule, yields an error or other bytes.
    /// </summary>
    [Theory]
    [InlineData("zlib-p30.bin", TokenFormat.Zlibx, 30)]
    [InlineData("zlib-p30.bin", TokenFormat.Zlib, 31)]
    [InlineData("zlib-p31.bin", TokenFormat.Zlibx, 31)]
    [InlineData("zlib-p31.bin", TokenFormat.Zlib, 30)]
    [InlineData("zlibx.bin", TokenFormat.Zlib, 31)]
    public void GoldenStreamsNeedTheirOwnHistoryRule(string name, TokenFormat format, int protocol)
    {
        var receiver = TokenStreamHarness.Receiver(format, new RsyncReader(new MemoryStream(Golden(name))), protocol);
        try
        {
            var a = DecodeFile(receiver, Split(GoldenData.BasisA));
            Assert.NotEqual(GoldenData.TargetA, a.Data);
        }
        catch (RsyncProtocolException)
        {
        }
    }

    public static TheoryData<string, string> StockBatchCases()
    {
        var data = new TheoryData<string, string>();
        var clients = StockRsync.Clients().ToList();
        if (clients.Count == 0)
            data.Add(NoClient, "-z");
        foreach (string client in clients)
        {
            data.Add(client, "-z --protocol=30");
            data.Add(client, "-z --protocol=31");
        }
        // No zlibx case: rsync 3.2+ always use zlib for batch files, and rsync 3.1.1 records only
        // "compressed" in a batch, so it reads a -zz batch back as zlib and cannot finish it.
        return data;
    }

    internal const string NoClient = "(no stock rsync found)";

    /// <summary>
    /// Stock rsync writes a batch file of the golden files plus a file with a long literal run
    /// between 100000-byte blocks; every file's token stream is decoded, encoded again by our
    /// sender, spliced back in, and the stock rsync that wrote the batch must rebuild every file
    /// from it with --read-batch.
    /// </summary>
    [Theory]
    [MemberData(nameof(StockBatchCases))]
    public void StockRsyncReadsOurDeflateStreamFromABatch(string client, string compression)
    {
        Assert.True(client != NoClient, "no stock rsync: install rsync, or provide ../shared/peers/rsync-3.1.1");
        string root = Directory.CreateTempSubdirectory("netrsync-zlib-").FullName;
        try
        {
            GoldenData.WriteTree(root);
            var basisC = new TestBytes(99).Next(200_000);
            var targetC = basisC[..100_000].Concat(new TestBytes(100).Next(60_000)).Concat(basisC[100_000..])
                .Concat(basisC[5_000..30_000]).Concat(basisC[150_000..160_000]).ToArray();
            File.WriteAllBytes(Path.Combine(root, "src", "c"), targetC);
            File.WriteAllBytes(Path.Combine(root, "dst", "c"), basisC);

            string[] options = [.. compression.Split(' '), "-rI", "--no-whole-file", "--block-size=100000"];
            StockRsync.Run(client, root, [.. options, "--only-write-batch=stock", "src/", "dst/"]);
            byte[] batch = File.ReadAllBytes(Path.Combine(root, "stock"));

            bool zlibx = compression == "-zz";
            int protocol = compression.Contains("--protocol=30", StringComparison.Ordinal) ? 30 : 31;
            var format = zlibx ? TokenFormat.Zlibx : TokenFormat.Zlib;
            var files = new (byte[] Basis, byte[] Target)[] { (GoldenData.BasisA, GoldenData.TargetA), (GoldenData.BasisB, GoldenData.TargetB), (basisC, targetC) };
            var regions = files.Select(f => (Region: GoldenData.FindTokenStream(batch, f.Basis.Length), f.Basis, f.Target))
                .OrderBy(r => r.Region.Start).ToList();

            // The receiver reads the files' token streams back to back, as the golden files hold them.
            var stockStreams = regions.SelectMany(r => batch[r.Region.Start..r.Region.End]).ToArray();
            var receiver = TokenStreamHarness.Receiver(format, new RsyncReader(new MemoryStream(stockStreams)), protocol);
            var ours = new MemoryStream();
            var writer = new RsyncWriter(ours);
            using var sender = new DeflateTokenSender(writer, protocol, includeMatchedInHistory: !zlibx);
            var spliced = new MemoryStream();
            int copied = 0;
            foreach (var (region, basis, target) in regions)
            {
                var blocks = Split(basis);
                var decoded = DecodeFile(receiver, blocks);
                Assert.Equal(target, decoded.Data);

                ours.SetLength(0);
                sender.BeginFile(DeflateTokenSender.DefaultLevel);
                foreach (var step in decoded.Steps)
                {
                    if (step.Literal is null)
                    {
                        sender.Match(step.Block, blocks[step.Block]);
                        continue;
                    }
                    for (int i = 0; i < step.Literal.Length; i += ProtocolLimits.ChunkSize)
                        sender.Literal(step.Literal.AsSpan(i, Math.Min(ProtocolLimits.ChunkSize, step.Literal.Length - i)));
                }
                sender.EndFile();
                writer.Flush();

                spliced.Write(batch.AsSpan(copied, region.Start - copied));
                spliced.Write(ours.ToArray());
                copied = region.End;
            }
            spliced.Write(batch.AsSpan(copied));
            File.WriteAllBytes(Path.Combine(root, "ours"), spliced.ToArray());

            StockRsync.Run(client, root, [.. options, "--read-batch=ours", "dst/"]);
            Assert.Equal(GoldenData.TargetA, File.ReadAllBytes(Path.Combine(root, "dst", "a")));
            Assert.Equal(GoldenData.TargetB, File.ReadAllBytes(Path.Combine(root, "dst", "b")));
            Assert.Equal(targetC, File.ReadAllBytes(Path.Combine(root, "dst", "c")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
