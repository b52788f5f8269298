using NetRsync.Protocol.Tests.Fuzz;
using SharpFuzz;

// Usage: Rsync.Fuzz HARNESS            run under afl-fuzz (input on stdin / AFL's shared memory)
//        Rsync.Fuzz HARNESS FILE...    run files once each and report the unexpected failures
//        Rsync.Fuzz --seeds DIR        write the starting inputs to DIR/HARNESS/
if (args.Length == 2 && args[0] == "--seeds")
{
    foreach (var (harnessName, seedName, data) in FuzzSeeds.All())
    {
        string dir = Path.Combine(args[1], harnessName);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "seed-" + seedName), data);
    }
    return 0;
}

if (args.Length == 0 || !FuzzHarnesses.All.TryGetValue(args[0], out var harness))
{
    Console.Error.WriteLine($"usage: Rsync.Fuzz {{{string.Join('|', FuzzHarnesses.All.Keys)}}} [FILE...]");
    return 2;
}

if (args.Length > 1)
{
    int failures = 0;
    foreach (string path in args.Skip(1))
    {
        try
        {
            FuzzHarnesses.Run(args[0], File.ReadAllBytes(path));
        }
        catch (Exception ex)
        {
            failures++;
            Console.WriteLine($"{path}: {ex.GetType().FullName}: {ex.Message}");
            Console.WriteLine(ex.StackTrace);
        }
    }
    return failures == 0 ? 0 : 1;
}

string name = args[0];
Fuzzer.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    FuzzHarnesses.Run(name, buffer.ToArray());
});
return 0;
