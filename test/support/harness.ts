import { randomUUID } from "node:crypto";
import { sql, type SQL } from "drizzle-orm";
import type { Logger } from "pino";
import { assembleApp, type App, type AppOverrides, type AppParts } from "../../src/app/create-app.js";
import type { Config } from "../../src/config/config.js";
import { journaled, type Recorded } from "../../src/domain/events/record.js";
import { newUser } from "./builders.js";
import { writersWaiting } from "./probes.js";

/**
 * What a test reaches besides the API: the domain's ports to seed and
 * inspect data through, the live state to wait on, and a few faults to
 * inject. Built from the app's parts (src/app/create-app.ts); tests never
 * touch the database handle itself.
 */
export interface Harness {
  readonly config: Config;
  readonly clock: () => number;
  readonly tenants: AppParts["kernel"]["stores"]["tenants"];
  readonly grants: AppParts["kernel"]["stores"]["grants"];
  /** What `roomgate maintenance prune` deletes. */
  readonly maintenance: AppParts["kernel"]["stores"]["maintenance"];
  readonly memberships: AppParts["kernel"]["stores"]["memberships"];
  /** The event and audit logs, read only. */
  readonly journal: Pick<AppParts["kernel"]["stores"]["journal"], "eventsAfter" | "listAudit" | "lastEventId">;
  readonly bus: AppParts["kernel"]["live"]["bus"];
  readonly feed: AppParts["kernel"]["live"]["feed"];
  readonly revocations: AppParts["kernel"]["live"]["revocations"];
  readonly restrictions: AppParts["kernel"]["live"]["restrictions"];
  readonly lease: AppParts["kernel"]["consistency"]["lease"];
  readonly tracing: AppParts["kernel"]["tracing"];
  /** The one write transaction (a test holds the write lock with it). */
  readonly transact: AppParts["kernel"]["transact"];
  readonly codec: AppParts["tokens"]["codec"];
  readonly sealer: AppParts["tokens"]["sealer"];
  readonly roomTokens: AppParts["tokens"]["roomTokens"];
  readonly userTokens: AppParts["tokens"]["userTokens"];
  readonly linkTokens: AppParts["tokens"]["linkTokens"];
  readonly lapses: AppParts["moderation"]["lapses"];
  readonly moderation: AppParts["moderation"]["actions"];
  /** Records a change on the one path of every state change (journaled). */
  record(change: Recorded): Promise<void>;
  readonly seed: Seeds;
  /** Read-only inspection of stored rows, for assertions on what was (not) written. */
  readonly rows: StoredRows;
  readonly faults: Faults;
  /** Writers queued for the write lock behind the one holding it (test/support/probes.ts). */
  writersWaiting(): Promise<number>;
}

/** Data a test starts from, written through the stores' ports. */
export interface Seeds {
  /** A registered user; returns its id (random unless given). */
  user(opts: { tenantId: string; id?: string; username?: string; tenantModerator?: boolean }): Promise<string>;
  /** A room first named by token Create (no space, no name). */
  bareRoom(tenantId: string, roomId: string): Promise<void>;
  /** A room (in a space, or none), as the fixtures make it. */
  room(opts: { tenantId: string; id: string; spaceId?: string; isPublic?: boolean }): Promise<void>;
  /** A private space with this owner recorded, and (unlike a created space) no owner membership. */
  space(opts: { tenantId: string; id: string; ownerUserId: string }): Promise<void>;
}

/** Reads of stored rows (select only: the type offers nothing that writes). */
export interface StoredRows {
  get<T extends Record<string, unknown> = Record<string, unknown>>(q: SQL): Promise<T | undefined>;
  all<T extends Record<string, unknown> = Record<string, unknown>>(q: SQL): Promise<T[]>;
  readonly dialect: "sqlite" | "postgres";
}

/** Store failures a test provokes on purpose. */
export interface Faults {
  /** True while the store answers. */
  storeAlive(): Promise<boolean>;
  /** Closes the store under the running app (health turns false). */
  closeStore(): Promise<void>;
  /** Makes the store refuse audit rows of `roomId` until the returned function is called. */
  refuseAuditFor(roomId: string): Promise<() => Promise<void>>;
}

/** {@link assembleApp} for a test: the app and its harness. */
export async function startHarnessedApp(
  config: Config,
  log: Logger,
  overrides: AppOverrides = {},
): Promise<{ app: App; h: Harness }> {
  const { app, parts } = await assembleApp(config, log, overrides);
  return { app, h: harnessOf(parts) };
}

