using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Tests.Wire;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Compression;

public sealed class TokenStreamRoundTripTests
{
    public static TheoryData<TokenFormat, int> FormatsAndProtocols()
    {
        var data = new TheoryData<TokenFormat, int>();
        foreach (var format in Enum.GetValues<TokenFormat>())
        {
            data.Add(format, 30);
            data.Add(format, 31);
        }
        return data;
    }

    private static byte[][] Blocks(int count, int length, ulong seed)
    {
        var random = new TestBytes(seed);
        var blocks = new byte[count][];
        for (int i = 0; i < count; i++)
            blocks[i] = random.Next(length);
        return blocks;
    }

    /// <summary>Literal bytes taken from a block: they compress only against history that holds the block.</summary>
    private static byte[] Slice(byte[] block, int start, int length) => block.AsSpan(start, length).ToArray();

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    [Theory]
    [MemberData(nameof(FormatsAndProtocols))]
    public void RandomDeltasRoundTrip(TokenFormat format, int protocol)
    {
        var blocks = Blocks(12, 700, 11);
        var random = new TestBytes(5);
        Gen<DeltaStep> step = Gen.OneOf(
            Gen.Choose(0, blocks.Length - 1).Select(DeltaStep.Match),
            Gen.Choose(1, 3000).Select(n => DeltaStep.Data(random.Next(n))),
            from b in Gen.Choose(0, blocks.Length - 1)
            from start in Gen.Choose(0, 600)
            from length in Gen.Choose(1, 100)
            select DeltaStep.Data(Slice(blocks[b], start, length)),
            Gen.Choose(1, 2000).Select(n => DeltaStep.Data(new byte[n])));
        Gen<DeltaFile> file =
            from level in Gen.Elements(6, 6, 1, 9, 0)
            from steps in Gen.ListOf(step)
            select new DeltaFile(level, steps.ToList());
        Props.Check(Gen.ListOf(file).Select(f => f.ToList()).Where(f => f.Count > 0), files =>
            TokenStreamHarness.AssertRoundTrip(format, protocol, blocks, files), maxTest: 60, endSize: 40);
    }

    [Theory]
    [MemberData(nameof(FormatsAndProtocols))]
    public void TokenRunsOfEveryShapeRoundTrip(TokenFormat format, int protocol)
    {
        var blocks = Blocks(70000, 1, 3);
        Gen<DeltaStep> step = Gen.OneOf(
            Gen.Choose(0, blocks.Length - 1).Select(DeltaStep.Match),
            Gen.Choose(1, 5).Select(n => DeltaStep.Data(new byte[n])));
        Gen<List<DeltaStep>> runs =
            from starts in Gen.ListOf(Gen.Choose(0, blocks.Length - 1))
            from lengths in Gen.Choose(1, 70).ListOf(starts.Count)
            select starts.Zip(lengths).SelectMany(r => Enumerable.Range(r.First, Math.Min(r.Second, blocks.Length - r.First)).Select(DeltaStep.Match)).ToList();
        Gen<DeltaFile> file =
            from a in runs
            from b in Gen.ListOf(step)
            from c in runs
            select new DeltaFile(6, a.Concat(b).Concat(c).ToList());
        Props.Check(file, f => TokenStreamHarness.AssertRoundTrip(format, protocol, blocks, [f]), maxTest: 40, endSize: 30);
    }

    [Theory]
    [MemberData(nameof(FormatsAndProtocols))]
    public void RunLongerThan65536TokensSplits(TokenFormat format, int protocol)
    {
        var blocks = Blocks(140000, 1, 4);
        var steps = Enumerable.Range(0, blocks.Length).Select(DeltaStep.Match).ToList();
        TokenStreamHarness.AssertRoundTrip(format, protocol, blocks, [new DeltaFile(6, steps)]);
    }

