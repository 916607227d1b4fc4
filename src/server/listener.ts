import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Duplex } from "node:stream";
import type tls from "node:tls";
import { drainAwareResponseClass } from "./drain-aware-response.js";

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
  /**
   * While draining, how long an HTTP/1.1 keep-alive connection may stay idle
   * before it is closed (default 1 s). A busy client's next request comes
   * sooner and is answered with `Connection: close`; closing a connection
   * the instant a request may be on its way would reset that request.
   */
  readonly drainIdleMs?: number;
  /** Called once the listener is closed and draining begins (a log line). */
  readonly onStopAccepting?: () => void;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const TLS_HANDSHAKE = 0x16;

/**
 * One TCP port for every protocol: Node's cleartext HTTP/2 server cannot
 * also speak HTTP/1.1, so each connection's first bytes are peeked and the
 * socket is handed to the right server — h2c with prior knowledge (gRPC),
 * HTTP/1.1 (Connect, gRPC-Web, REST), or TLS with ALPN choosing h2 or
 * HTTP/1.1. Both servers read bytes already buffered on a handed-over socket.
 *
 * {@link close} drains: HTTP/2 sessions get GOAWAY and finish their open
 * streams; HTTP/1.1 connections finish the request they are serving,
 * answered with `Connection: close`, and idle ones are closed at once.
 */
export class OnePortServer {
  private readonly tcp: net.Server;
  private readonly http1: http.Server;
  private readonly h2c: http2.Http2Server;
  private readonly secure: http2.Http2SecureServer | undefined;
  private readonly sessions = new Set<http2.Http2Session>();
  /** Every accepted TCP socket, until it closes. */
  private readonly sockets = new Set<net.Socket>();
  /** Sockets whose first bytes have not been seen yet. */
  private readonly peeking = new Set<net.Socket>();
  /** HTTP/1.1 connections (cleartext sockets, or TLS sockets that chose HTTP/1.1) → requests in flight on each. */
  private readonly http1Conns = new Map<Duplex, number>();
  private draining = false;
  private closing: Promise<number> | undefined;
  private readonly drainIdleMs: number;
  private readonly onStopAccepting: (() => void) | undefined;
  /** Connections accepted so far. */
  private accepted = 0;
  /** While draining: told each time an accepted socket closes. */
  private onSocketClosed: (() => void) | undefined;

