import type http from "node:http";
import type http2 from "node:http2";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;

/** What reading a request body ended with. */
export type BodyRead =
  | { readonly kind: "whole"; readonly bytes: Buffer }
  /** More than the limit arrived: `replay` yields what was read, then the rest of the request. */
  | { readonly kind: "over"; readonly replay: AsyncIterable<Uint8Array> }
  /** The client went away or the stream failed: nothing is answered, as nothing could be. */
  | { readonly kind: "gone" };

/**
 * Reads a request body with plain stream events. connect-node reads it
 * through two nested async generators (an async frame and a promise per
 * chunk); a unary body is usually one chunk. Past `limit` bytes it stops
 * and hands back a replay of the bytes taken so far followed by the rest,
 * so connect-node can be given the request as if nothing had been read.
 */
export function readBody(req: NodeRequest, limit: number, done: (r: BodyRead) => void): void {
  let first: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  const stop = () => {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("error", onError);
    req.off("close", onError);
  };
  const onData = (c: Buffer) => {
    size += c.length;
    if (first === undefined) first = c;
    else (chunks ??= [first]).push(c);
    if (size > limit) {
      stop();
      req.pause();
      done({ kind: "over", replay: replay(chunks ?? [first], req) });
    }
  };
  const onEnd = () => {
    stop();
    done({ kind: "whole", bytes: chunks ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0)) });
  };
  const onError = () => {
    stop();
    done({ kind: "gone" });
  };
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", onError);
  req.on("close", onError);
}

/** `taken`, then whatever the request still has. */
async function* replay(taken: readonly Buffer[], rest: NodeRequest): AsyncGenerator<Uint8Array> {
  yield* taken;
  for await (const c of rest) yield c as Buffer;
}

/** The whole body as connect-node's body iterable would yield it, for a call handed back to connect-node. */
export async function* bodyOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
