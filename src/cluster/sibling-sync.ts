/**
 * One server is one view (issue 16): a write answered by any worker is
 * applied by every worker of that server before the answer leaves. The
 * worker that wrote asks the primary to sync up to its applied event id;
 * the primary relays "apply up to N" to every other worker; each requires
 * N before its next answer (FeedLease.require), catches its feed up and
 * acknowledges; the primary answers the writer once all have.
 *
 * Written by hand: node:cluster's IPC channel is the transport, and the
 * protocol is three messages; no library adds anything here.
 */

/** Worker → primary: sync every sibling up to `upTo`. */
export interface SyncRequest {
  readonly roomgate: "sync";
  readonly seq: number;
  readonly upTo: number;
}
/** Primary → worker: apply up to `upTo`, then acknowledge `seq`. */
export interface ApplyRequest {
  readonly roomgate: "apply";
  readonly seq: number;
  readonly upTo: number;
}
/** Worker → primary: `seq` is applied here. */
export interface Applied {
  readonly roomgate: "applied";
  readonly seq: number;
}
/** Primary → worker: every sibling applied the sync `seq`. */
export interface Synced {
  readonly roomgate: "synced";
  readonly seq: number;
}

/** The sync messages on the cluster channel. */
export type SyncMessage = SyncRequest | ApplyRequest | Applied | Synced;

/** True for one of the sync messages (node:cluster shares the channel with its own). */
export function isSyncMessage(m: unknown): m is SyncMessage {
  if (typeof m !== "object" || m === null) return false;
  const r = m as Record<string, unknown>;
  const kind = r["roomgate"];
  if (typeof r["seq"] !== "number") return false;
  if (kind === "sync" || kind === "apply") return typeof r["upTo"] === "number";
  return kind === "applied" || kind === "synced";
}

/** What a worker does with "apply up to N": resolves once applied (or once it can no longer serve without it). */
export type ApplyUpTo = (upTo: number) => Promise<void>;

/**
 * A worker's side of the sync. Without a cluster channel (a single process)
 * every sync is done at once.
 */
export class SiblingSync {
  private seq = 0;
  private synced = 0;
  private readonly pending = new Map<number, () => void>();
  /** Before the app exists, "apply" requests only raise the floor it starts from. */
  private apply: ApplyUpTo | undefined;
  private floor = 0;

  constructor(
    /** Upper bound on one sync: a sibling that has not answered by then has lost its lease. */
    private readonly timeoutMs: number,
    private readonly channel: Pick<NodeJS.Process, "send" | "connected" | "on"> = process,
  ) {
    if (typeof channel.send === "function") channel.on("message", (m: unknown) => this.onMessage(m));
  }

  /** True when there are siblings to tell (this process is a cluster worker). */
  get clustered(): boolean {
    return typeof this.channel.send === "function";
  }

  /** The highest event a sibling asked for before {@link attach}: the new app must apply it before serving. */
  get startFloor(): number {
    return this.floor;
  }

  /** Serves "apply" requests with the app's feed from now on. */
  attach(apply: ApplyUpTo): void {
    this.apply = apply;
  }

  /** Resolves once every sibling applied `upTo` (or `timeoutMs` passed); at once when nothing is new. */
  sync(upTo: number): Promise<void> {
    if (upTo <= this.synced || !this.clustered || !this.channel.connected) return Promise.resolve();
    const seq = ++this.seq;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.timeoutMs);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.pending.delete(seq);
        if (upTo > self.synced) self.synced = upTo;
        resolve();
      }
      this.pending.set(seq, done);
      this.send({ roomgate: "sync", seq, upTo });
    });
  }

  private onMessage(m: unknown): void {
    if (!isSyncMessage(m)) return;
    if (m.roomgate === "synced") {
      this.pending.get(m.seq)?.();
      return;
    }
    if (m.roomgate !== "apply") return;
    const ack = () => this.send({ roomgate: "applied", seq: m.seq });
    if (!this.apply) {
      // Not serving yet: the app applies this much before it answers anything.
      if (m.upTo > this.floor) this.floor = m.upTo;
      ack();
      return;
    }
    this.apply(m.upTo).then(ack, ack);
  }

  private send(m: SyncMessage): void {
    if (!this.channel.connected) return;
    this.channel.send!(m, undefined, {}, () => undefined);
  }
}

/** The primary's side: relays a worker's sync to its siblings and answers once all applied. */
export class SyncRelay {
  private nextSeq = 0;
  private readonly open = new Map<
    number,
    { readonly from: SyncPeer; readonly seq: number; readonly waiting: Set<SyncPeer> }
  >();

  /** Handles a sync message from `from`; `peers` are the live workers. Returns false for other messages. */
  handle(from: SyncPeer, m: unknown, peers: Iterable<SyncPeer>): boolean {
    if (!isSyncMessage(m)) return false;
    if (m.roomgate === "sync") {
      const id = ++this.nextSeq;
      const waiting = new Set([...peers].filter((p) => p !== from));
      this.open.set(id, { from, seq: m.seq, waiting });
      for (const p of waiting) p.send({ roomgate: "apply", seq: id, upTo: m.upTo });
      this.settle(id);
    } else if (m.roomgate === "applied") {
      this.open.get(m.seq)?.waiting.delete(from);
      this.settle(m.seq);
    }
    return true;
  }

  /** A worker is gone: no sync waits for it any more. */
  forget(peer: SyncPeer): void {
    for (const [id, s] of this.open) {
      s.waiting.delete(peer);
      this.settle(id);
    }
  }

  private settle(id: number): void {
    const s = this.open.get(id);
    if (!s || s.waiting.size > 0) return;
    this.open.delete(id);
    s.from.send({ roomgate: "synced", seq: s.seq });
  }
}

/** A worker as the relay sees it. */
export interface SyncPeer {
  send(m: SyncMessage): void;
}
