using NetRsync.Protocol.Hosting;

// netrsyncd: rsync --daemon's command line (options.c, daemon_usage), serving rsyncd.conf as rsync reads it.
var program = new DaemonProgram(
    Name: "netrsyncd",
    ModeArguments: [],
    Usage: """
        Usage: netrsyncd [--config=FILE] [--port=PORT] [--address=ADDRESS] [--no-detach]
                         [--log-file=FILE] [--dparam=OVERRIDE] [--health]
        A drop-in rsync daemon: serves the modules of rsyncd.conf (default /etc/rsyncd.conf)
        to rsync clients speaking protocol 30 or newer.
          --health   check that the daemon this config describes answers on its port
                     (exit 0 when it greets within 3 seconds, else 1), for healthchecks
        """,
    Version: "netrsyncd  version 0.1.0  protocol version 31",
    RequiresDaemonOption: false);
args = NetRsync.Protocol.Text.RawArguments.Recover(args);
// A remote shell starts "netrsyncd --server --daemon ." for a client that gave -e with a daemon address.
if (args.Contains("--server"))
    return DaemonHost.ServeOverShell(args, program);
return await DaemonHost.RunAsync(args, program);
