using Xunit;

namespace NetRsync.Interop.Tests;

/// <summary>The stock rsync binaries the suite runs against: Debian's <c>rsync</c> found on PATH, plus
/// every path in the colon-separated env <c>RSYNC_PEERS</c>.
///
/// Never skips: test data is built without throwing (a discovery-time exception would hide the
/// cases), and a peer that is missing is still emitted as a case; <see cref="Resolve"/>, which every
/// test calls first, then FAILS that case with a message saying what is missing.</summary>
public static class RsyncPeers
{
    /// <summary>Placeholder case for "Debian's rsync is not on PATH".</summary>
    public const string MissingDebianRsync = "rsync (NOT FOUND ON PATH)";

    /// <summary>Protocol cell meaning "no --protocol option".</summary>
    public const string DefaultProtocol = "default";

    /// <summary>The protocol cells of the matrix: 30, 31 and none.</summary>
    public static IReadOnlyList<string> Protocols { get; } = ["30", "31", DefaultProtocol];

    /// <summary>Debian's rsync: the first executable "rsync" on PATH, or <see cref="MissingDebianRsync"/>.</summary>
    public static string DebianRsync => FindOnPath("rsync") ?? MissingDebianRsync;

    /// <summary>Parses an RSYNC_PEERS value: colon-separated paths; empty items are ignored.</summary>
    public static IReadOnlyList<string> ParsePeerList(string? value) =>
        string.IsNullOrWhiteSpace(value)
            ? []
            : value.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>All peers: Debian's rsync first, then RSYNC_PEERS in order, without duplicates.</summary>
    public static IReadOnlyList<string> All
    {
        get
        {
            var list = new List<string> { DebianRsync };
            foreach (string p in ParsePeerList(Environment.GetEnvironmentVariable("RSYNC_PEERS")))
            {
                string full = Path.IsPathRooted(p) ? p : Path.GetFullPath(p);
                if (!list.Contains(full, StringComparer.Ordinal))
                {
                    list.Add(full);
                }
            }
            return list;
        }
    }

    /// <summary>Each peer × protocol (30, 31, default) as its own case.</summary>
    public static TheoryData<string, string> PeersAndProtocols
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in All)
            {
                foreach (string protocol in Protocols)
                {
                    data.Add(peer, protocol);
                }
            }
            return data;
        }
    }

    /// <summary>Each peer × {default, 30}.</summary>
    public static TheoryData<string, string> PeersDefaultAnd30
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string peer in All)
            {
                data.Add(peer, DefaultProtocol);
                data.Add(peer, "30");
            }
            return data;
        }
    }

    /// <summary>Each peer once (default protocol).</summary>
    public static TheoryData<string> Peers
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string peer in All)
            {
                data.Add(peer);
            }
            return data;
        }
    }

    /// <summary>Debian's rsync only.</summary>
    public static TheoryData<string> DebianPeerOnly => new() { DebianRsync };

    /// <summary>Checks that a peer case names an existing executable and returns its path;
    /// fails the test (never skips) otherwise.</summary>
    public static string Resolve(string peer)
    {
        if (peer == MissingDebianRsync)
        {
            Assert.Fail($"Debian's rsync was not found on PATH ({Environment.GetEnvironmentVariable("PATH")}); install it (apt-get install rsync): the interop suite requires it.");
        }
        if (!File.Exists(peer))
        {
            Assert.Fail($"rsync peer '{peer}' (listed in RSYNC_PEERS='{Environment.GetEnvironmentVariable("RSYNC_PEERS")}') does not exist.");
        }
        if ((File.GetUnixFileMode(peer) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) == 0)
        {
            Assert.Fail($"rsync peer '{peer}' is not executable.");
        }
        return peer;
    }

    /// <summary>The <c>--protocol=N</c> option for a protocol cell, or nothing for the default.</summary>
    public static string[] ProtocolArgs(string protocol) =>
        protocol == DefaultProtocol ? [] : [$"--protocol={protocol}"];

    /// <summary>Protocol 30 carries whole-second mtimes only; 31 and up carry nanoseconds. The default
    /// cell negotiates 31 or more with every peer we use (a protocol-32 daemon talking to our client,
    /// which offers 31, speaks 31).</summary>
    public static bool CarriesNanoseconds(string protocol) => protocol != "30";

    /// <summary>Tree comparison options for a push at this protocol into a <see cref="StockDaemon"/>
    /// module with <c>use chroot = no</c> (which sanitizes symlink targets).</summary>
    public static TreeCompareOptions CompareOptionsFor(string protocol) =>
        new() { CompareNanoseconds = CarriesNanoseconds(protocol), ExpectSanitizedSymlinks = true };

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Version> Versions = new();

    /// <summary>The peer's version, from <c>PEER --version</c> (cached).</summary>
    public static Version VersionOf(string peer) => Versions.GetOrAdd(Resolve(peer), p =>
    {
        var psi = new System.Diagnostics.ProcessStartInfo(p, "--version") { RedirectStandardOutput = true, UseShellExecute = false };
        using var process = System.Diagnostics.Process.Start(psi)!;
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var m = System.Text.RegularExpressions.Regex.Match(text, @"rsync\s+version\s+v?(\d+)\.(\d+)\.(\d+)");
        if (!m.Success)
        {
            Assert.Fail($"cannot tell the version of rsync peer '{p}' from its --version output:\n{text}");
        }
        return new Version(int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value), int.Parse(m.Groups[3].Value));
    });

    private static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
