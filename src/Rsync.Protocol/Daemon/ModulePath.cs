namespace NetRsync.Protocol.Daemon;

/// <summary>
/// Paths a client names inside a module, made harmless as rsync's daemon makes them when it runs
/// without a chroot (util1.c, sanitize_path): an absolute path is rooted at the module, "." parts
/// and extra slashes go, and ".." can never climb above the module. The result is relative to
/// the module, "." for the module itself.
/// </summary>
public static class ModulePath
{
    /// <param name="path">What the client sent.</param>
    /// <param name="currentDirectory">Where a relative <paramref name="path"/> starts, itself module-relative
    /// (the transfer's destination for --backup-dir and friends).</param>
    public static string Sanitize(string path, string currentDirectory = ".")
    {
        var parts = new List<string>();
        if (!path.StartsWith('/'))
            Push(parts, currentDirectory);
        Push(parts, path);
        return parts.Count == 0 ? "." : string.Join('/', parts);
    }

    private static void Push(List<string> parts, string path)
    {
        foreach (string part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
                continue;
            if (part == "..")
            {
                // Already at the module's top: the ".." is dropped (sanitize_path with depth 0).
                if (parts.Count > 0)
                    parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
    }

    /// <summary>A listed name (bytes) made module-relative the same way; ".." at the top is dropped.</summary>
    public static byte[] Sanitize(ReadOnlySpan<byte> path)
    {
        var parts = new List<Range>();
        foreach (var range in path.Split((byte)'/'))
        {
            var part = path[range];
            if (part.IsEmpty || part.SequenceEqual("."u8))
                continue;
            if (part.SequenceEqual(".."u8))
            {
                if (parts.Count > 0)
                    parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(range);
        }
        if (parts.Count == 0)
            return [(byte)'.'];
        var result = new List<byte>(path.Length);
        foreach (var range in parts)
        {
            if (result.Count > 0)
                result.Add((byte)'/');
            result.AddRange(path[range]);
        }
        return [.. result];
    }
}
