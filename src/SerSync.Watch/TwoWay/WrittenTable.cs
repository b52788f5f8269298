using NetRsync.Protocol.TwoWay;
using static NetRsync.SerSync.FileSystemBytes;

namespace NetRsync.SerSync.TwoWay;

/// <summary>
/// The changes the local daemon reported making (WRITTEN records), a few per path, so the events they
/// cause are not pushed back to the peer that sent them. An event is an echo exactly when the path's
/// state now equals the record: size, modification time (seconds and nanoseconds) and inode for a
/// file or symlink, the path gone for a deletion. Once matched a record is consumed: it covers only
/// the further events of that same change (its inode's ctime as at the match, for at most
/// <see cref="MatchedGrace"/>), so a later edit, chmod or touch by anyone is pushed as usual.
/// Bounded: at most <see cref="MaxRecords"/> records, none older than <see cref="MaxAge"/>.
/// </summary>
/// <remarks>A directory's size and times move with every entry made in it (each with an event of its
/// own), so a directory record, and an attributes record of a directory, is matched by its inode alone. A record with inode 0 was made before
/// the inode existed; its inode is not compared, and one with no state at all (made in place:
/// a directory, a symlink, a device; a deletion) matches on the type alone and waits for its event
/// at most <see cref="StatelessMaxAge"/>. Not thread-safe: one caller at a time.</remarks>
public sealed class WrittenTable(TimeProvider? time = null)
{
    public const int MaxRecords = 65536;
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan MatchedGrace = TimeSpan.FromSeconds(2);

    /// <summary>How long a record without a state (see <see cref="IsStateless"/>) waits for its event: it
    /// matches on the type alone, so it must not linger where a later change of anyone's could meet it.</summary>
    public static readonly TimeSpan StatelessMaxAge = TimeSpan.FromMinutes(1);

    /// <summary>Records kept per path: a directory is announced when made and again when its attributes are set.</summary>
    public const int MaxRecordsPerPath = 8;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<byte[], List<LinkedListNode<Entry>>> _byPath = new(Names.Comparer);
    private readonly LinkedList<Entry> _oldestFirst = new();

    private sealed class Entry(WrittenRecord record, long added)
    {
        public WrittenRecord Record { get; } = record;
        public long Added { get; } = added;
        public long MatchedAt { get; set; } = -1;
        public long CtimeSeconds { get; set; }
        public int CtimeNanoseconds { get; set; }
    }

    /// <summary>Records held, all paths together.</summary>
    public int Count => _oldestFirst.Count;

    /// <summary>Records what the daemon wrote, after what it wrote there before.</summary>
    public void Add(WrittenRecord record)
    {
        long now = _time.GetTimestamp();
        ExpireOld(now);
        if (_byPath.TryGetValue(record.Path, out var list) && list.Count >= MaxRecordsPerPath)
            Remove(list[0]);
        while (_oldestFirst.Count >= MaxRecords)
            Remove(_oldestFirst.First!);
        if (!_byPath.TryGetValue(record.Path, out list))
            _byPath[record.Path] = list = [];
        list.Add(_oldestFirst.AddLast(new Entry(record, now)));
    }

    /// <summary>
    /// True when an event for <paramref name="path"/>, whose state is now <paramref name="state"/>, is
    /// the daemon's own change: the caller then neither pushes it nor counts it as a local change.
    /// A record matched for the first time consumes the older records of the path with it.
    /// </summary>
    public bool Matches(byte[] path, FileState state)
    {
        if (!_byPath.TryGetValue(path, out var list))
            return false;
        long now = _time.GetTimestamp();
        for (int i = list.Count - 1; i >= 0 && i < list.Count; i--)
        {
            var node = list[i];
            var entry = node.Value;
            if (_time.GetElapsedTime(entry.Added, now) > Lifetime(entry.Record)
                || (entry.MatchedAt >= 0 && _time.GetElapsedTime(entry.MatchedAt, now) > MatchedGrace))
            {
                Remove(node);
                continue;
            }
            if (!SameState(entry.Record, state))
                continue;
            if (entry.MatchedAt < 0)
            {
                entry.MatchedAt = now;
                entry.CtimeSeconds = state.CtimeSeconds;
                entry.CtimeNanoseconds = state.CtimeNanoseconds;
                // What the daemon did there before is behind this state: consumed with it.
                while (list.Count > 0 && list[0] != node)
                    Remove(list[0]);
                return true;
            }
            // Consumed: only an event of the very change already matched (nothing done to the inode since) is covered.
            if (entry.Record.Kind is WrittenKind.Directory or WrittenKind.Deleted || state.Type == EntryType.Directory
                || (state.CtimeSeconds == entry.CtimeSeconds && state.CtimeNanoseconds == entry.CtimeNanoseconds))
                return true;
        }
        return false;
    }

