// The daemon arrives with its own issue; until then it says so and fails.
Console.Error.WriteLine("netrsyncd: the daemon is not implemented yet");
return 1;
