using System.Text;
using NetRsync.Protocol.Compression;
using NetRsync.Protocol.Delta;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Tests.Fuzz;

/// <summary>
/// Well-formed starting inputs for each harness, written by the product's own encoders so the fuzzer
/// begins past the first length checks. Each starts with the harness's selector byte(s) where it has them.
/// </summary>
public static class FuzzSeeds
{
    public static IEnumerable<(string Harness, string Name, byte[] Data)> All()
    {
        foreach (var (name, text) in GreetingsFromDaemon)
            yield return ("greeting-client", name, Ascii(text));
        foreach (var (name, text) in GreetingsFromClient)
            yield return ("greeting-server", name, Ascii(text));
        foreach (var (name, data) in Arguments())
            yield return ("daemon-args", name, data);
        yield return ("config", "full", Ascii(SampleConfig));
        yield return ("config", "globals", Ascii("port = 873\nmotd file = motd\n[m]\npath = /srv\n"));
        yield return ("secrets", "users", Ascii("user:pass\n@group:gpass\n#comment\r\nother:x:y\n\n"));
        foreach (var (name, data) in FileLists())
            yield return ("filelist", name, data);
        foreach (var (name, data) in Sums())
            yield return ("sumhead", name, data);
        foreach (var (name, data) in TokenStreams())
            yield return ("tokens", name, data);
        foreach (var (name, data) in Frames())
            yield return ("mux", name, data);
    }

