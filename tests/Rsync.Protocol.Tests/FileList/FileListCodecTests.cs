using System.Text;
using FsCheck;
using FsCheck.Fluent;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Tests.Wire;
using NetRsync.Protocol.Wire;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

public sealed class FileListCodecTests
{
    private const int Sentinel = 0x5EED_F00D;

    private static readonly long[] Times =
    [
        0, 1, 1_000_000_000, 1_700_000_000, -157_766_400 /* 1965 */, -1, 0x1_0000_0000 /* 2106 */, 253_402_300_799 /* 9999 */,
    ];

    private static readonly int[] Ids = [0, 1, 1000, 1001, 65534, 123_456, int.MaxValue];

    private static readonly byte[][] Components =
    [
        "a"u8.ToArray(), "ab"u8.ToArray(), "a.b"u8.ToArray(), "a b"u8.ToArray(), "abc"u8.ToArray(), "b"u8.ToArray(),
        "B"u8.ToArray(), "dir"u8.ToArray(), "d-1"u8.ToArray(), "été"u8.ToArray(), "日本"u8.ToArray(),
        [0xC3, 0x28], [0xFF, 0xFE, 0x41], "x.txt"u8.ToArray(), "x.txt~"u8.ToArray(),
    ];

    private enum Kind { Regular, Directory, Symlink, CharDevice, BlockDevice, Fifo, Socket }

    private sealed record Case(FileListSettings Settings, List<FileEntry> Entries, Dictionary<FileEntry, int> Group, IoErrorFlags IoError);

