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

    /// <summary>The line a refused client is sent, worded as rsync words a full module (clientserver.c, rsync_module).</summary>
    public string RefusalMessage(ConnectionRefusal refusal) => refusal switch
    {
        ConnectionRefusal.DaemonFull => $"max connections ({maxClients}) reached -- try again later",
        ConnectionRefusal.AddressFull => $"max connections ({maxPerAddress}) from one address reached -- try again later",
        _ => "",
    };
}
