using System.Buffers.Binary;
using System.Text;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.Daemon;

/// <summary>What the daemon accepts from a peer before it stops reading: connections, rules, names, list entries.</summary>
public sealed class DaemonLimitsTests
{
    [Fact]
    public void ConnectionLimits_CountPerAddressAndInAll_AndGiveThePlaceBack()
    {
        var limits = new ConnectionLimits(maxClients: 3, maxPerAddress: 2);
        Assert.Equal(ConnectionRefusal.None, limits.TryEnter("10.0.0.1"));
        Assert.Equal(ConnectionRefusal.None, limits.TryEnter("10.0.0.1"));
        Assert.Equal(ConnectionRefusal.AddressFull, limits.TryEnter("10.0.0.1"));
        Assert.Equal(ConnectionRefusal.None, limits.TryEnter("10.0.0.2"));
        Assert.Equal(ConnectionRefusal.DaemonFull, limits.TryEnter("10.0.0.3"));
        Assert.Equal(3, limits.Total);

        limits.Leave("10.0.0.1");
        Assert.Equal(1, limits.CountFor("10.0.0.1"));
        Assert.Equal(ConnectionRefusal.None, limits.TryEnter("10.0.0.3"));
        limits.Leave("10.0.0.1");
        limits.Leave("10.0.0.2");
        limits.Leave("10.0.0.3");
        Assert.Equal(0, limits.Total);
        Assert.Equal(0, limits.CountFor("10.0.0.1"));
        Assert.Throws<InvalidOperationException>(() => limits.Leave("10.0.0.1"));
    }

    [Fact]
    public void ConnectionLimits_ZeroMeansNoLimit()
    {
        var limits = new ConnectionLimits(0, 0);
        for (int i = 0; i < 5000; i++)
            Assert.Equal(ConnectionRefusal.None, limits.TryEnter("127.0.0.1"));
        Assert.Equal(5000, limits.Total);
    }

    [Fact]
    public void ConnectionLimits_RefusalIsWordedAsRsyncWordsAFullModule()
    {
        var limits = new ConnectionLimits(1000, 100);
        Assert.Equal("max connections (1000) reached -- try again later", limits.RefusalMessage(ConnectionRefusal.DaemonFull));
        Assert.Equal("max connections (100) from one address reached -- try again later", limits.RefusalMessage(ConnectionRefusal.AddressFull));
    }

    [Theory]
    [InlineData(1000, 0, 1000)] // limit unknown: as configured
    [InlineData(1000, 20000, 1000)] // plenty of descriptors
    [InlineData(1000, 256, 96)] // ulimit -n 256: (256 - 64) / 2
    [InlineData(0, 256, 96)] // no configured limit still stays within the descriptors
    [InlineData(50, 256, 50)]
    [InlineData(1000, 10, 1)]
    public void MaxClients_StaysWithinTheOpenFilesLimit(int configured, long descriptors, int expected) =>
        Assert.Equal(expected, ConnectionLimits.WithinDescriptorLimit(configured, descriptors));

    private static RsyncReader Reader(byte[] bytes) => new(new MemoryStream(bytes));

    private static byte[] Rules(params int[] lengths)
    {
        var stream = new MemoryStream();
        Span<byte> len = stackalloc byte[4];
        foreach (int n in lengths)
        {
            BinaryPrimitives.WriteInt32LittleEndian(len, n);
            stream.Write(len);
            stream.Write(Encoding.ASCII.GetBytes("- " + new string('x', Math.Max(0, n - 2))));
        }
        BinaryPrimitives.WriteInt32LittleEndian(len, 0);
        stream.Write(len);
        return stream.ToArray();
    }

    [Fact]
    public void FilterRules_UpToRsyncsBufferAreRead()
    {
        var rules = DaemonSession.ReadFilterList(Reader(Rules(3, DaemonSession.MaxFilterRuleLength)), 10, 1 << 20);
        Assert.Equal(2, rules.Count);
        Assert.Equal(DaemonSession.MaxFilterRuleLength, rules[1].Length);
    }

    [Fact]
    public void FilterRules_OneOfRsyncsBufferSizeIsAnOverflow()
    {
        // exclude.c, recv_filter_list: a length that does not fit the MAXPATHLEN + 1024 buffer.
        var ex = Assert.Throws<RsyncProtocolException>(() => DaemonSession.ReadFilterList(Reader(Rules(ProtocolLimits.MaxPath + 1024)), 10, 1 << 20));
        Assert.Contains("recv_rules", ex.Message);
        Assert.Throws<RsyncProtocolException>(() => DaemonSession.ReadFilterList(Reader(Rules(-1)), 10, 1 << 20));
    }

