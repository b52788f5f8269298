namespace NetRsync.Protocol.Compression;

/// <summary>How file data is compressed on the wire (rsync.h, CPRES_*).</summary>
public enum CompressionKind
{
    None,
    /// <summary>rsync's original -z: matched data also enters the deflate history.</summary>
    Zlib,
    /// <summary>-zz / --new-compress: the same stream without matched data in the history.</summary>
    ZlibX,
    Lz4,
    Zstd,
}

/// <summary>Names and preference order of the compressors.</summary>
public static class CompressionKinds
{
    /// <summary>What we offer, best first, in a 3.2+ rsync's order (compat.c, valid_compressions_items).</summary>
    public static IReadOnlyList<CompressionKind> Preferred { get; } =
        [CompressionKind.Zstd, CompressionKind.Lz4, CompressionKind.ZlibX, CompressionKind.Zlib, CompressionKind.None];

    public static string Name(CompressionKind kind) => kind switch
    {
        CompressionKind.None => "none",
        CompressionKind.Zlib => "zlib",
        CompressionKind.ZlibX => "zlibx",
        CompressionKind.Lz4 => "lz4",
        CompressionKind.Zstd => "zstd",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static CompressionKind? Parse(string name) => name.ToLowerInvariant() switch
    {
        "none" => CompressionKind.None,
        "zlib" => CompressionKind.Zlib,
        "zlibx" => CompressionKind.ZlibX,
        "lz4" => CompressionKind.Lz4,
        "zstd" => CompressionKind.Zstd,
        _ => null,
    };
}
