/**
 * Seals large batches of token claims on a worker thread, so a 1,000-token
 * Create encrypts on the machine's other core while the main thread writes
 * its rows. Small batches, and any batch while the thread is starting, gone
 * or failing, seal inline with the same codec: the thread only ever saves
 * time, it never decides whether a Create succeeds.
 */
import { Worker } from "node:worker_threads";
import type { SealerReply, SealerRequest } from "./seal-worker.js";
import type { TokenCodec, TokenKind } from "./token-codec.js";

/** Batches below this seal inline: a thread hop costs more than a few ciphers. */
export const DEFAULT_MIN_WORKER_BATCH = 32;

/** How the sealer is wired; every field optional. */
export interface BatchSealerOptions {
  /** Smallest batch handed to the thread (default {@link DEFAULT_MIN_WORKER_BATCH}). */
  readonly minWorkerBatch?: number;
  /** False: never start a thread, seal everything inline. */
  readonly worker?: boolean;
  /**
   * Told when the thread fails a batch (sealed inline instead), dies or
   * cannot start: for the log.
   */
  readonly onError?: (err: unknown) => void;
}

/** How many batches went where (tests, diagnostics). */
export interface SealerCounts {
  readonly offloaded: number;
  readonly inline: number;
  readonly fallbacks: number;
}

interface Pending {
  readonly keyId: number;
  readonly resolve: (tokens: string[]) => void;
  readonly reject: (err: unknown) => void;
}

/** A restart after a crash waits at least this long, so a thread that cannot start is not retried per call. */
const RESTART_DELAY_MS = 1_000;

/**
 * The sealing thread and its inline fallback over one {@link TokenCodec}.
 * The thread starts with the first large batch (which seals inline while it
 * starts) or with {@link whenReady}.
 * The thread is sent the codec's active key before the first batch and again
 * before the first batch after every `setKeyring` (messages on one port keep
 * their order), and each answer names the key it used: a batch sealed with
 * any other key than the one active when it was sent is sealed again inline.
 */
export class BatchSealer {
  readonly #codec: TokenCodec;
  readonly #minBatch: number;
  readonly #enabled: boolean;
  readonly #onError: (err: unknown) => void;
  #worker: Worker | undefined;
  #ready = false;
  #readyWaiters: Array<() => void> = [];
  #sentGeneration = -1;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #restartAt = 0;
  #closed = false;
  #counts = { offloaded: 0, inline: 0, fallbacks: 0 };

  constructor(codec: TokenCodec, options: BatchSealerOptions = {}) {
    this.#codec = codec;
    this.#minBatch = options.minWorkerBatch ?? DEFAULT_MIN_WORKER_BATCH;
    this.#enabled = options.worker ?? true;
    this.#onError = options.onError ?? (() => undefined);
    // No thread yet: the first large batch (or whenReady) starts it, so a
    // process that never issues large batches never pays for one.
  }

