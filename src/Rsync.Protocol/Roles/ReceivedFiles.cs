using NetRsync.Protocol.Collections;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Roles;

/// <summary>
/// The receiving side's file lists, shared by the receiver, which reads them off the wire, and
/// the generator, which works through them. Without incremental recursion there is one list.
/// With it a list arrives for each directory while files move; a list goes once the generator
/// has finished it and every file it asked for is done, so only lists in flight are held
/// (flist.c, recv_file_list and flist_free; generator.c, check_for_finished_files).
/// </summary>
internal sealed class ReceivedFiles
{
    /// <summary>One list: its entries sorted, and what is still outstanding for it.</summary>
    public sealed class Segment(int ndxStart, List<FileEntry> files, int parentDir)
    {
        public int NdxStart { get; } = ndxStart;
        public List<FileEntry> Files { get; } = files;
        /// <summary>The directory whose contents this list holds, as an index into the directory table; -1 for none.</summary>
        public int ParentDir { get; } = parentDir;
        public int End => NdxStart + Files.Count;
        /// <summary>Files asked for and not yet finished by the receiver (flist->in_progress).</summary>
        public int InProgress;
        /// <summary>Files the receiver wants again (flist->to_redo).</summary>
        public int ToRedo;
        /// <summary>The error bits the list ended with: the sender could not list everything.</summary>
        public IoErrorFlags IoError { get; init; }
    }

    private readonly object _gate = new();
    // Lists by position; the dropped ones at the front are cut off now and then, and _firstPosition
    // is the position of what is left's first.
    private readonly List<Segment?> _lists = [];
    private int _firstPosition;
    private int _firstLive;
    private readonly ChunkedList<FileEntry> _dirs = new();
    private int _maxEntries;
    private long _maxNameBytes;
    private long _liveEntries;
    private long _liveNameBytes;

    // A sender may send lists faster than they are worked through; what they hold together is
    // bounded as one whole list would be ("max file list entries", "max file list size", --max-alloc).
    private void Hold(List<FileEntry> files)
    {
        _liveEntries += files.Count;
        _liveNameBytes += NameBytes(files);
        if (_maxEntries > 0 && _liveEntries > _maxEntries)
            throw new RsyncProtocolException($"the file list has more than {_maxEntries} entries, more than this side accepts", ExitCodes.Malloc);
        if (_maxNameBytes > 0 && _liveNameBytes > _maxNameBytes)
            throw new RsyncProtocolException($"the file list's names take more than {_maxNameBytes} bytes, more than this side accepts", ExitCodes.Malloc);
    }

    private static long NameBytes(List<FileEntry> files)
    {
        long bytes = 0;
        foreach (var file in files)
            bytes += file.Name.Length + (file.LinkTarget?.Length ?? 0);
        return bytes;
    }

    private ReceivedFiles(bool incremental) => Incremental = incremental;

    public bool Incremental { get; }

    /// <summary>
    /// Lists are held in the order sent, not sorted: under --iconv the sender's order of names is
    /// not this side's, and indexes refer to it (flist.c, recv_file_list with need_unsorted_flist).
    /// </summary>
    public bool AsSent { get; private init; }

    /// <summary>The sender said no more lists come (NDX_FLIST_EOF), or there was only one.</summary>
    public bool AllReceived { get; private set; }

    /// <summary>The single list of a transfer without incremental recursion.</summary>
    public static ReceivedFiles Whole(List<FileEntry> files)
    {
        var table = new ReceivedFiles(false) { AllReceived = true };
        table._lists.Add(new Segment(0, files, -1));
        return table;
    }

    /// <summary>The first list under incremental recursion, numbered from 1; index 0 is "." when it leads.</summary>
    /// <param name="maxEntries">Most entries the lists in flight may hold together; 0 for no limit.</param>
    /// <param name="maxNameBytes">Most bytes of names and link targets they may hold together; 0 for no limit.</param>
    /// <param name="asSent">Lists keep the sender's order (--iconv): indexes and directory numbers follow it.</param>
    public static ReceivedFiles First(List<FileEntry> files, int maxEntries = 0, long maxNameBytes = 0, bool asSent = false)
    {
        var table = new ReceivedFiles(true) { _maxEntries = maxEntries, _maxNameBytes = maxNameBytes, AsSent = asSent };
        table.Hold(files);
        bool dotFirst = files.Count > 0 && files[0].Name.IsDot;
        table.AddDirectories(files);
        table._lists.Add(new Segment(1, files, dotFirst ? 0 : -1));
        return table;
    }

    /// <summary>The first list (the only one without incremental recursion).</summary>
    public List<FileEntry> FirstList => _lists[0]!.Files;

    /// <summary>Directories received so far (dir_flist's size), for checking a list's directory index.</summary>
    public int DirectoryCount
    {
        get
        {
            lock (_gate)
                return _dirs.Count;
        }
    }

    /// <summary>How many lists have been received: positions run from 0 to one less.</summary>
    public int ListCount
    {
        get
        {
            lock (_gate)
                return _firstPosition + _lists.Count;
        }
    }

