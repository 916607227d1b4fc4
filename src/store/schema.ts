import { defineTables } from "./tables/index.js";
import { sqliteBuilders } from "./tables/sqlite-builders.js";

// The SQLite tables: the one definition of src/store/tables/, built with
// SQLite's column types. drizzle-kit generates migrations/ from these exports
// (drizzle.config.ts); the PostgreSQL twin is src/store/pg/schema.ts.

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
} = defineTables(sqliteBuilders);