    /// <summary>
    /// A plausible sorted file list: a tree of names sharing prefixes (some long), every parent
    /// present as a directory, each type only when the settings would let the sender list it,
    /// and hard-link groups of regular files that share their inode's attributes.
    /// </summary>
    private static Case BuildCase(int seed, int count, FileListSettings settings, IoErrorFlags ioError)
    {
        var random = new Random(seed);
        var kinds = new List<Kind> { Kind.Regular, Kind.Regular, Kind.Regular, Kind.Directory };
        if (settings.PreserveLinks)
            kinds.AddRange([Kind.Symlink, Kind.Symlink]);
        if (settings.PreserveDevices)
            kinds.AddRange([Kind.CharDevice, Kind.BlockDevice]);
        if (settings.PreserveSpecials)
            kinds.AddRange([Kind.Fifo, Kind.Socket]);

        var byName = new Dictionary<string, (byte[] Name, Kind Kind)>(StringComparer.Ordinal);
        static string Key(byte[] name) => Convert.ToHexString(name);

        if (random.Next(2) == 0)
            byName[Key("."u8.ToArray())] = ("."u8.ToArray(), Kind.Directory);
        for (int n = 0; n < count; n++)
        {
            int depth = 1 + random.Next(random.Next(2) == 0 ? 2 : 5);
            var parts = new List<byte[]>();
            for (int d = 0; d < depth; d++)
            {
                parts.Add(random.Next(6) == 0
                    ? Encoding.ASCII.GetBytes(new string((char)('k' + random.Next(3)), 180 + random.Next(75)) + random.Next(10))
                    : Components[random.Next(Components.Length)]);
            }
            var name = new List<byte>();
            bool clash = false;
            for (int d = 0; d < parts.Count && !clash; d++)
            {
                if (d > 0)
                    name.Add((byte)'/');
                name.AddRange(parts[d]);
                byte[] sofar = [.. name];
                bool leaf = d == parts.Count - 1;
                if (byName.TryGetValue(Key(sofar), out var existing))
                {
                    if (!leaf && existing.Kind != Kind.Directory)
                        clash = true;
                    continue;
                }
                byName[Key(sofar)] = (sofar, leaf ? kinds[random.Next(kinds.Count)] : Kind.Directory);
            }
        }

        var entries = new List<FileEntry>();
        var regular = new List<FileEntry>();
        foreach (var (name, kind) in byName.Values)
        {
            long mtime = random.Next(3) == 0 ? (long)random.NextInt64(-3_000_000_000, 5_000_000_000) : Times[random.Next(Times.Length)];
            int mode = (random.Next(4) == 0 ? random.Next(0x1000) : 0x1A4) | kind switch
            {
                Kind.Regular => Posix.S_IFREG,
                Kind.Directory => Posix.S_IFDIR,
                Kind.Symlink => Posix.S_IFLNK,
                Kind.CharDevice => Posix.S_IFCHR,
                Kind.BlockDevice => Posix.S_IFBLK,
                Kind.Fifo => Posix.S_IFIFO,
                _ => Posix.S_IFSOCK,
            };
            var entry = new FileEntry(name, mode, 0, mtime)
            {
                ModNanoseconds = random.Next(3) == 0 ? 0 : random.Next(1_000_000_000),
                Uid = Ids[random.Next(Ids.Length)],
                Gid = Ids[random.Next(Ids.Length)],
            };
            switch (kind)
            {
                case Kind.Regular:
                    entry.Size = random.Next(4) switch { 0 => 0, 1 => random.Next(1000), 2 => random.NextInt64(1L << 45), _ => 0xFFFF_FFFFL + random.Next(3) };
                    entry.Checksum = new byte[settings.ChecksumLength];
                    random.NextBytes(entry.Checksum);
                    regular.Add(entry);
                    break;
                case Kind.Directory:
                    entry.Size = 4096 * random.Next(3);
                    entry.Flags = random.Next(3) switch
                    {
                        0 => EntryFlags.ContentDir,
                        1 => EntryFlags.ContentDir | EntryFlags.TopDir,
                        _ => EntryFlags.None,
                    };
                    break;
                case Kind.Symlink:
                    entry.LinkTarget = random.Next(5) == 0
                        ? Encoding.ASCII.GetBytes(new string('t', 300 + random.Next(2000)))
                        : [.. Components[random.Next(Components.Length)], .. "/../x"u8];
                    entry.Size = entry.LinkTarget.Length;
                    break;
                case Kind.CharDevice or Kind.BlockDevice:
                    // A few majors shared by many devices, so same-major compression is exercised.
                    int major = random.Next(2) == 0 ? random.Next(4) : random.Next(0x10000);
                    entry.Rdev = Posix.MakeDev(major, random.Next(2) == 0 ? random.Next(256) : random.Next(0x100000));
                    break;
            }
            entries.Add(entry);
        }

        // Hard-link groups among regular files: same inode, so same attributes.
        var group = new Dictionary<FileEntry, int>();
        int groups = regular.Count < 2 ? 0 : random.Next(Math.Min(4, regular.Count / 2) + 1);
        var shuffled = regular.OrderBy(_ => random.Next()).ToList();
        int taken = 0;
        for (int g = 0; g < groups && taken + 2 <= shuffled.Count; g++)
        {
            int size = Math.Min(2 + random.Next(3), shuffled.Count - taken);
            var members = shuffled.GetRange(taken, size);
            taken += size;
            var first = members[0];
            foreach (var m in members)
            {
                m.Mode = first.Mode;
                m.Size = first.Size;
                m.ModTime = first.ModTime;
                m.ModNanoseconds = first.ModNanoseconds;
                m.Uid = first.Uid;
                m.Gid = first.Gid;
                m.Checksum = first.Checksum;
                m.Flags |= EntryFlags.HardLinked;
                m.Device = 77;
                m.Inode = 1000 + g;
                group[m] = g;
            }
        }

        entries.Sort(FileNameComparer.Instance);
        return new Case(settings, entries, group, ioError);
    }

    private static Gen<FileListSettings> AnySettings { get; } =
        from protocol in Gen.Elements(30, 31)
        from flags in Gen.Choose(0, 2047)
        select new FileListSettings(
            protocol,
            PreserveUid: (flags & 1) != 0,
            PreserveGid: (flags & 2) != 0,
            PreserveLinks: (flags & 4) != 0,
            PreserveDevices: (flags & 8) != 0,
            PreserveSpecials: (flags & 16) != 0,
            PreserveHardLinks: (flags & 32) != 0,
            AlwaysChecksum: (flags & 64) != 0,
            NumericIds: (flags & 128) != 0,
            SafeFileList: (flags & 256) != 0)
        {
            VarintFlags = (flags & 512) != 0,
            ChecksumLength = (flags & 1024) != 0 ? 8 : 16,
        };

