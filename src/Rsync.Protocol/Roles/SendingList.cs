using NetRsync.Protocol.Collections;
using NetRsync.Protocol.Client;
using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Roles;

/// <summary>
/// The sender's file lists. Without incremental recursion there is one, sent before anything
/// else. With it (CF_INC_RECURSE) the first list holds the sources and every directory gets a
/// list of its own, sent while files move and dropped once the receiving side is done with it,
/// so only the lists in flight are in memory (flist.c, send_file_list and send_extra_file_list;
/// sender.c, send_files).
/// </summary>
internal sealed class SendingList
{
    /// <summary>How many entries the sender keeps listed ahead of the generator (rsync.h, MIN_FILECNT_LOOKAHEAD).</summary>
    public const int Lookahead = 1000;

    private sealed class Segment(int number, int ndxStart, List<FileEntry> files, int parentDir)
    {
        /// <summary>Lists sent before this one, plus one under incremental recursion (flist_num).</summary>
        public int Number { get; } = number;
        public int NdxStart { get; } = ndxStart;
        public List<FileEntry> Files { get; } = files;
        /// <summary>The directory this list holds the contents of, as an index into the directory table; -1 for none.</summary>
        public int ParentDir { get; } = parentDir;
        public int End => NdxStart + Files.Count;
    }

    // A directory of some list, in the order both sides number them (flist.c, add_dirs_to_tree).
    // The links give the depth-first order lists are sent in; "." is numbered but never linked.
    private struct DirNode
    {
        /// <summary>The directory's entry, in the builder's arena for directories.</summary>
        public FileEntry Dir;
        public int Parent;
        public int FirstChild;
        public int NextSibling;
    }

    private readonly TransferContext _ctx;
    private readonly FileListEncoder _encoder;
    private readonly FileListBuilder? _builder;
    private readonly FileListSettings _listSettings;
    private readonly List<Segment> _live = [];
    private int _firstLive;
    private readonly ChunkedList<DirNode> _dirs = new();
    private Dictionary<FileEntry, List<FileEntry>>? _sameNamed;
    private int _nextDir = -1;
    private int _current;
    // file_total and file_old_total of flist.c: entries in live lists, and those the generator is past.
    private int _fileTotal;
    private int _fileOldTotal;

    private SendingList(TransferContext ctx, FileListEncoder encoder, FileListBuilder? builder)
    {
        _ctx = ctx;
        _listSettings = ctx.FileListSettings();
        _encoder = encoder;
        _builder = builder;
    }

    /// <summary>Every list has been sent (rsync's flist_eof).</summary>
    public bool AllSent { get; private set; }

    /// <summary>The first list's size: a sender with nothing in it stops there (main.c, do_server_sender).</summary>
    public int FirstCount { get; private set; }

    /// <summary>Entries in every list sent so far (stats.num_files).</summary>
    public int SentCount { get; private set; }

    /// <summary>The whole list, without incremental recursion.</summary>
    public static SendingList Whole(TransferContext ctx, FileListEncoder encoder, List<FileEntry> files)
    {
        var list = new SendingList(ctx, encoder, null) { AllSent = true };
        list._live.Add(new Segment(0, 0, files, -1));
        list.FirstCount = list.SentCount = files.Count;
        list._fileTotal = files.Count;
        return list;
    }

    /// <summary>
    /// The first list, already written by the caller at index 1 onwards, and the directories it
    /// leaves to list; then as many lists as rsync sends before the transfer starts.
    /// </summary>
    /// <param name="sameNamed">Directories of the first list kept for others of the same name,
    /// whose contents go in the same list (from <see cref="SameNamedCollector"/>).</param>
    public static SendingList First(TransferContext ctx, FileListEncoder encoder, FileListBuilder builder, List<FileEntry> files,
        Dictionary<FileEntry, List<FileEntry>>? sameNamed)
    {
        var list = new SendingList(ctx, encoder, builder) { _sameNamed = sameNamed };
        bool dotFirst = files.Count > 0 && files[0].Name.IsDot;
        list._live.Add(new Segment(1, 1, files, dotFirst ? 0 : -1));
        list.FirstCount = list.SentCount = files.Count;
        list._fileTotal = list._fileOldTotal = files.Count;
        list.AddDirectories(-1, files);
        if (list._nextDir < 0)
            list.EndOfLists();
        else if (files.Count == 1)
        {
            // One entry may be a lone file: one more list tells the receiver (flist.c, send_file_list).
            list.SendMore(1);
        }
        return list;
    }

