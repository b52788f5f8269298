using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Text;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

/// <summary>The file list under --iconv: names (and link targets) travel as UTF-8 (flist.c, send_file_entry and recv_file_entry).</summary>
public sealed class IconvCodecTests
{
    private const int Regular = 0x81A4;
    private const int Directory = 0x41ED;
    private const int Symlink = 0xA1FF;

    private static readonly byte[] GbkChinese = [0xD6, 0xD0, 0xCE, 0xC4, (byte)'.', (byte)'t', (byte)'x', (byte)'t'];
    private static readonly byte[] GbkDir = [0xC4, 0xBF, 0xC2, 0xBC];
    private static readonly byte[] GbkFile = [0xCE, 0xC4, 0xBC, 0xFE];

    private static FileListSettings Settings(string? charset, bool symlinks = true, List<(string Message, bool Xfer)>? reports = null) =>
        new(31, false, false, PreserveLinks: true, PreserveDevices: false, PreserveSpecials: false,
            PreserveHardLinks: false, AlwaysChecksum: false, NumericIds: true, SafeFileList: true)
        {
            VarintFlags = true,
            Iconv = charset is null ? null : NameCharset.Resolve(charset),
            SymlinkIconv = symlinks,
            ConversionFailed = reports is null ? null : (m, x) => reports.Add((m, x)),
        };

    private static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static List<FileEntry> GbkList() =>
    [
        new FileEntry("."u8.ToArray(), Directory, 0, 1),
        new FileEntry(GbkChinese, Regular, 3, 1),
        new FileEntry(GbkDir, Directory, 0, 1),
        new FileEntry(Cat(GbkDir, "/"u8.ToArray(), GbkFile), Regular, 4, 1),
        new FileEntry("lnk"u8.ToArray(), Symlink, GbkChinese.Length, 1) { LinkTarget = GbkChinese },
    ];

    private static byte[] Encode(List<FileEntry> files, FileListSettings settings)
    {
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        var encoder = new FileListEncoder(writer, settings);
        for (int i = 0; i < files.Count; i++)
            encoder.Write(files[i], i);
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        writer.Flush();
        return output.ToArray();
    }

    private static List<FileEntry> Decode(byte[] data, FileListSettings settings)
    {
        using var reader = new RsyncReader(new MemoryStream(data));
        var decoder = new FileListDecoder(reader, settings);
        decoder.ReadAll();
        return decoder.Entries;
    }

    [Fact]
    public void GbkNamesTravelAsUtf8AndLandInTheReceiversCharset()
    {
        byte[] wire = Encode(GbkList(), Settings("GBK"));

        // A receiver without conversion sees the UTF-8 the wire carries.
        var asSent = Decode(wire, Settings(null));
        Assert.Equal(["." , "中文.txt", "目录", "目录/文件", "lnk"], asSent.Select(e => e.NameString));
        Assert.Equal("中文.txt"u8.ToArray(), asSent[4].LinkTarget);

        // A GBK receiver gets the original bytes back; a Latin-1 one cannot name them.
        var gbk = Decode(wire, Settings("GBK"));
        Assert.Equal(GbkList().Select(e => e.Name.ToArray()), gbk.Select(e => e.Name.ToArray()));
        Assert.Equal(GbkChinese, gbk[4].LinkTarget);
        Assert.All(gbk, e => Assert.Equal((EntryFlags)0, e.Flags & EntryFlags.Inactive));
    }

    [Fact]
    public void LinkTargetsStayAsTheyAreWithoutSymlinkConversion()
    {
        byte[] wire = Encode(GbkList(), Settings("GBK", symlinks: false));
        var received = Decode(wire, Settings(null));
        Assert.Equal(GbkChinese, received[4].LinkTarget);
        Assert.Equal("中文.txt", received[1].NameString);
    }

