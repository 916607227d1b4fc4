import { RoomgateError } from "../errors.js";
import { journaled, roleGranted } from "../events/record.js";
import type { Actor } from "../journal.js";
import { moderatesRoom, rankIn } from "../membership.js";
import { requireRoomAccess } from "../room-permissions.js";
import { rankOfRole, ROOM_GRANT_ROLES, type RoleName } from "../roles.js";
import type { SpacesDeps } from "./deps.js";
import { findRoomIn, requireCaller, requireUser } from "./lookups.js";
import { checkId, checkRole, checkScope, type SpaceCaller } from "./rules.js";
import { type ExpiryInput, NO_EXPIRY, roleExpiry, withExpiry } from "./expiry.js";

/** A room role grant: which room (by space, "" for none), whom, which role. */
export interface RoleGrant {
  readonly spaceId: string;
  readonly roomId: string;
  readonly targetUserId: string;
  readonly role: string;
  /** When the role stops counting by itself; not given: it lasts until revoked. */
  readonly expiry?: ExpiryInput;
}

/** Room role grants by an end user (ranked in the room) or the API key (any room of its tenant). */
export class RoomGrants {
  constructor(private readonly deps: SpacesDeps) {}

  /** Grants a room role as an end user: the space owner or a room moderator may. */
  async grantRole(caller: SpaceCaller, grant: RoleGrant): Promise<void> {
    checkId("space_id", grant.spaceId);
    const { role, expiresAt } = this.checkGrant(grant);
    checkScope(caller, grant.roomId);
    await requireCaller(this.deps.store, caller);
    const room = await findRoomIn(this.deps.store, caller.tenantId, grant.spaceId, grant.roomId);
    requireRoomAccess(caller, room.id, this.deps.access);
    await requireUser(this.deps.store, caller.tenantId, grant.targetUserId);
    // Hierarchy: nobody acts on themselves, the owner included (issue 19: an
    // owner outside a private room gets a room role from the API key).
    if (grant.targetUserId === caller.userId)
      throw new RoomgateError("permission_denied", "nobody grants a room role to themselves; the API key may");
    const mine = await this.deps.memberships.roomRolesOf(caller.tenantId, caller.userId, room.id);
    if (mine.spaceRole !== "role_space_owner" && !moderatesRoom(mine)) {
      throw new RoomgateError("permission_denied", "only the space owner or a room moderator may grant room roles");
    }
    const rank = rankIn(mine);
    if (rankOfRole(role) >= rank)
      throw new RoomgateError("permission_denied", `granting ${role} needs a higher rank than yours in this room`);
    const target = rankIn(await this.deps.memberships.roomRolesOf(caller.tenantId, grant.targetUserId, room.id));
    if (target >= rank)
      throw new RoomgateError("permission_denied", "the target's rank in this room is equal to or higher than yours");
    const actor = `user:${caller.userId}` as const;
    await this.setRoomRole(caller.tenantId, room.id, grant.targetUserId, { role, expiresAt }, caller.userId, actor);
  }

  /**
   * Grants a room role with the tenant's API key: any room of the tenant,
   * including rooms without a space. `grantedBy` is the key's public id.
   */
  async grantRoleAsBackend(tenantId: string, grantedBy: string, grant: RoleGrant): Promise<void> {
    const { role, expiresAt } = this.checkGrant(grant);
    const room = await findRoomIn(this.deps.store, tenantId, grant.spaceId, grant.roomId);
    await requireUser(this.deps.store, tenantId, grant.targetUserId);
    await this.setRoomRole(tenantId, room.id, grant.targetUserId, { role, expiresAt }, grantedBy, `key:${grantedBy}`);
  }

  /**
   * Writes a room role grant with its audit entry and events. Granting again
   * replaces the expiry (extends, shortens, or clears it when none is given).
   */
  private async setRoomRole(
    tenantId: string,
    roomId: string,
    userId: string,
    granted: { readonly role: RoleName; readonly expiresAt: number | null },
    grantedBy: string,
    actor: Actor,
  ): Promise<void> {
    const now = this.deps.clock();
    const { role, expiresAt } = granted;
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const previousRole = (await this.deps.memberships.roomRolesOf(tenantId, userId, roomId)).roomRole;
      await this.deps.memberships.setRoomRole(tenantId, roomId, userId, role, grantedBy, now, expiresAt);
      const rec = roleGranted({ tenantId, actor, at: now, userId, role, roomId, via: "grant", previousRole });
      await record(withExpiry(rec, expiresAt));
    });
  }

  /** Checks the ids, the role and the expiry, before anything is read or written. */
  private checkGrant(grant: RoleGrant): { role: RoleName; expiresAt: number | null } {
    checkId("room_id", grant.roomId);
    checkId("target_user_id", grant.targetUserId);
    const role = checkRole("role", grant.role, ROOM_GRANT_ROLES);
    return { role, expiresAt: roleExpiry(grant.expiry ?? NO_EXPIRY, this.deps.clock()) };
  }
}
