// Runs as a child process of write-lock.test.ts: one more process on the
// same file, driving the repositories' real write transactions.
import { sql } from "drizzle-orm";
import { randomBytes } from "node:crypto";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { num } from "../../src/store/database-port.js";
import { SqlGrantStore } from "../../src/store/grant-store.js";
import { droppingEffects } from "../support/effects.js";
import { SqlJournal } from "../../src/store/journal-store.js";
import { SqlMaintenanceStore } from "../../src/store/maintenance-store.js";
import { SqlModerationStore } from "../../src/store/moderation-store.js";
import { SqlSpaceStore } from "../../src/store/space-store.js";
import { openSqliteDatabase } from "../../src/store/sqlite-database.js";
import { SqlTenantStore } from "../../src/store/tenant-store.js";
import { SqlUserStore } from "../../src/store/user-store.js";
import { newUser } from "../support/builders.js";

/** What the test sends each worker (the loop starts on the later "go" message). */
export interface WorkerInput {
  readonly dbPath: string;
  readonly name: string;
  readonly tenantId: string;
  readonly rounds: number;
  /** Rounds in flight at once inside this process. */
  readonly lanes: number;
  /** The other worker's name. */
  readonly peer: string;
  /** How many rounds this worker may run ahead of its peer. */
  readonly window: number;
}

/** What each worker answers. */
export interface WorkerOutput {
  readonly ok: number;
  readonly errors: string[];
}

const input = JSON.parse(process.argv[2]!) as WorkerInput;
const db = openSqliteDatabase(input.dbPath);
const users = droppingEffects(new SqlUserStore(db));
const grants = droppingEffects(new SqlGrantStore(db));
const journal = new SqlJournal(db);
const moderation = new SqlModerationStore(db);
const spaces = droppingEffects(new SqlSpaceStore(db));
const tenants = new SqlTenantStore(db);
const maintenance = new SqlMaintenanceStore(db);

// Every step reads before it writes inside its transaction: the shape that
// failed with "database is locked" when the transaction was DEFERRED.
const steps: Array<(i: number) => Promise<unknown>> = [
  (i) =>
    db.write(async () => {
      const username = `${input.name}-${i}`;
      if (await users.registeredUsernameTaken(input.tenantId, username)) throw new Error(`${username} taken`);
      await users.insertUser(newUser(username, input.tenantId, { email: `${username}@example.test`, createdAt: i }));
    }),
  (i) =>
    // The app's Transact (moderation, revocation, token Create).
    db.write(async () => {
      await moderation.roomExists(input.tenantId, "room");
      await journal.record(
        [{ tenantId: input.tenantId, at: i, actor: `key:${input.name}`, action: "test.write", roomId: "room" }],
        [
          {
            tenantId: input.tenantId,
            type: EventType.MESSAGE_DELETED,
            roomId: "room",
            actor: `key:${input.name}`,
            at: i,
            messageId: `${input.name}-${i}`,
          },
        ],
      );
    }),
  (i) =>
    db.write(async () => {
      await grants.countGrants(input.tenantId);
      await grants.recordGrants([
        {
          id: randomBytes(16).toString("hex"),
          tenantId: input.tenantId,
          userId: `${input.name}-${i}`,
          roomId: "room",
          permissions: [Permission.PermissionChat],
          metadata: {},
          issuedAt: 1,
          // Already expired: the prune step below deletes it again.
          expiresAt: 2,
          issuedBy: input.name,
        },
      ]);
    }),
  (i) =>
    db.write(async () => {
      const id = `${input.name}-space-${i}`;
      if (await spaces.findSpace(input.tenantId, id)) throw new Error(`${id} exists`);
      await spaces.insertSpace(
        { id, tenantId: input.tenantId, name: id, isPublic: false, ownerUserId: `${input.name}-${i}` },
        i,
      );
    }),
  async (i) => {
    const id = `${input.name}-tenant-${i}`;
    if (!(await tenants.findTenant(id)))
      await tenants.createTenant(
        { id, name: id, createdAt: i },
        { id: `${input.name}-key-${i}`, hash: new Uint8Array(32), label: "t" },
      );
  },
  () => maintenance.expiredGrants(10).deleteBatch(1),
];

/** Rounds the peer has finished (its events, one per round, are committed). */
async function peerRounds(): Promise<number> {
  const row = await db.get(sql`select count(*) as "n" from events where message_id like ${`${input.peer}-%`}`);
  return num(row!.n);
}

/** Longest wait for the peer; it only ends early when the peer died. */
const PEER_WAIT_MS = 60_000;

/**
 * Waits until the peer has finished round `i - window`. However the OS
 * schedules the two processes, neither runs its whole loop before the other
 * starts, so their write transactions really overlap (they cannot both wait:
 * the window is wider than the lanes).
 */
async function keepPace(i: number): Promise<void> {
  const deadline = Date.now() + PEER_WAIT_MS;
  while ((await peerRounds()) < i - input.window) {
    if (Date.now() > deadline) throw new Error(`peer ${input.peer} made no progress for ${PEER_WAIT_MS} ms`);
    // A poll on the peer's recorded progress (real state; no vitest in this child process).
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function lane(first: number, errors: string[]): Promise<number> {
  let ok = 0;
  for (let i = first; i < input.rounds; i += input.lanes) {
    await keepPace(i);
    for (const step of steps) {
      try {
        await step(i);
        ok++;
      } catch (e) {
        errors.push(
          `${input.name} round ${i}: ${e instanceof Error ? `${(e as { code?: string }).code ?? ""} ${e.message}` : String(e)}`,
        );
      }
    }
  }
  return ok;
}

// Both workers say "ready" and start their loops on "go", so they overlap.
process.once("message", () => {
  void (async () => {
    const errors: string[] = [];
    const oks = await Promise.all(Array.from({ length: input.lanes }, (_, l) => lane(l, errors)));
    await db.close();
    process.send!({ ok: oks.reduce((a, b) => a + b, 0), errors } satisfies WorkerOutput, () => process.disconnect());
  })();
});
process.send!("ready");