    private static Gen<Case> AnyCase { get; } =
        from settings in AnySettings
        from seed in Gen.Choose(0, int.MaxValue)
        from count in Gen.Choose(0, 120)
        from ioError in Gen.Elements(IoErrorFlags.None, IoErrorFlags.None, IoErrorFlags.General, IoErrorFlags.Vanished,
            IoErrorFlags.General | IoErrorFlags.Vanished, IoErrorFlags.DeleteLimit)
        select BuildCase(seed, count, settings, ioError);

    private static byte[] Encode(Case c)
    {
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        var encoder = new FileListEncoder(writer, c.Settings);
        for (int i = 0; i < c.Entries.Count; i++)
            encoder.Write(c.Entries[i], i);
        encoder.WriteEnd(c.IoError, ignoreErrors: false);
        writer.WriteInt32(Sentinel);
        writer.Flush();
        return output.ToArray();
    }

    private static FileListDecoder Decode(FileListSettings settings, byte[] data, out RsyncReader reader)
    {
        reader = new RsyncReader(new MemoryStream(data));
        var decoder = new FileListDecoder(reader, settings);
        decoder.ReadAll();
        return decoder;
    }

    [Fact]
    public void EncodedListsDecodeToTheSameEntries() =>
        Props.Check(AnyCase, c =>
        {
            var s = c.Settings;
            var decoder = Decode(s, Encode(c), out var reader);
            using (reader)
            {
                // The list, its end and the id lists are consumed exactly.
                Assert.Equal(Sentinel, reader.ReadInt32());
                Assert.Throws<RsyncProtocolException>(() => reader.ReadByte());
            }

            var decoded = decoder.Entries;
            Assert.Equal(c.Entries.Count, decoded.Count);
            var leaderOf = new Dictionary<int, int>();
            for (int i = 0; i < decoded.Count; i++)
            {
                FileEntry expected = c.Entries[i], actual = decoded[i];
                string where = $"entry {i} ({expected.NameString})";
                Assert.True(expected.Name.SequenceEqual(actual.Name), where);
                Assert.True(expected.Mode == actual.Mode, where);
                Assert.True(expected.Size == actual.Size, where);
                Assert.True(expected.ModTime == actual.ModTime, where);
                // Nanoseconds travel only at protocol 31 (flist.c, XMIT_MOD_NSEC).
                Assert.True((s.Protocol >= 31 ? expected.ModNanoseconds : 0) == actual.ModNanoseconds, where);
                if (s.PreserveUid)
                    Assert.True(expected.Uid == actual.Uid, where);
                if (s.PreserveGid)
                    Assert.True(expected.Gid == actual.Gid, where);
                if (expected.IsSymlink)
                    Assert.True(expected.LinkTarget.AsSpan().SequenceEqual(actual.LinkTarget), where);
                if (expected.IsDevice)
                {
                    Assert.True(Posix.Major(expected.Rdev) == Posix.Major(actual.Rdev), where);
                    Assert.True(Posix.Minor(expected.Rdev) == Posix.Minor(actual.Rdev), where);
                }
                if (s.AlwaysChecksum && expected.IsRegular)
                    Assert.True(expected.Checksum.AsSpan().SequenceEqual(actual.Checksum), where);
                if (expected.IsDirectory)
                {
                    var dirFlags = EntryFlags.TopDir | EntryFlags.ContentDir;
                    Assert.True((expected.Flags & dirFlags) == (actual.Flags & dirFlags), where);
                }

                bool linked = s.PreserveHardLinks && c.Group.ContainsKey(expected);
                if (!linked)
                {
                    Assert.True(actual.HardLinkIndex == -1, where);
                    Assert.True((actual.Flags & (EntryFlags.HardLinkFirst | EntryFlags.HardLinkFollower)) == 0, where);
                }
                else if (!leaderOf.TryGetValue(c.Group[expected], out int leader))
                {
                    // The first of a group in list order leads it (flist.c, XMIT_HLINK_FIRST), and its index names the group.
                    leaderOf[c.Group[expected]] = i;
                    Assert.True((actual.Flags & EntryFlags.HardLinkFirst) != 0, where);
                    Assert.True(actual.HardLinkIndex == i, where);
                }
                else
                {
                    Assert.True((actual.Flags & EntryFlags.HardLinkFollower) != 0, where);
                    Assert.True(actual.HardLinkIndex == leader, where);
                }
            }

            bool safe = s.Protocol >= 31 || s.SafeFileList;
            Assert.Equal(safe ? c.IoError : IoErrorFlags.None, decoder.IoError);

            int[] uids = c.Entries.Select(e => e.Uid).ToArray();
            int[] gids = c.Entries.Select(e => e.Gid).ToArray();
            if (s.NumericIds || !s.PreserveUid)
                Assert.Empty(decoder.UserNames);
            if (s.NumericIds || !s.PreserveGid)
                Assert.Empty(decoder.GroupNames);
            // Names go only with ids in the list, never root's (uidlist.c).
            Assert.All(decoder.UserNames, kv => Assert.True(kv.Key != 0 && uids.Contains(kv.Key) && kv.Value.Length > 0));
            Assert.All(decoder.GroupNames, kv => Assert.True(kv.Key != 0 && gids.Contains(kv.Key) && kv.Value.Length > 0));
        }, maxTest: 150, endSize: 100);

