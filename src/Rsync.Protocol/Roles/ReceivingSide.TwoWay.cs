using NetRsync.Protocol.FileList;
using NetRsync.Protocol.Native;
using NetRsync.Protocol.TwoWay;

namespace NetRsync.Protocol.Roles;

/// <summary>What the receiver does with a file whose local version may have changed here too.</summary>
internal enum IncomingResolution
{
    /// <summary>Rename the received file into place (the watchers have been told).</summary>
    Replace,

    /// <summary>The local version stays; the received file was kept as a copy or dropped.</summary>
    KeptLocal,

    /// <summary>A conflict copy could not be made: nothing is replaced, the error is reported.</summary>
    Failed,
}

/// <summary>
/// A push into a two-way module: every change is announced to the node's watchers before it becomes
/// visible, and a local file changed here and not yet delivered is never lost to the push. Without
/// <see cref="TwoWay"/> every method here does nothing and the transfer is plain rsync.
/// </summary>
internal sealed partial class ReceivingSide
{
    /// <summary>
    /// Set when the destination is a module a watcher of this node covers; one that becomes two-way
    /// during the transfer shows as plain rsync (null) until then (<see cref="TwoWayModule.IsActive"/>).
    /// </summary>
    public TwoWayModule? TwoWay
    {
        get => _twoWay is { } twoWay && twoWay.IsActive ? twoWay : null;
        init => _twoWay = value;
    }

    private readonly TwoWayModule? _twoWay;

    public static WrittenKind KindOf(in FileStatus st) =>
        st.IsDirectory ? WrittenKind.Directory : st.IsSymlink ? WrittenKind.Symlink : WrittenKind.File;

    /// <summary>Tells the watchers the state a name will have (its lstat once the change is made).</summary>
    public void AnnounceState(WrittenKind kind, ReadOnlySpan<byte> name, in FileStatus state, ConfinedRoot? root = null)
    {
        if (TwoWay is { } twoWay && twoWay.AbsolutePath(root ?? Root!, name) is { } path)
            twoWay.Publish(kind, path, state.Size, state.MtimeSeconds, state.MtimeNanoseconds, (ulong)state.Inode);
    }

    /// <summary>Tells the watchers a name is about to be created, in a state not known beforehand.</summary>
    public void AnnounceCreated(WrittenKind kind, ReadOnlySpan<byte> name, ConfinedRoot? root = null)
    {
        if (TwoWay is { } twoWay && twoWay.AbsolutePath(root ?? Root!, name) is { } path)
            twoWay.Publish(kind, path, 0, 0, 0, 0);
    }

    /// <summary>Tells the watchers a name is about to go.</summary>
    public void AnnounceDeleted(ReadOnlySpan<byte> name, ConfinedRoot? root = null) => AnnounceCreated(WrittenKind.Deleted, name, root);

    /// <summary>Asks the watchers whether the local version of a name is a change not yet delivered.</summary>
    public LocalChange AskAbout(ReadOnlySpan<byte> name, in FileStatus local)
    {
        if (TwoWay is not { } twoWay)
            return LocalChange.NotWatched;
        // A name that cannot be expressed to the watchers is treated the safe way.
        return twoWay.AbsolutePath(Root!, name) is { } path ? twoWay.Query(path, local) : LocalChange.Pending;
    }

    /// <summary>
    /// The generator's question about entry <paramref name="ndx"/>, remembered for the receiver,
    /// which asks again only if the local file changes in between.
    /// </summary>
    public LocalChange AskAndRemember(int ndx, ReadOnlySpan<byte> name, in FileStatus local)
    {
        if (TwoWay is not { } twoWay)
            return LocalChange.NotWatched;
        if (twoWay.Answers.TryGetValue(ndx, out var known) && TwoWayModule.SameState(known.Local, local))
            return known.Answer;
        var answer = AskAbout(name, local);
        twoWay.Answers[ndx] = (local, answer);
        return answer;
    }

    private LocalChange AskOrRecall(int ndx, ReadOnlySpan<byte> name, in FileStatus local)
    {
        if (TwoWay!.Answers.TryRemove(ndx, out var known) && TwoWayModule.SameState(known.Local, local))
            return known.Answer;
        return AskAbout(name, local);
    }

    /// <summary>The winner between the local version and an incoming one of this state.</summary>
    private ConflictWinner Winner(in FileStatus local, long incomingSeconds, int incomingNanoseconds, long incomingSize) =>
        ConflictRules.Decide(local.MtimeSeconds, local.MtimeNanoseconds, local.Size, incomingSeconds, incomingNanoseconds, incomingSize,
            nanoseconds: Ctx.Protocol >= 31 && Ctx.Options.PreserveTimes);