    [Theory]
    [MemberData(nameof(FormatsAndProtocols))]
    public void BigBlocksLongLiteralsAndLevelZeroRoundTrip(TokenFormat format, int protocol)
    {
        var blocks = Blocks(3, 100_000, 7);
        var random = new TestBytes(8);
        var big = new DeltaFile(6,
        [
            DeltaStep.Match(0),
            DeltaStep.Data(Concat(Slice(blocks[0], 20_000, 3000), random.Next(50), Slice(blocks[0], 80_000, 3000))),
            DeltaStep.Match(1),
            DeltaStep.Match(2),
            DeltaStep.Data(random.Next(70_000)),
            DeltaStep.Match(0),
            DeltaStep.Data(Slice(blocks[0], 90_000, 5000)),
        ]);
        var stored = big with { Level = 0 };
        var empty = new DeltaFile(6, []);
        var onlyLiteral = new DeltaFile(9, [DeltaStep.Data(Concat(Slice(blocks[2], 0, 40_000), Slice(blocks[2], 0, 40_000)))]);
        TokenStreamHarness.AssertRoundTrip(format, protocol, blocks, [big, stored, empty, onlyLiteral, big]);
    }

    /// <summary>
    /// The deflate receiver keeps the data in its window exactly as rsync feeds it: a stream made
    /// with matched history decodes only with matched history, and one made for protocol 30 (long
    /// blocks fed from their start again) only with the protocol 30 rule, and the other way round.
    /// </summary>
    [Theory]
    [InlineData(TokenFormat.Zlib, 30, TokenFormat.Zlibx, 30)]
    [InlineData(TokenFormat.Zlib, 31, TokenFormat.Zlibx, 31)]
    [InlineData(TokenFormat.Zlibx, 31, TokenFormat.Zlib, 31)]
    [InlineData(TokenFormat.Zlib, 30, TokenFormat.Zlib, 31)]
    [InlineData(TokenFormat.Zlib, 31, TokenFormat.Zlib, 30)]
    public void HistoryRulesMustAgree(TokenFormat sentAs, int sentProtocol, TokenFormat readAs, int readProtocol)
    {
        var blocks = Blocks(2, 100_000, 9);
        var file = new DeltaFile(6,
        [
            DeltaStep.Data(Slice(blocks[1], 0, 500)),
            DeltaStep.Match(0),
            DeltaStep.Data(Concat(Slice(blocks[0], 20_000, 2000), Slice(blocks[0], 80_000, 2000), Slice(blocks[1], 0, 500))),
        ]);
        byte[] stream = TokenStreamHarness.Encode(sentAs, sentProtocol, blocks, [file]);
        byte[] expected = TokenStreamHarness.Expected(blocks, file);

        var decoded = TokenStreamHarness.Decode(sentAs, sentProtocol, blocks, stream, 1, out _);
        Assert.Equal(expected, decoded[0].Data);
        try
        {
            var wrong = TokenStreamHarness.Decode(readAs, readProtocol, blocks, stream, 1, out _);
            Assert.NotEqual(expected, wrong[0].Data);
        }
        catch (RsyncProtocolException)
        {
        }
    }

    /// <summary>With zlib the literal data copied from a matched block costs a few bytes; with zlibx it travels whole.</summary>
    [Fact]
    public void ZlibSenderRefersToMatchedData()
    {
        var blocks = Blocks(1, 30_000, 10);
        var file = new DeltaFile(6, [DeltaStep.Match(0), DeltaStep.Data(Slice(blocks[0], 1000, 20_000))]);
        int zlib = TokenStreamHarness.AssertRoundTrip(TokenFormat.Zlib, 31, blocks, [file]).Length;
        int primed = TokenStreamHarness.AssertRoundTrip(TokenFormat.ZlibPrimed, 31, blocks, [file]).Length;
        int zlibx = TokenStreamHarness.AssertRoundTrip(TokenFormat.Zlibx, 31, blocks, [file]).Length;
        Assert.True(zlib < 200, $"zlib stream is {zlib} bytes");
        Assert.True(primed < 200, $"primed zlib stream is {primed} bytes");
        Assert.True(zlibx > 20_000, $"zlibx stream is {zlibx} bytes");
    }

