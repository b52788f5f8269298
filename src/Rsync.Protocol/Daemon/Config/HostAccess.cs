using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using NetRsync.Protocol.Filters;

namespace NetRsync.Protocol.Daemon.Config;

/// <summary>Lookups and logging the host matcher may use; it resolves nothing by itself.</summary>
public sealed class HostAccessOptions
{
    /// <summary>
    /// Whether a plain host name in a list may be resolved and its addresses compared with the client's
    /// (the module's "forward lookup"). Only used when <see cref="ResolveHostName"/> is given.
    /// </summary>
    public bool ForwardLookup { get; init; } = true;

    /// <summary>Forward lookup of a (lower-cased) host name: its addresses, or null when it does not resolve.</summary>
    public Func<string, IReadOnlyList<IPAddress>?>? ResolveHostName { get; init; }

    /// <summary>Netgroup membership for "@netgroup" items (innetgr(group, host)); without it such an item is matched as a wildcard.</summary>
    public Func<string, string, bool>? InNetgroup { get; init; }

    /// <summary>Receives what rsync logs while matching (a malformed mask, an address that does not parse).</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>The outcome of a hosts allow / hosts deny check.</summary>
/// <param name="Allowed">Whether the client may use the module.</param>
/// <param name="HostName">The client's name for logs: as given, or the matching list item when the name was undetermined and a forward lookup matched.</param>
public readonly record struct HostAccessResult(bool Allowed, string? HostName);

/// <summary>
/// "hosts allow" / "hosts deny" (access.c, allow_access and access_match). Each list is split on blanks and
/// commas and lower-cased; an item matches when it matches the client's host name as a wildcard pattern
/// (case-insensitive), or is "@netgroup" and the netgroup lists the host name (never the address), or is
/// an address that equals the client's, optionally with "/bits" or "/netmask" (IPv4 or IPv6). Address items are only numeric: "192.168.1.*" is a host-name pattern and never matches
/// an address. The allow list is checked first and a match admits the client; with only an allow list
/// everyone else is refused; otherwise a deny match refuses and anyone else is admitted.
/// </summary>
public sealed class HostAccess
{
    /// <summary>The host name rsync uses when the reverse lookup failed (clientname.c).</summary>
    public const string UnknownHostName = "UNKNOWN";

    /// <summary>The host name rsync uses when "reverse lookup" is off.</summary>
    public const string UndeterminedHostName = "UNDETERMINED";

    public HostAccess(string? hostsAllow, string? hostsDeny)
    {
        AllowList = string.IsNullOrEmpty(hostsAllow) ? null : hostsAllow;
        DenyList = string.IsNullOrEmpty(hostsDeny) ? null : hostsDeny;
    }

    /// <summary>The module's lists.</summary>
    public static HostAccess For(DaemonSettings module) => new(module.HostsAllow, module.HostsDeny);

    public string? AllowList { get; }

    public string? DenyList { get; }

    /// <summary>Whether the client may connect (access.c, allow_access).</summary>
    /// <param name="address">The client's numeric address (an IPv4-mapped IPv6 address counts as IPv4).</param>
    /// <param name="hostName">Its reverse-resolved name, or <see cref="UnknownHostName"/> / <see cref="UndeterminedHostName"/>; null or empty matches no name.</param>
    public HostAccessResult Check(string address, string? hostName, HostAccessOptions? options = null)
    {
        options ??= new HostAccessOptions();
        string? host = hostName;
        if (AllowList is not null)
        {
            if (Matches(AllowList, address, ref host, deny: false, options))
                return new HostAccessResult(true, host);
            if (DenyList is null)
                return new HostAccessResult(false, host);
        }
        if (DenyList is not null && Matches(DenyList, address, ref host, deny: true, options))
            return new HostAccessResult(false, host);
        return new HostAccessResult(true, host);
    }

    /// <inheritdoc cref="Check(string, string?, HostAccessOptions?)"/>
    public HostAccessResult Check(IPAddress address, string? hostName, HostAccessOptions? options = null) =>
        Check(Normalize(address).ToString(), hostName, options);

    /// <summary>Whether the client may connect.</summary>
    public bool IsAllowed(string address, string? hostName, HostAccessOptions? options = null) =>
        Check(address, hostName, options).Allowed;

    /// <summary>Whether any item of one list matches the client (access.c, access_match).</summary>
    public static bool ListMatches(string list, string address, string? hostName, HostAccessOptions? options = null)
    {
        string? host = hostName;
        return Matches(list, address, ref host, deny: false, options ?? new HostAccessOptions());
    }

