/**
 * A small TCP (layer 4) load balancer for the rolling-restart benchmark: it
 * spreads new connections round-robin over the backends that answered their
 * last `GET /readyz` with 200 (polled every `pollMs`), and pipes bytes both
 * ways untouched.
 *
 * Why layer 4 and not HAProxy in HTTP mode: the figure is what roomgate's
 * drain does for a client, so the drain signals (`Connection: close`, HTTP/2
 * GOAWAY) must reach the client as the server sent them. An HTTP proxy ends
 * them at the proxy, keeps its own pool to the backends and retries on its
 * own terms — the figure would then measure the proxy. It also needs no
 * package, no generated config and no extra process on a shared machine.
 *
 * A connection is only forwarded once the backend accepted it; until then
 * the client's bytes wait here. When the chosen backend refuses (it stopped
 * accepting between two readiness polls) nothing has reached any server, so
 * the next live backend is tried — a clean retry, counted. A reset from a
 * backend is passed on as a reset, so the client sees what it would see
 * connected directly.
 */
import http from "node:http";
import net from "node:net";
import { performance } from "node:perf_hooks";

/** One backend: its port on 127.0.0.1, and what the balancer knows of it. */
export interface Backend {
  readonly port: number;
  /** Answered its last /readyz poll with 200. */
  live: boolean;
  /** Connections handed to it. */
  connections: number;
  /** performance.now() of each change of `live`, for detection times. */
  readonly changes: { at: number; live: boolean }[];
}

/** Counts kept by the balancer over its life. */
export interface BalancerStats {
  /** Backend connects refused (ECONNREFUSED) and retried on another backend: nothing was sent. */
  refusedRetried: number;
  /** Backend connects that failed otherwise (also retried: nothing was sent). */
  otherConnectErrors: number;
  /** Client connections closed because no backend took them within `queueMs` (the client sees a reset). */
  noBackend: number;
  /** Connections that waited for a live backend (none was), however long. */
  queued: number;
}

/** A running balancer. */
export interface Balancer {
  readonly port: number;
  readonly backends: readonly Backend[];
  readonly stats: BalancerStats;
  /** Resolves with the time of the first change of `backend` to `live` at or after `since`. */
  waitFor(backend: Backend, live: boolean, since: number): Promise<number>;
  /** Stops polling and listening and destroys every connection. */
  close(): Promise<void>;
}

/** Options for {@link startBalancer}. */
export interface BalancerOptions {
  readonly backendPorts: readonly number[];
  /** Readiness poll period (default 200 ms). */
  readonly pollMs?: number;
  /**
   * How long a readiness check may take (default 1000 ms). A backend busy
   * with the load may take longer than a poll period to answer; only a
   * refusal, a non-200 answer or this timeout marks it down (a draining
   * server answers 503 at once, so detection stays within about a poll period).
   */
  readonly checkTimeoutMs?: number;
  /** How long a new connection waits for a live backend when none is (default 2000 ms), as a balancer queues it. */
  readonly queueMs?: number;
}

