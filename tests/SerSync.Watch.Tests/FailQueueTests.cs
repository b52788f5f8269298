using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NetRsync.SerSync.Sync;
using Xunit;

namespace NetRsync.SerSync.Tests;

public sealed class FailQueueTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("netsersync-queue-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<byte[], ChangeFlags> Paths(params string[] names) =>
        N.Paths([.. names.Select(n => (n, ChangeFlags.Update))]);

    [Fact]
    public void OutstandingPushesSurviveAReopen()
    {
        string path = Path.Combine(_dir, "fail.log");
        using (var queue = FailQueue.Open(path))
        {
            long a = queue.Add("h::m", "/src", Paths("a", "b"));
            long b = queue.Add("h::m", "/src", N.Paths(("gone", ChangeFlags.MayRemove)));
            queue.Add("h2::m", "/src", Paths("c"));
            queue.Done(a);
            Assert.Equal(2, queue.Depth);
            Assert.NotEqual(a, b);
        }
        using var reopened = FailQueue.Open(path);
        Assert.Equal(2, reopened.Recovered.Count);
        Assert.Equal(ChangeFlags.MayRemove, reopened.Recovered[0].Paths[N.B("gone")]);
        Assert.Equal("h2::m", reopened.Recovered[1].Remote);
        Assert.Equal(2, reopened.Depth);
        // New ids never reuse old ones.
        Assert.True(reopened.Add("h::m", "/src", Paths("d")) > reopened.Recovered.Max(p => p.Id));
    }

    [Fact]
    public void ATornLastLineIsSkipped()
    {
        string path = Path.Combine(_dir, "fail.log");
        using (var queue = FailQueue.Open(path))
            queue.Add("h::m", "/src", Paths("a"));
        File.AppendAllText(path, "{\"op\":\"add\",\"id\":9,\"remo");
        using var reopened = FailQueue.Open(path);
        Assert.Equal(["a"], N.S(Assert.Single(reopened.Recovered).Paths.Keys));
    }

    [Fact]
    public void AnOldSersyncScriptIsKeptAside()
    {
        string path = Path.Combine(_dir, "rsync_fail_log.sh");
        string script = "#errno 2560\ncd /syncdir && rsync -artuz -R \"./a.txt\" 10.0.0.2::rsync\n";
        File.WriteAllText(path, script);
        using var queue = FailQueue.Open(path);
        Assert.Empty(queue.Recovered);
        Assert.Equal(script, File.ReadAllText(path + ".unreadable"));
        queue.Add("h::m", "/src", Paths("a"));
        Assert.Contains("\"op\":\"add\"", File.ReadAllText(path));
    }

    [Fact]
    public void QueuesWrittenBeforeRawPathsStillReplay()
    {
        string path = Path.Combine(_dir, "fail.log");
        // Lines as the earlier format wrote them: every name a key of "paths".
        File.WriteAllText(path, """
            {"op":"add","id":3,"remote":"h::m","root":"/src","paths":{"dir/caf\u00E9":1,"gone":2}}
            {"op":"add","id":4,"remote":"h::m","root":"/src","paths":{"x":1}}
            {"op":"done","id":4}

            """);
        using (var queue = FailQueue.Open(path))
        {
            var push = Assert.Single(queue.Recovered);
            Assert.Equal(3, push.Id);
            Assert.Equal(ChangeFlags.Update, push.Paths[[.. "dir/caf"u8, 0xC3, 0xA9]]);
            Assert.Equal(ChangeFlags.MayRemove, push.Paths[N.B("gone")]);
            queue.Add("h::m", "/src", new Dictionary<byte[], ChangeFlags>(Names.Comparer) { [[0x63, 0x61, 0x66, 0xE9]] = ChangeFlags.Update, [N.B("plain")] = ChangeFlags.Update });
        }
        // Valid UTF-8 stays readable text; the rest goes base64 beside it.
        string text = File.ReadAllText(path);
        Assert.Contains("\"paths\":{\"plain\":1}", text);
        Assert.Contains("\"rawPaths\":{\"Y2Fm6Q==\":1}", text);
        using var reopened = FailQueue.Open(path);
        Assert.Equal(2, reopened.Recovered.Count);
        Assert.Equal(ChangeFlags.Update, reopened.Recovered[1].Paths[[0x63, 0x61, 0x66, 0xE9]]);
    }

    [Fact]
    public void WithoutAPathTheQueueIsInMemory()
    {
        using var queue = FailQueue.Open(null);
        long id = queue.Add("h::m", "/src", Paths("a"));
        Assert.Equal(1, queue.Depth);
        queue.Done(id);
        Assert.Equal(0, queue.Depth);
    }

    [Property(MaxTest = 30)]
    public Property ReplayEqualsTheModel() =>
        Prop.ForAll(Gen.ListOf(Gen.Choose(0, 9)).Select(l => l.ToArray()).ToArbitrary(), steps =>
        {
            string path = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
            var model = new Dictionary<long, string>();
            using (var queue = FailQueue.Open(path))
            {
                foreach (int step in steps)
                {
                    if (step < 6 || model.Count == 0)
                    {
                        string name = "p" + step;
                        model[queue.Add("h::m", "/src", Paths(name))] = name;
                    }
                    else
                    {
                        long victim = model.Keys.ElementAt(step % model.Count);
                        queue.Done(victim);
                        model.Remove(victim);
                    }
                }
            }
            using var reopened = FailQueue.Open(path);
            return reopened.Recovered.Select(p => (p.Id, N.S(p.Paths.Keys.Single()))).SequenceEqual(model.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)));
        });
}
