// The watcher arrives with its own issue; until then it says so and fails.
Console.Error.WriteLine("netsersync: the watcher is not implemented yet");
return 1;