    private static bool Matches(string list, string address, ref string? host, bool deny, HostAccessOptions options)
    {
        foreach (string token in ConfigTokens.SplitOn(AsciiLower(list), " ,\t"))
        {
            if (MatchHostName(ref host, address, token, deny, options) || MatchAddress(address, token, options))
                return true;
        }
        return false;
    }

    // access.c, match_hostname.
    private static bool MatchHostName(ref string? host, string address, string token, bool deny, HostAccessOptions options)
    {
        if (string.IsNullOrEmpty(host))
            return false;
        if (token.Length > 1 && token[0] == '@' && options.InNetgroup is not null)
            return options.InNetgroup(token[1..], host);
        if (WildMatch.Match(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(AsciiLower(host))))
            return true;

        if (!options.ForwardLookup || options.ResolveHostName is null)
            return false;
        // Only a plain name is looked up: not an address, not a pattern, not an address/mask.
        if (token.All(c => c is '.' or (>= '0' and <= '9')) || token.IndexOfAny([':', '/', '*', '?', '[']) >= 0)
            return false;

        IReadOnlyList<IPAddress>? resolved = options.ResolveHostName(token);
        if (resolved is null)
        {
            // A deny item that cannot be resolved counts as a match, so a DNS failure cannot admit
            // the host it names (access.c, match_hostname, rsync 3.5.0); an allow item just fails.
            return deny;
        }
        if (!TryParseClient(address, out IPAddress? client) || client.AddressFamily != AddressFamily.InterNetwork)
            return false;
        foreach (IPAddress a in resolved)
        {
            if (Normalize(a).Equals(client))
            {
                if (host == UndeterminedHostName)
                    host = token;
                return true;
            }
        }
        return false;
    }

    // access.c, match_address.
    private static bool MatchAddress(string address, string token, HostAccessOptions options)
    {
        if (string.IsNullOrEmpty(address))
            return false;

        int slash = token.IndexOf('/');
        string addrPart = slash < 0 ? token : token[..slash];
        string? maskPart = slash < 0 ? null : token[(slash + 1)..];

        // A name, not an address: no match and nothing logged.
        if (addrPart.Any(c => c is not ('.' or (>= '0' and <= '9'))) && !addrPart.Contains(':'))
            return false;

        if (!TryParseClient(address, out IPAddress? client))
            return false;
        if (!TryParseNumericHost(addrPart, out IPAddress? item))
        {
            options.Log?.Invoke($"error matching address {token}: Name or service not known");
            return false;
        }
        if (item.AddressFamily != client.AddressFamily)
            return false;
        if (item.AddressFamily == AddressFamily.InterNetworkV6 && item.ScopeId != 0 && client.ScopeId != item.ScopeId)
            return false;

        byte[] a = client.GetAddressBytes();
        byte[] t = item.GetAddressBytes();
        byte[] mask;
        if (maskPart is null)
        {
            mask = Enumerable.Repeat((byte)0xFF, a.Length).ToArray();
        }
        else if (TryParseNetmask(maskPart, item.AddressFamily, out byte[]? explicitMask))
        {
            mask = explicitMask;
        }
        else
        {
            if (!TryStrtol(maskPart, out long bits))
            {
                options.Log?.Invoke($"malformed mask in {token}");
                return false;
            }
            if (bits == 0)
                return true;
            if (bits < 0 || bits > a.Length * 8)
            {
                options.Log?.Invoke($"malformed mask in {token}");
                return false;
            }
            mask = PrefixMask((int)bits, a.Length);
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (((a[i] ^ t[i]) & mask[i]) != 0)
                return false;
        }
        return true;
    }

    private static byte[] PrefixMask(int bits, int length)
    {
        var mask = new byte[length];
        for (int i = 0; i < length; i++)
        {
            int take = Math.Clamp(bits - i * 8, 0, 8);
            mask[i] = (byte)(0xFF << (8 - take));
        }
        return mask;
    }

    /// <summary>The client address as getaddrinfo(AI_NUMERICHOST) takes it; IPv4-mapped IPv6 becomes IPv4.</summary>
    private static bool TryParseClient(string address, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? client)
    {
        if (!TryParseNumericHost(address, out client))
            return false;
        client = Normalize(client);
        return true;
    }

