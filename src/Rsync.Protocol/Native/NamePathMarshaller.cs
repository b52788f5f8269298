using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using NetRsync.Protocol.Text;

namespace NetRsync.Protocol.Native;

/// <summary>Passes a path string to libc as the bytes it stands for (<see cref="NameText"/>), not as re-encoded UTF-8.</summary>
[CustomMarshaller(typeof(string), MarshalMode.ManagedToUnmanagedIn, typeof(NamePathMarshaller))]
internal static unsafe class NamePathMarshaller
{
    public static byte* ConvertToUnmanaged(string? managed)
    {
        if (managed is null)
            return null;
        byte[] bytes = NameText.ToBytes(managed);
        byte* p = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
        bytes.CopyTo(new Span<byte>(p, bytes.Length));
        p[bytes.Length] = 0;
        return p;
    }

    public static void Free(byte* unmanaged) => NativeMemory.Free(unmanaged);
}
