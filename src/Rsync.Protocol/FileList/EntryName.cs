namespace NetRsync.Protocol.FileList;

/// <summary>
/// A file-list name in its two parts: the directory, kept once for all the entries in it, and the
/// base name (rsync's file_struct keeps the same pair: dirname and basename, joined by f_name).
/// "a/b/c" is ("a/b", "c"); "c" and "." have no directory.
/// </summary>
public readonly ref struct EntryName
{
    public EntryName(ReadOnlySpan<byte> directory, ReadOnlySpan<byte> baseName)
    {
        Directory = directory;
        Base = baseName;
    }

    /// <summary>The directory part, without its trailing slash; empty at the top.</summary>
    public ReadOnlySpan<byte> Directory { get; }

    /// <summary>The last component.</summary>
    public ReadOnlySpan<byte> Base { get; }

    /// <summary>
    /// Splits a whole name at its last slash. A name whose only slash leads ("/x", which no
    /// receiver accepts) stays whole in the base, so it reads back as it came.
    /// </summary>
    public static EntryName Split(ReadOnlySpan<byte> name)
    {
        int slash = name.LastIndexOf((byte)'/');
        return slash <= 0 ? new EntryName([], name) : new EntryName(name[..slash], name[(slash + 1)..]);
    }

    public static implicit operator EntryName(ReadOnlySpan<byte> name) => Split(name);

    /// <summary>The length of the whole name, slash included.</summary>
    public int Length => Directory.IsEmpty ? Base.Length : Directory.Length + 1 + Base.Length;

    /// <summary>Whether this is the transfer root, ".".</summary>
    public bool IsDot => Directory.IsEmpty && Base is [(byte)'.'];

    /// <summary>Writes the whole name to <paramref name="destination"/>, which must hold <see cref="Length"/> bytes.</summary>
    public int CopyTo(Span<byte> destination)
    {
        if (Directory.IsEmpty)
        {
            Base.CopyTo(destination);
            return Base.Length;
        }
        Directory.CopyTo(destination);
        destination[Directory.Length] = (byte)'/';
        Base.CopyTo(destination[(Directory.Length + 1)..]);
        return Length;
    }

    /// <summary>
    /// The whole name as one span: the base itself when there is no directory, else joined in
    /// <paramref name="scratch"/>, which grows as needed and is overwritten by the next call.
    /// </summary>
    public ReadOnlySpan<byte> Joined(ref byte[]? scratch)
    {
        if (Directory.IsEmpty)
            return Base;
        int length = Length;
        if (scratch is null || scratch.Length < length)
            scratch = new byte[Math.Max(length, 256)];
        CopyTo(scratch);
        return scratch.AsSpan(0, length);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        CopyTo(bytes);
        return bytes;
    }

    public bool SequenceEqual(ReadOnlySpan<byte> other)
    {
        if (Directory.IsEmpty)
            return Base.SequenceEqual(other);
        return other.Length == Length
            && other.StartsWith(Directory)
            && other[Directory.Length] == (byte)'/'
            && other.EndsWith(Base);
    }

    public bool SequenceEqual(EntryName other) =>
        Base.SequenceEqual(other.Base) && Directory.SequenceEqual(other.Directory);

    public override string ToString() => Text.NameText.FromBytes(ToArray());
}
