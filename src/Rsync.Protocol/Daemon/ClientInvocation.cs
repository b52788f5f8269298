using NetRsync.Protocol.Options;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Daemon;

/// <summary>
/// What a client asked the daemon to do, from the arguments it sent: "--server [--sender]
/// -FLAGSe.CAPS [--long ...] . MODULE/PATH..." (options.c, parse_arguments in server mode).
/// </summary>
internal sealed record ClientInvocation(RsyncOptions Options, bool IsSender, string Capabilities, IReadOnlyList<string> Paths)
{
    public static ClientInvocation Parse(IReadOnlyList<string> args)
    {
        bool server = false;
        bool sender = false;
        string capabilities = "";
        bool filesFromStdin = false;
        var rest = new List<string>();
        bool positionalStarted = false;
        foreach (string arg in args)
        {
            if (positionalStarted)
            {
                rest.Add(arg);
                continue;
            }
            if (arg == "--server")
                server = true;
            else if (arg == "--sender")
                sender = true;
            else if (arg == "--files-from=-")
                filesFromStdin = true;
            else if (arg.Length > 1 && arg[0] == '-' && arg[1] != '-')
            {
                // The bundle's 'e' takes the rest as the client's capabilities (options.c, the 'e' case in server mode).
                int e = arg.IndexOf('e', 1);
                if (e > 0)
                {
                    capabilities = arg[(e + 1)..];
                    int dot = capabilities.IndexOf('.');
                    if (dot >= 0)
                        capabilities = capabilities[(dot + 1)..];
                    if (e > 1)
                        rest.Add(arg[..e]);
                }
                else
                    rest.Add(arg);
            }
            else
            {
                if (arg == ".")
                    positionalStarted = true;
                rest.Add(arg);
            }
        }
        if (!server)
            throw new RsyncException("the client did not ask for a server", ExitCodes.Syntax);
        RsyncOptions options;
        try
        {
            options = OptionParser.Parse(rest, "netrsyncd");
        }
        catch (RsyncUsageException ex)
        {
            throw new RsyncException(ex.Message, ExitCodes.Syntax, ex);
        }
        if (filesFromStdin)
            options.FilesFrom = "-";
        var paths = options.Positional.SkipWhile(p => p != ".").Skip(1).ToList();
        if (paths.Count == 0)
            paths = options.Positional.Where(p => p != ".").ToList();
        return new ClientInvocation(options, sender, capabilities, paths);
    }
}