    [Fact]
    public void ReceiverReportsANameItCannotConvertAndKeepsItsPlaceInactive()
    {
        // Sent as UTF-8 without conversion; the receiver's Latin-1 has no "中".
        var sent = new List<FileEntry>
        {
            new("中文.txt"u8.ToArray(), Regular, 1, 1),
            new("中文.txu"u8.ToArray(), Regular, 1, 1),
            new("café"u8.ToArray(), Regular, 1, 1),
            new("lnk"u8.ToArray(), Symlink, 6, 1) { LinkTarget = "中文"u8.ToArray() },
        };
        byte[] wire = Encode(sent, Settings(null));
        var reports = new List<(string, bool)>();
        var received = Decode(wire, Settings("LATIN1", reports: reports));

        Assert.Equal(4, received.Count);
        Assert.Equal(EntryFlags.Inactive, received[0].Flags & EntryFlags.Inactive);
        // The second name shares its first bytes with the first as sent, and decodes from them.
        Assert.Equal(EntryFlags.Inactive, received[1].Flags & EntryFlags.Inactive);
        Assert.Equal("中文.txu"u8.ToArray(), received[1].Name.ToArray());
        Assert.Equal([(byte)'c', (byte)'a', (byte)'f', 0xE9], received[2].Name.ToArray());
        Assert.Equal((EntryFlags)0, received[2].Flags & EntryFlags.Inactive);
        Assert.Equal(EntryFlags.Inactive, received[3].Flags & EntryFlags.Inactive);
        Assert.Equal(
        [
            ("[Receiver] cannot convert filename: 中文.txt (Invalid or incomplete multibyte or wide character)", false),
            ("[Receiver] cannot convert filename: 中文.txu (Invalid or incomplete multibyte or wide character)", false),
            ("[Receiver] cannot convert symlink data for: lnk (Invalid or incomplete multibyte or wide character)", true),
        ], reports);
    }

    [Fact]
    public void SenderLeavesOutWhatHasNoUtf8NameAndEverythingBeneathIt()
    {
        var files = new List<FileEntry>
        {
            new("."u8.ToArray(), Directory, 0, 1),
            new([(byte)'b', (byte)'a', (byte)'d', 0xFF], Directory, 0, 1),
            new([(byte)'b', (byte)'a', (byte)'d', 0xFF, (byte)'/', (byte)'x'], Regular, 1, 1),
            new([(byte)'b', (byte)'a', (byte)'d', 0xFF, (byte)'/', (byte)'s'], Directory, 0, 1),
            new([(byte)'b', (byte)'a', (byte)'d', 0xFF, (byte)'/', (byte)'s', (byte)'/', (byte)'y'], Regular, 1, 1),
            new([(byte)'c', (byte)'a', (byte)'f', 0xE9], Regular, 1, 1),
            new(GbkChinese, Regular, 1, 1),
            new("lnk"u8.ToArray(), Symlink, 2, 1) { LinkTarget = [0xFF, 0xFF] },
            new("plain"u8.ToArray(), Regular, 1, 1),
        };
        var reports = new List<(string, bool)>();
        var kept = FileListEncoder.DropUnconvertible(files, Settings("GBK", reports: reports));

        Assert.Equal([".", "中文.txt", "plain"], kept.Select(e => GbkName(e.Name.ToArray())));
        Assert.Equal(
        [
            ("[sender] cannot convert filename: bad\uDCFF (Invalid or incomplete multibyte or wide character)", true),
            ("[sender] cannot convert filename: caf\uDCE9 (Invalid argument)", true),
            ("[sender] cannot convert symlink data for: lnk (Invalid or incomplete multibyte or wide character)", true),
        ], reports);

        // Without conversion nothing is left out, and the list itself comes back.
        Assert.Same(files, FileListEncoder.DropUnconvertible(files, Settings(null)));
    }

    private static string GbkName(byte[] name) =>
        NameCharset.Resolve("GBK").TryToWire(name, out byte[] wire, out _) ? System.Text.Encoding.UTF8.GetString(wire) : "?";

    [Fact]
    public void IndexesFollowTheSendersOrderWhenAMapIsSet()
    {
        var output = new MemoryStream();
        var writer = new RsyncWriter(output) { NdxToWire = [2, 0, 1] };
        writer.WriteNdx(0);
        writer.WriteNdx(1);
        writer.WriteNdx(2);
        writer.WriteNdx(Ndx.Done);
        writer.Flush();

        using var plain = new RsyncReader(new MemoryStream(output.ToArray()));
        Assert.Equal([2, 0, 1, Ndx.Done], new[] { plain.ReadNdx(), plain.ReadNdx(), plain.ReadNdx(), plain.ReadNdx() });

        using var mapped = new RsyncReader(new MemoryStream(output.ToArray())) { NdxFromWire = [1, 2, 0] };
        Assert.Equal([0, 1, 2, Ndx.Done], new[] { mapped.ReadNdx(), mapped.ReadNdx(), mapped.ReadNdx(), mapped.ReadNdx() });

        using var outOfRange = new RsyncReader(new MemoryStream(output.ToArray())) { NdxFromWire = [0] };
        Assert.Throws<RsyncProtocolException>(() => outOfRange.ReadNdx());
    }
}