    private static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    /// <summary>
    /// A numeric host as glibc's getaddrinfo(AI_NUMERICHOST) reads it: IPv4 in inet_aton's forms
    /// ("10.1", octal "0177.0.0.1"), or IPv6 with an optional "%scope" (an interface name or number).
    /// </summary>
    internal static bool TryParseNumericHost(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (!text.Contains(':'))
        {
            if (!TryInetAton(text, out uint v))
                return false;
            address = new IPAddress([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
            return true;
        }

        int percent = text.IndexOf('%');
        string main = percent < 0 ? text : text[..percent];
        if (main.Length == 0 || main.Any(c => !(char.IsAsciiHexDigit(c) || c is ':' or '.')))
            return false;
        if (!IPAddress.TryParse(main, out IPAddress? parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6)
            return false;
        if (percent >= 0)
        {
            long? scope = ScopeId(text[(percent + 1)..]);
            if (scope is null)
                return false;
            parsed.ScopeId = scope.Value;
        }
        address = parsed;
        return true;
    }

    private static long? ScopeId(string scope)
    {
        if (scope.Length == 0)
            return null;
        if (scope.All(char.IsAsciiDigit))
            return uint.TryParse(scope, out uint n) ? n : null;
        try
        {
            foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.Name == scope && nic.Supports(NetworkInterfaceComponent.IPv6))
                    return nic.GetIPProperties().GetIPv6Properties().Index;
            }
        }
        catch (NetworkInformationException)
        {
        }
        return null;
    }

    /// <summary>inet_aton: one to four parts (a, a.b, a.b.c, a.b.c.d), each decimal, octal with a leading 0, or hex with 0x.</summary>
    internal static bool TryInetAton(string text, out uint value)
    {
        value = 0;
        string[] parts = text.Split('.');
        if (parts.Length > 4)
            return false;
        var nums = new uint[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!TryCNumber(parts[i], out nums[i]))
                return false;
        }
        for (int i = 0; i < nums.Length - 1; i++)
        {
            if (nums[i] > 0xFF)
                return false;
        }
        int last = nums.Length - 1;
        uint limit = last switch { 0 => uint.MaxValue, 1 => 0xFFFFFF, 2 => 0xFFFF, _ => 0xFF };
        if (nums[last] > limit)
            return false;
        for (int i = 0; i < last; i++)
            value |= nums[i] << (24 - 8 * i);
        value |= nums[last];
        return true;
    }

    private static bool TryCNumber(string s, out uint value)
    {
        value = 0;
        if (s.Length == 0)
            return false;
        int radix = 10, i = 0;
        if (s[0] == '0')
        {
            radix = 8;
            i = 1;
            if (s.Length > 1 && (s[1] == 'x' || s[1] == 'X'))
            {
                radix = 16;
                i = 2;
            }
        }
        ulong v = 0;
        for (; i < s.Length; i++)
        {
            int d = s[i] switch
            {
                >= '0' and <= '9' => s[i] - '0',
                >= 'a' and <= 'f' => s[i] - 'a' + 10,
                >= 'A' and <= 'F' => s[i] - 'A' + 10,
                _ => 99,
            };
            if (d >= radix)
                return false;
            v = v * (ulong)radix + (ulong)d;
            if (v > uint.MaxValue)
                return false;
        }
        value = (uint)v;
        return true;
    }

    /// <summary>A netmask written as an address (inet_pton: strict dotted quad, or IPv6 text).</summary>
    private static bool TryParseNetmask(string text, AddressFamily family, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? mask)
    {
        mask = null;
        if (family == AddressFamily.InterNetwork)
        {
            string[] parts = text.Split('.');
            if (parts.Length != 4)
                return false;
            var bytes = new byte[4];
            for (int i = 0; i < 4; i++)
            {
                string p = parts[i];
                if (p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit) || (p.Length > 1 && p[0] == '0'))
                    return false;
                int n = int.Parse(p, System.Globalization.CultureInfo.InvariantCulture);
                if (n > 255)
                    return false;
                bytes[i] = (byte)n;
            }
            mask = bytes;
            return true;
        }
        if (!text.Contains(':') || text.Contains('%') || !IPAddress.TryParse(text, out IPAddress? a) || a.AddressFamily != AddressFamily.InterNetworkV6)
            return false;
        mask = a.GetAddressBytes();
        return true;
    }

    /// <summary>strtol(s, &amp;end, 10) that must consume the whole (non-empty) text.</summary>
    private static bool TryStrtol(string s, out long value)
    {
        value = 0;
        int i = 0;
        while (i < s.Length && DaemonParameters.IsCSpace(s[i]))
            i++;
        bool negative = false;
        if (i < s.Length && s[i] is '+' or '-')
            negative = s[i++] == '-';
        int start = i;
        while (i < s.Length && s[i] is >= '0' and <= '9')
        {
            value = Math.Min(value * 10 + (s[i] - '0'), int.MaxValue);
            i++;
        }
        if (negative)
            value = -value;
        return s.Length > 0 && i > start && i == s.Length;
    }

    private static string AsciiLower(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
            sb.Append(c is >= 'A' and <= 'Z' ? (char)(c + 32) : c);
        return sb.ToString();
    }
}
