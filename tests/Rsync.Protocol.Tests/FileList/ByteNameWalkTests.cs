using System.Text;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.Daemon;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.Text;
using Xunit;

namespace NetRsync.Protocol.Tests.FileList;

/// <summary>The sender's walk, --files-from and module paths keep a name's bytes, whatever they are.</summary>
public sealed class ByteNameWalkTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("bytenames-").FullName;
    private readonly ConfinedRoot _dir;

    public ByteNameWalkTests() => _dir = ConfinedRoot.Open(_root);

    public void Dispose()
    {
        _dir.Dispose();
        ConfinedRoot.ReleaseThreadCache();
        // .NET's own delete cannot name these files.
        using var rm = System.Diagnostics.Process.Start("rm", ["-rf", "--", _root]);
        rm.WaitForExit();
    }

    /// <summary>Latin-1 (two names differing only in an invalid byte), GBK, invalid UTF-8, control bytes and a newline.</summary>
    public static readonly byte[][] OddNames =
    [
        [.. "caf"u8, 0xE9],
        [.. "caf"u8, 0xE8],
        [0xD6, 0xD0, 0xCE, 0xC4, .. ".txt"u8],
        [0xFF, 0xFE],
        [(byte)'a', 0xE4, 0xB8],
        [0xC0, 0xAF],
        [0x01, (byte)'x'],
        [.. "new"u8, (byte)'\n', .. "line"u8],
        [.. Enumerable.Repeat((byte)0xE9, 255)],
    ];

    private void Write(byte[] name, string content)
    {
        Assert.Equal(0, _dir.CreateExclusive(name, 0x1A4, out var handle));
        using var stream = new FileStream(handle!, FileAccess.Write);
        stream.Write(Encoding.ASCII.GetBytes(content));
    }

    private sealed class Collect : IFileListReporter
    {
        public readonly List<string> Errors = [];
        public void TransferError(string message) => Errors.Add(message);
        public void Info(string message) { }
    }

    private static string Show(byte[] name) => Convert.ToHexString(name);

    [Fact]
    public void EveryOddNameIsListedWithItsBytes()
    {
        foreach (byte[] name in OddNames)
            Write(name, "x");
        byte[] dirName = [.. "d"u8, 0xE9];
        Assert.Equal(0, _dir.MakeDirectory(dirName, 0x1ED));
        Write([.. dirName, (byte)'/', .. "in"u8, 0xE8], "y");
        Assert.Equal(0, _dir.Symlink([.. "t"u8, 0xE9], [.. "l"u8, 0xE8]));

        var reporter = new Collect();
        var builder = new FileListBuilder(new FileListScanOptions { Recursive = true, PreserveLinks = true }, reporter);
        builder.AddSource(_root + "/");
        var listed = builder.Build();
        var names = listed.Select(f => Show(f.Name.ToArray())).ToHashSet();

        Assert.Empty(reporter.Errors);
        foreach (byte[] name in OddNames)
            Assert.Contains(Show(name), names);
        Assert.Contains(Show([.. dirName, (byte)'/', .. "in"u8, 0xE8]), names);
        var link = listed.Single(f => f.IsSymlink);
        Assert.Equal([.. "t"u8, 0xE9], link.LinkTarget);
        Assert.Equal(OddNames.Length + 4, names.Count); // ".", the directory, its file and the link
    }

    [Fact]
    public void ASourceArgumentWithOddBytesIsFound()
    {
        byte[] name = [.. "caf"u8, 0xE9];
        Write(name, "x");
        var builder = new FileListBuilder(new FileListScanOptions(), new Collect());
        builder.AddSource(_root + "/" + NameText.FromBytes(name));
        var file = Assert.Single(builder.Build());
        Assert.Equal(name, file.Name.ToArray());
        Assert.Equal(Show(NameText.ToBytes(_root + "/")) + Show(name), Show(NameText.ToBytes(file.LocalPath)));
    }

    [Fact]
    public void AWalkInsideAModuleKeepsTheBytesToo()
    {
        byte[] dirName = [0xD6, 0xD0];
        Assert.Equal(0, _dir.MakeDirectory(dirName, 0x1ED));
        Write([.. dirName, (byte)'/', 0xFF], "z");
        var builder = new FileListBuilder(new FileListScanOptions { Recursive = true, ConfineTo = _root, Jail = _dir }, new Collect());
        builder.AddSource(_root + "/" + NameText.FromBytes(dirName));
        Assert.Equal([Show(dirName), Show([.. dirName, (byte)'/', 0xFF])], builder.Build().Select(f => Show(f.Name.ToArray())));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FilesFromNamesAreReadAsBytes(bool from0)
    {
        byte sep = from0 ? (byte)0 : (byte)'\n';
        byte[] list = [.. "caf"u8, 0xE9, sep, .. "#c"u8, sep, 0xD6, 0xD0, sep, sep, .. "./x"u8, 0xFF, (byte)'/', sep];
        string path = Path.Join(_root, "list");
        File.WriteAllBytes(path, list);
        var names = RsyncClient.ReadFilesFrom(path, from0).Select(Show).ToList();
        var expected = new List<string> { Show([.. "caf"u8, 0xE9]) };
        if (from0)
            expected.Add(Show("#c"u8.ToArray()));
        expected.Add(Show([0xD6, 0xD0]));
        expected.Add(Show([.. "./x"u8, 0xFF, (byte)'/']));
        Assert.Equal(expected, names);
    }

    [Fact]
    public void ListedNamesLoseLeadingSlashesAndDotSlashButNoOtherByte()
    {
        byte[] name = [(byte)'x', 0xFF];
        Write(name, "x");
        var builder = new FileListBuilder(new FileListScanOptions(), new Collect());
        builder.AddFromList(_root, [.. "/./"u8, .. name, (byte)'/']);
        Assert.Equal(name, Assert.Single(builder.Build()).Name.ToArray());
    }

    [Theory]
    [InlineData("/m", "/m/a/b", "a/b")]
    [InlineData("/m/", "/m//a/./b/", "a/b")]
    [InlineData("/m", "/m", ".")]
    [InlineData("/m", "/mx/a", null)]
    [InlineData("/m", "/m/../etc", null)]
    public void PathsBeneathAModuleAreFoundByBytes(string root, string path, string? expected)
    {
        byte[]? rel = FileListBuilder.BeneathRoot(Encoding.ASCII.GetBytes(root), Encoding.ASCII.GetBytes(path));
        Assert.Equal(expected, rel is null ? null : Encoding.ASCII.GetString(rel));
    }

    [Fact]
    public void AForwardedNameIsSanitizedWithoutTouchingItsBytes()
    {
        byte[] sanitized = ModulePath.Sanitize([.. "/../a/./"u8, 0xE9, .. "/../"u8, 0xFF]);
        Assert.Equal(Show([(byte)'a', (byte)'/', 0xFF]), Show(sanitized));
    }

    [Theory]
    [InlineData("backuphost:www/", true)]
    [InlineData("user@host:/srv", true)]
    [InlineData("[::1]:dir", true)]
    [InlineData("host:", true)]
    [InlineData("./a:b", false)]
    [InlineData("dir/a:b", false)]
    [InlineData("plain", false)]
    [InlineData("host::module", false)]
    [InlineData("[::1]::module", false)]
    [InlineData("rsync://host/module", false)]
    [InlineData(":leading", false)]
    public void RemoteShellLocationsAreRecognised(string argument, bool remote) =>
        Assert.Equal(remote, DaemonUrl.IsRemoteShellPath(argument));

    [Fact]
    public async Task AnEmptyListStillMakesADestinationNamedWithASlash()
    {
        // Every listed name excluded: rsync still makes "dst/" and exits 0 (main.c, get_local_name).
        byte[] name = [.. "caf"u8, 0xE9];
        Write(name, "x");
        string list = Path.Join(_root, "list");
        File.WriteAllBytes(list, [.. name, (byte)'\n']);
        var options = new NetRsync.Protocol.Options.RsyncOptions { Recursive = true, FilesFrom = list };
        options.FilterRules.Add("- " + NameText.FromBytes(name));
        var client = new RsyncClient(options, NullOutput.Instance);
        var result = await client.CopyAsync([_root + "/"], Path.Join(_root, "dst") + "/");
        Assert.Equal(0, result.ExitCode);
        Assert.True(Directory.Exists(Path.Join(_root, "dst")));
        // Without the slash the name stands for one file, and none comes: nothing is made, still 0.
        var bare = await new RsyncClient(options, NullOutput.Instance).CopyAsync([_root + "/"], Path.Join(_root, "bare"));
        Assert.Equal(0, bare.ExitCode);
        Assert.False(Path.Exists(Path.Join(_root, "bare")));
    }

    [Fact]
    public void ALocalCopyRefusesAHostPathAndWritesNothing()
    {
        string before = Environment.CurrentDirectory;
        Environment.CurrentDirectory = _root;
        try
        {
            Write("f"u8.ToArray(), "x");
            var client = new RsyncClient(new NetRsync.Protocol.Options.RsyncOptions { Recursive = true }, NullOutput.Instance);
            var ex = Assert.ThrowsAny<RsyncException>(() => client.CopyAsync(["f"], "backuphost:www/").GetAwaiter().GetResult());
            Assert.Equal(NetRsync.Protocol.Wire.ExitCodes.Unsupported, ex.ExitCode);
            Assert.False(Directory.Exists(Path.Join(_root, "backuphost:www")));
        }
        finally
        {
            Environment.CurrentDirectory = before;
        }
    }
}

/// <summary>rsyncd.conf is bytes: a module's path may name a directory that is not UTF-8.</summary>
public sealed class ModulePathBytesTests
{
    [Fact]
    public void APathOfAnyBytesIsKeptAsItsBytes()
    {
        string file = Path.Join(Path.GetTempPath(), $"rsyncd-bytes-{Guid.NewGuid():N}.conf");
        byte[] path = [.. "/srv/caf"u8, 0xE9, (byte)'/', 0xD6, 0xD0];
        File.WriteAllBytes(file, [.. "[m]\npath = "u8, .. path, (byte)'\n']);
        try
        {
            var config = NetRsync.Protocol.Daemon.Config.DaemonConfig.Load(file);
            Assert.Equal(Convert.ToHexString(path), Convert.ToHexString(NameText.ToBytes(config.FindModule("m")!.Path!)));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
