import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/**
 * The peer address of the connection a call came on (the TCP socket's
 * remote address), set by the transport for every RPC. It is the direct
 * peer: behind a reverse proxy it is the proxy's address (forwarding
 * headers are not trusted, since any client can send them).
 */
export const peerAddressKey = createContextKey<string>("", { description: "client address" });

/** The caller's address, "" when the transport did not provide one. */
export function peerAddress(ctx: HandlerContext): string {
  return ctx.values.get(peerAddressKey);
}
