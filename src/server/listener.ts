import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";

/** A request handler that serves both HTTP/1.1 and HTTP/2 requests. */
export type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Options for {@link OnePortServer}. */
export interface OnePortOptions {
  readonly handler: Handler;
  /** PEM certificate and key; when set, TLS connections are accepted too. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer } | undefined;
  /** Time a connection may take to send its first bytes and headers. */
  readonly headersTimeoutMs?: number;
  /** Idle keep-alive time for HTTP/1.1 connections. */
  readonly keepAliveTimeoutMs?: number;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const TLS_HANDSHAKE = 0x16;

/**
 * One TCP port for every protocol: Node's cleartext HTTP/2 server cannot
 * also speak HTTP/1.1, so each connection's first bytes are peeked and the
 * socket is handed to the right server — h2c with prior knowledge (gRPC),
 * HTTP/1.1 (Connect, gRPC-Web, REST), or TLS with ALPN choosing h2 or
 * HTTP/1.1. Both servers read bytes already buffered on a handed-over socket.
 */
export class OnePortServer {
  private readonly tcp: net.Server;
  private readonly http1: http.Server;
  private readonly h2c: http2.Http2Server;
  private readonly secure: http2.Http2SecureServer | undefined;
  private readonly sessions = new Set<http2.Http2Session>();
  private readonly sockets = new Set<net.Socket>();
  private inflight = 0;
  private drained: (() => void) | undefined;

  constructor(opts: OnePortOptions) {
    const handler: Handler = (req, res) => {
      this.inflight++;
      res.once("close", () => {
        this.inflight--;
        if (this.inflight === 0) this.drained?.();
      });
      opts.handler(req, res);
    };
    const headersTimeout = opts.headersTimeoutMs ?? 10_000;
    this.http1 = http.createServer({ headersTimeout, requestTimeout: 0, keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000 }, handler);
    // Explicit HTTP/2 limits rather than Node's open-ended defaults.
    const h2 = { settings: { maxConcurrentStreams: 1_000 }, maxSessionMemory: 32, maxHeaderListPairs: 256 };
    this.h2c = http2.createServer(h2, handler);
    this.h2c.on("session", (s) => this.track(s));
    if (opts.tls) {
      this.secure = http2.createSecureServer({ ...h2, cert: opts.tls.cert, key: opts.tls.key, allowHTTP1: true }, handler);
      this.secure.on("session", (s) => this.track(s));
    }
    this.tcp = net.createServer((socket) => this.route(socket, headersTimeout));
  }

  /** Listens on `port` (0 picks a free one) and resolves with the bound port. */
  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.tcp.once("error", reject);
      this.tcp.listen(port, host, () => {
        this.tcp.off("error", reject);
        resolve((this.tcp.address() as net.AddressInfo).port);
      });
    });
  }

  /**
   * Stops accepting connections, lets in-flight calls finish for up to
   * `graceMs`, then closes whatever is left.
   */
  async close(graceMs = 10_000): Promise<void> {
    const closed = new Promise<void>((r) => this.tcp.close(() => r()));
    for (const s of this.sessions) s.close(); // GOAWAY: no new streams, current ones finish
    this.http1.closeIdleConnections();
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        setTimeout(resolve, graceMs).unref();
      });
    }
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private track(session: http2.Http2Session): void {
    this.sessions.add(session);
    session.once("close", () => this.sessions.delete(session));
  }

  /** Peeks at the first bytes and hands the socket to the matching server. */
  private route(socket: net.Socket, timeoutMs: number): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on("error", () => socket.destroy());
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const tls = head[0] === TLS_HANDSHAKE;
      // Four bytes tell "PRI " (h2 preface) from POST/PUT/PATCH.
      if (!tls && head.length < 4) return;
      socket.off("data", onData);
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(head);
      this.handOver(socket, tls, head);
    };
    socket.on("data", onData);
  }

  private handOver(socket: net.Socket, tls: boolean, head: Buffer): void {
    let target: net.Server;
    if (tls) {
      if (!this.secure) return void socket.destroy();
      target = this.secure;
    } else if (head.subarray(0, 4).equals(H2_PREFACE.subarray(0, 4))) {
      target = this.h2c;
    } else {
      target = this.http1;
    }
    target.emit("connection", socket as Duplex);
    // HTTP/1.1 feeds its parser from the socket handle directly; resuming
    // flushes the peeked bytes (still in the JS buffer) to it first.
    if (target === this.http1) socket.resume();
  }
}