/** The harness over an app's parts. */
export function harnessOf(parts: AppParts): Harness {
  const k = parts.kernel;
  const { stores, live } = k;
  return {
    ...{ config: k.config, clock: k.clock, tenants: stores.tenants, grants: viaJournal(parts, stores.grants) },
    maintenance: stores.maintenance,
    ...{
      memberships: viaJournal(parts, stores.memberships),
      journal: stores.journal,
      transact: k.transact,
      tracing: k.tracing,
    },
    ...{ bus: live.bus, feed: live.feed, revocations: live.revocations, restrictions: live.restrictions },
    lease: k.consistency.lease,
    ...{ codec: parts.tokens.codec, sealer: parts.tokens.sealer, roomTokens: parts.tokens.roomTokens },
    ...{ userTokens: parts.tokens.userTokens, linkTokens: parts.tokens.linkTokens },
    ...{ lapses: parts.moderation.lapses, moderation: parts.moderation.actions },
    record: (change) => journaled(k.transact, k.sink, (record) => record(change)),
    seed: seeds(parts),
    rows: { get: (q) => k.db.get(q), all: (q) => k.db.all(q), dialect: k.db.dialect },
    faults: faults(parts),
    writersWaiting: () => writersWaiting(k.db),
  };
}

/**
 * A store whose writing methods run as the app's writes do, through the one
 * write path (journaled): what they change reaches every replica's memory
 * (Check's access index) like any other write. Reads pass straight through.
 */
function viaJournal<T extends object>(parts: AppParts, store: T): T {
  const k = parts.kernel;
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || typeof prop !== "string" || !WRITING.test(prop)) return v;
      return (...args: unknown[]) => journaled(k.transact, k.sink, () => v.apply(target, args));
    },
  });
}

const WRITING = /^(set|remove|insert|ensure|record|delete|update)/;

function seeds(parts: AppParts): Seeds {
  const { clock } = parts.kernel;
  const stores = {
    users: viaJournal(parts, parts.kernel.stores.users),
    spaces: viaJournal(parts, parts.kernel.stores.spaces),
  };
  return {
    async user(o) {
      const id = o.id ?? randomUUID();
      await stores.users.insertUser(
        newUser(id, o.tenantId, {
          username: o.username ?? `user-${id}`,
          email: `${id}@example.test`,
          tenantModerator: o.tenantModerator ?? false,
          createdAt: clock(),
        }),
      );
      return id;
    },
    bareRoom: (tenantId, roomId) => stores.users.ensureRoom(tenantId, roomId, clock()),
    async room(o) {
      // NewRoom's space is a string; a room in no space has none (NULL), as Create makes them.
      const spaceId = (o.spaceId ?? null) as string;
      const name = "";
      await stores.spaces.insertRoom({
        ...o,
        spaceId,
        name,
        isPublic: o.isPublic ?? false,
        creatorUserId: null,
        createdAt: clock(),
      });
    },
    async space(o) {
      // Written as a row, not through insertSpace: the fixtures' spaces have an
      // owner on record but no owner membership, which insertSpace always adds.
      await parts.kernel.db.run(
        sql`insert into spaces (id, tenant_id, name, is_public, owner_user_id, created_at) values (${o.id}, ${o.tenantId}, ${`space ${o.id}`}, ${false}, ${o.ownerUserId}, ${clock()})`,
      );
    },
  };
}

function faults(parts: AppParts): Faults {
  const db = parts.kernel.db;
  return {
    storeAlive: () => db.ping(),
    closeStore: () => db.close(),
    async refuseAuditFor(roomId) {
      if (db.dialect === "sqlite") {
        await db.run(
          sql.raw(
            `create trigger refuse_boom before insert on audit_log when new.room_id = '${roomId}' begin select raise(abort, 'refused by test trigger'); end`,
          ),
        );
      } else {
        await db.run(
          sql.raw(
            `create function refuse_boom() returns trigger language plpgsql as $$ begin raise exception 'refused by test trigger'; end $$`,
          ),
        );
        await db.run(
          sql.raw(
            `create trigger refuse_boom before insert on audit_log for each row when (new.room_id = '${roomId}') execute function refuse_boom()`,
          ),
        );
      }
      return async () => {
        await db.run(
          sql.raw(db.dialect === "sqlite" ? "drop trigger refuse_boom" : "drop trigger refuse_boom on audit_log"),
        );
      };
    },
  };
}