  /** Batches sealed on the thread, inline by choice, and inline after a failure. */
  get counts(): SealerCounts {
    return { ...this.#counts };
  }

  /** The running thread, if any (diagnostics and tests: a test terminates it to prove the fallback). */
  get worker(): Worker | undefined {
    return this.#worker;
  }

  /**
   * Starts the thread if none runs (a warm-up: the first large batch would
   * otherwise seal inline while it starts) and resolves once it is ready to
   * take batches, or once starting it failed: never hangs. At once without
   * a thread to wait for (`worker: false`, closed).
   */
  whenReady(): Promise<void> {
    if (!this.#enabled || this.#closed) return Promise.resolve();
    if (this.#worker === undefined) this.#start();
    if (this.#ready || this.#worker === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /**
   * Seals every claims message as a token of `kind`, in order. Never
   * rejects because of the thread; rejects only as {@link TokenCodec.seal}
   * does (claims too large).
   */
  async sealAll(kind: TokenKind, claims: readonly Uint8Array[]): Promise<string[]> {
    const worker = claims.length >= this.#minBatch ? this.#usableWorker() : undefined;
    if (worker === undefined) {
      this.#counts.inline++;
      return this.#sealInline(kind, claims);
    }
    try {
      const tokens = await this.#offload(worker, kind, claims);
      this.#counts.offloaded++;
      return tokens;
    } catch (err) {
      this.#counts.fallbacks++;
      if (!this.#closed) this.#onError(err);
      return this.#sealInline(kind, claims);
    }
  }

  /** Stops the thread; batches in flight and later ones seal inline. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of this.#readyWaiters.splice(0)) wake();
    const w = this.#worker;
    this.#worker = undefined;
    this.#ready = false;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(new Error("sealer closed"));
    if (w !== undefined) await w.terminate();
  }

  #sealInline(kind: TokenKind, claims: readonly Uint8Array[]): string[] {
    return claims.map((c) => this.#codec.seal(kind, c));
  }

  /** The thread when it can take a batch now; starts a new one after a crash (rate-limited). */
  #usableWorker(): Worker | undefined {
    if (!this.#enabled || this.#closed) return undefined;
    if (this.#worker === undefined && Date.now() >= this.#restartAt) this.#start();
    return this.#ready ? this.#worker : undefined;
  }

  #offload(worker: Worker, kind: TokenKind, claims: readonly Uint8Array[]): Promise<string[]> {
    const codec = this.#codec;
    const keyring = codec.keyring;
    if (this.#sentGeneration !== codec.generation) {
      worker.postMessage({ type: "key", key: keyring.active } satisfies SealerRequest);
      this.#sentGeneration = codec.generation;
    }
    // One buffer for the whole batch, transferred rather than copied.
    let total = 0;
    for (const c of claims) total += c.length;
    const packed = new Uint8Array(total);
    const ends = new Uint32Array(claims.length);
    let at = 0;
    claims.forEach((c, i) => {
      packed.set(c, at);
      at += c.length;
      ends[i] = at;
    });
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { keyId: keyring.active.id, resolve, reject });
      worker.postMessage({ type: "seal", id, kind, claims: packed, ends } satisfies SealerRequest, [
        packed.buffer,
        ends.buffer,
      ]);
    });
  }

  #start(): void {
    // From source (tests, tsx) the thread needs tsx's loader; built, it is plain JS.
    const fromSource = import.meta.url.endsWith(".ts");
    const entry = new URL(fromSource ? "./seal-worker.ts" : "./seal-worker.js", import.meta.url).href;
    const boot = fromSource
      ? `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`
      : `import(${JSON.stringify(entry)})`;
    let worker: Worker;
    try {
      worker = new Worker(boot, { eval: true });
    } catch (err) {
      this.#restartAt = Date.now() + RESTART_DELAY_MS;
      for (const wake of this.#readyWaiters.splice(0)) wake();
      this.#onError(err);
      return;
    }
    // The thread never keeps the process alive: shutdown does not wait for it.
    worker.unref();
    this.#worker = worker;
    this.#ready = false;
    this.#sentGeneration = -1;
    worker.on("message", (m: SealerReply) => this.#onMessage(m));
    worker.on("error", (err) => this.#lost(worker, err));
    worker.on("exit", (code) => this.#lost(worker, new Error(`sealing thread exited (code ${code})`)));
  }

  #onMessage(m: SealerReply): void {
    if (m.type === "ready") {
      this.#ready = true;
      for (const wake of this.#readyWaiters.splice(0)) wake();
      return;
    }
    const p = this.#pending.get(m.id);
    if (p === undefined) return;
    this.#pending.delete(m.id);
    if (m.type === "failed") p.reject(new Error(`sealing thread: ${m.error}`));
    else if (m.keyId !== p.keyId)
      p.reject(new Error(`sealing thread used key ${m.keyId}, not the active key ${p.keyId}`));
    else p.resolve(m.tokens);
  }

  /** The thread is gone: its batches fall back inline, and a new one starts later. */
  #lost(worker: Worker, err: unknown): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#ready = false;
    this.#restartAt = Date.now() + RESTART_DELAY_MS;
    for (const wake of this.#readyWaiters.splice(0)) wake();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
    if (pending.length === 0 && !this.#closed) this.#onError(err);
  }
}
