using System.Text;
using NetRsync.Protocol.Roles;
using Xunit;

namespace NetRsync.Protocol.Tests.Roles;

/// <summary>--fuzzy's choice of a basis, as rsync 3.1.1 makes it (generator.c, find_fuzzy; util.c).</summary>
public sealed class FuzzyBasisTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static string Suffix(string name) => Encoding.UTF8.GetString(FuzzyBasis.Suffix(B(name)));

    [Theory]
    [InlineData("report.txt", ".txt")]
    [InlineData("report.txt.bak", ".txt")]
    [InlineData("report.tar.orig", ".tar")]
    [InlineData("notes.old", "")]
    [InlineData(".bashrc", "")]
    [InlineData("..hidden.c", ".c")]
    [InlineData("log.2", ".2")]
    [InlineData("app.log.2", ".log")]
    [InlineData("file.c~", ".c")]
    [InlineData("file.c.~3~", ".c")]
    [InlineData("noext", "")]
    public void TheSuffixIsTheLastSignificantOne(string name, string suffix) => Assert.Equal(suffix, Suffix(name));

    [Fact]
    public void DistanceCountsEditsThenByteValues()
    {
        const uint unit = 1 << 16;
        Assert.Equal(0u, FuzzyBasis.Distance(B("same"), B("same")));
        Assert.Equal(unit + 1, FuzzyBasis.Distance(B("a1"), B("a2")));
        Assert.Equal(2 * unit + 'a' + 'b', FuzzyBasis.Distance(B("ab"), B("")));
        Assert.True(FuzzyBasis.Distance(B("report-v1.dat"), B("report-v2.dat")) < FuzzyBasis.Distance(B("other.dat"), B("report-v2.dat")));
        foreach (var (a, b) in new[] { ("kitten", "sitting"), ("report.txt", "rapport.text"), ("a", "zzz") })
            Assert.Equal(FullTable(B(a), B(b)), FuzzyBasis.Distance(B(a), B(b)));
    }

    /// <summary>The same recurrence over the whole table, written out plainly, as the one-row version's reference.</summary>
    private static uint FullTable(byte[] a, byte[] b)
    {
        const uint unit = 1 << 16;
        var d = new uint[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
            d[i, 0] = (uint)i * unit;
        for (int j = 0; j <= b.Length; j++)
            d[0, j] = (uint)j * unit;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int diff = a[i - 1] - b[j - 1];
                uint change = diff == 0 ? 0 : unit + (uint)Math.Abs(diff);
                uint diagonal = d[i - 1, j - 1] + change;
                uint left = d[i - 1, j] + unit + a[i - 1];
                uint above = d[i, j - 1] + unit + b[j - 1];
                d[i, j] = d[i - 1, j] < d[i, j - 1] ? Math.Min(left, diagonal) : Math.Min(above, diagonal);
            }
        }
        return d[a.Length, b.Length];
    }

    [Fact]
    public void SameSizeAndTimeWinsThenTheNearestName()
    {
        var candidates = new List<FuzzyBasis.Candidate>
        {
            new(B("report-v1.dat"), 100, 5),
            new(B("unrelated.bin"), 200, 7),
            new(B("empty.dat"), 0, 7),
        };
        Assert.Equal(1, FuzzyBasis.Choose(B("renamed.xyz"), 200, 7, candidates, _ => true));
        Assert.Equal(0, FuzzyBasis.Choose(B("report-v2.dat"), 150, 9, candidates, _ => true));
        // A file about to change, or an empty one, is no basis.
        Assert.Equal(-1, FuzzyBasis.Choose(B("report-v2.dat"), 150, 9, candidates, i => i != 0 && i != 1));
        // Nothing within a distance of 25 edits.
        Assert.Equal(-1, FuzzyBasis.Choose(B(new string('q', 40) + ".zzz"), 1, 1, candidates, _ => true));
    }
}
