namespace NetRsync.Protocol.Text;

/// <summary>Names and paths as bytes: equality, and byte-wise order (rsync's order, and an ordinal sort of UTF-8).</summary>
public sealed class ByteNameComparer : IEqualityComparer<byte[]>, IComparer<byte[]>
{
    public static ByteNameComparer Instance { get; } = new();

    private ByteNameComparer()
    {
    }

    public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj)
    {
        var hash = new HashCode();
        hash.AddBytes(obj);
        return hash.ToHashCode();
    }

    public int Compare(byte[]? x, byte[]? y) => x is null ? (y is null ? 0 : -1) : y is null ? 1 : x.AsSpan().SequenceCompareTo(y);
}
