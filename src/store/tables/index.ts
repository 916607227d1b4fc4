import { grantsTable, restrictionsTable, revocationsTable } from "./access.js";
import {
  apiKeysTable,
  loginBucketsTable,
  refreshTokensTable,
  tenantsTable,
  userSessionsTable,
  usersTable,
} from "./accounts.js";
import type { Builders, TableDialect } from "./builders.js";
import { auditLogTable, eventsTable, replicasTable } from "./events.js";
import {
  accessLinksTable,
  invitesTable,
  roomMembersTable,
  roomsTable,
  spaceMembersTable,
  spacesTable,
} from "./spaces.js";
import { webhookDeliveriesTable, webhookEndpointsTable } from "./webhooks.js";

/**
 * Every table of roomgate, built with one dialect's builders: the one
 * definition behind src/store/schema.ts (SQLite) and src/store/pg/schema.ts
 * (PostgreSQL), from which drizzle-kit generates each dialect's migrations.
 * Repositories write their SQL by hand (src/store/*-store.ts); the tables
 * serve drizzle-kit and the tests.
 */
export function defineTables<D extends TableDialect>(b: Builders<D>) {
  const tenants = tenantsTable(b);
  const users = usersTable(b, tenants);
  const spaces = spacesTable(b, tenants, users);
  const webhookEndpoints = webhookEndpointsTable(b, tenants);
  return {
    tenants,
    apiKeys: apiKeysTable(b, tenants),
    users,
    spaces,
    rooms: roomsTable(b, { tenants, spaces, users }),
    spaceMembers: spaceMembersTable(b, spaces, users),
    roomMembers: roomMembersTable(b, users),
    invites: invitesTable(b, spaces),
    accessLinks: accessLinksTable(b),
    grants: grantsTable(b, tenants),
    restrictions: restrictionsTable(b),
    revocations: revocationsTable(b),
    events: eventsTable(b),
    auditLog: auditLogTable(b),
    loginBuckets: loginBucketsTable(b),
    webhookEndpoints,
    webhookDeliveries: webhookDeliveriesTable(b, webhookEndpoints),
    replicas: replicasTable(b),
    userSessions: userSessionsTable(b, tenants),
    refreshTokens: refreshTokensTable(b),
  };
}
