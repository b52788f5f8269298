using System.Runtime.InteropServices;
using NetRsync.Protocol.Hosting;
using Xunit;

namespace NetRsync.Protocol.Tests.Hosting;

public sealed partial class InstanceLockTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lock-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [LibraryImport("libc", EntryPoint = "truncate", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Truncate(string path, long length);

    [Fact]
    public void A_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go()
    {
        string path = Path.Combine(_dir, "job.lock");
        using (var first = InstanceLock.Acquire(path, "the job"))
        {
            // flock belongs to an open file, so even a second open in this process is refused.
            var refused = Assert.Throws<InstanceLockedException>(() => InstanceLock.Acquire(path, "the job again"));
            Assert.Equal(Environment.ProcessId, refused.HolderPid);
            Assert.Equal(path, refused.LockPath);
            Assert.Equal($"{Environment.ProcessId}\nthe job\n", ReadUnlocked(path));
        }
        Assert.Equal("", ReadUnlocked(path));
        using var again = InstanceLock.Acquire(path, "the job");
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void Before_the_holder_has_written_its_pid_the_kernel_names_it()
    {
        string path = Path.Combine(_dir, "job.lock");
        using var first = InstanceLock.Acquire(path, "the job");
        Assert.Equal(0, Truncate(path, 0));
        var refused = Assert.Throws<InstanceLockedException>(() => InstanceLock.Acquire(path, "the job again"));
        Assert.Equal(Environment.ProcessId, refused.HolderPid);
    }

    [Fact]
    public void A_lock_file_that_cannot_be_made_is_an_io_error_that_says_where()
    {
        string path = Path.Combine(_dir, "missing", "job.lock");
        var ex = Assert.Throws<IOException>(() => InstanceLock.Acquire(path, "the job"));
        Assert.IsNotType<InstanceLockedException>(ex);
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void A_link_in_place_of_the_lock_file_is_not_followed()
    {
        string target = Path.Combine(_dir, "elsewhere");
        File.WriteAllText(target, "keep\n");
        string path = Path.Combine(_dir, "job.lock");
        File.CreateSymbolicLink(path, target);
        Assert.Throws<IOException>(() => InstanceLock.Acquire(path, "the job"));
        Assert.Equal("keep\n", File.ReadAllText(target));
    }

    [Fact]
    public void Keyed_names_are_stable_short_and_apart()
    {
        string a = RunDirectory.KeyedFile("/run/x", "config", "push\n/etc/a.xml");
        Assert.Equal(a, RunDirectory.KeyedFile("/run/x", "config", "push\n/etc/a.xml"));
        Assert.NotEqual(a, RunDirectory.KeyedFile("/run/x", "config", "push\n/etc/b.xml"));
        Assert.Matches("^/run/x/config-[0-9a-f]{16}\\.lock$", a);
        // A name that is not UTF-8 is hashed by its bytes.
        Assert.NotEqual(RunDirectory.KeyedFile("/r", "c", "/x/\uDCFF"), RunDirectory.KeyedFile("/r", "c", "/x/\uDCFE"));
    }

    [Fact]
    public void The_run_directory_can_be_chosen_and_is_made()
    {
        string chosen = Path.Combine(_dir, "run", "deeper");
        string variable = "NETRSYNC_TEST_RUN_DIR_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, chosen);
        try
        {
            Assert.Equal(chosen, RunDirectory.For("netsersync", variable));
            Assert.True(Directory.Exists(chosen));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    /// <summary>Reads without .NET's own shared flock, which the exclusive lock would refuse.</summary>
    private static string ReadUnlocked(string path)
    {
        var start = new System.Diagnostics.ProcessStartInfo("cat", [path]) { RedirectStandardOutput = true };
        using var cat = System.Diagnostics.Process.Start(start)!;
        string text = cat.StandardOutput.ReadToEnd();
        cat.WaitForExit();
        return text;
    }
}