    private static FileListSettings Settings(int protocol, bool uid = false, bool gid = false, bool safe = false) =>
        new(protocol, uid, gid, PreserveLinks: true, PreserveDevices: true, PreserveSpecials: true,
            PreserveHardLinks: false, AlwaysChecksum: false, NumericIds: true, SafeFileList: safe);

    [Fact]
    public void HandWorkedEntries()
    {
        // Protocol 31, no uid/gid: "a" (0100644, 5 bytes, mtime 1e9) then "ab" (same mode and time, 16 MiB).
        //   "a":  xflags SAME_UID|SAME_GID = 0x18 (mode and time differ from the initial zeros), one byte
        //         name length 1, "a"; size varlong(5, 3) = 00 05 00; mtime varlong(1e9, 4) = 3B 00 CA 9A;
        //         mode int 0x81A4 = A4 81 00 00.
        //   "ab": xflags SAME_MODE|SAME_UID|SAME_GID|SAME_NAME|SAME_TIME = 0x02|0x08|0x10|0x20|0x80 = 0xBA;
        //         shared prefix 1, rest 1, "b"; size varlong(0x1000000, 3) = 81 00 00 00.
        //   end:  00.
        byte[] expected = Convert.FromHexString("18" + "01" + "61" + "000500" + "3B00CA9A" + "A4810000"
            + "BA" + "01" + "01" + "62" + "81000000" + "00");
        var entries = new[]
        {
            new FileEntry("a"u8.ToArray(), 0x81A4, 5, 1_000_000_000),
            new FileEntry("ab"u8.ToArray(), 0x81A4, 0x1000000, 1_000_000_000),
        };
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        var encoder = new FileListEncoder(writer, Settings(31));
        encoder.Write(entries[0], 0);
        encoder.Write(entries[1], 1);
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        writer.Flush();
        Assert.Equal(expected, output.ToArray());

        var decoder = Decode(Settings(31), expected, out var reader);
        reader.Dispose();
        Assert.Equal(["a", "ab"], decoder.Entries.Select(e => e.NameString));
        Assert.Equal([5L, 0x1000000L], decoder.Entries.Select(e => e.Size));
        Assert.All(decoder.Entries, e => Assert.Equal(1_000_000_000, e.ModTime));
        Assert.All(decoder.Entries, e => Assert.Equal(0x81A4, e.Mode));
    }

