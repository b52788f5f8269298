using System.Text;

namespace NetRsync.Protocol.Text;

/// <summary>
/// The command line as the kernel passed it. .NET decodes argv as UTF-8 and replaces what is not,
/// so a Latin-1 or GBK file name given as an argument would arrive changed; /proc/self/cmdline has
/// the bytes, which come back as <see cref="NameText"/> strings.
/// </summary>
public static class RawArguments
{
    /// <summary><paramref name="args"/> with each argument's original bytes kept; unchanged when they cannot be read.</summary>
    public static string[] Recover(string[] args)
    {
        byte[] cmdline;
        try
        {
            cmdline = File.ReadAllBytes("/proc/self/cmdline");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return args;
        }
        var words = new List<byte[]>();
        int start = 0;
        for (int i = 0; i < cmdline.Length; i++)
        {
            if (cmdline[i] != 0)
                continue;
            words.Add(cmdline[start..i]);
            start = i + 1;
        }
        if (start < cmdline.Length)
            words.Add(cmdline[start..]);
        // The host (dotnet, the app path) comes first; the program's own arguments are the last ones.
        if (words.Count < args.Length)
            return args;
        var recovered = new string[args.Length];
        int offset = words.Count - args.Length;
        for (int i = 0; i < args.Length; i++)
        {
            byte[] word = words[offset + i];
            if (Encoding.UTF8.GetString(word) != args[i])
                return args;
            recovered[i] = NameText.FromBytes(word);
        }
        return recovered;
    }
}
