namespace NetRsync.Protocol.Tests;

/// <summary>The deployment's own config files, kept in tests/fixtures/seed.</summary>
internal static class SeedFiles
{
    public static string RsyncdConf => Locate("rsyncd.conf");

    private static string Locate(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "seed", name);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException($"tests/fixtures/seed/{name} not found above {AppContext.BaseDirectory}");
    }
}
