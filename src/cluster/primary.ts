import cluster, { type Worker } from "node:cluster";
import { randomUUID } from "node:crypto";
import net from "node:net";
import type { Logger } from "pino";
import { isWorkerMessage } from "./messages.js";
import { metricsResponder } from "./metrics.js";
import { RestartPolicy } from "./restart-policy.js";
import { SyncRelay } from "./sibling-sync.js";

/** Options of {@link WorkerPool}. */
export interface PoolOptions {
  readonly workers: number;
  readonly host: string;
  /** A concrete port, never 0: see {@link choosePort}. */
  readonly port: number;
  /** The workers' drain grace (ROOMGATE_SHUTDOWN_GRACE_MS). */
  readonly graceMs: number;
  readonly tls: boolean;
  readonly log: Logger;
  readonly policy?: RestartPolicy;
}

/** Time on top of the drain grace before the primary kills workers still running. */
export const STOP_MARGIN_MS = 5_000;

/**
 * The port every worker listens on. node:cluster keys the shared listening
 * socket by address and port, so workers asking for port 0 share one random
 * port only while one of them holds it: once all have died, a replacement
 * would get another. The primary therefore picks the port (a free one for
 * 0) and hands all workers, replacements included, that number.
 */
export async function choosePort(host: string, port: number): Promise<number> {
  if (port !== 0) return port;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, host, () => resolve());
  });
  const chosen = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return chosen;
}

type Phase = "starting" | "running" | "stopping";

/**
 * The primary of `serve --workers N`: forks the workers and keeps N of them
 * serving. A worker that fails before the first full start ends everything
 * (exit 1 with its error); one that dies later is replaced, with backoff,
 * until {@link RestartPolicy} gives up. SIGTERM/SIGINT are forwarded and the
 * primary exits 0 once every worker drained and exited, or kills the rest
 * after the grace plus {@link STOP_MARGIN_MS} and exits 1. SIGHUP is
 * forwarded (key file reload).
 */
export class WorkerPool {
  private phase: Phase = "starting";
  private readonly live = new Set<Worker>();
  private readonly listening = new Set<number>();
  /** Why a worker could not start, as it reported before exiting. */
  private readonly startErrors = new Map<number, string>();
  private readonly respawns = new Set<NodeJS.Timeout>();
  private readonly policy: RestartPolicy;
  private exitCode = 0;
  /** The signal stop() sent the workers. */
  private stopSignal: NodeJS.Signals | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  /** Answers a worker's scrape with every worker's metrics together. */
  private readonly metrics = metricsResponder();
  /** Relays a worker's "sync up to N" to its siblings (one server is one view). */
  private readonly relay = new SyncRelay();
  /** Every process of this server shares this id in the replicas table. */
  private readonly serverId = randomUUID();

  constructor(private readonly opts: PoolOptions) {
    this.policy = opts.policy ?? new RestartPolicy();
  }

  /** Forks the workers and takes over the primary's signals. */
  start(): void {
    process.on("SIGTERM", () => this.stop("SIGTERM", 0));
    process.on("SIGINT", () => this.stop("SIGINT", 0));
    process.on("SIGHUP", () => this.forward("SIGHUP"));
    for (let i = 0; i < this.opts.workers; i++) this.fork();
  }

  private fork(): void {
    const worker = cluster.fork({ PORT: String(this.opts.port), ROOMGATE_SERVER_ID: this.serverId });
    this.live.add(worker);
    worker.on("message", (m: unknown) => {
      if (this.metrics(worker, m) || this.relay.handle(worker, m, this.live)) return;
      this.onMessage(worker, m);
    });
    worker.on("exit", (code: number | null, signal: string | null) => {
      this.relay.forget(worker);
      this.onExit(worker, code, signal);
    });
    // Without a listener an IPC error would throw in the primary.
    worker.on("error", (err: Error) => this.opts.log.warn({ err, worker: worker.id }, "worker channel error"));
  }

