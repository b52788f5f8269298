using System.Runtime.InteropServices;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Compression;

/// <summary>
/// Streaming zstd from the machine's libzstd (libzstd.so.1), the library rsync 3.2+ itself links:
/// the managed port compresses the same stream at about half the speed. One context per
/// connection, as rsync keeps (token.c, send_zstd_token and recv_zstd_token). Null from the
/// factories where no libzstd is installed; the callers then use the managed port.
/// </summary>
internal sealed unsafe class SystemZstd : IDisposable
{
    private const int CompressionLevelParameter = 100; // ZSTD_c_compressionLevel
    private const int EndContinue = 0;                 // ZSTD_e_continue
    private const int EndFlush = 1;                    // ZSTD_e_flush

    [StructLayout(LayoutKind.Sequential)]
    private struct Buffer
    {
        public byte* Data;
        public nuint Size;
        public nuint Position;
    }

    private sealed class Library
    {
        public required delegate* unmanaged<nint> CreateCCtx;
        public required delegate* unmanaged<nint, nuint> FreeCCtx;
        public required delegate* unmanaged<nint, int, int, nuint> SetParameter;
        public required delegate* unmanaged<nint, Buffer*, Buffer*, int, nuint> CompressStream2;
        public required delegate* unmanaged<nint> CreateDCtx;
        public required delegate* unmanaged<nint, nuint> FreeDCtx;
        public required delegate* unmanaged<nint, Buffer*, Buffer*, nuint> DecompressStream;
        public required delegate* unmanaged<nuint, uint> IsError;
        public required delegate* unmanaged<nuint, byte*> ErrorName;
    }

    private static readonly Library? Loaded = Load();

    private nint _context;
    private readonly bool _compressing;

    private SystemZstd(nint context, bool compressing)
    {
        _context = context;
        _compressing = compressing;
    }

    public static bool Available => Loaded is not null;

    /// <summary>A compression stream at <paramref name="level"/>, or null.</summary>
    public static SystemZstd? TryCompressor(int level)
    {
        if (Loaded is not { } lib)
            return null;
        nint cctx = lib.CreateCCtx();
        if (cctx == 0)
            return null;
        var zstd = new SystemZstd(cctx, compressing: true);
        zstd.Check(lib.SetParameter(cctx, CompressionLevelParameter, level), "ZSTD_CCtx_setParameter");
        return zstd;
    }

    /// <summary>A decompression stream, or null.</summary>
    public static SystemZstd? TryDecompressor()
    {
        if (Loaded is not { } lib)
            return null;
        nint dctx = lib.CreateDCtx();
        return dctx == 0 ? null : new SystemZstd(dctx, compressing: false);
    }

    /// <summary>ZSTD_compressStream2 with ZSTD_e_continue, or ZSTD_e_flush when <paramref name="flush"/>; true when a flush is complete.</summary>
    public bool Compress(ReadOnlySpan<byte> source, Span<byte> destination, bool flush, out int consumed, out int written)
    {
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            var input = new Buffer { Data = src, Size = (nuint)source.Length };
            var output = new Buffer { Data = dst, Size = (nuint)destination.Length };
            nuint left = Loaded!.CompressStream2(_context, &output, &input, flush ? EndFlush : EndContinue);
            Check(left, "ZSTD_compressStream2");
            consumed = (int)input.Position;
            written = (int)output.Position;
            return left == 0;
        }
    }

    /// <summary>ZSTD_decompressStream; a bad stream is the peer's fault.</summary>
    public void Decompress(ReadOnlySpan<byte> source, Span<byte> destination, out int consumed, out int written)
    {
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            var input = new Buffer { Data = src, Size = (nuint)source.Length };
            var output = new Buffer { Data = dst, Size = (nuint)destination.Length };
            nuint status = Loaded!.DecompressStream(_context, &output, &input);
            if (Loaded.IsError(status) != 0)
                throw new RsyncProtocolException($"zstd decompression failed: {ErrorText(status)} [receiver]", ExitCodes.StreamIo);
            consumed = (int)input.Position;
            written = (int)output.Position;
        }
    }

    private void Check(nuint status, string call)
    {
        if (Loaded!.IsError(status) != 0)
            throw new RsyncProtocolException($"{call} failed: {ErrorText(status)}", ExitCodes.StreamIo);
    }

    private static string ErrorText(nuint status) => Marshal.PtrToStringUTF8((nint)Loaded!.ErrorName(status)) ?? $"error {status}";

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    ~SystemZstd() => Release();

    private void Release()
    {
        if (_context == 0)
            return;
        if (_compressing)
            Loaded!.FreeCCtx(_context);
        else
            Loaded!.FreeDCtx(_context);
        _context = 0;
    }

    private static Library? Load()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libzstd.so.1", out nint handle))
            return null;
        try
        {
            // The streaming calls used here are stable from 1.4.0 (ZSTD_versionNumber 10400).
            if (((delegate* unmanaged<uint>)NativeLibrary.GetExport(handle, "ZSTD_versionNumber"))() < 10400)
                return null;
            return new Library
            {
                CreateCCtx = (delegate* unmanaged<nint>)NativeLibrary.GetExport(handle, "ZSTD_createCCtx"),
                FreeCCtx = (delegate* unmanaged<nint, nuint>)NativeLibrary.GetExport(handle, "ZSTD_freeCCtx"),
                SetParameter = (delegate* unmanaged<nint, int, int, nuint>)NativeLibrary.GetExport(handle, "ZSTD_CCtx_setParameter"),
                CompressStream2 = (delegate* unmanaged<nint, Buffer*, Buffer*, int, nuint>)NativeLibrary.GetExport(handle, "ZSTD_compressStream2"),
                CreateDCtx = (delegate* unmanaged<nint>)NativeLibrary.GetExport(handle, "ZSTD_createDCtx"),
                FreeDCtx = (delegate* unmanaged<nint, nuint>)NativeLibrary.GetExport(handle, "ZSTD_freeDCtx"),
                DecompressStream = (delegate* unmanaged<nint, Buffer*, Buffer*, nuint>)NativeLibrary.GetExport(handle, "ZSTD_decompressStream"),
                IsError = (delegate* unmanaged<nuint, uint>)NativeLibrary.GetExport(handle, "ZSTD_isError"),
                ErrorName = (delegate* unmanaged<nuint, byte*>)NativeLibrary.GetExport(handle, "ZSTD_getErrorName"),
            };
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
    }
}
