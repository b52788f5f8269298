using NetRsync.Protocol.TwoWay;
using static NetRsync.SerSync.FileSystemBytes;

namespace NetRsync.SerSync.TwoWay;

/// <summary>
/// The changes the local daemon reported making (WRITTEN records), newest per path, so the events they
/// cause are not pushed back to the peer that sent them. An event is an echo exactly when the path's
/// state now equals the record: size, modification time (seconds and nanoseconds) and inode for a
/// file or symlink, the path gone for a deletion. Once matched a record is consumed: it covers only
/// the further events of that same change (its inode's ctime as at the match, for at most
/// <see cref="MatchedGrace"/>), so a later edit, chmod or touch by anyone is pushed as usual.
/// Bounded: at most <see cref="MaxRecords"/> records, none older than <see cref="MaxAge"/>.
/// </summary>
/// <remarks>A directory's size and times move with every entry made in it (each with an event of its
/// own), so a directory record is matched by its inode alone. A record with inode 0 was made before
/// the inode existed; its inode is not compared. Not thread-safe: one caller at a time.</remarks>
public sealed class WrittenTable(TimeProvider? time = null)
{
    public const int MaxRecords = 65536;
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan MatchedGrace = TimeSpan.FromSeconds(2);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<byte[], LinkedListNode<Entry>> _byPath = new(Names.Comparer);
    private readonly LinkedList<Entry> _oldestFirst = new();

    private sealed class Entry(WrittenRecord record, long added)
    {
        public WrittenRecord Record { get; } = record;
        public long Added { get; } = added;
        public long MatchedAt { get; set; } = -1;
        public long CtimeSeconds { get; set; }
        public int CtimeNanoseconds { get; set; }
    }

    public int Count => _byPath.Count;

    /// <summary>Records what the daemon wrote; a newer record for a path replaces the older one.</summary>
    public void Add(WrittenRecord record)
    {
        long now = _time.GetTimestamp();
        ExpireOld(now);
        if (_byPath.Remove(record.Path, out var old))
            _oldestFirst.Remove(old);
        while (_byPath.Count >= MaxRecords)
            Remove(_oldestFirst.First!);
        _byPath[record.Path] = _oldestFirst.AddLast(new Entry(record, now));
    }

    /// <summary>
    /// True when an event for <paramref name="path"/>, whose state is now <paramref name="state"/>, is
    /// the daemon's own change: the caller then neither pushes it nor counts it as a local change.
    /// </summary>
    public bool Matches(byte[] path, FileState state)
    {
        if (!_byPath.TryGetValue(path, out var node))
            return false;
        var entry = node.Value;
        long now = _time.GetTimestamp();
        if (_time.GetElapsedTime(entry.Added, now) > MaxAge)
        {
            Remove(node);
            return false;
        }
        if (!SameState(entry.Record, state))
            return false;
        if (entry.MatchedAt < 0)
        {
            entry.MatchedAt = now;
            entry.CtimeSeconds = state.CtimeSeconds;
            entry.CtimeNanoseconds = state.CtimeNanoseconds;
            return true;
        }
        if (_time.GetElapsedTime(entry.MatchedAt, now) > MatchedGrace)
        {
            Remove(node);
            return false;
        }
        // Consumed: only an event of the very change already matched (nothing done to the inode since) is covered.
        return entry.Record.Kind is WrittenKind.Directory or WrittenKind.Deleted
            || (state.CtimeSeconds == entry.CtimeSeconds && state.CtimeNanoseconds == entry.CtimeNanoseconds);
    }

    /// <summary>True while a record for <paramref name="path"/> is held (matched or not): the daemon wrote it lately.</summary>
    public bool WroteLately(byte[] path)
    {
        if (!_byPath.TryGetValue(path, out var node))
            return false;
        if (_time.GetElapsedTime(node.Value.Added) <= MaxAge)
            return true;
        Remove(node);
        return false;
    }

    /// <summary>Is what the path holds now what the record says the daemon made?</summary>
    public static bool SameState(WrittenRecord record, FileState state) => record.Kind switch
    {
        WrittenKind.Deleted => state.Type == EntryType.Missing,
        WrittenKind.Directory => state.Type == EntryType.Directory && SameInode(record, state),
        WrittenKind.File => state.Type == EntryType.Regular && SameContentState(record, state),
        WrittenKind.Symlink => state.Type == EntryType.Symlink && SameContentState(record, state),
        WrittenKind.Attributes => state.Type != EntryType.Missing && SameContentState(record, state),
        _ => false,
    };

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
        _byPath.Remove(node.Value.Record.Path);
        _oldestFirst.Remove(node);
    }
}