    /// <summary>Either zstd library reads what the other wrote: one stream format, whichever is installed at each end.</summary>
    [Theory]
    [InlineData(TokenFormat.Zstd, TokenFormat.ZstdManaged)]
    [InlineData(TokenFormat.ZstdManaged, TokenFormat.Zstd)]
    public void ZstdFromEitherLibraryDecodesWithTheOther(TokenFormat sentAs, TokenFormat readAs)
    {
        Assert.True(SystemZstd.Available, "libzstd.so.1 was not loaded");
        var blocks = Blocks(4, 5000, 31);
        var random = new TestBytes(32);
        var files = Enumerable.Range(0, 5).Select(i => new DeltaFile(3,
        [
            DeltaStep.Data(random.Next(40_000)),
            DeltaStep.Match(i % 4),
            DeltaStep.Data(Concat(Slice(blocks[i % 4], 0, 3000), new byte[20_000])),
        ])).ToList();
        byte[] stream = TokenStreamHarness.Encode(sentAs, 31, blocks, files);
        var decoded = TokenStreamHarness.Decode(readAs, 31, blocks, stream, files.Count, out int unread);
        Assert.Equal(0, unread);
        for (int i = 0; i < files.Count; i++)
            Assert.Equal(TokenStreamHarness.Expected(blocks, files[i]), decoded[i].Data);
    }

    /// <summary>
    /// The machine's zlib is what the "zlib" sender uses where it is installed, as on every machine
    /// this runs on; a missing or unusable libz.so.1 would quietly fall back to re-priming.
    /// </summary>
    [Fact]
    public void TheMachinesZlibIsFoundAndUsed() => Assert.True(SystemZlib.Available, "libz.so.1 was not loaded");

    /// <summary>
    /// Matched blocks between short literals: the machine's zlib takes each block into its history
    /// without restarting, where the re-priming sender compresses 32 KiB of history again before
    /// every literal. Both streams decode to the same file.
    /// </summary>
    [Fact]
    public void MatchesBetweenLiteralsNeedNoRestartWithTheMachinesZlib()
    {
        var blocks = Blocks(64, 8192, 21);
        var random = new TestBytes(22);
        var steps = new List<DeltaStep>();
        for (int i = 0; i < 64; i++)
        {
            steps.Add(DeltaStep.Match(i));
            steps.Add(DeltaStep.Data(Concat(random.Next(40), Slice(blocks[i], 100, 300))));
        }
        var file = new DeltaFile(6, steps);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 20; i++)
            TokenStreamHarness.Encode(TokenFormat.Zlib, 31, blocks, [file]);
        var direct = clock.Elapsed;
        clock.Restart();
        for (int i = 0; i < 20; i++)
            TokenStreamHarness.Encode(TokenFormat.ZlibPrimed, 31, blocks, [file]);
        var primed = clock.Elapsed;
        byte[] zlib = TokenStreamHarness.AssertRoundTrip(TokenFormat.Zlib, 31, blocks, [file]);
        byte[] reprimed = TokenStreamHarness.AssertRoundTrip(TokenFormat.ZlibPrimed, 31, blocks, [file]);
        // The literal's copy of its block costs a reference, not 300 bytes, in both.
        Assert.True(zlib.Length < 64 * 120, $"zlib stream is {zlib.Length} bytes");
        Assert.True(reprimed.Length < 64 * 120, $"primed stream is {reprimed.Length} bytes");
        Assert.True(direct * 3 < primed, $"the machine's zlib took {direct.TotalMilliseconds:F0} ms, re-priming {primed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public void DeflateLiteralsBecomeChunksOfAtMost16383Bytes()
    {
        var random = new TestBytes(12);
        var file = new DeltaFile(6, [DeltaStep.Data(random.Next(100_000)), DeltaStep.Match(0), DeltaStep.Data(random.Next(1000))]);
        byte[] stream = TokenStreamHarness.AssertRoundTrip(TokenFormat.Zlib, 31, Blocks(1, 10, 1), [file]);
        int position = 0, chunks = 0;
        while (stream[position] != CompressedTokenFormat.EndFlag)
        {
            int flag = stream[position];
            if ((flag & 0xc0) == 0x40)
            {
                int length = ((flag & 0x3f) << 8) | stream[position + 1];
                Assert.InRange(length, 1, 16383);
                position += 2 + length;
                chunks++;
            }
            else
                position += flag >= 0x80 ? 1 : 5;
        }
        Assert.True(chunks >= 7, $"{chunks} chunks");
        Assert.Equal(stream.Length - 1, position);
    }
}
