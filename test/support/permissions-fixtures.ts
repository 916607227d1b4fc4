import { randomUUID } from "node:crypto";
import { createClient, type Client } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import type { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as PermissionsService } from "../../gen/room/permissions/v1/service_pb.js";
import type { RoleName } from "../../src/domain/roles.js";
import { bearer, connectTransport, tokensClient } from "./clients.js";
import type { TestServer } from "./server.js";

// Users and spaces are set up straight through the real store: their own
// services are built in parallel, and these tests are about permissions.

/** Inserts a registered user (through the user store) and returns its id. */
export async function insertUser(
  srv: TestServer,
  tenantId = srv.tenantId,
  opts: { tenantModerator?: boolean } = {},
): Promise<string> {
  const id = randomUUID();
  return srv.h.seed.user({ tenantId, id, username: `u-${id}`, tenantModerator: opts.tenantModerator });
}

/** Inserts a space owned by `ownerUserId` and returns its id. */
export async function insertSpace(srv: TestServer, ownerUserId: string, tenantId = srv.tenantId): Promise<string> {
  const id = randomUUID();
  await srv.h.seed.space({ tenantId, id, ownerUserId });
  return id;
}

/** Inserts a room (optionally in a space) and returns its id (random unless given). */
export async function insertRoom(
  srv: TestServer,
  opts: { tenantId?: string; id?: string; spaceId?: string; isPublic?: boolean } = {},
): Promise<string> {
  const id = opts.id ?? `room-${randomUUID()}`;
  await srv.h.seed.room({
    tenantId: opts.tenantId ?? srv.tenantId,
    id,
    spaceId: opts.spaceId,
    isPublic: opts.isPublic,
  });
  return id;
}

/** True when the tenant's rooms table holds `roomId`. */
export async function roomRowExists(srv: TestServer, tenantId: string, roomId: string): Promise<boolean> {
  return (
    (await srv.h.rows.get(sql`select 1 as "one" from rooms where tenant_id = ${tenantId} and id = ${roomId}`)) !==
    undefined
  );
}

/** A registered user with `role` in a fresh room; returns the ids. */
export async function userWithRoomRole(srv: TestServer, role: RoleName): Promise<{ userId: string; roomId: string }> {
  const userId = await insertUser(srv);
  const roomId = await insertRoom(srv);
  await srv.h.memberships.setRoomRole(srv.tenantId, roomId, userId, role, "test", Date.now());
  return { userId, roomId };
}

/**
 * A registered user with `role` in a fresh space that has one room (public
 * unless asked otherwise: space roles reach public rooms only); returns the ids.
 */
export async function userWithSpaceRole(
  srv: TestServer,
  role: RoleName,
  opts: { roomIsPublic?: boolean } = {},
): Promise<{ userId: string; spaceId: string; roomId: string }> {
  const owner = await insertUser(srv);
  const spaceId = await insertSpace(srv, owner);
  const roomId = await insertRoom(srv, { spaceId, isPublic: opts.roomIsPublic ?? true });
  const userId = role === "role_space_owner" ? owner : await insertUser(srv);
  await srv.h.memberships.setSpaceRole(srv.tenantId, spaceId, userId, role, Date.now());
  return { userId, spaceId, roomId };
}

/** A user access token, as login or seed 003 would hand out. */
export function userToken(
  srv: TestServer,
  userId: string,
  opts: { tenantId?: string; roomScope?: string; ttlSeconds?: number } = {},
): string {
  return srv.h.userTokens.issue({
    tenantId: opts.tenantId ?? srv.tenantId,
    userId,
    roomId: opts.roomScope,
    ttlSeconds: opts.ttlSeconds ?? 3600,
  }).token;
}

/** A room member token from the real Create RPC (seed 000). */
export async function memberToken(
  srv: TestServer,
  userId: string,
  roomId: string,
  permissions: Permission[],
  apiKey = srv.apiKey,
): Promise<string> {
  const client = tokensClient(connectTransport(srv.baseUrl));
  const { tokens } = await client.create({ arguments: [{ userId, roomId, permissions }] }, bearer(apiKey));
  expect(tokens).toHaveLength(1);
  return tokens[0]!;
}

/** A Connect JSON client for room.permissions.v1.Service. */
export function permissionsClient(srv: TestServer): Client<typeof PermissionsService> {
  return createClient(PermissionsService, connectTransport(srv.baseUrl));
}

/** Headers for each end-user credential form. */
export const credential = {
  bearer: (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` }),
  cookie: (token: string): Record<string, string> => ({ cookie: `theme=dark; roomgate_session=${token}; other=1` }),
};

/** Seed 002's REST call with plain fetch; returns status, headers and the parsed body. */
export async function getRoomPermissionsRest(
  srv: TestServer,
  roomIdPath: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; contentType: string | null; body: unknown }> {
  const res = await fetch(`${srv.baseUrl}/api/v1/room-permissions/${roomIdPath}`, { headers });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    body: text === "" ? undefined : JSON.parse(text),
  };
}
