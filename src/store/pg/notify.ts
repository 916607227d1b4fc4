// Written by hand on purpose (issue 18 looked for a kept library): pg-listen,
// the one LISTEN-with-reconnect wrapper for `pg`, has had no release since
// 1.7.0 (2020) and brings debug, pg-format and typed-emitter 0.1 along; the
// `postgres` driver listens well but is a second PostgreSQL driver beside
// `pg`, with its own pool and types. What is needed here is small: one
// client, LISTEN, backoff, and a "may have missed some" call after a reconnect.
import pg from "pg";

/** The channel writers notify after writing events, and replicas listen on. */
export const CHANGES_CHANNEL = "roomgate_changes";

/** Where the listener reports its connection's ups and downs; a pino logger fits. */
export interface ListenLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Tuning for {@link listenForChanges}; the defaults suit production. */
export interface ListenOptions {
  /** First reconnect delay; doubles per failed attempt in a row. Default 100 ms. */
  readonly retryMs?: number;
  /** Longest reconnect delay. Default 5 s. */
  readonly maxRetryMs?: number;
  /** Gives up one connection attempt after this long. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Shown in pg_stat_activity. Default "roomgate-listener". */
  readonly applicationName?: string;
}

/** A running listener. */
export interface ChangeListener {
  /** Stops listening and closes the connection; idempotent. */
  close(): Promise<void>;
}

/**
 * Calls `onNotify` whenever a transaction that ran {@link notifySql} for
 * `channel` commits (PostgreSQL delivers a notification only at commit, and
 * never for a rollback). `payload` is the notification's payload, or
 * undefined for the call made after a reconnect: notifications sent while
 * the connection was down are lost, so the listener says "something may have
 * changed" once it listens again.
 *
 * Uses its own `pg.Client`, never a pooled one: LISTEN belongs to a session,
 * and a pool would hand that session to other work (for the same reason the
 * URL must not point at a transaction-pooling proxy). The connection uses TCP
 * keepalive; a silently dead connection is still covered by the feed's
 * polling. Rejects when the first connection fails; later losses (error or
 * end, e.g. `pg_terminate_backend`) reconnect with backoff until closed.
 */
export async function listenForChanges(
  url: string,
  channel: string,
  onNotify: (payload: string | undefined) => void,
  log: ListenLog,
  opts: ListenOptions = {},
): Promise<ChangeListener> {
  checkChannel(channel);
  const listener = new Listener(url, channel, onNotify, log, opts);
  await listener.connect();
  return { close: () => listener.close() };
}

/**
 * The statement a writer runs inside its write transaction to wake every
 * listener when that transaction commits. Notifications with the same
 * payload in one transaction are folded into one, so running it once per
 * event costs nothing extra.
 */
export function notifySql(channel: string = CHANGES_CHANNEL, payload = ""): string {
  checkChannel(channel);
  return `SELECT pg_notify(${pg.escapeLiteral(channel)}, ${pg.escapeLiteral(payload)})`;
}

/** An unquoted-safe identifier, so LISTEN and pg_notify name the same channel. */
function checkChannel(channel: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel))
    throw new RangeError("channel must be a lower-case identifier of at most 63 characters");
}

class Listener {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Failed reconnect attempts in a row, for the backoff. */
  private failures = 0;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly onNotify: (payload: string | undefined) => void,
    private readonly log: ListenLog,
    private readonly opts: ListenOptions,
  ) {}

  /** Opens a connection and LISTENs on it; rejects when either fails. */
  connect(): Promise<void> {
    const attempt = this.open().finally(() => {
      if (this.connecting === attempt) this.connecting = undefined;
    });
    this.connecting = attempt;
    return attempt;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    // An attempt in flight sees `closed` and ends its own client.
    await this.connecting?.catch(noop);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(noop);
  }

  private async open(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      application_name: this.opts.applicationName ?? "roomgate-listener",
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 5_000,
    });
    // Set when the connection fails before it is handed over below (the
    // failure may arrive in the same read as the LISTEN's answer).
    let dead = false;
    client.on("notification", (m) => {
      if (m.channel === this.channel) this.notify(m.payload);
    });
    client.on("error", (err) => {
      dead = true;
      this.lost(client, err);
    });
    client.on("end", () => {
      dead = true;
      this.lost(client, undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
      if (dead) throw new Error("connection closed while starting to listen");
    } catch (err) {
      await client.end().catch(noop);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(noop);
      return;
    }
    this.client = client;
  }

  /** The current connection failed or ended: drop it and reconnect. */
  private lost(client: pg.Client, err: unknown): void {
    if (client !== this.client) return; // not handed over yet, or already replaced
    this.client = undefined;
    client.end().catch(noop);
    if (this.closed) return;
    this.log.warn(describe(err), "change listener lost its connection; reconnecting");
    this.reconnectSoon();
  }

  private reconnectSoon(): void {
    if (this.closed || this.timer !== undefined) return;
    const base = this.opts.retryMs ?? 100;
    const delay = Math.min(this.opts.maxRetryMs ?? 5_000, base * 2 ** Math.min(this.failures, 16));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().then(
        () => {
          if (this.closed) return;
          this.log.info({ failures: this.failures }, "change listener listening again");
          this.failures = 0;
          // Whatever was notified while the connection was down is lost.
          this.notify(undefined);
        },
        (err: unknown) => {
          this.failures++;
          this.log.warn({ ...describe(err), failures: this.failures }, "change listener cannot reconnect; retrying");
          this.reconnectSoon();
        },
      );
    }, delay);
    this.timer.unref();
  }

  private notify(payload: string | undefined): void {
    try {
      this.onNotify(payload);
    } catch (err) {
      this.log.warn(describe(err), "change listener callback failed");
    }
  }
}

/** What to log of a connection error: its SQLSTATE or errno code and message (never the URL). */
function describe(err: unknown): { code?: string; message?: string } {
  if (!(err instanceof Error)) return {};
  const code = (err as { code?: unknown }).code;
  return { ...(typeof code === "string" ? { code } : {}), message: err.message };
}

function noop(): void {}