  constructor(opts: OnePortOptions) {
    const handler = opts.handler;
    this.drainIdleMs = opts.drainIdleMs ?? 1_000;
    this.onStopAccepting = opts.onStopAccepting;
    // HTTP/1.1 requests are counted by their response class (no listener per request).
    const ServerResponse = drainAwareResponseClass({
      started: (socket) => this.http1Conns.set(socket, (this.http1Conns.get(socket) ?? 0) + 1),
      ended: (socket) => this.http1RequestEnded(socket),
      draining: () => this.draining,
    });
    const headersTimeout = opts.headersTimeoutMs ?? 10_000;
    this.http1 = http.createServer(
      {
        headersTimeout,
        requestTimeout: 0,
        keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
        connectionsCheckingInterval: Math.min(1_000, headersTimeout),
        ServerResponse,
      },
      handler,
    );
    // Node enforces headersTimeout from a connection check it starts when a
    // server emits "listening"; this one never listens (sockets are handed
    // over), so start the check here — else a client that sends half a
    // header would hold its connection open for ever (slowloris).
    this.http1.emit("listening");
    // Explicit HTTP/2 limits rather than Node's open-ended defaults.
    const h2 = { settings: { maxConcurrentStreams: 1_000 }, maxSessionMemory: 32, maxHeaderListPairs: 256 };
    this.h2c = http2.createServer(h2, handler);
    this.h2c.on("session", (s) => this.track(s));
    if (opts.tls) {
      this.secure = http2.createSecureServer(
        { ...h2, cert: opts.tls.cert, key: opts.tls.key, allowHTTP1: true, Http1ServerResponse: ServerResponse },
        handler,
      );
      this.secure.on("session", (s) => this.track(s));
      this.secure.on("secureConnection", (s: tls.TLSSocket) => {
        if (s.alpnProtocol !== "h2") this.trackHttp1Conn(s);
      });
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
   * Drains and closes: keeps accepting for `acceptMs` (a load balancer
   * polling readiness needs that long to stop sending; answers already say
   * `Connection: close` then), accepts the connections the kernel has
   * queued, stops accepting, and from then on answers every request that
   * reaches it with `Connection: close` (HTTP/1.1; HTTP/2 sessions get
   * GOAWAY and finish their streams); resolves once every connection is
   * closed — or after `graceMs` from the call, when whatever is left is cut
   * off — with the number of connections cut off.
   */
  close(graceMs = 10_000, acceptMs = 0): Promise<number> {
    this.closing ??= this.drain(graceMs, acceptMs);
    return this.closing;
  }

  private async drain(graceMs: number, acceptMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((r) => {
      timer = setTimeout(r, graceMs);
    });
    if (acceptMs > 0) {
      // A load balancer polling readiness stops sending meanwhile; answers
      // say "close" already, so its pooled connections move elsewhere.
      this.beginDraining();
      await Promise.race([new Promise((r) => setTimeout(r, Math.min(acceptMs, graceMs))), expired]);
    }
    // Before anything says "close" (which sends clients back with new
    // connections that closing the listener would reset): the connections
    // already queued are accepted, then the listener closes.
    await this.acceptBacklog();
    // Resolves once the listener is closed and every accepted socket is gone
    // (counted here: sockets handed to the HTTP servers are theirs in Node's own count).
    const listenerClosed = new Promise<void>((r) => this.tcp.close(() => r()));
    const allClosed = Promise.all([listenerClosed, this.socketsGone()]).then(() => undefined);
    this.beginDraining();
    this.onStopAccepting?.();
    // A connection that has sent nothing yet may be sending now: it gets the drain idle time too.
    for (const s of this.peeking) this.destroyIfSilent(s);
    await Promise.race([allClosed, expired]);
    clearTimeout(timer);
    const cut = this.sockets.size;
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
    await allClosed;
    return cut;
  }

  /** From now on: HTTP/1.1 answers say `Connection: close`, HTTP/2 sessions get GOAWAY, idle connections close. */
  private beginDraining(): void {
    if (this.draining) return;
    this.draining = true;
    for (const s of this.sessions) s.close(); // GOAWAY: no new streams, open ones finish
    // Responses not answered yet say the connection closes after them (see
    // http1ResponseClass). Idle connections are closed between requests.
    for (const [socket, active] of this.http1Conns) if (active === 0) this.closeWhenIdle(socket);
  }

  /**
   * Accepts the connections the kernel has already completed: closing the
   * listener would reset them, and their clients may have sent a request (a
   * stalled event loop lets dozens queue up while the stop signal waits in
   * the same batch). Node accepts about one per turn of the loop: turns
   * until two in a row accept none (at most 200).
   */
  private async acceptBacklog(): Promise<void> {
    let quiet = 0;
    for (let turn = 0; turn < 200 && quiet < 2; turn++) {
      const before = this.accepted;
      await new Promise((r) => setImmediate(r));
      quiet = this.accepted === before ? quiet + 1 : 0;
    }
  }

  /** Resolves once no accepted socket is open. */
  private socketsGone(): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.sockets.size > 0) return;
        this.onSocketClosed = undefined;
        resolve();
      };
      this.onSocketClosed = check;
    });
  }

  /** Destroys a connection that still sent nothing after drainIdleMs. */
  private destroyIfSilent(socket: net.Socket): void {
    const timer = setTimeout(() => {
      if (this.peeking.has(socket)) socket.destroy();
    }, this.drainIdleMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  }

  /** Closes an idle HTTP/1.1 connection once it stayed idle for drainIdleMs; a request meanwhile is answered with `Connection: close` first. */
  private closeWhenIdle(socket: Duplex): void {
    const timer = setTimeout(() => {
      if (this.http1Conns.get(socket) === 0) socket.destroy();
    }, this.drainIdleMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  }

  private track(session: http2.Http2Session): void {
    this.sessions.add(session);
    session.once("close", () => this.sessions.delete(session));
    // A session that starts while draining gets its GOAWAY at once.
    if (this.draining) session.close();
  }

  private trackHttp1Conn(socket: Duplex): void {
    this.http1Conns.set(socket, 0);
    socket.once("close", () => this.http1Conns.delete(socket));
    // Accepted while draining (the accept delay): served, then closed.
    if (this.draining) this.closeWhenIdle(socket);
  }

  /** One HTTP/1.1 request on `socket` was answered (or abandoned). */
  private http1RequestEnded(socket: Duplex): void {
    const active = (this.http1Conns.get(socket) ?? 1) - 1;
    if (socket.destroyed) return;
    this.http1Conns.set(socket, active);
    // A response sent before draining began said keep-alive: close the
    // connection once its last request is answered (the data is flushed first).
    if (this.draining && active === 0) (socket as net.Socket).destroySoon();
  }

  /** Peeks at the first bytes and hands the socket to the matching server. */
  private route(socket: net.Socket, timeoutMs: number): void {
    this.accepted++;
    this.sockets.add(socket);
    this.peeking.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.peeking.delete(socket);
      this.onSocketClosed?.();
    });
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on("error", () => socket.destroy());
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const tls = head[0] === TLS_HANDSHAKE;
      // Four bytes tell "PRI " (h2 preface) from POST/PUT/PATCH.
      if (!tls && head.length < 4) return;
      socket.off("data", onData);
      this.peeking.delete(socket);
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
      this.trackHttp1Conn(socket);
    }
    target.emit("connection", socket as Duplex);
    // HTTP/1.1 feeds its parser from the socket handle directly; resuming
    // flushes the peeked bytes (still in the JS buffer) to it first.
    if (target === this.http1) socket.resume();
  }
}
