import { RoomgateError } from "../errors.js";
import { journaled, type RecordFn } from "../events/record.js";
import type { StoredEvent } from "../journal.js";
import { moderatesRoom, rankIn } from "../membership.js";
import { requireRoomAccess } from "../room-permissions.js";
import { rankOfRole } from "../roles.js";
import { inviteRevoked, memberLeft, roleRemoved } from "./records.js";
import { actorOf, checkId, checkReason, checkScope, tenantOf, type SpaceCaller, type SpaceManager } from "./rules.js";
import type { SpacesDeps } from "./deps.js";
import { findRoomIn, findSpaceIn, requireCaller, requireUser } from "./lookups.js";

/** RevokeRole as asked: a room role (roomId set) or, for the API key only, a space role (roomId ""). */
export interface RoleRemoval {
  readonly spaceId: string;
  readonly roomId: string;
  readonly targetUserId: string;
  readonly reason: string;
}

/**
 * Undoing what was granted: RevokeInvite, RevokeRole and LeaveSpace; the
 * rules are listed in ./rules.ts. Each runs its checks and its change in
 * one write transaction (a refusal writes nothing), is audited and
 * announced, and answers with its event. Roles are read from the store on
 * every check (nothing caches them), so a removed role stops opening the
 * room on every replica as soon as the transaction commits.
 */
export class SpaceUndo {
  constructor(private readonly deps: SpacesDeps) {}

  /**
   * Revokes an unused invite: it never activates again. The API key, or the
   * space's owner. A used or already revoked invite is failed_precondition;
   * of a revocation and an activation racing, exactly one wins.
   */
  async revokeInvite(who: SpaceManager, spaceId: string, inviteId: string, reason: string): Promise<StoredEvent> {
    checkId("space_id", spaceId);
    checkId("invite_id", inviteId);
    checkReason(reason);
    const tenantId = tenantOf(who);
    if (who.kind === "user") {
      checkScope(who.caller);
      await requireCaller(this.deps.store, who.caller);
    }
    const now = this.deps.clock();
    return await this.once(async (record) => {
      const space = await findSpaceIn(this.deps.store, tenantId, spaceId);
      const invite = await this.deps.store.findInvite(tenantId, inviteId);
      if (!invite || invite.spaceId !== space.id) throw new RoomgateError("not_found", "invite not found");
      if (
        who.kind === "user" &&
        (await this.deps.store.spaceRoleOf(tenantId, space.id, who.caller.userId)) !== "role_space_owner"
      ) {
        throw new RoomgateError("permission_denied", "only the space owner may revoke its invites");
      }
      if (invite.usedAt !== null) throw new RoomgateError("failed_precondition", "invite already used");
      if (!(await this.deps.store.revokeInvite(tenantId, invite.id, now)))
        throw new RoomgateError("failed_precondition", "invite already revoked");
      await record(
        inviteRevoked({
          tenantId,
          actor: actorOf(who),
          at: now,
          inviteId: invite.id,
          spaceId: space.id,
          role: invite.role,
          reason,
        }),
      );
    });
  }

