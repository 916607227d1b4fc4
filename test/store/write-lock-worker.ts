// Runs as a child process of write-lock.test.ts: one more connection to the
// same file, driving the store's real write transactions.
import { randomBytes } from "node:crypto";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { openStore, writeTransaction } from "../../src/store/db.js";
import { SqliteGrantStore } from "../../src/store/grant-store.js";
import { SqliteJournal } from "../../src/store/journal-store.js";
import { SqliteMaintenanceStore } from "../../src/store/maintenance-store.js";
import { SqliteModerationStore } from "../../src/store/moderation-store.js";
import { SqliteSpaceStore } from "../../src/store/space-store.js";
import { SqliteTenantStore } from "../../src/store/tenant-store.js";
import { SqliteUserStore } from "../../src/store/user-store.js";

/** What the test sends each worker (the loop starts on the later "go" message). */
export interface WorkerInput {
  readonly dbPath: string;
  readonly name: string;
  readonly tenantId: string;
  readonly rounds: number;
}

/** What each worker answers. */
export interface WorkerOutput {
  readonly ok: number;
  readonly errors: string[];
}

const input = JSON.parse(process.argv[2]!) as WorkerInput;
const store = openStore(input.dbPath);
const db = store.db;
const users = new SqliteUserStore(db);
const grants = new SqliteGrantStore(db);
const journal = new SqliteJournal(db);
const moderation = new SqliteModerationStore(db);
const spaces = new SqliteSpaceStore(db);
const tenants = new SqliteTenantStore(db);
const maintenance = new SqliteMaintenanceStore(db);

// Every step reads before it writes inside its transaction: the shape that
// failed with "database is locked" when the transaction was DEFERRED.
const steps: Array<(i: number) => void> = [
  (i) =>
    users.transaction(() => {
      const username = `${input.name}-${i}`;
      if (users.registeredUsernameTaken(input.tenantId, username)) throw new Error(`${username} taken`);
      users.insertUser({
        id: username,
        tenantId: input.tenantId,
        kind: "registered",
        username,
        email: `${username}@example.test`,
        passwordHash: null,
        phone: null,
        externalUserId: null,
        uniqueUserIdentifier: null,
        profilePic: null,
        meta: null,
        tenantModerator: false,
        createdAt: i,
      });
    }),
  (i) =>
    // The app's Transact (moderation, revocation, token Create).
    writeTransaction(db, () => {
      moderation.roomExists(input.tenantId, "room");
      journal.record(
        [{ tenantId: input.tenantId, at: i, actor: `key:${input.name}`, action: "test.write", roomId: "room" }],
        [{ tenantId: input.tenantId, type: EventType.MESSAGE_DELETED, roomId: "room", actor: `key:${input.name}`, at: i, messageId: `${input.name}-${i}` }],
      );
    }),
  (i) =>
    writeTransaction(db, () => {
      grants.countGrants(input.tenantId);
      grants.recordGrants([
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
    spaces.atomically(() => {
      const id = `${input.name}-space-${i}`;
      if (spaces.findSpace(input.tenantId, id)) throw new Error(`${id} exists`);
      spaces.insertSpace({ id, tenantId: input.tenantId, name: id, isPublic: false, ownerUserId: `${input.name}-${i}` }, i);
    }),
  (i) => {
    const id = `${input.name}-tenant-${i}`;
    if (!tenants.findTenant(id)) tenants.createTenant({ id, name: id, createdAt: i }, { id: `${input.name}-key-${i}`, hash: new Uint8Array(32), label: "t" });
  },
  () => maintenance.expiredGrants(10).deleteBatch(1),
];

// Both workers say "ready" and start their loops on "go", so they overlap.
process.once("message", () => {
  let ok = 0;
  const errors: string[] = [];
  for (let i = 0; i < input.rounds; i++) {
    for (const step of steps) {
      try {
        step(i);
        ok++;
      } catch (e) {
        errors.push(`${input.name} round ${i}: ${e instanceof Error ? `${(e as { code?: string }).code ?? ""} ${e.message}` : String(e)}`);
      }
    }
  }
  store.close();
  process.send!({ ok, errors } satisfies WorkerOutput, () => process.disconnect());
});
process.send!("ready");