  private onMessage(worker: Worker, m: unknown): void {
    if (!isWorkerMessage(m) || this.phase === "stopping") return;
    if (m.roomgate === "failed") {
      this.startErrors.set(worker.id, m.message);
      return;
    }
    if (m.port !== this.opts.port) {
      this.fail(`worker ${worker.id} listens on port ${m.port}, not ${this.opts.port}`);
      return;
    }
    this.listening.add(worker.id);
    const { host, port, workers, tls, log } = this.opts;
    if (this.phase === "starting" && this.listening.size === workers) {
      this.phase = "running";
      log.info({ host, port, workers, tls }, `listening on ${host}:${port} with ${workers} workers`);
    } else if (this.phase === "running") {
      log.info({ worker: worker.id, workers: this.listening.size }, "replacement worker listening");
    }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    this.live.delete(worker);
    const wasListening = this.listening.delete(worker.id);
    const startError = this.startErrors.get(worker.id);
    this.startErrors.delete(worker.id);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const log = this.opts.log;
    if (this.phase === "stopping") {
      // Killed by the very signal it was sent: it got it before its code
      // could handle signals, so it had started nothing and stopped as asked.
      if (signal !== null && signal === this.stopSignal) {
        log.info({ worker: worker.id, signal }, "worker stopped before it started");
      } else if (code !== 0) {
        this.exitCode = 1;
        log.warn({ worker: worker.id, code, signal }, "worker did not stop cleanly");
      }
      this.exitWhenAllGone();
      return;
    }
    if (this.phase === "starting" && !wasListening) {
      this.fail(`worker ${worker.id} failed to start: ${startError ?? `it ended with ${how}`}`);
      return;
    }
    const delayMs = this.policy.onDeath(Date.now());
    const what = wasListening ? "worker died unexpectedly" : "replacement worker failed to start";
    log.error({ worker: worker.id, code, signal, reason: startError }, what);
    if (delayMs === undefined) {
      this.fail(
        `workers died ${this.policy.recentDeaths} times within a short time (last: ${what}, ${startError ?? how}); giving up`,
      );
      return;
    }
    log.info({ delayMs }, "starting a replacement worker");
    const timer = setTimeout(() => {
      this.respawns.delete(timer);
      this.fork();
    }, delayMs);
    this.respawns.add(timer);
  }

  private forward(signal: NodeJS.Signals): void {
    if (this.phase === "stopping") return;
    this.opts.log.info({ signal, workers: this.live.size }, "forwarding signal to workers");
    for (const w of this.live) w.process.kill(signal);
  }

  /** Ends the primary with exit code 1 after stopping whatever still runs; `message` goes to stderr like any CLI failure. */
  private fail(message: string): void {
    this.opts.log.error(message);
    process.stderr.write(`roomgate: ${message}\n`);
    this.stop("SIGTERM", 1);
  }

  private stop(signal: NodeJS.Signals, exitCode: number): void {
    // The second signal of a double Ctrl-C (or a forwarded one) changes nothing.
    if (this.phase === "stopping") return;
    this.phase = "stopping";
    this.stopSignal = signal;
    this.exitCode = Math.max(this.exitCode, exitCode);
    for (const t of this.respawns) clearTimeout(t);
    this.respawns.clear();
    const log = this.opts.log;
    if (exitCode === 0) log.info({ signal, workers: this.live.size }, "stopping: workers drain in-flight calls");
    for (const w of this.live) w.process.kill(signal);
    this.killTimer = setTimeout(() => {
      log.error({ workers: this.live.size }, "workers still running after the shutdown grace; killing them");
      this.exitCode = 1;
      for (const w of this.live) w.process.kill("SIGKILL");
    }, this.opts.graceMs + STOP_MARGIN_MS);
    this.exitWhenAllGone();
  }

  private exitWhenAllGone(): void {
    if (this.live.size > 0) return;
    clearTimeout(this.killTimer);
    this.opts.log.info({ exitCode: this.exitCode }, this.exitCode === 0 ? "all workers stopped" : "all workers gone");
    process.exit(this.exitCode);
  }
}
