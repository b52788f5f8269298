using NetRsync.Protocol.Text;
using NetRsync.SerSync.Sync;

namespace NetRsync.SerSync.Tests;

/// <summary>Names for the tests: written as text, held as bytes.</summary>
internal static class N
{
    public static byte[] B(string text) => NameText.ToBytes(text);

    public static string S(byte[] name) => NameText.FromBytes(name);

    public static List<string> S(IEnumerable<byte[]>? names) => names?.Select(S).ToList() ?? [];

    public static Dictionary<byte[], ChangeFlags> Paths(params (string Name, ChangeFlags Flags)[] entries)
    {
        var paths = new Dictionary<byte[], ChangeFlags>(Names.Comparer);
        foreach (var (name, flags) in entries)
            paths[B(name)] = flags;
        return paths;
    }
}