    /// <summary>
    /// Just before a received file replaces <paramref name="name"/>: when the local version differs
    /// and is a change not yet delivered, the newer one keeps the name and the other is kept as a
    /// conflict copy (or dropped with "conflict copies = no"). Then the watchers are told of the file
    /// about to appear. <paramref name="temp"/> is consumed unless the answer is <see cref="IncomingResolution.Replace"/>
    /// or <see cref="IncomingResolution.Failed"/>.
    /// </summary>
    public IncomingResolution ResolveIncoming(int ndx, FileEntry file, byte[] name, byte[] temp)
    {
        var twoWay = TwoWay!;
        var root = Root!;
        if (root.LStat(temp, out var incoming) != 0)
            return IncomingResolution.Replace;
        // The local name may change under the decision (a local edit renames a new version into
        // place, or removes it); the decision is made again whenever the copy shows it did.
        for (int decision = 0; ; decision++)
        {
            if (decision == MaxDecisions)
            {
                Ctx.TransferError($"conflict on {Show(name)}: the local version kept changing while a copy of it was made; it is not replaced");
                return IncomingResolution.Failed;
            }
            if (root.LStat(name, out var local) != 0 || local.IsDirectory)
                break;
            var winner = Winner(local, incoming.MtimeSeconds, incoming.MtimeNanoseconds, incoming.Size);
            if (winner == ConflictWinner.Same || AskOrRecall(ndx, name, local) != LocalChange.Pending)
                break;
            string shown = Show(name);
            if (winner == ConflictWinner.Local)
            {
                if (!twoWay.ConflictCopies)
                {
                    root.Unlink(temp);
                    twoWay.Log($"conflict on {shown}: the local version is newer, so it stays; the incoming one is discarded");
                    return IncomingResolution.KeptLocal;
                }
                int errno = KeepUnique(temp, attempt => ConflictRules.CopyPath(name, twoWay.Peer, incoming.MtimeSeconds, attempt), move: true, out byte[]? copy, out _);
                if (errno != 0)
                {
                    Ctx.TransferError($"conflict on {shown}: cannot keep the incoming version as a copy: {Posix.StrError(errno)} ({errno}); the local version stays");
                    return IncomingResolution.Failed;
                }
                twoWay.Log($"conflict on {shown}: the local version is newer, so it stays; the incoming one is kept as {Show(copy)}");
                return IncomingResolution.KeptLocal;
            }
            if (twoWay.ConflictCopies)
            {
                int errno = KeepUnique(name, attempt => ConflictRules.CopyPath(name, twoWay.LocalHost, local.MtimeSeconds, attempt), move: false, out byte[]? copy, out bool linked);
                if (errno == Posix.ENOENT)
                    continue; // gone meanwhile: nothing to keep, unless something new took its place
                if (errno != 0)
                {
                    Ctx.TransferError($"conflict on {shown}: cannot keep the local version as a copy: {Posix.StrError(errno)} ({errno}); it is not replaced");
                    return IncomingResolution.Failed;
                }
                if (!HoldsVersion(copy!, local, linked))
                {
                    // The copy took a version other than the one compared (and named after).
                    root.Unlink(copy!);
                    continue;
                }
                twoWay.Log($"conflict on {shown}: the incoming version is newer; the local one, changed here, is kept as {Show(copy)}");
            }
            else
                twoWay.Log($"conflict on {shown}: the incoming version is newer and replaces the local one changed here");
            break;
        }
        AnnounceState(WrittenKind.File, name, incoming);
        return IncomingResolution.Replace;
    }

    /// <summary>Decisions about one incoming file while the local version keeps changing under them.</summary>
    private const int MaxDecisions = 5;

    /// <summary>
    /// Whether a copy just made holds the local version that was compared: the same inode and state
    /// for a hard link, the same size and mtime for a copied content.
    /// </summary>
    private bool HoldsVersion(byte[] copy, in FileStatus compared, bool linked)
    {
        if (Root!.LStat(copy, out var kept) != 0)
            return false;
        return linked ? TwoWayModule.SameState(kept, compared)
            : kept.Size == compared.Size && kept.MtimeSeconds == compared.MtimeSeconds && kept.MtimeNanoseconds == compared.MtimeNanoseconds;
    }

