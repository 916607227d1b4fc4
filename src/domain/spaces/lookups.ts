import { RoomgateError } from "../errors.js";
import type { SpaceCaller } from "./rules.js";
import type { RoomRecord, SpaceRecord, SpaceStore } from "./store.js";

/**
 * The room `roomId` of space `spaceId` in the tenant; `spaceId` "" names a
 * room without a space. A room of another space (or tenant) is not_found,
 * like an unknown one.
 */
export async function findRoomIn(
  store: SpaceStore,
  tenantId: string,
  spaceId: string,
  roomId: string,
): Promise<RoomRecord> {
  const room = await store.findRoom(tenantId, roomId);
  if (!room || (room.spaceId ?? "") !== spaceId) throw new RoomgateError("not_found", "room not found");
  return room;
}

/** The space `spaceId` of the tenant, or not_found. */
export async function findSpaceIn(store: SpaceStore, tenantId: string, spaceId: string): Promise<SpaceRecord> {
  const space = await store.findSpace(tenantId, spaceId);
  if (!space) throw new RoomgateError("not_found", "space not found");
  return space;
}

/** A user of the tenant, or not_found. */
export async function requireUser(store: SpaceStore, tenantId: string, userId: string): Promise<void> {
  if (!(await store.userExists(tenantId, userId))) throw new RoomgateError("not_found", "user not found");
}

/**
 * The caller's user still exists, or unauthenticated: a token can outlive
 * its user, and writes must not reference a missing one.
 */
export async function requireCaller(store: SpaceStore, caller: SpaceCaller): Promise<void> {
  if (!(await store.userExists(caller.tenantId, caller.userId))) {
    throw new RoomgateError("unauthenticated", "the user of this access token no longer exists");
  }
}
