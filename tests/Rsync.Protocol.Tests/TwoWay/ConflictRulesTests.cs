using System.Text;
using NetRsync.Protocol.Daemon.Config;
using NetRsync.Protocol.TwoWay;
using Xunit;

namespace NetRsync.Protocol.Tests.TwoWay;

public sealed class ConflictRulesTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Theory]
    // The newer modification time wins.
    [InlineData(100, 0, 5, 200, 0, 5, true, ConflictWinner.Incoming)]
    [InlineData(300, 0, 5, 200, 0, 5, true, ConflictWinner.Local)]
    // Nanoseconds count where the protocol carries them...
    [InlineData(100, 500, 5, 100, 400, 5, true, ConflictWinner.Local)]
    [InlineData(100, 400, 5, 100, 500, 5, true, ConflictWinner.Incoming)]
    // ...and not where it does not (protocol 30): then the size decides.
    [InlineData(100, 500, 5, 100, 0, 9, false, ConflictWinner.Incoming)]
    // A tie in time goes to the larger file.
    [InlineData(100, 0, 10, 100, 0, 9, true, ConflictWinner.Local)]
    [InlineData(100, 0, 9, 100, 0, 10, true, ConflictWinner.Incoming)]
    // Same time and size: the quick check's "same file".
    [InlineData(100, 7, 9, 100, 7, 9, true, ConflictWinner.Same)]
    [InlineData(100, 7, 9, 100, 3, 9, false, ConflictWinner.Same)]
    // A time of a bigger file never beats a newer time.
    [InlineData(99, 999_999_999, 1_000_000, 100, 0, 1, true, ConflictWinner.Incoming)]
    public void The_newer_wins_then_the_larger(long ls, int lns, long lsize, long ins, int inns, long insize, bool nanoseconds, ConflictWinner expected) =>
        Assert.Equal(expected, ConflictRules.Decide(ls, lns, lsize, ins, inns, insize, nanoseconds));

    [Fact]
    public void The_decision_is_the_same_from_both_sides()
    {
        // Each node decides with the roles swapped; they must agree on which version survives.
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            long s1 = rng.Next(3), s2 = rng.Next(3), z1 = rng.Next(3), z2 = rng.Next(3);
            int n1 = rng.Next(2), n2 = rng.Next(2);
            var here = ConflictRules.Decide(s1, n1, z1, s2, n2, z2, nanoseconds: true);
            var there = ConflictRules.Decide(s2, n2, z2, s1, n1, z1, nanoseconds: true);
            Assert.Equal(here switch { ConflictWinner.Local => ConflictWinner.Incoming, ConflictWinner.Incoming => ConflictWinner.Local, _ => ConflictWinner.Same }, there);
        }
    }

    [Fact]
    public void A_copy_is_named_after_the_loser_and_its_time_in_utc()
    {
        long time = new DateTimeOffset(2024, 3, 9, 7, 5, 3, TimeSpan.Zero).ToUnixTimeSeconds();
        Assert.Equal("report.txt.conflict-nodeA-20240309-070503", Encoding.UTF8.GetString(ConflictRules.CopyName(B("report.txt"), "nodeA", time)));
        Assert.Equal("report.txt.conflict-10.0.0.2-20240309-070503-1", Encoding.UTF8.GetString(ConflictRules.CopyName(B("report.txt"), "10.0.0.2", time, attempt: 1)));
        Assert.Equal("report.txt.conflict-nodeA-20240309-070503-12", Encoding.UTF8.GetString(ConflictRules.CopyName(B("report.txt"), "nodeA", time, attempt: 12)));
        Assert.Equal("a/b/c.conflict-h-19700101-000000", Encoding.UTF8.GetString(ConflictRules.CopyPath(B("a/b/c"), "h", 0)));
        // A name with '/' cannot be part of one name.
        Assert.Equal("c.conflict-a_b-19700101-000000", Encoding.UTF8.GetString(ConflictRules.CopyName(B("c"), "a/b", 0)));
    }

    [Fact]
    public void Every_attempt_gives_a_different_name()
    {
        var names = Enumerable.Range(0, 1000).Select(a => Convert.ToHexString(ConflictRules.CopyName(B("x"), "h", 1, a))).ToHashSet();
        Assert.Equal(1000, names.Count);
    }

    [Fact]
    public void Name_bytes_are_kept_and_a_long_name_is_shortened_to_fit_name_max()
    {
        byte[] latin1 = [(byte)'r', 0xE9, (byte)'s', 0xFF];
        byte[] copy = ConflictRules.CopyName(latin1, "h", 0);
        Assert.Equal(latin1, copy[..4]);

        byte[] longName = [.. Enumerable.Repeat((byte)'n', 255)];
        byte[] shortened = ConflictRules.CopyName(longName, "host", 0, attempt: 3);
        Assert.Equal(ConflictRules.MaxNameLength, shortened.Length);
        Assert.EndsWith(".conflict-host-19700101-000000-3", Encoding.UTF8.GetString(shortened), StringComparison.Ordinal);

        // Never cut inside a UTF-8 character: "é" is two bytes.
        byte[] accents = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("é", 127)));
        byte[] cut = ConflictRules.CopyName(accents, "host", 0);
        Assert.True(cut.Length <= ConflictRules.MaxNameLength);
        string text = Encoding.UTF8.GetString(cut);
        Assert.DoesNotContain('\uFFFD', text);
        Assert.EndsWith(".conflict-host-19700101-000000", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Conflict_copies_is_a_module_parameter_on_by_default()
    {
        var config = DaemonConfig.Parse("[on]\npath = /tmp\n[off]\npath = /tmp\nconflict copies = no\n", "rsyncd.conf");
        Assert.True(config.FindModule("on")!.ConflictCopies);
        Assert.False(config.FindModule("off")!.ConflictCopies);
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", "127.0.0.1")]
    [InlineData("::ffff:127.0.0.1", "127.0.0.1", "127.0.0.1")]
    [InlineData("::1", "::1", "::1")]
    public void BothNodesNameAVersionAfterTheAddressItsNodeHasTowardTheOther(string peerAddress, string local, string peer)
    {
        Assert.Equal((local, peer), ConflictRules.NamesToward(peerAddress));
    }

    [Fact]
    public void WithoutAnAddressTheHostNameStandsIn()
    {
        Assert.Equal((ConflictRules.LocalHostName(), "some-name"), ConflictRules.NamesToward("some-name"));
    }
}