    /// <summary>
    /// A link, device or special that would replace a local non-directory changed here and not yet
    /// delivered: the newer keeps the name. Returns true when the incoming entry is done with (kept
    /// as a copy, or dropped); false to go on and create it under its name, the local version
    /// having been moved to a copy when it lost.
    /// </summary>
    public bool ResolveIncomingNode(int ndx, FileEntry file, byte[] name, in FileStatus local, Func<byte[], int> create)
    {
        var twoWay = TwoWay!;
        long size = file.IsSymlink ? (file.LinkTarget?.Length ?? 0) : 0;
        var winner = Winner(local, file.ModTime, file.ModNanoseconds, size);
        if (winner == ConflictWinner.Same || AskAndRemember(ndx, name, local) != LocalChange.Pending)
            return false;
        string shown = Show(name);
        if (winner == ConflictWinner.Local)
        {
            if (!twoWay.ConflictCopies)
            {
                twoWay.Log($"conflict on {shown}: the local version is newer, so it stays; the incoming one is discarded");
                return true;
            }
            for (int attempt = 0; attempt < MaxCopyAttempts; attempt++)
            {
                byte[] copy = ConflictRules.CopyPath(name, twoWay.Peer, file.ModTime, attempt);
                int errno = create(copy);
                if (errno == Posix.EEXIST)
                    continue;
                if (errno != 0)
                {
                    Ctx.TransferError($"conflict on {shown}: cannot keep the incoming version as a copy: {Posix.StrError(errno)} ({errno}); the local version stays");
                    return true;
                }
                SetAttributes(copy, file, isNew: true, temporary: true);
                twoWay.Log($"conflict on {shown}: the local version is newer, so it stays; the incoming one is kept as {Show(copy)}");
                return true;
            }
            Ctx.TransferError($"conflict on {shown}: every copy name is taken; the local version stays");
            return true;
        }
        if (!twoWay.ConflictCopies)
        {
            twoWay.Log($"conflict on {shown}: the incoming version is newer and replaces the local one changed here");
            return false;
        }
        return !MoveLocalAside(name, local, "the incoming version is newer; the local one, changed here,");
    }

    /// <summary>
    /// A local non-directory changed here and not yet delivered, in the way of an incoming entry of
    /// another type that cannot become a copy (a directory): it is moved to a conflict copy. False
    /// when it could not be (reported), so nothing is replaced.
    /// </summary>
    public bool MoveLocalAside(byte[] name, in FileStatus local, string why)
    {
        var twoWay = TwoWay!;
        long seconds = local.MtimeSeconds;
        int errno = KeepUnique(name, attempt => ConflictRules.CopyPath(name, twoWay.LocalHost, seconds, attempt), move: true, out byte[]? copy, out _);
        if (errno == Posix.ENOENT)
            return true; // gone meanwhile: nothing to keep, the incoming entry takes the free name
        if (errno != 0)
        {
            Ctx.TransferError($"conflict on {Show(name)}: cannot keep the local version as a copy: {Posix.StrError(errno)} ({errno}); it is not replaced");
            return false;
        }
        twoWay.Log($"conflict on {Show(name)}: {why} is kept as {Show(copy)}");
        return true;
    }

    /// <summary>
    /// Before a deletion of a local non-directory: one changed here and not yet delivered is kept
    /// and said so, in the daemon's log and to the client; the watcher will push it back. Like -u
    /// keeping a newer file, the deletion the newer change supersedes leaves the exit code alone.
    /// </summary>
    public bool KeepsFromDeletion(ReadOnlySpan<byte> name, in FileStatus local)
    {
        if (TwoWay is not { } twoWay || local.IsDirectory || AskAbout(name, local) != LocalChange.Pending)
            return false;
        string line = $"kept {Show(name)}: changed here since the last sync";
        twoWay.Log(line);
        Ctx.Output.Warning($"{line}; not deleted");
        return true;
    }

    /// <summary>Attempts at a free copy name ("-1", "-2", ...) before giving up.</summary>
    private const int MaxCopyAttempts = 1000;

