import { sql } from "drizzle-orm";
import type { RoomDirectory } from "../domain/room-permissions.js";
import type { Database } from "./database-port.js";

/** Reads of the rooms table that permission checks need. */
export class SqlRoomStore implements RoomDirectory {
  constructor(private readonly db: Database) {}

  async roomExists(tenantId: string, roomId: string): Promise<boolean> {
    const row = await this.db.get(
      sql`select 1 as "one" from rooms where tenant_id = ${tenantId} and id = ${roomId} limit 1`,
    );
    return row !== undefined;
  }
}
