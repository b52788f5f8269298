using System.Runtime.InteropServices;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Compression;

/// <summary>
/// A raw deflater from the machine's zlib (libz.so.1). The platform's own deflater cannot take
/// history in the middle of a stream; zlib's deflateSetDictionary can, right after a flush, and
/// that is what rsync's Z_INSERT_ONLY does with a matched block (token.c, send_deflated_token):
/// the bytes join the window and the hash chains, and nothing is written. Null from
/// <see cref="TryCreate"/> where no usable zlib is installed.
/// </summary>
internal sealed unsafe class SystemZlib : IDisposable
{
    private const int ZOk = 0;
    private const int ZBufError = -5;
    private const int ZNoFlush = 0;
    private const int ZSyncFlush = 2;
    private const int ZDeflated = 8;
    private const int ZDefaultStrategy = 0;

    // zlib's z_stream on LP64 (zlib.h): the library keeps a pointer to it, so it must not move.
    [StructLayout(LayoutKind.Sequential)]
    private struct ZStream
    {
        public byte* NextIn;
        public uint AvailIn;
        public nuint TotalIn;
        public byte* NextOut;
        public uint AvailOut;
        public nuint TotalOut;
        public byte* Msg;
        public void* State;
        public void* ZAlloc;
        public void* ZFree;
        public void* Opaque;
        public int DataType;
        public nuint Adler;
        public nuint Reserved;
    }

    private sealed class Library
    {
        public required delegate* unmanaged<ZStream*, int, int, int, int, int, byte*, int, int> DeflateInit2;
        public required delegate* unmanaged<ZStream*, int, int> Deflate;
        public required delegate* unmanaged<ZStream*, int> DeflateEnd;
        public required delegate* unmanaged<ZStream*, int> DeflateReset;
        public required delegate* unmanaged<ZStream*, int, int, int> DeflateParams;
        public required delegate* unmanaged<ZStream*, byte*, uint, int> DeflateSetDictionary;
        public required byte* Version;
    }

    private static readonly Library? Loaded = Load();

    private ZStream* _stream;
    private readonly byte[] _out = new byte[64 * 1024];
    private int _level;

    private SystemZlib(ZStream* stream, int level)
    {
        _stream = stream;
        _level = level;
    }

    /// <summary>Whether the machine's zlib was found and takes our stream layout.</summary>
    public static bool Available => Loaded is not null;

    /// <summary>A raw deflater (window 15, memLevel 8, as rsync opens it) at <paramref name="level"/>, or null.</summary>
    public static SystemZlib? TryCreate(int level)
    {
        if (Loaded is not { } lib)
            return null;
        var stream = (ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZStream));
        if (lib.DeflateInit2(stream, level, ZDeflated, -15, 8, ZDefaultStrategy, lib.Version, sizeof(ZStream)) != ZOk)
        {
            NativeMemory.Free(stream);
            return null;
        }
        return new SystemZlib(stream, level);
    }

    /// <summary>A new stream at <paramref name="level"/>, keeping the allocated state (deflateReset).</summary>
    public void Reset(int level)
    {
        Check(Loaded!.DeflateReset(_stream), "deflateReset");
        if (level != _level)
        {
            // Straight after a reset nothing is pending, so the level may change.
            Check(Loaded.DeflateParams(_stream, level, ZDefaultStrategy), "deflateParams");
            _level = level;
        }
    }

    /// <summary>Compresses <paramref name="data"/>; output goes to <paramref name="sink"/> as zlib produces it.</summary>
    public void Write(ReadOnlySpan<byte> data, CompressedOutput sink) => Run(data, ZNoFlush, sink);

    /// <summary>Z_SYNC_FLUSH: everything so far is output, ending with an empty stored block (00 00 ff ff).</summary>
    public void SyncFlush(CompressedOutput sink) => Run([], ZSyncFlush, sink);

    /// <summary>
    /// Adds bytes to the history without output (deflateSetDictionary, allowed in raw deflate
    /// right after a flush). More than the window keeps only its last 32 KiB, as the receiver's does.
    /// </summary>
    public void AddHistory(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
            Check(Loaded!.DeflateSetDictionary(_stream, p, (uint)data.Length), "deflateSetDictionary");
    }

    private void Run(ReadOnlySpan<byte> data, int flush, CompressedOutput sink)
    {
        fixed (byte* input = data)
        fixed (byte* output = _out)
        {
            _stream->NextIn = input;
            _stream->AvailIn = (uint)data.Length;
            while (true)
            {
                _stream->NextOut = output;
                _stream->AvailOut = (uint)_out.Length;
                int status = Loaded!.Deflate(_stream, flush);
                if (status != ZOk && status != ZBufError)
                    Check(status, "deflate");
                int produced = _out.Length - (int)_stream->AvailOut;
                if (produced > 0)
                    sink.Write(_out.AsSpan(0, produced));
                // Done when the input is used up and zlib did not fill the output (zlib.h, deflate).
                if (_stream->AvailIn == 0 && _stream->AvailOut != 0)
                    break;
            }
            _stream->NextIn = null;
            _stream->NextOut = null;
        }
    }

    private static void Check(int status, string call)
    {
        if (status != ZOk)
            throw new RsyncProtocolException($"{call} returned {status}", ExitCodes.StreamIo);
    }

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    ~SystemZlib() => Release();

    private void Release()
    {
        if (_stream is null)
            return;
        Loaded!.DeflateEnd(_stream);
        NativeMemory.Free(_stream);
        _stream = null;
    }

    private static Library? Load()
    {
        if (!OperatingSystem.IsLinux() || sizeof(nuint) != 8)
            return null;
        if (!NativeLibrary.TryLoad("libz.so.1", out nint handle))
            return null;
        try
        {
            var version = (byte*)((delegate* unmanaged<byte*>)NativeLibrary.GetExport(handle, "zlibVersion"))();
            // deflateSetDictionary mid-stream on raw deflate came with zlib 1.2.x; 1.0 and 1.1 are long gone.
            if (version is null || version[0] != (byte)'1' || version[1] != (byte)'.' || version[2] < (byte)'2')
                return null;
            return new Library
            {
                DeflateInit2 = (delegate* unmanaged<ZStream*, int, int, int, int, int, byte*, int, int>)NativeLibrary.GetExport(handle, "deflateInit2_"),
                Deflate = (delegate* unmanaged<ZStream*, int, int>)NativeLibrary.GetExport(handle, "deflate"),
                DeflateEnd = (delegate* unmanaged<ZStream*, int>)NativeLibrary.GetExport(handle, "deflateEnd"),
                DeflateReset = (delegate* unmanaged<ZStream*, int>)NativeLibrary.GetExport(handle, "deflateReset"),
                DeflateParams = (delegate* unmanaged<ZStream*, int, int, int>)NativeLibrary.GetExport(handle, "deflateParams"),
                DeflateSetDictionary = (delegate* unmanaged<ZStream*, byte*, uint, int>)NativeLibrary.GetExport(handle, "deflateSetDictionary"),
                Version = version,
            };
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
    }
}