    /// <summary>
    /// Gives <paramref name="source"/> a second name, the first free one of <paramref name="nameFor"/>,
    /// atomically and never over an existing file (a hard link, where EEXIST says the name is taken);
    /// with <paramref name="move"/> the source name then goes. Where hard links are not possible the
    /// content is copied (or the source renamed) once the name is seen to be free.
    /// </summary>
    private int KeepUnique(byte[] source, Func<int, byte[]> nameFor, bool move, out byte[]? made, out bool linked)
    {
        var root = Root!;
        made = null;
        linked = false;
        for (int attempt = 0; attempt < MaxCopyAttempts; attempt++)
        {
            byte[] target = nameFor(attempt);
            int errno = root.HardLink(source, target);
            if (errno == Posix.EEXIST && SameVersionKept(source, target))
            {
                // The other node kept this very version under this name and sent it here already.
                made = target;
                return move ? root.Unlink(source) : 0;
            }
            if (errno == Posix.EEXIST)
                continue;
            if (errno is Posix.EPERM or Posix.EXDEV or EMLINK or EOPNOTSUPP)
            {
                if (root.LStat(target, out _) != Posix.ENOENT)
                    continue;
                errno = move ? root.Rename(source, target) : CopyBeside(source, target);
                if (errno == 0)
                    made = target;
                return errno;
            }
            if (errno != 0)
                return errno;
            made = target;
            linked = true;
            return move ? root.Unlink(source) : 0;
        }
        return Posix.EEXIST;
    }

    /// <summary>Whether <paramref name="copy"/> is a regular file of the same size and mtime (to the nanosecond) as <paramref name="source"/>.</summary>
    private bool SameVersionKept(byte[] source, byte[] copy) =>
        Root!.LStat(source, out var a) == 0 && Root.LStat(copy, out var b) == 0 && a.IsRegular && b.IsRegular
        && a.Size == b.Size && a.MtimeSeconds == b.MtimeSeconds && a.MtimeNanoseconds == b.MtimeNanoseconds;

    private const int EMLINK = 31;
    private const int EOPNOTSUPP = 95;

    /// <summary>A copy of a regular file's content, mode and mtime under a new name, made through a temporary file.</summary>
    private int CopyBeside(byte[] source, byte[] target)
    {
        var root = Root!;
        int errno = root.LStat(source, out var st);
        if (errno != 0)
            return errno;
        if (!st.IsRegular)
            return EOPNOTSUPP;
        // Named as the receiver's temporary files are (".NAME.XXXXXX"), which watchers leave alone.
        byte[] temp = Receiver.TemporaryName(target);
        errno = root.OpenRead(source, out var input);
        if (errno != 0)
            return errno;
        using (input)
        {
            errno = root.CreateExclusive(temp, 0x180, out var output);
            if (errno != 0)
                return errno;
            try
            {
                using (output)
                    CopyContents(input!, output!);
            }
            catch (IOException)
            {
                root.Unlink(temp);
                return Posix.ENOSPC;
            }
        }
        root.Chmod(temp, st.Mode & 0xFFF);
        root.SetModTime(temp, st.MtimeSeconds, st.MtimeNanoseconds);
        errno = root.Rename(temp, target);
        if (errno != 0)
            root.Unlink(temp);
        return errno;
    }

    /// <summary>
    /// In a two-way module only what differs is changed, and the watchers hear of it first: even a
    /// chmod or utimes that changes nothing would wake them (rsync.c, set_file_attrs also changes
    /// only what differs).
    /// </summary>
    private void OnlyChangedAttributes(ReadOnlySpan<byte> name, FileEntry file, int uid, int gid, int mode, int nanoseconds,
        ref bool chown, ref bool chmod, ref bool keepTime)
    {
        if (Root!.LStat(name, out var current) != 0)
            return;
        chown &= (uid != -1 && current.Uid != uid) || (gid != -1 && current.Gid != gid);
        // A change of owner clears the set-id bits, which the mode then puts back.
        chmod &= chown || (current.Mode & 0xFFF) != (mode & 0xFFF);
        keepTime &= current.MtimeSeconds != file.ModTime || current.MtimeNanoseconds != nanoseconds;
        if (!chown && !chmod && !keepTime)
            return;
        var after = keepTime ? current with { MtimeSeconds = file.ModTime, MtimeNanoseconds = nanoseconds } : current;
        AnnounceState(WrittenKind.Attributes, name, after);
    }

    /// <summary>chmod of a directory during the transfer; in a two-way module only when it changes, announced first.</summary>
    public int ChmodDirectory(ReadOnlySpan<byte> name, int mode)
    {
        var root = Root!;
        if (TwoWay is not null && root.LStat(name, out var current) == 0)
        {
            if ((current.Mode & 0xFFF) == (mode & 0xFFF))
                return 0;
            AnnounceState(WrittenKind.Attributes, name, current);
        }
        return root.Chmod(name, mode);
    }
}
