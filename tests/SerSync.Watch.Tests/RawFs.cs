using System.Diagnostics;
using System.Runtime.InteropServices;
using NetRsync.Protocol.Text;

namespace NetRsync.SerSync.Tests;

/// <summary>File operations by path bytes, for names .NET's own APIs cannot spell.</summary>
internal static unsafe partial class RawFs
{
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int Open(byte* path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "mkdir", SetLastError = true)]
    private static partial int Mkdir(byte* path, int mode);

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static partial int Rename(byte* from, byte* to);

    [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true)]
    private static partial int Unlink(byte* path);

    [LibraryImport("libc", EntryPoint = "rmdir", SetLastError = true)]
    private static partial int Rmdir(byte* path);

    private const int OWrOnly = 1;
    private const int OCreat = 0x40;
    private const int OTrunc = 0x200;
    private const int OAppend = 0x400;

    public static byte[] Under(string root, byte[] rel) => Names.Join(NameText.ToBytes(root), rel);

    private static void Check(int rc, string what, byte[] path)
    {
        if (rc < 0)
            throw new IOException($"{what} {Names.Display(path)}: errno {Marshal.GetLastPInvokeError()}");
    }

    public static void WriteFile(byte[] path, ReadOnlySpan<byte> content, bool append = false)
    {
        int fd;
        fixed (byte* p = FileSystemBytes.Z(path))
            fd = Open(p, OWrOnly | OCreat | (append ? OAppend : OTrunc), 0x1A4);
        Check(fd, "open", path);
        try
        {
            fixed (byte* c = content)
                Check((int)Write(fd, c, (nuint)content.Length), "write", path);
        }
        finally
        {
            Close(fd);
        }
    }

    public static void MakeDirectory(byte[] path)
    {
        fixed (byte* p = FileSystemBytes.Z(path))
            Check(Mkdir(p, 0x1ED), "mkdir", path);
    }

    public static void Move(byte[] from, byte[] to)
    {
        fixed (byte* f = FileSystemBytes.Z(from))
        fixed (byte* t = FileSystemBytes.Z(to))
            Check(Rename(f, t), "rename", from);
    }

    public static void Delete(byte[] path)
    {
        fixed (byte* p = FileSystemBytes.Z(path))
            Check(Unlink(p), "unlink", path);
    }

    public static void RemoveDirectory(byte[] path)
    {
        fixed (byte* p = FileSystemBytes.Z(path))
            Check(Rmdir(p), "rmdir", path);
    }

    /// <summary>rm -rf of a tree whose names .NET cannot enumerate without loss.</summary>
    public static void DeleteTree(string path)
    {
        using var rm = Process.Start(new ProcessStartInfo("rm", ["-rf", "--", path]) { UseShellExecute = false })!;
        rm.WaitForExit();
    }
}
