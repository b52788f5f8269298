using System.Buffers.Binary;
using System.Security.Cryptography;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.Tests.Checksums;
using NetRsync.Protocol.Tests.Wire;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Delta;

public sealed partial class DeltaSenderTests : IDisposable
{
    private const int ChunkSize = 32 * 1024;

    private readonly string _dir = Directory.CreateTempSubdirectory("netrsync-delta-").FullName;
    private int _fileCount;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Block sums as a generator computes them for a basis file (generator.c, generate_and_send_sums).</summary>
    private static BlockSums MakeSums(byte[] basis, int blockLength, int strongLength, int seed)
    {
        int count = (int)((basis.Length + (long)blockLength - 1) / blockLength);
        var sums = new BlockSums(count, blockLength, strongLength, basis.Length % blockLength);
        for (int i = 0; i < count; i++)
        {
            var block = basis.AsSpan(i * blockLength, Math.Min(blockLength, basis.Length - i * blockLength));
            sums.Set(i, RollingChecksumTests.Naive(block), BlockStrong(block, seed));
        }
        sums.BuildIndex();
        return sums;
    }

    /// <summary>MD5 of the block followed by the seed's little-endian bytes when the seed is non-zero.</summary>
    private static byte[] BlockStrong(ReadOnlySpan<byte> block, int seed)
    {
        byte[] input = seed == 0 ? block.ToArray() : [.. block, (byte)seed, (byte)(seed >> 8), (byte)(seed >> 16), (byte)(seed >> 24)];
        return MD5.HashData(input);
    }

    private sealed record Token(int Literal, byte[]? Data, int Block);