/** One GET /readyz; true on 200 within `timeoutMs`. */
function ready(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/readyz", agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

/** Starts a balancer on a free port of 127.0.0.1 over `backendPorts`, all assumed live until the first poll. */
export async function startBalancer(opts: BalancerOptions): Promise<Balancer> {
  const lb = new TcpBalancer(opts);
  await lb.listen();
  return lb;
}

class TcpBalancer implements Balancer {
  port = 0;
  readonly backends: Backend[];
  readonly stats: BalancerStats = { refusedRetried: 0, otherConnectErrors: 0, noBackend: 0, queued: 0 };
  private readonly pollMs: number;
  private readonly checkTimeoutMs: number;
  private readonly queueMs: number;
  private readonly open = new Set<net.Socket>();
  private readonly server: net.Server;
  private polling: Promise<unknown> = Promise.resolve();
  private next = 0;
  private stopped = false;

  constructor(opts: BalancerOptions) {
    this.pollMs = opts.pollMs ?? 200;
    this.checkTimeoutMs = opts.checkTimeoutMs ?? 1_000;
    this.queueMs = opts.queueMs ?? 2_000;
    this.backends = opts.backendPorts.map((port) => ({ port, live: true, connections: 0, changes: [] }));
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      this.track(client);
      client.pause(); // bytes wait in the socket until a backend has accepted
      client.on("error", () => undefined);
      this.connect(client, new Set());
    });
  }

  async listen(): Promise<void> {
    this.port = await new Promise<number>((resolve) =>
      this.server.listen(0, "127.0.0.1", () => resolve((this.server.address() as net.AddressInfo).port)),
    );
    this.polling = Promise.all(this.backends.map((b) => this.poll(b)));
  }

  waitFor(backend: Backend, live: boolean, since: number): Promise<number> {
    return new Promise((resolve) => {
      const check = (): void => {
        const seen = backend.changes.find((c) => c.at >= since && c.live === live);
        if (seen) resolve(seen.at);
        else setTimeout(check, 20);
      };
      check();
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.polling;
    for (const s of this.open) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private track(s: net.Socket): void {
    this.open.add(s);
    s.once("close", () => this.open.delete(s));
  }

  /** The next live backend after the last one chosen, skipping `tried`. */
  private pick(tried: Set<Backend>): Backend | undefined {
    for (let i = 0; i < this.backends.length; i++) {
      const b = this.backends[(this.next + i) % this.backends.length]!;
      if (b.live && !tried.has(b)) {
        this.next = (this.next + i + 1) % this.backends.length;
        return b;
      }
    }
    return undefined;
  }

  private connect(client: net.Socket, tried: Set<Backend>, waitedMs = 0): void {
    const b = this.pick(tried);
    if (b === undefined && waitedMs < this.queueMs && !client.destroyed) {
      if (waitedMs === 0) this.stats.queued++;
      // None live (or all tried): wait for a poll to bring one back, trying all again.
      setTimeout(() => this.connect(client, new Set(), waitedMs + 25), 25);
      return;
    }
    if (b === undefined) {
      this.stats.noBackend++;
      client.resetAndDestroy();
      return;
    }
    tried.add(b);
    const up = net.connect({ host: "127.0.0.1", port: b.port, allowHalfOpen: true, noDelay: true });
    this.track(up);
    // Before "connect" nothing of the client's has been written anywhere: any
    // failure (a refusal, in practice) is retried on the next live backend.
    up.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED") this.stats.refusedRetried++;
      else this.stats.otherConnectErrors++;
      if (!client.destroyed) this.connect(client, tried);
    });
    up.once("connect", () => {
      up.removeAllListeners("error");
      if (client.destroyed) return void up.destroy();
      b.connections++;
      splice(client, up);
    });
  }

  /** Polls one backend on its own, so a slow answer from one delays no other. */
  private async poll(b: Backend): Promise<void> {
    while (!this.stopped) {
      const t0 = performance.now();
      const live = await ready(b.port, this.checkTimeoutMs);
      if (b.live !== live) b.changes.push({ at: performance.now(), live });
      b.live = live;
      await new Promise((r) => setTimeout(r, Math.max(0, this.pollMs - (performance.now() - t0))));
    }
  }
}

/**
 * Pipes `client` ⇄ `up` (the backend accepted): bytes both ways, a half-close
 * (FIN) passed on as a half-close, a reset passed on as a reset.
 */
function splice(client: net.Socket, up: net.Socket): void {
  client.pipe(up);
  up.pipe(client);
  client.resume();
  const reset = (other: net.Socket) => () => {
    if (!other.destroyed) other.resetAndDestroy();
  };
  up.on("error", reset(client));
  client.on("error", reset(up));
  // Both ends closed cleanly (FIN each way, pipe ended the other side): release both.
  up.once("close", () => client.destroySoon());
  client.once("close", () => up.destroySoon());
}
