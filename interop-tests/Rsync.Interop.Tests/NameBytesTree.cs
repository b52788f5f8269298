using System.Text;
using NetRsync.Protocol.Text;

namespace NetRsync.Interop.Tests;

/// <summary>A tree whose names are bytes that are not (all) UTF-8, made with byte-level libc calls
/// (<see cref="Posix"/>): .NET's file APIs encode names as UTF-8 and could not make most of them.
/// Names are held as <see cref="NameText"/> strings.</summary>
public static class NameBytesTree
{
    /// <summary>A name from a string whose chars U+0000..U+00FF stand for single bytes (so "caf\u00e9"
    /// is the four Latin-1 bytes 63 61 66 E9, not UTF-8).</summary>
    public static string B(string latin1) => NameText.FromBytes(Encoding.Latin1.GetBytes(latin1));

    public static readonly string Latin1E9 = B("caf\u00e9");
    public static readonly string Latin1E8 = B("caf\u00e8");
    public static readonly string Latin1E7 = B("caf\u00e7");
    public static readonly string Utf8Cafe = "caf\u00e9"; // the same word in UTF-8: yet another name
    public static readonly string Gbk = B("\u00d6\u00d0\u00ce\u00c4.txt"); // GBK for 中文
    public static readonly string InvalidFfFe = B("\u00ff\u00fe");
    public static readonly string Truncated = B("a\u00e4\u00b8"); // a 3-byte sequence cut short
    public static readonly string Overlong = B("\u00c0\u00af"); // overlong '/'
    public static readonly string Control = B("\u0001x");
    public static readonly string Tab = "tab\there";
    public static readonly string Newline = "new\nline";
    public static readonly string Long255 = B("long-" + new string('\u00e9', 250));
    public static readonly string Dir = B("dir\u00e9\u00ff");
    public static readonly string Inner = B("inner\u00e8");
    public static readonly string Sub = B("sub\u00fe");
    public static readonly string Deep = B("deep\u00c0\u00af");
    public static readonly string Link = B("link\u00e9");
    public static readonly string DirLink = B("dirlink\u00ff");
    public static readonly string Dangling = B("dangling\u00e4");
    public static readonly string DanglingTarget = B("nowhere\u00fe/x\u00ff");
    public static readonly string Hard1 = B("hard\u00e9");
    public static readonly string Hard2 = B("hard\u00e8");
    public static readonly string Hard3 = B("hard\u00fc");

    /// <summary>Relative paths of the regular files, in creation order.</summary>
    public static IReadOnlyList<string> Files { get; } =
    [
        "plain", Latin1E9, Latin1E8, Utf8Cafe, Gbk, InvalidFfFe, Truncated, Overlong, Control, Tab, Newline, Long255,
        Dir + "/" + Inner, Dir + "/plain.txt", Dir + "/" + Gbk, Dir + "/" + Sub + "/" + Deep,
    ];

    /// <summary>Every relative path the tree holds.</summary>
    public static IReadOnlyList<string> AllEntries { get; } =
    [
        .. Files, Dir, Dir + "/" + Sub, Link, DirLink, Dangling, Hard1, Hard2, Dir + "/" + Hard3,
    ];

    /// <summary>Content unique to each file (so a file landing under another's name shows).</summary>
    public static byte[] ContentOf(string relativePath) =>
        [.. "content of "u8, .. NameText.ToBytes(relativePath), (byte)'\n'];

    /// <summary>Builds the tree in <paramref name="root"/> (created if missing) and gives every entry a
    /// fixed time (<see cref="PushFixture.StampTimes"/>).</summary>
    public static void Create(string root)
    {
        if (!Posix.TryLStat(root, out _, out _))
        {
            Posix.Mkdir(root, Posix.Mode("755"));
        }
        string P(string rel) => root + "/" + rel;
        Posix.Mkdir(P(Dir), Posix.Mode("755"));
        Posix.Mkdir(P(Dir + "/" + Sub), Posix.Mode("750"));
        foreach (string f in Files)
        {
            Posix.CreateFile(P(f), ContentOf(f));
        }
        Posix.Chmod(P(Gbk), Posix.Mode("600"));
        // Symlinks whose targets are not UTF-8: to a file, to a file inside a directory, and to nothing.
        Posix.Symlink(NameText.ToBytes(Latin1E9), P(Link));
        Posix.Symlink(NameText.ToBytes(Dir + "/" + Inner), P(DirLink));
        Posix.Symlink(NameText.ToBytes(DanglingTarget), P(Dangling));
        // One hard-link group of three, across two directories.
        Posix.CreateFile(P(Hard1), ContentOf(Hard1));
        Posix.Link(P(Hard1), P(Hard2));
        Posix.Link(P(Hard1), P(Dir + "/" + Hard3));
        PushFixture.StampTimes(root);
    }

    /// <summary>A copy of a tree with everything kept (cp -a: bytes of names, times, modes, hard links).</summary>
    public static void CopyTree(string from, string to)
    {
        (string file, string[] args) = ProcessRunner.WithByteArguments("/bin/cp", ["-a", "--", from + "/.", to]);
        using var cp = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(file, args)
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        string err = cp.StandardError.ReadToEnd();
        cp.WaitForExit();
        if (cp.ExitCode != 0)
        {
            throw new IOException($"cp -a {from}/. {to} failed ({cp.ExitCode}): {err}");
        }
    }
}
