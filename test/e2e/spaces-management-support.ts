import { createClient, type Client } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Service as Spaces } from "../../gen/room/spaces/v1/service_pb.js";
import type { StoredEvent } from "../../src/domain/journal.js";
import type { TestServer } from "../support/server.js";
import { connectTransport, grpcTransport } from "../support/clients.js";

// Shared by the spaces-management suites (issue 9): both surfaces over both
// protocol families, and the audit and event rows a call wrote.

/** The two ways every call is made: Connect JSON (browser-like) and gRPC (service-like). */
export const PROTOCOLS = ["connect", "grpc"] as const;
/** One of {@link PROTOCOLS}. */
export type Protocol = (typeof PROTOCOLS)[number];

/** room.spaces.private.v1 over `protocol`. */
export function privateApi(srv: TestServer, protocol: Protocol): Client<typeof SpacesPrivate> {
  return createClient(SpacesPrivate, transport(srv, protocol));
}

/** room.spaces.v1 over `protocol`. */
export function userApi(srv: TestServer, protocol: Protocol): Client<typeof Spaces> {
  return createClient(Spaces, transport(srv, protocol));
}

function transport(srv: TestServer, protocol: Protocol) {
  return protocol === "grpc" ? grpcTransport(srv.baseUrl) : connectTransport(srv.baseUrl);
}

/** An audit entry as stored. */
export type AuditRow = {
  readonly actor: string;
  readonly action: string;
  readonly roomId: string;
  readonly targetUserId: string;
  readonly target: string;
  readonly reason: string;
};

/** The newest audit entry of `action` in the tenant, if any. */
export async function lastAudit(
  srv: TestServer,
  action: string,
  tenantId = srv.tenantId,
): Promise<AuditRow | undefined> {
  return await srv.h.rows.get<AuditRow>(
    sql`select actor as "actor", action as "action", room_id as "roomId", target_user_id as "targetUserId", target as "target", reason as "reason"
        from audit_log where tenant_id = ${tenantId} and action = ${action} order by id desc limit 1`,
  );
}

/** The stored event with id `eventId` (a write call's answer). */
export async function eventById(
  srv: TestServer,
  eventId: bigint,
  tenantId = srv.tenantId,
): Promise<StoredEvent | undefined> {
  return (await srv.h.journal.eventsAfter(tenantId, undefined, Number(eventId) - 1, 1))[0];
}

/** The public id of the test server's API key (`key:<id>` in audit entries). */
export async function apiKeyId(srv: TestServer): Promise<string> {
  const row = await srv.h.rows.get<{ id: string }>(
    sql`select id as "id" from api_keys where tenant_id = ${srv.tenantId} order by created_at limit 1`,
  );
  return row!.id;
}