    /// <summary>
    /// Under incremental recursion a hard link whose first member went out in an earlier list is sent
    /// whole after its group's index, and a name for an owner goes with its first entry, with no
    /// lists of names at the end (flist.c, send_file_entry and recv_file_entry).
    /// </summary>
    [Fact]
    public void IncrementalListsCarryNamesInlineAndRepeatEarlierHardLinks()
    {
        var settings = new FileListSettings(31, PreserveUid: true, PreserveGid: false, PreserveLinks: true, PreserveDevices: false,
            PreserveSpecials: false, PreserveHardLinks: true, AlwaysChecksum: false, NumericIds: false, SafeFileList: true)
        { IncrementalRecursion = true };
        FileEntry Linked(string name, long inode, int uid) =>
            new(Encoding.ASCII.GetBytes(name), 0x81A4, 7, 1_600_000_000) { Uid = uid, Device = 1, Inode = inode, Flags = EntryFlags.HardLinked };
        var first = new List<FileEntry> { new("."u8.ToArray(), 0x41ED, 0, 1_600_000_000) { Uid = 0, Flags = EntryFlags.TopDir | EntryFlags.ContentDir },
            Linked("a", 10, 0), new("d"u8.ToArray(), 0x41ED, 0, 1_600_000_000) { Uid = 0, Flags = EntryFlags.ContentDir } };
        var second = new List<FileEntry> { Linked("d/b", 10, 0), Linked("d/c", 11, 0), Linked("d/e", 11, 0) };

        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        var encoder = new FileListEncoder(writer, settings);
        for (int i = 0; i < first.Count; i++)
            encoder.Write(first[i], 1 + i, 1);
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        int secondStart = 1 + first.Count + 1;
        for (int i = 0; i < second.Count; i++)
            encoder.Write(second[i], secondStart + i, secondStart);
        encoder.WriteEndMarker(IoErrorFlags.None);
        writer.Flush();

        using var reader = new RsyncReader(new MemoryStream(output.ToArray()));
        var decoder = new FileListDecoder(reader, settings);
        decoder.ReadAll();
        Assert.Equal([".", "a", "d"], decoder.Entries.Select(e => e.NameString));
        var more = decoder.ReadList(secondStart);
        Assert.Equal(["d/b", "d/c", "d/e"], more.Select(e => e.NameString));
        // "d/b" joins the group of "a" (index 2), sent in full since the first list may be gone.
        Assert.Equal(EntryFlags.HardLinkFollower, more[0].Flags & (EntryFlags.HardLinkFollower | EntryFlags.HardLinkFirst));
        Assert.Equal(2, more[0].HardLinkIndex);
        Assert.Equal(7, more[0].Size);
        Assert.Equal(0x81A4, more[0].Mode);
        // "d/c" leads a group of its own that "d/e" follows within the list.
        Assert.Equal(EntryFlags.HardLinkFirst, more[1].Flags & (EntryFlags.HardLinkFollower | EntryFlags.HardLinkFirst));
        Assert.Equal(secondStart + 1, more[2].HardLinkIndex);
        Assert.ThrowsAny<Exception>(() => reader.ReadByte());
    }

    [Fact]
    public void IncrementalListsSendAnOwnersNameWithItsFirstEntry()
    {
        var settings = new FileListSettings(30, PreserveUid: true, PreserveGid: true, PreserveLinks: false, PreserveDevices: false,
            PreserveSpecials: false, PreserveHardLinks: false, AlwaysChecksum: false, NumericIds: false, SafeFileList: true)
        { IncrementalRecursion = true };
        // Id 1 has a name on any Debian system ("daemon"); root's is never sent (uidlist.c, add_uid).
        string user = Posix.UserName(1)!;
        string group = Posix.GroupName(1)!;
        var entries = new List<FileEntry>
        {
            new("x"u8.ToArray(), 0x81A4, 1, 5) { Uid = 1, Gid = 1 },
            new("y"u8.ToArray(), 0x81A4, 1, 5) { Uid = 0, Gid = 0 },
            new("z"u8.ToArray(), 0x81A4, 1, 5) { Uid = 1, Gid = 1 },
        };
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        var encoder = new FileListEncoder(writer, settings);
        for (int i = 0; i < entries.Count; i++)
            encoder.Write(entries[i], 1 + i, 1);
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        writer.Flush();

        using var reader = new RsyncReader(new MemoryStream(output.ToArray()));
        var decoder = new FileListDecoder(reader, settings);
        decoder.ReadAll();
        Assert.Equal([1, 0, 1], decoder.Entries.Select(e => e.Uid));
        Assert.Equal(user, decoder.UserNames[1]);
        Assert.Equal(group, decoder.GroupNames[1]);
        // Nothing follows the end marker: no uid or gid list (flist.c, send_file_list with inc_recurse).
        Assert.ThrowsAny<Exception>(() => reader.ReadByte());
    }

