import { and, eq, sql } from "drizzle-orm";
import type { RoomDirectory } from "../domain/room-permissions.js";
import type { Db } from "./db.js";
import { rooms } from "./schema.js";

/** Reads of the rooms table that permission checks need. */
export class SqliteRoomStore implements RoomDirectory {
  // Prepared once: every permissions query asks this first.
  private readonly existsQuery;

  constructor(db: Db) {
    this.existsQuery = db
      .select({ one: sql<number>`1` })
      .from(rooms)
      .where(and(eq(rooms.tenantId, sql.placeholder("tenantId")), eq(rooms.id, sql.placeholder("roomId"))))
      .limit(1)
      .prepare();
  }

  roomExists(tenantId: string, roomId: string): boolean {
    return this.existsQuery.get({ tenantId, roomId }) !== undefined;
  }
}