    /// <summary>The entry an index names: in a live list, or the directory whose list starts just after it.</summary>
    public FileEntry this[int ndx] => Find(ndx) ?? throw Invalid(ndx);

    /// <summary>The entry, or null when the index is in no live list (rsync.c, flist_for_ndx).</summary>
    public FileEntry? Find(int ndx)
    {
        for (int i = _firstLive; i < _live.Count; i++)
        {
            var seg = _live[i];
            if (ndx < seg.NdxStart - 1)
                return null;
            if (ndx >= seg.End)
                continue;
            if (i != _current)
                MakeCurrent(i);
            if (ndx >= seg.NdxStart)
                return seg.Files[ndx - seg.NdxStart];
            return seg.ParentDir >= 0 ? _dirs[seg.ParentDir].Dir : null;
        }
        return null;
    }

    /// <summary>Whether the index is a list entry rather than the directory before a list.</summary>
    public bool IsListEntry(int ndx)
    {
        for (int i = _firstLive; i < _live.Count; i++)
        {
            if (ndx >= _live[i].NdxStart && ndx < _live[i].End)
                return true;
        }
        return false;
    }

    /// <summary>Entries listed after this index, and in all (progress.c, set_current_file_index: to-chk, ir-chk).</summary>
    public (int Left, int Total) Remaining(int ndx)
    {
        var seg = _live[_current];
        return (SentCount - 1 - (ndx - seg.Number), SentCount);
    }

    public RsyncProtocolException Invalid(int ndx)
    {
        int first = _firstLive < _live.Count ? _live[_firstLive].NdxStart - (_builder is null ? 0 : 1) : 0;
        int last = _live.Count > 0 ? _live[^1].End - 1 : -1;
        return new RsyncProtocolException($"Invalid file index: {ndx} ({first} - {last}) [sender]");
    }

    // rsync.c, read_ndx_and_attrs: the lists up to the one in use are counted as passed.
    private void MakeCurrent(int i)
    {
        _current = i;
        _fileOldTotal = 0;
        for (int j = _firstLive; j <= i; j++)
            _fileOldTotal += _live[j].Files.Count;
    }

    /// <summary>
    /// The generator is done with the oldest list (sender.c, send_files on NDX_DONE). True when
    /// lists remain, and the NDX_DONE is to be echoed rather than ending a phase.
    /// </summary>
    public bool DropFirst()
    {
        if (_builder is null || _firstLive >= _live.Count)
            return false;
        var first = _live[_firstLive];
        _fileOldTotal -= first.Files.Count;
        _fileTotal -= first.Files.Count;
        _live[_firstLive] = null!;
        _firstLive++;
        if (_firstLive > 64 && _firstLive * 2 > _live.Count)
        {
            _current -= _firstLive;
            _live.RemoveRange(0, _firstLive);
            _firstLive = 0;
        }
        if (_firstLive >= _live.Count)
            return false;
        if (_current < _firstLive)
            _current = _firstLive;
        if (_current == _firstLive)
            _fileOldTotal = _live[_firstLive].Files.Count;
        return true;
    }