    /// <summary>The list at a position, or null once it has been dropped.</summary>
    public Segment? List(int position)
    {
        lock (_gate)
            return position >= _firstPosition && position - _firstPosition < _lists.Count ? _lists[position - _firstPosition] : null;
    }

    /// <summary>The directory an index in the directory table names.</summary>
    public FileEntry Directory(int dirNdx)
    {
        lock (_gate)
            return _dirs[dirNdx];
    }

    /// <summary>
    /// A directory's list has arrived, its entries already checked and sorted (receiver thread).
    /// Its first index follows the last list's, one apart (flist.c, flist_new).
    /// </summary>
    public Segment Add(List<FileEntry> files, int parentDir, IoErrorFlags ioError = IoErrorFlags.None)
    {
        lock (_gate)
        {
            // A directory gets one list, and a dropped duplicate none (flist.c, recv_file_list in 3.5).
            if ((_dirs[parentDir].Flags & EntryFlags.Inactive) != 0)
                throw new RsyncProtocolException($"refusing flist for cleared dir_ndx {parentDir}");
            ref var dir = ref _dirs[parentDir];
            if ((dir.Flags & EntryFlags.ContentsListed) != 0)
                throw new RsyncProtocolException($"refusing malicious duplicate flist for dir {parentDir}");
            dir.Flags |= EntryFlags.ContentsListed;
            Hold(files);
            var seg = new Segment(LastEnd() + 1, files, parentDir) { IoError = ioError };
            AddDirectories(files);
            _lists.Add(seg);
            return seg;
        }
    }

    private int LastEnd()
    {
        for (int i = _lists.Count - 1; i >= 0; i--)
        {
            if (_lists[i] is { } seg)
                return seg.End;
        }
        return _lastFreedEnd;
    }

    private int _lastFreedEnd;

    /// <summary>The first index of the next list (flist.c, flist_new).</summary>
    public int NextStart
    {
        get
        {
            lock (_gate)
                return LastEnd() + 1;
        }
    }

    public void EndOfLists()
    {
        lock (_gate)
            AllReceived = true;
    }

    // Both sides number directories in the order lists arrive, sorted within each (flist.c, recv_file_list).
    private void AddDirectories(List<FileEntry> files)
    {
        foreach (var file in files)
        {
            if (file.IsDirectory)
                _dirs.Add(file);
        }
    }

    /// <summary>The entry an index names: in a live list, or the directory just before a list's first index.</summary>
    public FileEntry this[int ndx] => Find(ndx, out _) ?? throw new RsyncProtocolException($"File-list index {ndx} not in {Range()}");

    /// <summary>The entry, or null when no live list has it (rsync.c, flist_for_ndx).</summary>
    public FileEntry? Find(int ndx, out Segment? segment)
    {
        lock (_gate)
        {
            segment = null;
            for (int i = _firstLive; i < _lists.Count; i++)
            {
                if (_lists[i] is not { } seg)
                    continue;
                if (ndx < seg.NdxStart - (Incremental ? 1 : 0))
                    return null;
                if (ndx >= seg.End)
                    continue;
                segment = seg;
                if (ndx >= seg.NdxStart)
                    return seg.Files[ndx - seg.NdxStart];
                return seg.ParentDir >= 0 ? _dirs[seg.ParentDir] : null;
            }
            return null;
        }
    }

    /// <summary>Whether the index is an entry of a live list rather than the directory before one.</summary>
    public bool IsListEntry(int ndx) => Find(ndx, out var seg) is not null && ndx >= seg!.NdxStart;

    private string Range()
    {
        lock (_gate)
        {
            var first = _firstLive < _lists.Count ? _lists[_firstLive] : null;
            return first is null ? "0 - -1" : $"{first.NdxStart - (Incremental ? 1 : 0)} - {LastEnd() - 1}";
        }
    }

    /// <summary>The oldest list still held, and its position.</summary>
    public Segment? FirstLive(out int position)
    {
        lock (_gate)
        {
            position = _firstPosition + _firstLive;
            return _firstLive < _lists.Count ? _lists[_firstLive] : null;
        }
    }

    /// <summary>Lets the oldest list go: both the generator and the receiver are done with it.</summary>
    public void DropFirst()
    {
        lock (_gate)
        {
            if (_firstLive >= _lists.Count || _lists[_firstLive] is not { } seg)
                return;
            _lastFreedEnd = Math.Max(_lastFreedEnd, seg.End);
            _liveEntries -= seg.Files.Count;
            _liveNameBytes -= NameBytes(seg.Files);
            _lists[_firstLive] = null;
            _firstLive++;
            // A list per directory: keep only the table of those still held.
            if (_firstLive > 64 && _firstLive * 2 > _lists.Count)
            {
                _lists.RemoveRange(0, _firstLive);
                _firstPosition += _firstLive;
                _firstLive = 0;
            }
        }
    }
}
