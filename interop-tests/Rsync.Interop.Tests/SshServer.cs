using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace NetRsync.Interop.Tests;

/// <summary>
/// Debian's OpenSSH server on 127.0.0.1 and a free port, in the foreground with a config of its own:
/// a generated host key, and a generated user key authorized for the current user. Ready when it
/// answers with its "SSH-2.0-" banner (polled, with a deadline). <see cref="Rsh"/> is the -e value
/// that reaches it without prompts or known-hosts files. scripts/ensure-ssh.sh installs it; a missing
/// sshd fails the test rather than skipping it.
/// </summary>
public sealed class SshServer : IAsyncDisposable
{
    private const string Sshd = "/usr/sbin/sshd";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly TempDir _dir;
    private readonly StringBuilder _log;

    private SshServer(Process process, TempDir dir, int port, string userKey, StringBuilder log)
    {
        _process = process;
        _dir = dir;
        Port = port;
        UserKey = userKey;
        _log = log;
    }

    public int Port { get; }

    public string UserKey { get; }

    /// <summary>The remote shell for -e / RSYNC_RSH: ssh to this server with its own key, no questions asked.</summary>
    public string Rsh =>
        $"ssh -p {Port} -i {UserKey} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes";

    /// <summary>What sshd said (-e: its log goes to stderr).</summary>
    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    public static async Task<SshServer> StartAsync()
    {
        Assert.True(File.Exists(Sshd), $"{Sshd} is missing: run scripts/ensure-ssh.sh (apt-get install openssh-server); the remote-shell tests need it");
        var dir = new TempDir();
        try
        {
            string hostKey = dir.File("host_ed25519");
            string userKey = dir.File("user_ed25519");
            await KeyGen(hostKey);
            await KeyGen(userKey);
            string authorized = dir.File("authorized_keys");
            File.Copy(userKey + ".pub", authorized);
            Posix.Chmod(authorized, Posix.Mode("600"));
            Posix.Chmod(userKey, Posix.Mode("600"));
            // The privilege-separation directory sshd insists on (the package makes it at boot).
            Directory.CreateDirectory("/run/sshd");

            int port = StockDaemon.FreePort();
            string config = dir.File("sshd_config");
            File.WriteAllText(config, string.Join('\n',
                $"Port {port}",
                "ListenAddress 127.0.0.1",
                $"HostKey {hostKey}",
                $"AuthorizedKeysFile {authorized}",
                $"PidFile {dir.File("sshd.pid")}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "PrintMotd no",
                "PrintLastLog no",
                "UseDNS no",
                // The tests' own environment reaches the far end: PATH, so "rsync" is Debian's.
                "PermitUserEnvironment no",
                "AcceptEnv LANG LC_*",
                "Subsystem sftp internal-sftp",
                "") + "\n");

            var log = new StringBuilder();
            var info = new ProcessStartInfo(Sshd)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (string arg in new[] { "-D", "-e", "-f", config })
                info.ArgumentList.Add(arg);
            var process = Process.Start(info)!;
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var server = new SshServer(process, dir, port, userKey, log);
            await server.WaitUntilReadyAsync();
            return server;
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Assert.False(_process.HasExited, $"sshd exited with {(_process.HasExited ? _process.ExitCode : 0)}:\n{Log}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port);
                var buffer = new byte[8];
                int n = await client.GetStream().ReadAtLeastAsync(buffer, 8, throwOnEndOfStream: false);
                if (n == 8 && Encoding.ASCII.GetString(buffer).StartsWith("SSH-2.0-", StringComparison.Ordinal))
                    return;
            }
            catch (SocketException)
            {
            }
            Assert.True(clock.Elapsed < StartDeadline, $"sshd did not answer on 127.0.0.1:{Port} within {StartDeadline.TotalSeconds:F0} s:\n{Log}");
            await Task.Delay(50); // poll interval
        }
    }

    private static async Task KeyGen(string path)
    {
        var r = await ProcessRunner.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "netrsync-test", "-f", path]);
        Assert.True(r.ExitCode == 0, $"ssh-keygen failed:\n{r}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _dir.Dispose();
    }
}
