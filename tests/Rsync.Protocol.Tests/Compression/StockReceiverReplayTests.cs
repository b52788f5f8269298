using System.Buffers.Binary;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Compression;

/// <summary>
/// Our senders against a stock receiver. rsync never puts zstd, lz4 or zlibx streams in batch
/// files it can read back, so a stock client pushes the golden files to a stock server started through a remote
/// shell stand-in that keeps a copy of everything the server reads. That recording is replayed
/// into a fresh stock server (--checksum-seed fixes the one value the server would otherwise
/// choose), with each file's token stream replaced by ours; the server must rebuild the files.
/// </summary>
public sealed class StockReceiverReplayTests
{
    private const string RecordingShell = """
        #!/bin/sh
        # Called as: SHELL HOST COMMAND...; runs COMMAND here and keeps a copy of its input.
        shift
        printf '%s\n' "$@" > "$CAPTURE_FILE.args"
        mkfifo "$CAPTURE_FILE.fifo"
        exec 3<&0
        tee "$CAPTURE_FILE" <&3 > "$CAPTURE_FILE.fifo" &
        tee_pid=$!
        "$@" < "$CAPTURE_FILE.fifo"
        status=$?
        kill $tee_pid 2>/dev/null
        exit $status
        """;

    public static TheoryData<string, string, TokenFormat, int> Cases()
    {
        var data = new TheoryData<string, string, TokenFormat, int>();
        var clients = StockRsync.Clients().ToList();
        string? newer = clients.FirstOrDefault(c => !StockRsync.Version(c).StartsWith("3.1", StringComparison.Ordinal));
        string? older = clients.FirstOrDefault(c => StockRsync.Version(c).StartsWith("3.1", StringComparison.Ordinal));
        newer ??= GoldenTokenStreamTests.NoClient;
        data.Add(newer, "--compress-choice=zstd", TokenFormat.Zstd, 31);
        data.Add(newer, "--compress-choice=zstd", TokenFormat.ZstdManaged, 31);
        data.Add(newer, "--compress-choice=lz4", TokenFormat.Lz4, 31);
        data.Add(newer, "--compress-choice=zlibx", TokenFormat.Zlibx, 31);
        data.Add(newer, "--compress-choice=zlib", TokenFormat.Zlib, 31);
        data.Add(newer, "--compress-choice=zlib", TokenFormat.ZlibPrimed, 31);
        // A bare -z lets rsync 3.2+ negotiate its favourite (zstd), even at protocol 30.
        data.Add(newer, "--compress-choice=zlib --protocol=30", TokenFormat.Zlib, 30);
        if (older is not null)
        {
            data.Add(older, "-zz", TokenFormat.Zlibx, 31);
            data.Add(older, "-z --protocol=30", TokenFormat.Zlib, 30);
            data.Add(older, "-z --protocol=30", TokenFormat.ZlibPrimed, 30);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void StockServerReceivesOurStream(string client, string compression, TokenFormat format, int protocol)
    {
        Assert.True(client != GoldenTokenStreamTests.NoClient, "no stock rsync 3.2 or later on PATH");
        string root = Directory.CreateTempSubdirectory("netrsync-replay-").FullName;
        try
        {
            GoldenData.WriteTree(root);
            string shell = Path.Combine(root, "recording-shell");
            File.WriteAllText(shell, RecordingShell.Replace("\r", "", StringComparison.Ordinal) + "\n");
            if (OperatingSystem.IsWindows())
                Assert.Fail("the recording shell needs a Unix machine");
            else
                File.SetUnixFileMode(shell, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            string capture = Path.Combine(root, "input");
            StockRsync.Run(client, root,
                ["-e", shell, .. compression.Split(' '), "--checksum-seed=1", "-rI", "--no-whole-file", "--block-size=100000", "src/", "localhost:dst/"],
                new Dictionary<string, string> { ["CAPTURE_FILE"] = capture });
            Assert.Equal(GoldenData.TargetA, File.ReadAllBytes(Path.Combine(root, "dst", "a")));

            byte[] recorded = File.ReadAllBytes(capture);
            string[] server = File.ReadAllLines(capture + ".args");
            var (prefix, data) = Demultiplex(recorded);
            byte[] replaced = ReplaceTokenStreams(data, format, protocol, out int files);
            // Both files' streams are ours. They may equal the recorded ones byte for byte: rsync 3.2+
            // and our sender then run the same zlib with the same settings.
            Assert.Equal(2, files);

            GoldenData.WriteTree(root); // the bases again
            var (exitCode, errors) = StockRsync.Serve(client, root, server.Skip(1), [.. prefix, .. Multiplex(replaced)]);
            Assert.True(exitCode == 0, $"stock server exited {exitCode}: {errors}");
            Assert.Equal(GoldenData.TargetA, File.ReadAllBytes(Path.Combine(root, "dst", "a")));
            Assert.Equal(GoldenData.TargetB, File.ReadAllBytes(Path.Combine(root, "dst", "b")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Decodes both files' token streams, encodes the same deltas with our sender, splices them in.</summary>
    private static byte[] ReplaceTokenStreams(byte[] data, TokenFormat format, int protocol, out int replacedFiles)
    {
        replacedFiles = 0;
        var files = new[] { GoldenData.BasisA, GoldenData.BasisB }
            .Select(basis => (Region: GoldenData.FindTokenStream(data, basis.Length), Blocks: GoldenTokenStreamTests.Split(basis)))
            .OrderBy(f => f.Region.Start).ToList();
        byte[] stock = files.SelectMany(f => data[f.Region.Start..f.Region.End]).ToArray();
        var receiver = TokenStreamHarness.Receiver(format, new RsyncReader(new MemoryStream(stock)), protocol);

        var ours = new MemoryStream();
        var writer = new RsyncWriter(ours);
        // Other levels and smaller literal pieces than rsync's make our stream differ from the
        // recorded one (with rsync's settings the zstd and lz4 encoders happen to write the same bytes).
        TokenSender sender = format switch
        {
            TokenFormat.Zstd => new ZstdTokenSender(writer, level: 19),
            TokenFormat.ZstdManaged => new ZstdTokenSender(writer, level: 19, useSystemZstd: false),
            _ => TokenStreamHarness.Sender(format, writer, protocol),
        };
        const int piece = 500;
        var spliced = new MemoryStream();
        int copied = 0;
        foreach (var (region, blocks) in files)
        {
            var decoded = GoldenTokenStreamTests.DecodeFile(receiver, blocks);
            ours.SetLength(0);
            sender.BeginFile(1);
            foreach (var step in decoded.Steps)
            {
                if (step.Literal is null)
                {
                    sender.Match(step.Block, blocks[step.Block]);
                    continue;
                }
                for (int i = 0; i < step.Literal.Length; i += piece)
                    sender.Literal(step.Literal.AsSpan(i, Math.Min(piece, step.Literal.Length - i)));
            }
            sender.EndFile();
            writer.Flush();
            spliced.Write(data.AsSpan(copied, region.Start - copied));
            spliced.Write(ours.ToArray());
            copied = region.End;
            replacedFiles++;
        }
        (sender as IDisposable)?.Dispose();
        spliced.Write(data.AsSpan(copied));
        return spliced.ToArray();
    }

    /// <summary>
    /// The recording's unframed start (version and negotiation), and the payload of the
    /// multiplexed frames after it: the first offset from which the rest parses as frames.
    /// </summary>
    private static (byte[] Prefix, byte[] Data) Demultiplex(byte[] recorded)
    {
        for (int start = 0; start < recorded.Length; start++)
        {
            var data = new MemoryStream();
            int position = start;
            bool framed = true, dataOnly = true;
            while (position + 4 <= recorded.Length)
            {
                uint header = BinaryPrimitives.ReadUInt32LittleEndian(recorded.AsSpan(position));
                int tag = (int)(header >> 24) - 7, length = (int)(header & 0xffffff);
                if (tag is < 0 or > 110 || position + 4 + length > recorded.Length)
                {
                    framed = false;
                    break;
                }
                dataOnly &= tag == 0;
                data.Write(recorded, position + 4, length);
                position += 4 + length;
            }
            if (framed && position == recorded.Length && position > start)
            {
                Assert.True(dataOnly, "the client sent messages besides data; the replay keeps only data");
                return (recorded[..start], data.ToArray());
            }
        }
        throw new InvalidDataException("the recording has no multiplexed part");
    }

    private static byte[] Multiplex(byte[] data)
    {
        var output = new MemoryStream();
        Span<byte> header = stackalloc byte[4];
        for (int i = 0; i < data.Length; i += 32 * 1024)
        {
            int length = Math.Min(32 * 1024, data.Length - i);
            BinaryPrimitives.WriteUInt32LittleEndian(header, (7u << 24) | (uint)length);
            output.Write(header);
            output.Write(data, i, length);
        }
        return output.ToArray();
    }
}