    /// <summary>Parses the simple token stream (token.c, simple_send_token; receiver.c, receive_data).</summary>
    private static (List<Token> Tokens, byte[] FileSum) ParseTokens(byte[] stream)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (true)
        {
            Assert.True(stream.Length - i >= 4, "token stream ends early");
            int token = BinaryPrimitives.ReadInt32LittleEndian(stream.AsSpan(i));
            i += 4;
            if (token == 0)
                break;
            if (token > 0)
            {
                Assert.True(token <= ChunkSize, $"literal run of {token} bytes exceeds CHUNK_SIZE");
                tokens.Add(new Token(token, stream.AsSpan(i, token).ToArray(), -1));
                i += token;
            }
            else
                tokens.Add(new Token(0, null, -(token + 1)));
        }
        Assert.Equal(16, stream.Length - i);
        return (tokens, stream[i..]);
    }

    private (byte[] Stream, DeltaStats Stats) RunSender(byte[] newFile, BlockSums sums, int seed)
    {
        var (stream, stats, _, _) = RunCounted(newFile, sums, seed);
        return (stream, stats);
    }

    /// <summary>Runs the sender and also returns its counts of comparisons (candidates examined and strong sums) and of strong sums.</summary>
    private (byte[] Stream, DeltaStats Stats, long Comparisons, long StrongSums) RunCounted(byte[] newFile, BlockSums sums, int seed, bool inPlace = false)
    {
        string path = Path.Combine(_dir, $"f{_fileCount++}");
        File.WriteAllBytes(path, newFile);
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        DeltaStats stats;
        long comparisons, strongSums;
        using (var handle = File.OpenHandle(path))
        using (var sender = new DeltaSender(writer, seed) { UpdatingBasisInPlace = inPlace })
        {
            stats = sender.Send(handle, newFile.Length, sums);
            comparisons = sender.Comparisons;
            strongSums = sender.StrongSums;
        }
        writer.Flush();
        File.Delete(path);
        return (output.ToArray(), stats, comparisons, strongSums);
    }

    /// <summary>Checks a delta against both files and returns the literal byte count.</summary>
    private static long Verify(byte[] basis, byte[] newFile, BlockSums sums, int seed, byte[] stream, DeltaStats stats)
    {
        var (tokens, fileSum) = ParseTokens(stream);
        Assert.Equal(MD5.HashData(newFile), fileSum);

        var rebuilt = new MemoryStream();
        long offset = 0, literal = 0, matched = 0;
        foreach (var token in tokens)
        {
            if (token.Data is not null)
            {
                // Literal data is the new file's bytes at this point.
                Assert.True(offset + token.Literal <= newFile.Length);
                Assert.True(newFile.AsSpan((int)offset, token.Literal).SequenceEqual(token.Data));
                rebuilt.Write(token.Data);
                offset += token.Literal;
                literal += token.Literal;
                continue;
            }
            Assert.InRange(token.Block, 0, sums.Count - 1);
            int length = sums.LengthOf(token.Block);
            Assert.True(offset + length <= newFile.Length, "matched block runs past the end of the file");
            // The sender may only claim a match its sums vouch for: the new file's bytes here have
            // the block's weak sum and the leading bytes of its strong sum.
            var here = newFile.AsSpan((int)offset, length);
            Assert.Equal(sums.Weak(token.Block), RollingChecksumTests.Naive(here));
            Assert.True(BlockStrong(here, seed).AsSpan(0, sums.StrongLength).SequenceEqual(sums.Strong(token.Block)));
            rebuilt.Write(basis, token.Block * sums.BlockLength, length);
            offset += length;
            matched += length;
        }
        Assert.Equal(newFile.Length, offset);
        Assert.Equal(literal, stats.LiteralBytes);
        Assert.Equal(matched, stats.MatchedBytes);
        Assert.False(stats.ReadError);
        if (sums.StrongLength == 16)
            Assert.Equal(newFile, rebuilt.ToArray()); // MD5 collisions aside, the receiver rebuilds the file
        return literal;
    }

    private abstract record Edit;
    private sealed record Flip(int At, byte Value) : Edit;
    private sealed record Insert(int At, byte[] Data) : Edit;
    private sealed record Delete(int At, int Length) : Edit;
    private sealed record Append(byte[] Data) : Edit;
    private sealed record Move(int From, int Length, int To) : Edit;

    private static Gen<Edit> AnyEdit { get; } = Gen.Frequency(
        (3, from at in Gen.Choose(0, 1000) from v in Gen.Choose(0, 255) select (Edit)new Flip(at, (byte)v)),
        (2, from at in Gen.Choose(0, 1000) from d in Props.Bytes(2000) select (Edit)new Insert(at, d)),
        (2, from at in Gen.Choose(0, 1000) from len in Gen.Choose(1, 3000) select (Edit)new Delete(at, len)),
        (1, Props.Bytes(5000).Select(d => (Edit)new Append(d))),
        (1, from a in Gen.Choose(0, 1000) from len in Gen.Choose(1, 20000) from b in Gen.Choose(0, 1000) select (Edit)new Move(a, len, b)));

    private static byte[] Apply(byte[] data, IEnumerable<Edit> edits)
    {
        var list = new List<byte>(data);
        foreach (var edit in edits)
        {
            int At(int permille) => (int)((long)list.Count * permille / 1000);
            switch (edit)
            {
                case Flip f when list.Count > 0:
                    int p = Math.Min(At(f.At), list.Count - 1);
                    list[p] = (byte)(list[p] ^ (f.Value == 0 ? 1 : f.Value));
                    break;
                case Insert ins:
                    list.InsertRange(At(ins.At), ins.Data);
                    break;
                case Delete del:
                    int start = At(del.At);
                    list.RemoveRange(start, Math.Min(del.Length, list.Count - start));
                    break;
                case Append app:
                    list.AddRange(app.Data);
                    break;
                case Move mv when list.Count > 0:
                    int from = At(mv.From);
                    int len = Math.Min(mv.Length, list.Count - from);
                    var piece = list.GetRange(from, len);
                    list.RemoveRange(from, len);
                    list.InsertRange(At(mv.To), piece);
                    break;
            }
        }
        return [.. list];
    }

    private static Gen<byte[]> Basis { get; } =
        from len in Gen.Frequency(
            (3, Gen.Choose(0, 3000)),
            (3, Gen.Choose(0, 60_000)),
            (1, Gen.Choose(100_000, 300_000)))
        from kind in Gen.Choose(0, 5)
        from seed in Gen.Choose(0, int.MaxValue)
        select MakeBasis(len, kind, seed);

    /// <summary>Random bytes, or repetitive content where weak sums collide a lot.</summary>
    private static byte[] MakeBasis(int length, int kind, int seed)
    {
        var data = new byte[length];
        var random = new Random(seed);
        switch (kind)
        {
            case 0: // all zeros: every block has the same sums
                break;
            case 1: // a short repeating pattern
                byte[] pattern = new byte[1 + random.Next(50)];
                random.NextBytes(pattern);
                for (int i = 0; i < length; i++)
                    data[i] = pattern[i % pattern.Length];
                break;
            case 2: // text-like bytes
                for (int i = 0; i < length; i++)
                    data[i] = (byte)"etaoin shrdlu\n"[random.Next(14)];
                break;
            default:
                random.NextBytes(data);
                break;
        }
        return data;
    }

    private static Gen<int> BlockLengthFor(int basisLength) =>
        basisLength <= 20_000
            ? Gen.OneOf(Gen.Choose(1, 64), Gen.Constant(700), Gen.Choose(65, 3000))
            : Gen.OneOf(Gen.Constant(700), Gen.Constant(Math.Max(700, (int)Math.Sqrt(basisLength) & ~7)), Gen.Choose(500, 9000));

    [Fact]
    public void DeltaRebuildsTheNewFile()
    {
        var gen =
            from basis in Basis
            from edits in Gen.ListOf(AnyEdit).Select(l => l.Take(8).ToList())
            from blockLength in BlockLengthFor(basis.Length)
            from strongLength in Gen.Elements(16, 16, 2)
            from seed in Gen.OneOf(Gen.Constant(0), Gen.Choose(int.MinValue / 2, int.MaxValue))
            select (basis, edits, blockLength, strongLength, seed);
        Props.Check(gen, t =>
        {
            byte[] newFile = Apply(t.basis, t.edits);
            var sums = MakeSums(t.basis, t.blockLength, t.strongLength, t.seed);
            var (stream, stats) = RunSender(newFile, sums, t.seed);
            Verify(t.basis, newFile, sums, t.seed, stream, stats);
        }, maxTest: 60, endSize: 30);
    }

    [Fact]
    public void IdenticalFileIsAllMatches()
    {
        byte[] basis = MakeBasis(200_000, 5, 1);
        var sums = MakeSums(basis, 700, 16, 12345);
        var (stream, stats) = RunSender(basis, sums, 12345);
        Assert.Equal(0, Verify(basis, basis, sums, 12345, stream, stats));
        var (tokens, _) = ParseTokens(stream);
        Assert.Equal(Enumerable.Range(0, sums.Count), tokens.Select(t => t.Block));
    }

    [Fact]
    public void NoSumsMeansOnlyLiteralRuns()
    {
        byte[] file = MakeBasis(100_000, 5, 2);
        var sums = new BlockSums(0, 700, 16, 0);
        sums.BuildIndex();
        var (stream, stats) = RunSender(file, sums, 0);
        Assert.Equal(file.Length, Verify([], file, sums, 0, stream, stats));
        var (tokens, _) = ParseTokens(stream);
        // match.c, match_sums sends CHUNK_SIZE pieces; ours are 4 bytes shorter so that each piece
        // and its length fill one frame, read from the file into it in place.
        const int piece = RsyncWriter.LargestTokenInPlace;
        Assert.Equal([piece, piece, piece, 100_000 - 3 * piece], tokens.Select(t => t.Literal));
    }

    [Fact]
    public void ANewFileGoesFromTheFileIntoFramesWithNoWindow()
    {
        byte[] file = MakeBasis(200_000, 5, 9);
        string path = Path.Combine(_dir, "new");
        File.WriteAllBytes(path, file);
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        writer.StartMultiplexing();
        var sums = new BlockSums(0, 700, 16, 0);
        sums.BuildIndex();
        DeltaStats stats;
        using (var handle = File.OpenHandle(path))
        using (var sender = new DeltaSender(writer, 0))
        {
            stats = sender.Send(handle, file.Length, sums);
            Assert.False(sender.HasWindow, "a new file was copied through the window");
        }
        writer.Flush();
        // Every frame but the last two (the end token and the file's sum) is one whole token.
        var data = new MemoryStream();
        var raw = output.ToArray();
        var payloads = new List<int>();
        for (int i = 0; i < raw.Length;)
        {
            int length = (int)(BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(i)) & 0xFFFFFF);
            payloads.Add(length);
            data.Write(raw, i + 4, length);
            i += 4 + length;
        }
        int whole = file.Length / RsyncWriter.LargestTokenInPlace;
        Assert.Equal(Enumerable.Repeat(RsyncWriter.LargestTokenInPlace + 4, whole), payloads.Take(whole));
        Assert.Equal(file.Length, Verify([], file, sums, 0, data.ToArray(), stats));
    }

    [Fact]
    public void AFileThatShrankKeepsTheStreamInStepAndSpoilsItsSum()
    {
        byte[] file = MakeBasis(50_000, 5, 4);
        string path = Path.Combine(_dir, "shrank");
        File.WriteAllBytes(path, file);
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        var sums = new BlockSums(0, 700, 16, 0);
        sums.BuildIndex();
        DeltaStats stats;
        using (var handle = File.OpenHandle(path))
        using (var sender = new DeltaSender(writer, 0))
            stats = sender.Send(handle, 80_000, sums);
        writer.Flush();
        Assert.True(stats.ReadError);
        var (tokens, fileSum) = ParseTokens(output.ToArray());
        byte[] sent = tokens.SelectMany(t => t.Data!).ToArray();
        Assert.Equal(80_000, sent.Length);
        Assert.Equal(file, sent[..50_000]);
        Assert.True(sent.AsSpan(50_000).IndexOfAnyExcept((byte)0) < 0);
        Assert.NotEqual(MD5.HashData(sent), fileSum);
    }

    [Fact]
    public void EmptyNewFileSendsOnlyTheEndAndTheSum()
    {
        byte[] basis = MakeBasis(5000, 5, 3);
        var sums = MakeSums(basis, 700, 16, 0);
        var (stream, _) = RunSender([], sums, 0);
        byte[] expected = [0, 0, 0, 0, .. MD5.HashData([])];
        Assert.Equal(expected, stream);
    }

    [Fact]
    public void TheSeedTakesPart()
    {
        // Sums made with one seed match nothing when the sender uses another.
        byte[] basis = MakeBasis(50_000, 5, 4);
        var sums = MakeSums(basis, 700, 16, 99);
        var (stream, stats) = RunSender(basis, sums, 0);
        var (tokens, _) = ParseTokens(stream);
        Assert.All(tokens, t => Assert.Equal(-1, t.Block));
        Assert.Equal(basis.Length, stats.LiteralBytes);
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("insert")]
    [InlineData("delete")]
    public void SmallEditInALargeFileCostsAboutOneBlock(string kind)
    {
        const int size = 4 << 20;
        const int blockLength = 2048; // sqrt(4 MiB)
        byte[] basis = MakeBasis(size, 5, 5);
        int at = size / 2 + 12345;
        byte[] newFile = kind switch
        {
            "flip" => [.. basis.AsSpan(0, at), (byte)(basis[at] ^ 0x55), .. basis.AsSpan(at + 1)],
            "insert" => [.. basis.AsSpan(0, at), 0x42, .. basis.AsSpan(at)],
            _ => [.. basis.AsSpan(0, at), .. basis.AsSpan(at + 1)],
        };
        var sums = MakeSums(basis, blockLength, 16, 777);
        var (stream, stats) = RunSender(newFile, sums, 777);
        long literal = Verify(basis, newFile, sums, 777, stream, stats);
        Assert.InRange(literal, 1, blockLength + 16);
    }
}