    /// <summary>
    /// A local change of <paramref name="path"/> was seen after the records already matched there: they
    /// describe a state that is gone, so a later event (the local file removed again, say) is not theirs.
    /// Records not matched yet stay: they may announce a change of the daemon's still to come.
    /// </summary>
    public void ChangedLocally(byte[] path)
    {
        if (!_byPath.TryGetValue(path, out var list))
            return;
        foreach (var node in list.ToList())
            if (node.Value.MatchedAt >= 0)
                Remove(node);
    }

    /// <summary>True while a record for <paramref name="path"/> is held (matched or not): the daemon wrote it lately.</summary>
    public bool WroteLately(byte[] path)
    {
        if (!_byPath.TryGetValue(path, out var list))
            return false;
        long now = _time.GetTimestamp();
        foreach (var node in list)
            if (_time.GetElapsedTime(node.Value.Added, now) <= Lifetime(node.Value.Record))
                return true;
        return false;
    }

    /// <summary>Is what the path holds now what the record says the daemon made?</summary>
    public static bool SameState(WrittenRecord record, FileState state) => record.Kind switch
    {
        WrittenKind.Deleted => state.Type == EntryType.Missing,
        WrittenKind.Directory => state.Type == EntryType.Directory && SameInode(record, state),
        // A device, fifo or socket is announced as a file made in place.
        WrittenKind.File when IsStateless(record) => state.Type is EntryType.Regular or EntryType.Other,
        WrittenKind.File => state.Type == EntryType.Regular && SameContentState(record, state),
        WrittenKind.Symlink when IsStateless(record) => state.Type == EntryType.Symlink,
        WrittenKind.Symlink => state.Type == EntryType.Symlink && SameContentState(record, state),
        // A directory's size and times also move with each entry made in it after the daemon set them
        // (by the same push or another one at the same time): its inode is what identifies it.
        WrittenKind.Attributes when state.Type == EntryType.Directory => SameInode(record, state),
        WrittenKind.Attributes => state.Type != EntryType.Missing && SameContentState(record, state),
        _ => false,
    };

    /// <summary>
    /// A record sent before the entry existed (a directory, symlink or device made in place, a
    /// deletion): size, time and inode all 0. It matches on the type alone.
    /// </summary>
    public static bool IsStateless(WrittenRecord record) =>
        record.Size == 0 && record.MtimeSeconds == 0 && record.MtimeNanoseconds == 0 && record.Inode == 0;

    private static TimeSpan Lifetime(WrittenRecord record) => IsStateless(record) ? StatelessMaxAge : MaxAge;

    private static bool SameContentState(WrittenRecord record, FileState state) =>
        state.Size == record.Size && state.MtimeSeconds == record.MtimeSeconds
        && state.MtimeNanoseconds == record.MtimeNanoseconds && SameInode(record, state);

    /// <summary>Inode 0 is a record made before the inode existed (a directory announced before its mkdir): not compared.</summary>
    private static bool SameInode(WrittenRecord record, FileState state) => record.Inode == 0 || state.Inode == record.Inode;

    private void ExpireOld(long now)
    {
        while (_oldestFirst.First is { } first && _time.GetElapsedTime(first.Value.Added, now) > MaxAge)
            Remove(first);
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        var path = node.Value.Record.Path;
        if (_byPath.TryGetValue(path, out var list))
        {
            list.Remove(node);
            if (list.Count == 0)
                _byPath.Remove(path);
        }
        _oldestFirst.Remove(node);
    }
}
