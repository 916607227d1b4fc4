/**
 * Writes token revocations straight into a SQLite store, in the very form a
 * `Revoke` call stores them (src/domain/tokens/revoker.ts): a `revocations`
 * row, and a TOKEN_REVOKED event whose `effects` column holds the
 * revocation encoded by the journal's own codec (encodeEffects), so every
 * running replica's change feed applies it and a replica started later
 * loads it from the table. No audit rows: nothing measured reads them.
 *
 * Large transactions, each taking SQLite's write lock up front (BEGIN
 * IMMEDIATE) as the server's writers do, so it can run beside replicas.
 */
import BetterSqlite3 from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { encodeEffects } from "../../src/domain/feed/effects.js";

export interface BulkOptions {
  readonly tenantId: string;
  readonly count: number;
  /** Rows of each kind per transaction. */
  readonly batch: number;
  /** The token id of the very last revocation (a real token, to check the load took effect); random otherwise. */
  readonly lastTokenId?: string;
  /** Progress after each transaction. */
  readonly onBatch?: (done: number) => void;
}

export interface BulkResult {
  readonly firstEventId: number;
  readonly lastEventId: number;
  readonly seconds: number;
}

/** The tenant the store bootstrapped (the benchmark stores have exactly one). */
export function onlyTenantId(dbPath: string): string {
  const db = new BetterSqlite3(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("select id from tenants").all() as { id: string }[];
    if (rows.length !== 1) throw new Error(`expected one tenant in ${dbPath}, found ${rows.length}`);
    return rows[0]!.id;
  } finally {
    db.close();
  }
}

/** Writes `count` token revocations with their events; see the module comment. */
export function writeTokenRevocations(dbPath: string, opts: BulkOptions): BulkResult {
  const db = new BetterSqlite3(dbPath, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 30000");
    const revocation = db.prepare(
      "insert into revocations (tenant_id, kind, token_id, user_id, room_id, at, expires_at) values (?, 'token', ?, null, null, ?, ?)",
    );
    const event = db.prepare(
      `insert into events (tenant_id, type, room_id, user_id, actor, at, reason, token_id, message_id, role, until, effects)
       values (?, ?, ?, ?, 'system', ?, 'bench', ?, '', '', null, ?)`,
    );
    const roomId = "bench-room";
    const userId = "bench-user";
    let first = 0;
    let last = 0;
    const write = db.transaction((from: number, n: number) => {
      const ids = randomBytes(16 * n).toString("hex");
      const at = Date.now();
      // Kept while the token could still verify: a day, like the default token lifetime.
      const expiresAt = at + 86_400_000;
      for (let i = 0; i < n; i++) {
        const isLast = from + i === opts.count - 1;
        const tokenId = isLast && opts.lastTokenId !== undefined ? opts.lastTokenId : ids.slice(32 * i, 32 * i + 32);
        revocation.run(opts.tenantId, tokenId, at, expiresAt);
        const effects = encodeEffects({ revocations: [{ kind: "token", tenantId: opts.tenantId, tokenId, at }] });
        const id = Number(
          event.run(opts.tenantId, EventType.TOKEN_REVOKED, roomId, userId, at, tokenId, effects).lastInsertRowid,
        );
        if (first === 0) first = id;
        last = id;
      }
    });
    const t0 = performance.now();
    for (let done = 0; done < opts.count; ) {
      const n = Math.min(opts.batch, opts.count - done);
      write.immediate(done, n);
      done += n;
      opts.onBatch?.(done);
    }
    return { firstEventId: first, lastEventId: last, seconds: (performance.now() - t0) / 1000 };
  } finally {
    db.close();
  }
}
