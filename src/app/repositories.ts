import { SqlAccessFacts } from "../store/access-facts-store.js";
import type { Database } from "../store/database-port.js";
import { SqlGrantStore } from "../store/grant-store.js";
import { SqlJournal } from "../store/journal-store.js";
import { SqlSharedRateLimiter } from "../store/login-bucket-store.js";
import { SqlMaintenanceStore } from "../store/maintenance-store.js";
import { SqlMembershipStore } from "../store/membership-store.js";
import { SqlModerationStore } from "../store/moderation-store.js";
import { SqlRoleExpiryStore } from "../store/role-expiry-store.js";
import { SqlReplicaRegistry } from "../store/replica-store.js";
import { SqlRoomStore } from "../store/room-store.js";
import { SqlSpaceListStore } from "../store/space-list-store.js";
import { SqlSessionStore } from "../store/session-store.js";
import { SqlSpaceStore } from "../store/space-store.js";
import { SqlTenantStore } from "../store/tenant-store.js";
import { SqlUserDirectoryStore } from "../store/user-directory-store.js";
import { SqlUserStore } from "../store/user-store.js";
import { SqlWebhookStore } from "../store/webhook-store.js";

/**
 * Every repository over the one open store, built in this one place: the
 * feature modules take the ones they need from here and never import
 * src/store themselves.
 */
export function openRepositories(db: Database, clock: () => number = Date.now) {
  return {
    journal: new SqlJournal(db),
    tenants: new SqlTenantStore(db),
    grants: new SqlGrantStore(db),
    memberships: new SqlMembershipStore(db, clock),
    /** Revocations, restrictions and their lapses: also what the live state loads. */
    moderation: new SqlModerationStore(db, clock),
    roleExpiry: new SqlRoleExpiryStore(db),
    /** The ways into rooms the live state loads for Check. */
    accessFacts: new SqlAccessFacts(db),
    rooms: new SqlRoomStore(db),
    spaces: new SqlSpaceStore(db, clock),
    spaceLists: new SqlSpaceListStore(db, clock),
    users: new SqlUserStore(db),
    sessions: new SqlSessionStore(db),
    userDirectory: new SqlUserDirectoryStore(db, clock),
    webhooks: new SqlWebhookStore(db),
    replicas: new SqlReplicaRegistry(db),
    /** Pruning (`roomgate maintenance prune`). */
    maintenance: new SqlMaintenanceStore(db),
    /** A token bucket every replica shares (failed logins per account). */
    sharedBucket: (name: string, perSecond: number, burst: number, clock: () => number) =>
      new SqlSharedRateLimiter(db, name, perSecond, burst, clock),
  };
}

/** The repositories of {@link openRepositories}. */
export type Repositories = ReturnType<typeof openRepositories>;
