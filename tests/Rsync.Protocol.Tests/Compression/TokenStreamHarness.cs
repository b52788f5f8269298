using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Compression;

/// <summary>
/// The token formats; <see cref="ZlibPrimed"/> is "zlib" sent without the machine's zlib (the
/// re-priming deflater), <see cref="ZstdManaged"/> zstd through the managed port at both ends.
/// </summary>
public enum TokenFormat { Zlib, Zlibx, Zstd, Lz4, ZlibPrimed, ZstdManaged }

/// <summary>One step of a file's delta: literal bytes, or the basis block with this index.</summary>
internal readonly record struct DeltaStep(byte[]? Literal, int Block)
{
    public static DeltaStep Data(byte[] bytes) => new(bytes, -1);
    public static DeltaStep Match(int block) => new(null, block);
    public override string ToString() => Literal is null ? $"match {Block}" : $"literal {Literal.Length}";
}

internal sealed record DeltaFile(int Level, IReadOnlyList<DeltaStep> Steps);

/// <summary>Encodes deltas with the senders and decodes them with the receivers, as a transfer would.</summary>
internal static class TokenStreamHarness
{
    public static TokenSender Sender(TokenFormat format, RsyncWriter writer, int protocol) => format switch
    {
        TokenFormat.Zlib => new DeflateTokenSender(writer, protocol, includeMatchedInHistory: true),
        TokenFormat.ZlibPrimed => new DeflateTokenSender(writer, protocol, includeMatchedInHistory: true, useSystemZlib: false),
        TokenFormat.Zlibx => new DeflateTokenSender(writer, protocol, includeMatchedInHistory: false),
        TokenFormat.Zstd => new ZstdTokenSender(writer),
        TokenFormat.ZstdManaged => new ZstdTokenSender(writer, useSystemZstd: false),
        _ => new Lz4TokenSender(writer),
    };

    public static TokenReceiver Receiver(TokenFormat format, RsyncReader reader, int protocol) => format switch
    {
        TokenFormat.Zlib or TokenFormat.ZlibPrimed => new DeflateTokenReceiver(reader, protocol, includeMatchedInHistory: true),
        TokenFormat.Zlibx => new DeflateTokenReceiver(reader, protocol, includeMatchedInHistory: false),
        TokenFormat.Zstd => new ZstdTokenReceiver(reader),
        TokenFormat.ZstdManaged => new ZstdTokenReceiver(reader, useSystemZstd: false),
        _ => new Lz4TokenReceiver(reader),
    };

    /// <summary>The token stream for <paramref name="files"/>, literal data handed over in calls of at most 32 KiB.</summary>
    public static byte[] Encode(TokenFormat format, int protocol, byte[][] blocks, IEnumerable<DeltaFile> files)
    {
        var stream = new MemoryStream();
        var writer = new RsyncWriter(stream);
        var sender = Sender(format, writer, protocol);
        int literalOnly = 0;
        foreach (var file in files)
        {
            // Files that match nothing go in turn with a basis and without one, as a changed and a
            // new file do: the "zlib" sender takes the machine's zlib for one, the platform's for the other.
            sender.BeginFile(file.Level, hasBasis: file.Steps.Any(step => step.Literal is null) || literalOnly++ % 2 == 0);
            foreach (var step in file.Steps)
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
        }
        (sender as IDisposable)?.Dispose();
        writer.Flush();
        return stream.ToArray();
    }

    /// <summary>Decodes <paramref name="fileCount"/> files: each one's bytes, and the block indexes in order.</summary>
    public static List<(byte[] Data, List<int> Blocks)> Decode(TokenFormat format, int protocol, byte[][] blocks, byte[] stream, int fileCount, out int unread)
    {
        var input = new MemoryStream(stream);
        var reader = new RsyncReader(input);
        var receiver = Receiver(format, reader, protocol);
        var files = new List<(byte[], List<int>)>();
        for (int f = 0; f < fileCount; f++)
        {
            var output = new MemoryStream();
            var indexes = new List<int>();
            int token;
            while ((token = receiver.Next(out var data)) != 0)
            {
                if (token > 0)
                {
                    Assert.Equal(token, data.Length);
                    Assert.True(token <= 64 * 1024, $"Next returned {token} bytes at once");
                    output.Write(data);
                    continue;
                }
                int index = -token - 1;
                Assert.InRange(index, 0, blocks.Length - 1);
                indexes.Add(index);
                output.Write(blocks[index]);
                receiver.SeeMatched(blocks[index]);
            }
            files.Add((output.ToArray(), indexes));
        }
        (receiver as IDisposable)?.Dispose();
        unread = Unread(reader, input);
        return files;
    }

    private static int Unread(RsyncReader reader, MemoryStream input)
    {
        int count = 0;
        try
        {
            while (true)
            {
                reader.ReadByte();
                count++;
            }
        }
        catch (Exception e) when (e is RsyncException or EndOfStreamException or IOException)
        {
            return count;
        }
    }

    public static byte[] Expected(byte[][] blocks, DeltaFile file)
    {
        var output = new MemoryStream();
        foreach (var step in file.Steps)
            output.Write(step.Literal ?? blocks[step.Block]);
        return output.ToArray();
    }

    /// <summary>Round trip: every file decodes to its bytes, with its block indexes, and nothing is left over.</summary>
    public static byte[] AssertRoundTrip(TokenFormat format, int protocol, byte[][] blocks, IReadOnlyList<DeltaFile> files)
    {
        byte[] stream = Encode(format, protocol, blocks, files);
        var decoded = Decode(format, protocol, blocks, stream, files.Count, out int unread);
        Assert.Equal(0, unread);
        for (int i = 0; i < files.Count; i++)
        {
            Assert.Equal(Expected(blocks, files[i]), decoded[i].Data);
            Assert.Equal(files[i].Steps.Where(s => s.Literal is null).Select(s => s.Block), decoded[i].Blocks);
        }
        return stream;
    }
}

