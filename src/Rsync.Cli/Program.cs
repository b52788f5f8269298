using NetRsync.Cli;

return await CommandLine.RunAsync(args);