    /// <summary>The stand-in basis block the token harness hands back for a matched index.</summary>
    public static byte[] BasisBlock(int index)
    {
        var block = new byte[index % 2 == 0 ? 700 : 123];
        Array.Fill(block, (byte)index);
        return block;
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static readonly (string, string)[] GreetingsFromDaemon =
    [
        ("auth", "@RSYNCD: 31.0 sha512 sha256 sha1 md5\n@RSYNCD: AUTHREQD Zm9vYmFy\n@RSYNCD: OK\n"),
        ("listing", "@RSYNCD: 30.0\nwelcome\r\nmodule\tcomment\n@RSYNCD: EXIT\n"),
        ("error", "@RSYNCD: 31.0 md5\n@ERROR: Unknown module 'x'\n"),
        ("old", "@RSYNCD: 29\n@RSYNCD: OK\n"),
    ];

    private static readonly (string, string)[] GreetingsFromClient =
    [
        ("auth", "@RSYNCD: 31.0 sha512 md5\nmodule\nuser c2VjcmV0cmVzcG9uc2U\n"),
        ("list", "@RSYNCD: 30.0\n#list\n"),
        ("sha1", "@RSYNCD: 31.0 sha1\r\nmodule\r\nuser x\r\n"),
    ];

    private static IEnumerable<(string, byte[])> Arguments()
    {
        static byte[] Nul(byte mode, params string[] args) =>
            [mode, .. args.SelectMany(a => Encoding.UTF8.GetBytes(a).Append((byte)0)), 0];
        yield return ("push", Nul(0, "--server", "-vlogDtpre.iLsfxCIvu", "--delete", ".", "module/path"));
        yield return ("pull", Nul(2, "--server", "--sender", "-vlogDtprze.iLsfxCIvu", "--compress-choice=zstd", "--checksum-choice=xxh128", ".", "module/a", "module/b"));
        byte[] first = Nul(0, "--server", "-s", "-e.LsfxC");
        byte[] second = Nul(0, "rsync", "--sender", "-r", ".", "module/dir")[1..];
        yield return ("protected", [.. first, .. second]);
        yield return ("lines", [1, .. Ascii("--server\n-vlr\n--exclude=*.o\n.\nmodule/x\n\n")]);
    }

    private static IEnumerable<(string, byte[])> FileLists()
    {
        var entries = new List<FileEntry>
        {
            new(Ascii("."), 0x41ED, 4096, 1_700_000_000) { Flags = EntryFlags.ContentDir | EntryFlags.TopDir },
            new(Ascii("dir"), 0x41ED, 4096, 1_700_000_001) { Flags = EntryFlags.ContentDir, Uid = 1000, Gid = 1000 },
            new(Ascii("dir/file.txt"), 0x81A4, 12345, 1_700_000_002) { ModNanoseconds = 5000, Uid = 1000, Gid = 100, Checksum = new byte[16] },
            new(Ascii("dir/link"), 0xA1FF, 11, 1_700_000_002) { LinkTarget = Ascii("file.txt") },
            new(Ascii("dir/dev"), 0x21B0, 0, 1_700_000_003) { Rdev = (8L << 8) | 1 },
            new(Ascii("dir/fifo"), 0x11A4, 0, 1_700_000_003),
            new(Ascii("dir/hard1"), 0x81A4, 7, 1_700_000_004) { Flags = EntryFlags.HardLinked, Device = 1, Inode = 99 },
            new(Ascii("dir/hard2"), 0x81A4, 7, 1_700_000_004) { Flags = EntryFlags.HardLinked, Device = 1, Inode = 99 },
            new(Encoding.UTF8.GetBytes("dir/" + new string('n', 300)), 0x81A4, 1L << 40, 0),
        };
        // Selector bits as FuzzHarnesses.FileList reads them.
        int[] modes = [0x0FFD, 0x0FFF, 0x0FFC, 0x0FFE, 0x0001, 0x0402, 0x020F];
        foreach (int m in modes)
        {
            var settings = new FileListSettings((m & 1) != 0 ? 31 : 30, (m & 4) != 0, (m & 8) != 0, (m & 16) != 0, (m & 32) != 0,
                (m & 64) != 0, (m & 128) != 0, (m & 256) != 0, (m & 512) != 0, (m & 1024) != 0, LookUpIdNames: false)
            {
                VarintFlags = (m & 2) != 0,
                ChecksumLength = (m & 2048) != 0 ? 20 : 16,
            };
            var stream = new MemoryStream();
            stream.WriteByte((byte)m);
            stream.WriteByte((byte)(m >> 8));
            var writer = new RsyncWriter(stream);
            var encoder = new FileListEncoder(writer, settings);
            for (int i = 0; i < entries.Count; i++)
                encoder.Write(entries[i], i);
            encoder.WriteEnd((m & 1) != 0 ? IoErrorFlags.General : IoErrorFlags.None, ignoreErrors: false);
            writer.Flush();
            yield return ($"mode-{m:x4}", stream.ToArray());
        }
    }

    private static IEnumerable<(string, byte[])> Sums()
    {
        var head = SumHead.For(70_000, fullStrongSums: false);
        var stream = new MemoryStream();
        stream.WriteByte(0);
        var writer = new RsyncWriter(stream);
        head.Write(writer);
        writer.Flush();
        yield return ("head", stream.ToArray());

        var sums = new BlockSums(5, 700, 16, 100);
        for (int i = 0; i < sums.Count; i++)
            sums.Set(i, (uint)(i * 0x01010101 % 3), Enumerable.Repeat((byte)(i % 2), 16).ToArray());
        stream = new MemoryStream();
        stream.WriteByte(1 | (14 << 1));
        writer = new RsyncWriter(stream);
        sums.Write(writer);
        writer.Flush();
        yield return ("sums", stream.ToArray());
    }

    private static IEnumerable<(string, byte[])> TokenStreams()
    {
        var literal = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog ", 40)));
        var random = new byte[3000];
        new Random(1).NextBytes(random);
        for (int selector = 0; selector < 5; selector++)
        {
            foreach (int protocol in new[] { 30, 31 })
            {
                var stream = new MemoryStream();
                stream.WriteByte((byte)(selector | (protocol == 31 ? 8 : 0)));
                var writer = new RsyncWriter(stream);
                TokenSender sender = selector switch
                {
                    1 => new DeflateTokenSender(writer, protocol, includeMatchedInHistory: true),
                    2 => new DeflateTokenSender(writer, protocol, includeMatchedInHistory: false),
                    3 => new ZstdTokenSender(writer),
                    4 => new Lz4TokenSender(writer),
                    _ => new PlainTokenSender(writer),
                };
                sender.BeginFile(6);
                sender.Literal(literal);
                foreach (int block in new[] { 0, 1, 2, 3, 7, 8, 300 })
                    sender.Match(block, BasisBlock(block));
                sender.Literal(random);
                sender.EndFile();
                sender.BeginFile(0);
                sender.Match(1, BasisBlock(1));
                sender.EndFile();
                (sender as IDisposable)?.Dispose();
                writer.Flush();
                yield return ($"format{selector}-p{protocol}", stream.ToArray());
            }
        }
    }

    private static IEnumerable<(string, byte[])> Frames()
    {
        foreach (int ops in new[] { 0x00, 0x55, 0xAA, 0xFF, 0xE4 })
        {
            var stream = new MemoryStream();
            stream.WriteByte((byte)ops);
            var writer = new RsyncWriter(stream);
            writer.StartMultiplexing();
            for (int i = 0; i < 6; i++)
            {
                writer.WriteInt32(i * 1000);
                writer.WriteVarLong(1L << (i * 7), 3);
                writer.WriteNdx(i * 300);
                writer.WriteByte(5);
                writer.WriteBytes(Ascii("hello"));
                writer.WriteVString(Ascii("name"));
                if (i % 2 == 0)
                    writer.WriteMessage(MessageCode.Info, Ascii("note\n"));
                writer.Flush();
            }
            writer.WriteMessageInt(MessageCode.IoError, 1);
            writer.Flush();
            yield return ($"ops-{ops:x2}", stream.ToArray());
        }
    }

    private const string SampleConfig = """
        # global section
        pid file = /run/rsyncd.pid
        max connections = 4
        log format = %t %a %m %f %b
        syslog facility = local5
        reverse lookup = no
        [backup]
            path = /srv/backup
            comment = nightly \
              backups
            read only = false
            auth users = alice:rw, @staff:ro, bob deny
            secrets file = /etc/rsyncd.secrets
            hosts allow = 192.0.2.0/24 10.0.0.0/255.0.0.0 *.example 2001:db8::/32
            hosts deny = *
            refuse options = delete* compress
            uid = nobody
            gid = * nogroup
            exclude = *.tmp
            incoming chmod = Dg+s,ug+w
        [public]
        path = /srv/%USER%/pub
        list = yes
        use chroot = no
        &merge /nonexistent.inc
        [global]
        timeout = 600
        """;
}