    /// <summary>
    /// Sends directory lists until <paramref name="atLeast"/> entries lie beyond what the
    /// generator has passed, or none are left (flist.c, send_extra_file_list).
    /// </summary>
    public void SendMore(int atLeast = Lookahead)
    {
        if (_builder is null || AllSent)
            return;
        var writer = _ctx.Writer;
        var ioErrorBefore = _ctx.IoError | _builder.IoError;
        while (_fileTotal - _fileOldTotal < atLeast)
        {
            int dirNdx = _nextDir;
            var node = _dirs[dirNdx];
            writer.WriteNdx(Ndx.FileListOffset - dirNdx);
            long startBytes = writer.BytesWritten;
            // Under --iconv, what has no name in the wire's charset is left out before indexes are given.
            var files = FileListEncoder.DropUnconvertible(_builder.ListDirectory(node.Dir, SameNamed(node.Dir), Merge), _listSettings);
            var last = _live[^1];
            int ndxStart = last.End + 1;
            var seg = new Segment(last.Number + 1, ndxStart, files, dirNdx);
            for (int i = 0; i < files.Count; i++)
            {
                _encoder.Write(files[i], ndxStart + i, ndxStart);
                _ctx.Stats.CountListed(files[i]);
            }
            _ctx.IoError |= _builder.IoError;
            bool newError = _ctx.IoError != ioErrorBefore && !_ctx.Options.IgnoreErrors;
            if (newError && !_ctx.SafeFileList && DeletesDuring)
                throw new RsyncException("FATAL I/O ERROR: dying to avoid a --delete-during issue with a pre-3.0.7 receiver.", ExitCodes.Unsupported);
            _encoder.WriteEndMarker(newError && _ctx.SafeFileList ? _ctx.IoError : IoErrorFlags.None);
            _ctx.Stats.FileListSize += writer.BytesWritten - startBytes;
            _live.Add(seg);
            _fileTotal += files.Count;
            SentCount += files.Count;
            _ctx.Stats.NumFiles = SentCount;
            _ctx.Stats.TotalSize = _encoder.TotalSize;
            AddDirectories(dirNdx, files);
            if (!Advance(dirNdx))
                break;
        }
        if (_ctx.IoError != ioErrorBefore && _ctx.Protocol == 30 && !_ctx.Options.IgnoreErrors)
            writer.WriteMessageInt(MessageCode.IoError, (int)_ctx.IoError);
    }

    private bool DeletesDuring => _ctx.Options.GetEffectiveDeleteMode(_ctx.Protocol) is Options.DeleteMode.During or Options.DeleteMode.Unspecified;


    private IEnumerable<FileEntry> SameNamed(FileEntry dir) =>
        _sameNamed is not null && _sameNamed.Remove(dir, out var others) ? others : [];

    private void Merge(FileEntry kept, FileEntry dropped) => Note(_sameNamed ??= new(), kept, dropped);

    /// <summary>Collects, while a list is built, directories dropped for a kept one of the same name.</summary>
    public static Action<FileEntry, FileEntry> SameNamedCollector(out Dictionary<FileEntry, List<FileEntry>> sameNamed)
    {
        var map = sameNamed = new();
        return (kept, dropped) => Note(map, kept, dropped);
    }

    private static void Note(Dictionary<FileEntry, List<FileEntry>> map, FileEntry kept, FileEntry dropped)
    {
        if (!map.TryGetValue(kept, out var list))
            map[kept] = list = [];
        list.Add(dropped);
    }

    // The next directory depth-first: the first child, else the next sibling of the nearest
    // ancestor that has one (flist.c, send_extra_file_list).
    private bool Advance(int dirNdx)
    {
        var node = _dirs[dirNdx];
        if (node.FirstChild >= 0)
        {
            _nextDir = node.FirstChild;
            return true;
        }
        while (node.NextSibling < 0)
        {
            if (node.Parent < 0)
            {
                EndOfLists();
                return false;
            }
            node = _dirs[node.Parent];
        }
        _nextDir = node.NextSibling;
        return true;
    }

    private void EndOfLists()
    {
        _ctx.Writer.WriteNdx(Ndx.FileListEof);
        AllSent = true;
        _nextDir = -1;
    }

    private void AddDirectories(int parent, List<FileEntry> files)
    {
        int previous = -1;
        foreach (var file in files)
        {
            if (!file.IsDirectory)
                continue;
            int ndx = _dirs.Count;
            _dirs.Add(new DirNode { Dir = file, Parent = parent, FirstChild = -1, NextSibling = -1 });
            if (file.Name.IsDot)
                continue;
            if (previous >= 0)
                _dirs[previous].NextSibling = ndx;
            else if (parent >= 0)
                _dirs[parent].FirstChild = ndx;
            else
                _nextDir = ndx;
            previous = ndx;
        }
    }
}
