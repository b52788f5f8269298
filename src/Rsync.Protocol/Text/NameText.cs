using System.Buffers;
using System.Text;

namespace NetRsync.Protocol.Text;

/// <summary>
/// A file name held in a .NET string without losing a byte, for the places that must pass one as
/// text: command-line arguments, config values, and message lines before they are escaped for output.
/// Valid UTF-8 reads as itself; every other byte b becomes the lone surrogate U+DC00+b (PEP 383's
/// "surrogateescape"), which no valid UTF-8 can produce, so <see cref="ToBytes"/> gives back the
/// original bytes exactly.
/// </summary>
public static class NameText
{
    private const char EscapeBase = '\uDC00';

    /// <summary>The bytes as text: UTF-8 where it is valid, an escaped byte where it is not.</summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (Ascii.IsValid(bytes))
            return Encoding.ASCII.GetString(bytes);
        var sb = new StringBuilder(bytes.Length);
        Span<char> pair = stackalloc char[2];
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out var rune, out int used) == OperationStatus.Done)
            {
                sb.Append(pair[..rune.EncodeToUtf16(pair)]);
                bytes = bytes[used..];
            }
            else
            {
                sb.Append((char)(EscapeBase + bytes[0]));
                bytes = bytes[1..];
            }
        }
        return sb.ToString();
    }

    /// <summary>The bytes a string from <see cref="FromBytes"/> came from; plain text encodes as UTF-8.</summary>
    public static byte[] ToBytes(string text)
    {
        if (Ascii.IsValid(text))
            return Encoding.ASCII.GetBytes(text);
        var buffer = new ArrayBufferWriter<byte>(text.Length * 3);
        Append(text, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the bytes of <paramref name="text"/> (see <see cref="ToBytes"/>) to <paramref name="output"/>.</summary>
    public static void Append(ReadOnlySpan<char> text, IBufferWriter<byte> output)
    {
        while (!text.IsEmpty)
        {
            char c = text[0];
            if (c >= '\uDC80' && c <= '\uDCFF')
            {
                output.GetSpan(1)[0] = (byte)(c - EscapeBase);
                output.Advance(1);
                text = text[1..];
                continue;
            }
            if (Rune.DecodeFromUtf16(text, out var rune, out int used) != OperationStatus.Done)
                rune = Rune.ReplacementChar;
            output.Advance(rune.EncodeToUtf8(output.GetSpan(4)));
            text = text[used..];
        }
    }

    /// <summary>True when the text holds a byte that is not valid UTF-8.</summary>
    public static bool HasEscapedBytes(ReadOnlySpan<char> text) => text.ContainsAnyInRange('\uDC80', '\uDCFF');
}