  /**
   * Removes a user's room role. An end user: the space owner or a room
   * moderator (moderatesRoom), of a member ranking below them, holding a
   * role ranking below them (themselves never). The API key: any room of
   * its tenant (space "" for a room without one) — or, with roomId "", a
   * space role (never the owner's). A user holding no such role is
   * failed_precondition.
   */
  async revokeRole(who: SpaceManager, r: RoleRemoval): Promise<StoredEvent> {
    if (who.kind === "user" || r.roomId === "") checkId("space_id", r.spaceId);
    if (who.kind === "user") checkId("room_id", r.roomId);
    checkId("target_user_id", r.targetUserId);
    checkReason(r.reason);
    const tenantId = tenantOf(who);
    if (who.kind === "user") {
      checkScope(who.caller, r.roomId);
      await requireCaller(this.deps.store, who.caller);
    }
    if (r.roomId === "") return await this.revokeSpaceRole(tenantId, who, r);
    const room = await findRoomIn(this.deps.store, tenantId, r.spaceId, r.roomId);
    if (who.kind === "user") requireRoomAccess(who.caller, room.id, this.deps.access);
    await requireUser(this.deps.store, tenantId, r.targetUserId);
    const now = this.deps.clock();
    return await this.once(async (record) => {
      const target = await this.deps.memberships.roomRolesOf(tenantId, r.targetUserId, room.id);
      if (who.kind === "user") {
        const mine = await this.deps.memberships.roomRolesOf(tenantId, who.caller.userId, room.id);
        if (mine.spaceRole !== "role_space_owner" && !moderatesRoom(mine)) {
          throw new RoomgateError(
            "permission_denied",
            "only the space owner or a room moderator may remove room roles",
          );
        }
        const rank = rankIn(mine);
        if (rankIn(target) >= rank)
          throw new RoomgateError(
            "permission_denied",
            "the target's rank in this room is equal to or higher than yours",
          );
        if (target.roomRole !== undefined && rankOfRole(target.roomRole) >= rank) {
          throw new RoomgateError(
            "permission_denied",
            `removing ${target.roomRole} needs a higher rank than yours in this room`,
          );
        }
      }
      const role = target.roomRole;
      if (role === undefined || !(await this.deps.memberships.removeRoomRole(tenantId, room.id, r.targetUserId))) {
        throw new RoomgateError("failed_precondition", "the user holds no role in this room");
      }
      const spaceId = room.spaceId ?? undefined;
      await record(
        roleRemoved({
          tenantId,
          actor: actorOf(who),
          at: now,
          userId: r.targetUserId,
          role,
          roomId: room.id,
          spaceId,
          reason: r.reason,
        }),
      );
    });
  }

  /** The caller gives up their space role; the owner cannot (failed_precondition). Room roles are kept. */
  async leaveSpace(caller: SpaceCaller, spaceId: string): Promise<StoredEvent> {
    checkId("space_id", spaceId);
    checkScope(caller);
    await requireCaller(this.deps.store, caller);
    const now = this.deps.clock();
    return await this.once(async (record) => {
      const space = await findSpaceIn(this.deps.store, caller.tenantId, spaceId);
      const role = await this.deps.store.spaceRoleOf(caller.tenantId, space.id, caller.userId);
      if (role === undefined) throw new RoomgateError("failed_precondition", "you are not a member of this space");
      if (role === "role_space_owner")
        throw new RoomgateError("failed_precondition", "the space owner cannot leave the space");
      await this.deps.memberships.removeSpaceRole(caller.tenantId, space.id, caller.userId);
      await record(
        memberLeft({
          tenantId: caller.tenantId,
          actor: `user:${caller.userId}`,
          at: now,
          userId: caller.userId,
          role,
          spaceId: space.id,
        }),
      );
    });
  }

  /** The API key removes a space role (RevokeRole with roomId ""). */
  private async revokeSpaceRole(tenantId: string, who: SpaceManager, r: RoleRemoval): Promise<StoredEvent> {
    if (who.kind === "user")
      throw new RoomgateError("permission_denied", "space roles are removed with the API key or by leaving the space");
    await findSpaceIn(this.deps.store, tenantId, r.spaceId);
    await requireUser(this.deps.store, tenantId, r.targetUserId);
    const now = this.deps.clock();
    return await this.once(async (record) => {
      const role = await this.deps.store.spaceRoleOf(tenantId, r.spaceId, r.targetUserId);
      if (role === undefined) throw new RoomgateError("failed_precondition", "the user holds no role in this space");
      if (role === "role_space_owner")
        throw new RoomgateError("failed_precondition", "the space owner's role cannot be removed");
      await this.deps.memberships.removeSpaceRole(tenantId, r.spaceId, r.targetUserId);
      await record(
        roleRemoved({
          tenantId,
          actor: actorOf(who),
          at: now,
          userId: r.targetUserId,
          role,
          roomId: "",
          spaceId: r.spaceId,
          reason: r.reason,
        }),
      );
    });
  }

  /** One write transaction recording exactly one event, which answers the call. */
  private async once(fn: (record: RecordFn) => Promise<void>): Promise<StoredEvent> {
    const { events } = await journaled(this.deps.transact, this.deps.sink, fn, { withEvents: true });
    return events[events.length - 1]!;
  }
}
