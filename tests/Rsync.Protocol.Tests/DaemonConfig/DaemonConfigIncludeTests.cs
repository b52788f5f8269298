using System.Text;
using NetRsync.Protocol.Daemon.Config;
using Xunit;
using Config = NetRsync.Protocol.Daemon.Config.DaemonConfig;

// Not named after the folder: a namespace called DaemonConfig would hide the DaemonConfig class from other tests.
namespace NetRsync.Protocol.Tests.DaemonConfiguration;

public sealed class DaemonConfigIncludeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("netrsync-dconf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Encoding.UTF8.GetBytes(content));
        return path;
    }

    private static string Summary(Config c) => string.Join(" | ", c.Modules.Select(m => $"{m.Name}={m.Comment}"));

    [Fact]
    public void IncludeAndMergeOfFilesAndDirectoriesMatchRsync()
    {
        // The same layout was listed by rsync 3.5.0 and 3.1.1 daemons; this is what both showed
        // (m1 is hidden there by "list = no", so it is checked separately).
        Write("inc1.conf", "comment = inc-global\n[m4]\npath = /tmp\n");
        Write("merge1.inc", "comment = merged\n");
        Write("incdir/b.conf", "comment = from-b\n[db]\npath=/tmp\n");
        Write("incdir/a.conf", "comment = from-a\n[da]\npath=/tmp\n[dx]\npath=/tmp\n");
        Write("incdir/c.inc", "[ignored]\npath=/tmp\n");
        Write("mrgdir/a.inc", "comment = m-a\n");
        Write("mrgdir/b.inc", "max verbosity = 3\n[mz]\npath=/tmp\n");
        Write("mrgdir/c.conf", "[ignored2]\npath=/tmp\n");
        string main = Write("rsyncd.conf", $"""
            comment = g0
            [m1]
            path = /tmp
            &include {_dir}/inc1.conf
            comment = after-include
            [m2]
            path = /tmp
            &merge {_dir}/merge1.inc
            [m3]
            path=/tmp
            &include {_dir}/incdir
            [m5]
            path=/tmp
            &merge {_dir}/mrgdir
            [m1]
            list = no
            """);

        Config c = Config.Load(main);

        Assert.Empty(c.Warnings);
        Assert.Equal(
            "m1=g0 | m4=inc-global | m2=merged | m3=after-include | da=from-a | dx=from-a | db=from-b | m5=m-a | mz=after-include",
            Summary(c));
        Assert.Equal(["m4", "m2", "m3", "da", "dx", "db", "m5", "mz"], c.Modules.Where(m => m.List).Select(m => m.Name));
        Assert.Equal(3, c.FindModule("m5")!.MaxVerbosity);
        Assert.Equal(1, c.FindModule("mz")!.MaxVerbosity);
        Assert.Null(c.FindModule("ignored"));
        Assert.Null(c.FindModule("ignored2"));
        Assert.Equal("after-include", c.Global.Comment);
    }

    [Fact]
    public void IncludedFileStartsFromTheParentsDefaultsAndLeavesThemAlone()
    {
        string inc = Write("mod.conf", "timeout = 99\nmotd file = /inc/motd\n[inc]\npath = /inc\n");
        string main = Write("main.conf", $"timeout = 5\nread only = no\n&include {inc}\n[after]\npath = /after\n");

        Config c = Config.Load(main);

        DaemonModule included = c.FindModule("inc")!;
        Assert.Equal(99, included.Timeout);
        Assert.False(included.ReadOnly);
        Assert.Equal(5, c.FindModule("after")!.Timeout);
        // Even daemon-wide settings made in an included file are dropped with its defaults (use &merge for those).
        Assert.Null(c.Global.MotdFile);
    }

    [Fact]
    public void MergedFileActsAsIfPastedIn()
    {
        string inc = Write("snippet.inc", "read only = no\nmotd file = /m/motd\n");
        string main = Write("main.conf", $"[a]\npath = /a\n&merge {inc}\n[b]\npath = /b\n[global]\n&merge {inc}\n[c]\npath = /c\n");

        Config c = Config.Load(main);

        Assert.False(c.FindModule("a")!.ReadOnly);
        Assert.True(c.FindModule("b")!.ReadOnly);
        Assert.False(c.FindModule("c")!.ReadOnly);
        Assert.Equal("/m/motd", c.Global.MotdFile);
        // In module [a] the merged "motd file" is a global parameter in a module section.
        DaemonConfigDiagnostic w = Assert.Single(c.Warnings);
        Assert.Equal(inc, w.FileName);
        Assert.Equal(2, w.Line);
    }

    [Fact]
    public void ParametersAfterAnIncludeLineGoToTheGlobalSection()
    {
        // rsync returns to the global context after an &include, even in the middle of a module.
        string inc = Write("x.conf", "[x]\npath = /x\n");
        string main = Write("main.conf", $"[a]\npath = /a\n&include {inc}\ncomment = after\n[b]\npath = /b\n");

        Config c = Config.Load(main);

        Assert.Equal("after", c.Global.Comment);
        Assert.Equal("after", c.FindModule("b")!.Comment);
        Assert.Equal("after", c.FindModule("a")!.Comment); // never set in [a]: falls back to the global string
        Assert.Equal(["a", "x", "b"], c.Modules.Select(m => m.Name));
    }

    [Fact]
    public void DirectoryFilesAreReadInNameOrderEachFromTheSameDefaults()
    {
        Write("d/20-b.conf", "timeout = 20\n[b]\npath=/b\n");
        Write("d/10-a.conf", "[a]\npath=/a\n");
        Write("d/30-c.conf", "[c]\npath=/c\n");
        Write("d/README", "this is not = a config\n[nope]\n");
        Write("d/99.conf.bak", "[bak]\n");
        string main = Write("main.conf", $"timeout = 1\n&include {_dir}/d/\n");

        Config c = Config.Load(main);

        Assert.Equal(["a", "b", "c"], c.Modules.Select(m => m.Name));
        Assert.Equal(20, c.FindModule("b")!.Timeout);
        Assert.Equal(1, c.FindModule("c")!.Timeout);
        Assert.Equal(1, c.Global.Timeout);
    }

    [Fact]
    public void EmptyDirectoryIncludesNothing()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "empty"));
        string main = Write("main.conf", $"&include {_dir}/empty\n&merge {_dir}/empty\n[m]\npath=/m\n");
        Config c = Config.Load(main);
        Assert.Single(c.Modules);
        Assert.Empty(c.Warnings);
    }

    [Fact]
    public void DirectiveSpellings()
    {
        string inc = Write("x.inc", "timeout = 7\n");
        Assert.Equal(7, Config.Parse($"&MERGE {inc}\n", "t").Global.Timeout);
        Assert.Equal(7, Config.Parse($"&merge = {inc}\n", "t").Global.Timeout);
        Assert.Equal(7, Config.Parse($"&merge={inc}\n", "t").Global.Timeout);
        Assert.Equal(7, Config.Parse($"  &merge\t  {inc}   \n", "t").Global.Timeout);
    }

    [Fact]
    public void ErrorsInAnIncludedFileNameThatFile()
    {
        string inc = Write("bad.conf", "# ok\n[ok]\npath=/ok\nbogus = 1\n[bad/name]\n");
        string main = Write("main.conf", $"[m]\npath=/m\n&include {inc}\n");

        var ex = Assert.Throws<DaemonConfigException>(() => Config.Load(main));

        Assert.Equal(inc, ex.FileName);
        Assert.Equal(5, ex.Line);
        Assert.Equal($"{inc}:5: invalid section name in configuration file: bad/name", ex.Message);

        var strict = Assert.Throws<DaemonConfigException>(() => Config.Load(main, new DaemonConfigOptions { Strict = true }));
        Assert.Equal(4, strict.Line);
        Assert.Equal(inc, strict.FileName);
    }

    [Fact]
    public void WarningsInIncludedFilesNameThoseFiles()
    {
        string inc = Write("w.inc", "\n\nread only = perhaps\n");
        string main = Write("main.conf", $"[m]\npath=/m\n&merge {inc}\nnope = 1\n");

        Config c = Config.Load(main);

        Assert.Equal([$"{inc}:3", $"{main}:4"], c.Warnings.Select(w => $"{w.FileName}:{w.Line}"));
    }

    [Fact]
    public void MissingIncludeIsFatalAtTheDirectiveLine()
    {
        string main = Write("main.conf", $"[m]\npath=/m\n\n&include {_dir}/missing.conf\n");
        var ex = Assert.Throws<DaemonConfigException>(() => Config.Load(main));
        Assert.Equal(main, ex.FileName);
        Assert.Equal(4, ex.Line);
        Assert.Equal($"unable to stat config file \"{_dir}/missing.conf\": No such file or directory (2)", ex.Detail);
    }

    [Fact]
    public void SelfIncludeIsStoppedInsteadOfRecursingForever()
    {
        string main = Path.Combine(_dir, "loop.conf");
        Write("loop.conf", $"&merge {main}\n");
        var ex = Assert.Throws<DaemonConfigException>(() => Config.Load(main));
        Assert.Contains("nested more than", ex.Detail);
    }

    [Fact]
    public void GlobalsOnlyStopsInsideAnIncludedFileToo()
    {
        string inc = Write("g.inc", "port = 2000\n[m]\nport = 3000\n");
        string main = Write("main.conf", $"port = 1000\n&merge {inc}\nport = 4000\n");
        Config c = Config.Load(main, new DaemonConfigOptions { GlobalsOnly = true });
        Assert.Equal(2000, c.Global.Port);
        Assert.Empty(c.Modules);
    }
}
