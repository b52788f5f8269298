namespace NetRsync.Protocol.Daemon;

/// <summary>Why a connection was not let in.</summary>
internal enum ConnectionRefusal
{
    None,
    DaemonFull,
    AddressFull,
}

/// <summary>
/// Counts the connections the daemon holds, in all and per client address, against "max clients"
/// and "max clients per address" (0 for no limit). Every admitted connection must be left once.
/// </summary>
internal sealed class ConnectionLimits(int maxClients, int maxPerAddress)
{
    private readonly Dictionary<string, int> _perAddress = new(StringComparer.Ordinal);
    private int _total;

    public int MaxClients => maxClients;
    public int MaxPerAddress => maxPerAddress;

    public int Total
    {
        get
        {
            lock (_perAddress)
                return _total;
        }
    }

    public int CountFor(string address)
    {
        lock (_perAddress)
            return _perAddress.GetValueOrDefault(address);
    }

    public ConnectionRefusal TryEnter(string address)
    {
        lock (_perAddress)
        {
            if (maxClients > 0 && _total >= maxClients)
                return ConnectionRefusal.DaemonFull;
            int count = _perAddress.GetValueOrDefault(address);
            if (maxPerAddress > 0 && count >= maxPerAddress)
                return ConnectionRefusal.AddressFull;
            _perAddress[address] = count + 1;
            _total++;
            return ConnectionRefusal.None;
        }
    }

    public void Leave(string address)
    {
        lock (_perAddress)
        {
            int count = _perAddress.GetValueOrDefault(address);
            if (count <= 0)
                throw new InvalidOperationException($"no connection from {address} to release");
            if (count == 1)
                _perAddress.Remove(address);
            else
                _perAddress[address] = count - 1;
            _total--;
        }
    }

    /// <summary>Descriptors kept back from clients: the runtime needs some to start threads, the log and transfers others.</summary>
    internal const int ReservedDescriptors = 64;

    /// <summary>Descriptors one client may need: its socket and a file it sends or receives.</summary>
    internal const int DescriptorsPerClient = 2;

    /// <summary>
    /// "max clients" lowered so that the clients cannot use up the process's open files: running
    /// out of them makes the runtime fail to start threads, which it treats as fatal.
    /// </summary>
    internal static int WithinDescriptorLimit(int maxClients, long descriptorLimit)
    {
        if (descriptorLimit <= 0)
            return maxClients;
        long fit = Math.Max(1, (descriptorLimit - ReservedDescriptors) / DescriptorsPerClient);
        return maxClients > 0 && maxClients <= fit ? maxClients : (int)Math.Min(fit, int.MaxValue);
    }

    /// <summary>The soft limit on open files ("Max open files" in /proc/self/limits); 0 when unknown or unlimited.</summary>
    internal static long DescriptorLimit()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/limits"))
            {
                if (!line.StartsWith("Max open files", StringComparison.Ordinal))
                    continue;
                string[] fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 0 && long.TryParse(fields[0], out long soft) ? soft : 0;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return 0;
    }

    /// <summary>The line a refused client is sent, worded as rsync words a full module (clientserver.c, rsync_module).</summary>
    public string RefusalMessage(ConnectionRefusal refusal) => refusal switch
    {
        ConnectionRefusal.DaemonFull => $"max connections ({maxClients}) reached -- try again later",
        ConnectionRefusal.AddressFull => $"max connections ({maxPerAddress}) from one address reached -- try again later",
        _ => "",
    };
}
