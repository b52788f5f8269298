using NetRsync.Protocol.Client;
using NetRsync.Protocol.Wire;

namespace NetRsync.Protocol.Compression;

/// <summary>The token stream that matches a connection's negotiated compression (token.c, send_token / recv_token).</summary>
internal static class TokenCodecs
{
    public static TokenSender CreateSender(TransferContext ctx) => ctx.Algorithms.Compression switch
    {
        CompressionKind.None => new PlainTokenSender(ctx.Writer),
        var kind => throw Unsupported(kind),
    };

    public static TokenReceiver CreateReceiver(TransferContext ctx) => ctx.Algorithms.Compression switch
    {
        CompressionKind.None => new PlainTokenReceiver(ctx.Reader),
        var kind => throw Unsupported(kind),
    };

    private static RsyncException Unsupported(CompressionKind kind) =>
        new($"compression {CompressionKinds.Name(kind)} is not supported", ExitCodes.Unsupported);
}