    [Fact]
    public void HandWorkedDeviceAndNanoseconds()
    {
        // Protocol 31: a char device 0020644, rdev 8:1, mtime 0 with 5 ns.
        //   xflags: mode differs; no uid/gid: SAME_UID|SAME_GID; time equals the initial 0: SAME_TIME;
        //   MOD_NSEC (1 << 13) needs the extended form: 0x18|0x80|0x2000|0x04 = 0x209C, sent LE: 9C 20.
        //   The major (8) differs from the initial 0, so it is sent.
        //   name: 01 "d"; size varlong(0, 3) = 00 00 00; nsec varint 05; mode 0x21A4 = A4 21 00 00;
        //   major varint 08, minor varint 01; end 00.
        byte[] expected = Convert.FromHexString("9C20" + "01" + "64" + "000000" + "05" + "A4210000" + "08" + "01" + "00");
        var entry = new FileEntry("d"u8.ToArray(), 0x21A4, 0, 0) { ModNanoseconds = 5, Rdev = Posix.MakeDev(8, 1) };
        Assert.Equal(0x801L, entry.Rdev); // glibc's makedev(8, 1)
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        var encoder = new FileListEncoder(writer, Settings(31));
        encoder.Write(entry, 0);
        encoder.WriteEnd(IoErrorFlags.None, ignoreErrors: false);
        writer.Flush();
        Assert.Equal(expected, output.ToArray());

        var decoder = Decode(Settings(31), expected, out var reader);
        reader.Dispose();
        var d = Assert.Single(decoder.Entries);
        Assert.Equal(5, d.ModNanoseconds);
        Assert.Equal(0x801L, d.Rdev);
    }

    [Theory]
    [InlineData(31, false)]
    [InlineData(30, true)]
    public void EndMarkerCarriesTheIoError(int protocol, bool safeFileList)
    {
        // flist.c, send_file_list: with a safe file list the end is XMIT_EXTENDED_FLAGS |
        // XMIT_IO_ERROR_ENDLIST = 0x04 | 0x1000 as a short int (04 10), then the error as a varint.
        var settings = Settings(protocol, safe: safeFileList);
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        new FileListEncoder(writer, settings).WriteEnd(IoErrorFlags.General | IoErrorFlags.Vanished, ignoreErrors: false);
        writer.Flush();
        Assert.Equal(Convert.FromHexString("0410" + "03"), output.ToArray());

        var decoder = Decode(settings, output.ToArray(), out var reader);
        reader.Dispose();
        Assert.Empty(decoder.Entries);
        Assert.Equal(IoErrorFlags.General | IoErrorFlags.Vanished, decoder.IoError);
    }

    [Fact]
    public void EndMarkerWithoutASafeListDropsTheIoError()
    {
        var settings = Settings(30);
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        new FileListEncoder(writer, settings).WriteEnd(IoErrorFlags.General, ignoreErrors: false);
        writer.WriteInt32(Sentinel);
        writer.Flush();
        Assert.Equal(0, output.ToArray()[0]);

        // And a peer that sends the io-error end anyway is refused (flist.c, recv_file_list).
        var ex = Assert.ThrowsAny<RsyncException>(() => Decode(settings, Convert.FromHexString("0410" + "01"), out _));
        Assert.Contains("Invalid flist flag", ex.Message);
    }

    [Fact]
    public void IgnoreErrorsSendsAPlainEnd()
    {
        var output = new MemoryStream();
        var writer = new RsyncWriter(output);
        new FileListEncoder(writer, Settings(31)).WriteEnd(IoErrorFlags.General, ignoreErrors: true);
        writer.Flush();
        Assert.Equal([0], output.ToArray());
    }
}
