import { createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql, type SQL } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { Service as Access } from "../../gen/room/access/v1/service_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Service as Spaces } from "../../gen/room/spaces/v1/service_pb.js";
import type { TestServer } from "./server.js";
import { grpcTransport } from "./clients.js";

/** Browser-facing room.spaces.v1 client: Connect JSON (HTTP/1.1 unless told). */
export function spacesClient(srv: TestServer, httpVersion: "1.1" | "2" = "1.1"): Client<typeof Spaces> {
  return createClient(Spaces, createConnectTransport({ baseUrl: srv.baseUrl, httpVersion, useBinaryFormat: false }));
}

/** Backend room.spaces.private.v1 client: gRPC over HTTP/2. */
export function spacesPrivateClient(srv: TestServer): Client<typeof SpacesPrivate> {
  return createClient(SpacesPrivate, grpcTransport(srv.baseUrl));
}

/** room.access.v1 client: Connect JSON (HTTP/1.1 unless told). */
export function accessClient(srv: TestServer, httpVersion: "1.1" | "2" = "1.1"): Client<typeof Access> {
  return createClient(Access, createConnectTransport({ baseUrl: srv.baseUrl, httpVersion, useBinaryFormat: false }));
}

/** Call options carrying `Authorization: Bearer <token>`. */
export function as(token: string): CallOptions {
  return { headers: { authorization: `Bearer ${token}` } };
}

/**
 * Rows in `table` (optionally matching `where`), read straight from the
 * store. drizzle renders the SQLite schema's table and column names quoted,
 * which PostgreSQL reads the same, so this works on both stores.
 */
export async function rowCount(srv: TestServer, table: SQLiteTable, where?: SQL): Promise<number> {
  const row = await srv.h.rows.get(
    sql`select count(*) as "n" from ${table}${where ? sql` where ${where}` : sql.empty()}`,
  );
  return Number(row?.n ?? 0);
}

/** A user's role in a space, read through the real store. */
export async function spaceRoleOf(srv: TestServer, spaceId: string, userId: string): Promise<string | undefined> {
  const row = await srv.h.rows.get(
    sql`select role as "role" from space_members where space_id = ${spaceId} and user_id = ${userId}`,
  );
  return row === undefined ? undefined : String(row.role);
}
