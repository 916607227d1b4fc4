import type http from "node:http";
import type net from "node:net";

/** How long, and how many bytes, a connection answered early is read on before it is closed. */
const LINGER_MS = 5_000;
const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * Lingering close (as nginx does): a request answered before its body was
 * read (oversized, refused) keeps being read — and discarded — after the
 * answer, up to LINGER_BYTES and LINGER_MS, so a client that writes its
 * whole body before it reads (node:http does) reads the answer instead of
 * an EPIPE or a reset. When the answer closes the connection, only our
 * sending side closes at first (FIN after the answer); the socket is
 * destroyed once the body has ended or the bound is reached.
 */
export function lingerAfter(req: http.IncomingMessage, socket: net.Socket): void {
  const s = socket as net.Socket & { destroySoon(): void };
  const own = s.destroySoon;
  let bytes = 0;
  const stop = (): void => {
    clearTimeout(timer);
    s.destroySoon = own;
    if (closing) s.destroy();
  };
  let closing = false;
  const timer = setTimeout(() => {
    closing = true;
    stop();
  }, LINGER_MS);
  timer.unref();
  // Node calls destroySoon right after "finish" when the answer said "close": half-close instead.
  s.destroySoon = () => {
    closing = true;
    s.end();
  };
  req.on("data", (c: Buffer) => {
    bytes += c.length;
    if (bytes > LINGER_BYTES) {
      closing = true;
      stop();
    }
  });
  req.once("end", stop);
  req.once("error", stop);
  req.resume();
}
