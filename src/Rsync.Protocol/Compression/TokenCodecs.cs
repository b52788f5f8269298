using NetRsync.Protocol.Client;

namespace NetRsync.Protocol.Compression;

/// <summary>The token stream that matches a connection's negotiated compression (token.c, send_token / recv_token).</summary>
internal static class TokenCodecs
{
    public static TokenSender CreateSender(TransferContext ctx) => ctx.Algorithms.Compression switch
    {
        CompressionKind.Zlib => new DeflateTokenSender(ctx.Writer, ctx.Protocol, includeMatchedInHistory: true),
        CompressionKind.ZlibX => new DeflateTokenSender(ctx.Writer, ctx.Protocol, includeMatchedInHistory: false),
        CompressionKind.Zstd => new ZstdTokenSender(ctx.Writer, ctx.Algorithms.CompressionLevel),
        CompressionKind.Lz4 => new Lz4TokenSender(ctx.Writer),
        _ => new PlainTokenSender(ctx.Writer),
    };

    public static TokenReceiver CreateReceiver(TransferContext ctx) => ctx.Algorithms.Compression switch
    {
        CompressionKind.Zlib => new DeflateTokenReceiver(ctx.Reader, ctx.Protocol, includeMatchedInHistory: true),
        CompressionKind.ZlibX => new DeflateTokenReceiver(ctx.Reader, ctx.Protocol, includeMatchedInHistory: false),
        CompressionKind.Zstd => new ZstdTokenReceiver(ctx.Reader),
        CompressionKind.Lz4 => new Lz4TokenReceiver(ctx.Reader),
        _ => new PlainTokenReceiver(ctx.Reader),
    };
}
