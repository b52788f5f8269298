namespace NetRsync.Protocol.FileList;

/// <summary>
/// Whether a symlink leads out of the transfer (util1.c, unsafe_symlink, with rsync 3.4's rules for
/// CVE-2024-12088): an empty or absolute target is unsafe, so is a ".." anywhere but in a leading
/// run ("a/../../x" could climb once "a" is swapped for a link to "."), and so is one that climbs
/// above the directory the link lives in, counted from the transfer's root.
/// </summary>
public static class UnsafeSymlink
{
    /// <param name="target">The link's contents.</param>
    /// <param name="linkName">The link's name relative to the transfer root ("dir/link").</param>
    public static bool IsUnsafe(ReadOnlySpan<byte> target, ReadOnlySpan<byte> linkName)
    {
        if (target.IsEmpty || target[0] == (byte)'/')
            return true;

        var rest = target;
        while (rest.StartsWith("../"u8))
            rest = rest[3..].TrimStart((byte)'/');
        if (rest.IndexOf("/../"u8) >= 0)
            return true;
        if (target.Length > 3 && target.EndsWith("/.."u8))
            return true;

        // How deep the link sits: its directory components, a ".." starting the count over.
        int depth = 0;
        var name = linkName;
        int slash;
        while ((slash = name.IndexOf((byte)'/')) >= 0)
        {
            var part = name[..slash];
            if (part.SequenceEqual(".."u8))
                depth = 0;
            else if (!part.SequenceEqual("."u8))
                depth++;
            name = name[(slash + 1)..].TrimStart((byte)'/');
        }
        if (name.SequenceEqual(".."u8))
            depth = 0;

        var t = target;
        while ((slash = t.IndexOf((byte)'/')) >= 0)
        {
            var part = t[..slash];
            if (part.SequenceEqual(".."u8))
            {
                if (--depth < 0)
                    return true;
            }
            else if (!part.SequenceEqual("."u8))
                depth++;
            t = t[(slash + 1)..].TrimStart((byte)'/');
        }
        if (t.SequenceEqual(".."u8))
            depth--;
        return depth < 0;
    }
}
