import { RoomgateError } from "../errors.js";
import { journaled, memberJoined, roleGranted } from "../events/record.js";
import type { Actor } from "../journal.js";
import { requireRoomAccess } from "../room-permissions.js";
import { INVITE_ROLES } from "../roles.js";
import type { SpacesDeps } from "./deps.js";
import { findRoomIn, findSpaceIn, requireCaller } from "./lookups.js";
import { checkId, checkRole, checkScope, strongerSpaceRole, type SpaceCaller } from "./rules.js";
import { withExpiry } from "./expiry.js";

/**
 * An end user joining a space (by invite or because it is public) or a
 * public room: the claim, the role and its record commit together.
 */
export class SpaceJoins {
  constructor(private readonly deps: SpacesDeps) {}

  /**
   * Gives the caller the invite's role in its space; an invite works exactly
   * once. An invite for a role the caller already holds or outranks in the
   * space is refused (failed_precondition) and stays unused, for its
   * rightful invitee; so is a revoked one.
   */
  async activateInvite(caller: SpaceCaller, spaceId: string, inviteId: string): Promise<void> {
    checkId("space_id", spaceId);
    checkId("invite_id", inviteId);
    checkScope(caller);
    await requireCaller(this.deps.store, caller);
    const now = this.deps.clock();
    // Claim and role write commit together: a crash between them cannot
    // burn an invite without giving the role, and a lost race writes nothing.
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const invite = await this.deps.store.findInvite(caller.tenantId, inviteId);
      if (!invite || invite.spaceId !== spaceId) throw new RoomgateError("not_found", "invite not found");
      // Read in the write transaction: a revocation or another activation
      // either committed before (seen here) or waits for this one.
      if (invite.usedAt !== null) throw new RoomgateError("failed_precondition", "invite already used");
      if (invite.revokedAt !== null) throw new RoomgateError("failed_precondition", "invite revoked");
      // The role it gives would count for nothing: the invite expired with it.
      if (invite.roleExpiresAt != null && invite.roleExpiresAt <= now)
        throw new RoomgateError("failed_precondition", "invite expired");
      const held = await this.deps.store.spaceRoleOf(caller.tenantId, invite.spaceId, caller.userId);
      const role = strongerSpaceRole(held, checkRole("role", invite.role, INVITE_ROLES));
      if (role === held) {
        throw new RoomgateError(
          "failed_precondition",
          `you already hold ${held} in this space, which ${invite.role} does not raise; the invite stays unused`,
        );
      }
      if (!(await this.deps.store.claimInvite(caller.tenantId, invite.id, caller.userId, now))) {
        throw new RoomgateError("failed_precondition", "invite already used");
      }
      const expiresAt = invite.roleExpiresAt ?? null;
      await this.deps.memberships.setSpaceRole(caller.tenantId, invite.spaceId, caller.userId, role, now, expiresAt);
      const change = {
        ...self(caller, now),
        role,
        roomId: "",
        spaceId: invite.spaceId,
        via: "invite",
        target: invite.id,
      };
      // A member whose invite raises their role was granted it; anyone else joined.
      const rec = held === undefined ? memberJoined(change) : roleGranted({ ...change, previousRole: held });
      await record(withExpiry(rec, expiresAt));
    });
  }

  /** Joins a public space as role_space_user; a private one needs an invite. */
  async joinSpace(caller: SpaceCaller, spaceId: string): Promise<void> {
    checkId("space_id", spaceId);
    checkScope(caller);
    await requireCaller(this.deps.store, caller);
    const now = this.deps.clock();
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const space = await findSpaceIn(this.deps.store, caller.tenantId, spaceId);
      const held = await this.deps.store.spaceRoleOf(caller.tenantId, space.id, caller.userId);
      // A member of a private space is already in: nothing to refuse or change.
      if (!space.isPublic && held === undefined) {
        throw new RoomgateError("permission_denied", "this space is private: join it with an invite");
      }
      const role = strongerSpaceRole(held, "role_space_user");
      if (role !== held) {
        await this.deps.memberships.setSpaceRole(caller.tenantId, space.id, caller.userId, role, now);
        await record(memberJoined({ ...self(caller, now), role, roomId: "", spaceId: space.id, via: "public" }));
      }
    });
  }

  /** Joins a public room (of a public space, or of the caller's space) as role_room_user. */
  async joinRoom(caller: SpaceCaller, spaceId: string, roomId: string): Promise<void> {
    checkId("space_id", spaceId);
    checkId("room_id", roomId);
    checkScope(caller, roomId);
    await requireCaller(this.deps.store, caller);
    const now = this.deps.clock();
    // A block committed on any replica before this call is applied here
    // first (this replica's memory may be behind); see AccessLinks.redeem.
    await this.deps.sink.feed.catchUp();
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const room = await findRoomIn(this.deps.store, caller.tenantId, spaceId, roomId);
      requireRoomAccess(caller, room.id, this.deps.access);
      const space = room.spaceId === null ? undefined : await this.deps.store.findSpace(caller.tenantId, room.spaceId);
      const inSpace =
        space !== undefined &&
        (await this.deps.store.spaceRoleOf(caller.tenantId, space.id, caller.userId)) !== undefined;
      if (!room.isPublic || space === undefined || !(space.isPublic || inSpace)) {
        throw new RoomgateError("permission_denied", "this room is not open to you: ask for a role");
      }
      // role_room_user is the weakest room role: any role held already is kept.
      if ((await this.deps.memberships.roomRolesOf(caller.tenantId, caller.userId, room.id)).roomRole === undefined) {
        await this.deps.memberships.setRoomRole(
          caller.tenantId,
          room.id,
          caller.userId,
          "role_room_user",
          caller.userId,
          now,
        );
        await record(memberJoined({ ...self(caller, now), role: "role_room_user", roomId: room.id, via: "public" }));
      }
    });
  }
}

/** The caller acting on themselves: tenant, actor, member and time of a change. */
function self(caller: SpaceCaller, at: number): { tenantId: string; actor: Actor; at: number; userId: string } {
  return { tenantId: caller.tenantId, actor: `user:${caller.userId}`, at, userId: caller.userId };
}
