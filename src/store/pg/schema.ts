import { defineTables } from "../tables/index.js";
import { pgBuilders } from "../tables/pg-builders.js";

// The PostgreSQL tables: the one definition of src/store/tables/, built with
// PostgreSQL's column types (src/store/tables/pg-builders.ts). drizzle-kit
// generates migrations-pg/ from these exports (drizzle-pg.config.ts).

export const {
  tenants,
  apiKeys,
  users,
  spaces,
  rooms,
  spaceMembers,
  roomMembers,
  invites,
  accessLinks,
  grants,
  restrictions,
  revocations,
  events,
  auditLog,
  loginBuckets,
  webhookEndpoints,
  webhookDeliveries,
  replicas,
  userSessions,
  refreshTokens,
} = defineTables(pgBuilders);
