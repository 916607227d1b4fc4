import { createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { and, count, eq, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { Service as Access } from "../../gen/room/access/v1/service_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Service as Spaces } from "../../gen/room/spaces/v1/service_pb.js";
import { spaceMembers } from "../../src/store/schema.js";
import type { TestServer } from "./server.js";

/** Browser-facing room.spaces.v1 client: Connect JSON (HTTP/1.1 unless told). */
export function spacesClient(srv: TestServer, httpVersion: "1.1" | "2" = "1.1"): Client<typeof Spaces> {
  return createClient(Spaces, createConnectTransport({ baseUrl: srv.baseUrl, httpVersion, useBinaryFormat: false }));
}

/** Backend room.spaces.private.v1 client: gRPC over HTTP/2. */
export function spacesPrivateClient(srv: TestServer): Client<typeof SpacesPrivate> {
  return createClient(SpacesPrivate, createGrpcTransport({ baseUrl: srv.baseUrl }));
}

/** room.access.v1 client: Connect JSON (HTTP/1.1 unless told). */
export function accessClient(srv: TestServer, httpVersion: "1.1" | "2" = "1.1"): Client<typeof Access> {
  return createClient(Access, createConnectTransport({ baseUrl: srv.baseUrl, httpVersion, useBinaryFormat: false }));
}

/** Call options carrying `Authorization: Bearer <token>`. */
export function as(token: string): CallOptions {
  return { headers: { authorization: `Bearer ${token}` } };
}

/** Rows in `table` (optionally matching `where`), read straight from the store. */
export function rowCount(srv: TestServer, table: SQLiteTable, where?: SQL): number {
  const q = srv.app.store.db.select({ n: count() }).from(table);
  return (where ? q.where(where) : q).get()?.n ?? 0;
}

/** A user's role in a space, read through the real store. */
export function spaceRoleOf(srv: TestServer, spaceId: string, userId: string): string | undefined {
  return srv.app.store.db
    .select({ role: spaceMembers.role })
    .from(spaceMembers)
    .where(and(eq(spaceMembers.spaceId, spaceId), eq(spaceMembers.userId, userId)))
    .get()?.role;
}
