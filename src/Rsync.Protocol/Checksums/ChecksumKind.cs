namespace NetRsync.Protocol.Checksums;

/// <summary>The strong checksums rsync can negotiate (checksum.c, valid_checksums_items).</summary>
public enum ChecksumKind
{
    None,
    Md4,
    Md5,
    Sha1,
    Xxh64,
    Xxh3,
    Xxh128,
}

/// <summary>Names, lengths and the preference order of the strong checksums.</summary>
public static class ChecksumKinds
{
    /// <summary>
    /// What we offer, best first, in a 3.2+ rsync's order (checksum.c, valid_checksums_items;
    /// "none" is only offered by a server: compat.c, get_default_nno_list). md4 is left out:
    /// where its seed goes depends on how the peer's rsync was built (OpenSSL or not).
    /// </summary>
    public static IReadOnlyList<ChecksumKind> Preferred { get; } =
        [ChecksumKind.Xxh128, ChecksumKind.Xxh3, ChecksumKind.Xxh64, ChecksumKind.Md5, ChecksumKind.Sha1, ChecksumKind.None];

    public static string Name(ChecksumKind kind) => kind switch
    {
        ChecksumKind.None => "none",
        ChecksumKind.Md4 => "md4",
        ChecksumKind.Md5 => "md5",
        ChecksumKind.Sha1 => "sha1",
        ChecksumKind.Xxh64 => "xxh64",
        ChecksumKind.Xxh3 => "xxh3",
        ChecksumKind.Xxh128 => "xxh128",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>A name as rsync accepts it (case-insensitive; "xxhash" is xxh64's alias), or null.</summary>
    public static ChecksumKind? Parse(string name) => name.ToLowerInvariant() switch
    {
        "none" => ChecksumKind.None,
        "md4" => ChecksumKind.Md4,
        "md5" => ChecksumKind.Md5,
        "sha1" => ChecksumKind.Sha1,
        "xxh64" or "xxhash" => ChecksumKind.Xxh64,
        "xxh3" => ChecksumKind.Xxh3,
        "xxh128" => ChecksumKind.Xxh128,
        _ => null,
    };

    /// <summary>Digest length on the wire (checksum.c, csum_len_for_type).</summary>
    public static int Length(ChecksumKind kind) => kind switch
    {
        ChecksumKind.None => 1,
        ChecksumKind.Md4 or ChecksumKind.Md5 => 16,
        ChecksumKind.Sha1 => 20,
        ChecksumKind.Xxh64 or ChecksumKind.Xxh3 => 8,
        ChecksumKind.Xxh128 => 16,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The longest digest any kind produces.</summary>
    public const int MaxLength = 20;
}