    [Fact]
    public void FilterRules_BeyondTheCountOrTotalAreRefused()
    {
        Assert.Equal(3, DaemonSession.ReadFilterList(Reader(Rules(5, 5, 5)), 3, 1 << 20).Count);
        var many = Assert.Throws<RsyncProtocolException>(() => DaemonSession.ReadFilterList(Reader(Rules(5, 5, 5, 5)), 3, 1 << 20));
        Assert.Contains("more than 3 filter rules", many.Message);
        var big = Assert.Throws<RsyncProtocolException>(() => DaemonSession.ReadFilterList(Reader(Rules(100, 100)), 10, 150));
        Assert.Contains("bytes of filter rules", big.Message);
    }

    [Fact]
    public void FilterRules_DefaultCapIsAHundredThousand() => Assert.Equal(100_000, DaemonSession.MaxFilterRules);

    private static byte[] Names(params string[] names) =>
        [.. names.SelectMany(n => Encoding.UTF8.GetBytes(n).Append((byte)0)), 0];

    [Fact]
    public void ForwardedNames_AreReadUpToTheEmptyOne()
    {
        var names = DaemonSession.ReadForwardedNames(Reader([.. Names("a", "dir/b", new string('n', ProtocolLimits.MaxPath - 1))[..^1], (byte)'c', (byte)'a', (byte)'f', 0xE9, 0, 0]), 0, 0);
        Assert.Equal(["a", "dir/b", new string('n', ProtocolLimits.MaxPath - 1), "caf\xE9"], names.Select(n => Encoding.Latin1.GetString(n)));
    }

    [Fact]
    public void ForwardedNames_OfMaxPathOrLongerAreAProtocolError()
    {
        // io.c, read_line: a name has a MAXPATHLEN buffer, its NUL included. The error comes
        // at the 4096th byte, without reading the rest of a 200 MB name.
        var ex = Assert.Throws<RsyncProtocolException>(() => DaemonSession.ReadForwardedNames(Reader(Names(new string('n', ProtocolLimits.MaxPath))), 0, 0));
        Assert.Contains("longer than 4095 bytes", ex.Message);
    }

    [Fact]
    public void ForwardedNames_BeyondTheCountOrTotalAreRefused()
    {
        Assert.Equal(2, DaemonSession.ReadForwardedNames(Reader(Names("a", "b")), 2, 0).Count);
        Assert.Throws<RsyncProtocolException>(() => DaemonSession.ReadForwardedNames(Reader(Names("a", "b", "c")), 2, 0));
        Assert.Throws<RsyncProtocolException>(() => DaemonSession.ReadForwardedNames(Reader(Names("aaaa", "bbbb")), 0, 7));
    }

    private static readonly FileListSettings Plain = new(31, PreserveUid: false, PreserveGid: false, PreserveLinks: true,
        PreserveDevices: false, PreserveSpecials: false, PreserveHardLinks: false, AlwaysChecksum: false, NumericIds: true, SafeFileList: false);

    private static byte[] EncodedList(int count, int nameLength)
    {
        var stream = new MemoryStream();
        var writer = new RsyncWriter(stream);
        var encoder = new FileListEncoder(writer, Plain);
        for (int i = 0; i < count; i++)
        {
            byte[] name = Encoding.ASCII.GetBytes(i.ToString("D" + nameLength, System.Globalization.CultureInfo.InvariantCulture));
            encoder.Write(new FileEntry(name, 0x81A4, 0, 1), i);
        }
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        writer.Flush();
        return stream.ToArray();
    }

    [Fact]
    public void ReceivedFileList_WithinItsCapsIsRead()
    {
        var decoder = new FileListDecoder(Reader(EncodedList(100, 8)), Plain with { MaxEntries = 100, MaxNameBytes = 800 });
        decoder.ReadAll();
        Assert.Equal(100, decoder.Entries.Count);
    }

    [Fact]
    public void ReceivedFileList_BeyondItsEntryCapIsRefused()
    {
        var decoder = new FileListDecoder(Reader(EncodedList(101, 8)), Plain with { MaxEntries = 100 });
        var ex = Assert.Throws<RsyncProtocolException>(decoder.ReadAll);
        Assert.Contains("more than 100 entries", ex.Message);
        Assert.Equal(100, decoder.Entries.Count);
    }

    [Fact]
    public void ReceivedFileList_BeyondItsNameBytesIsRefused()
    {
        var decoder = new FileListDecoder(Reader(EncodedList(100, 8)), Plain with { MaxNameBytes = 799 });
        var ex = Assert.Throws<RsyncProtocolException>(decoder.ReadAll);
        Assert.Contains("more than 799 bytes", ex.Message);
    }

    [Fact]
    public void ReceivedFileList_NameOfMaxPathIsAnOverflow()
    {
        // flist.c, recv_file_entry: the name and the part it shares must fit MAXPATHLEN with its NUL.
        byte[] bytes = [(byte)XmitFlags.LongName, 0x80 | (ProtocolLimits.MaxPath >> 8), ProtocolLimits.MaxPath & 0xFF];
        var decoder = new FileListDecoder(Reader(bytes), Plain);
        var ex = Assert.Throws<RsyncProtocolException>(decoder.ReadAll);
        Assert.Contains("overflow", ex.Message);
    }
}
