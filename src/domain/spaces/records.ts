import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import type { Recorded } from "../events/record.js";
import type { Actor } from "../journal.js";

/** The facts of an undo: who took what from whom, where, and why. */
export interface Removal {
  readonly tenantId: string;
  readonly actor: Actor;
  readonly at: number;
  /** The member who lost the role. */
  readonly userId: string;
  /** The role taken away. */
  readonly role: string;
  /** The room, or "" for a space role. */
  readonly roomId: string;
  /** The space, when the role was a space role or the room has one. */
  readonly spaceId: string | undefined;
  readonly reason: string;
}

/**
 * A role was removed (RevokeRole): audit "role.revoke", event ROLE_REVOKED
 * naming the role. No live effect: roles are read from the store on every
 * check, so the removal holds on every replica as soon as it commits.
 */
export function roleRemoved(r: Removal): Recorded {
  return {
    audit: [
      {
        tenantId: r.tenantId,
        at: r.at,
        actor: r.actor,
        action: "role.revoke",
        roomId: r.roomId,
        targetUserId: r.userId,
        target: r.spaceId ?? "",
        reason: r.reason,
        detail: { role: r.role, via: "revoke", ...(r.spaceId === undefined ? {} : { spaceId: r.spaceId }) },
      },
    ],
    events: [
      {
        tenantId: r.tenantId,
        type: EventType.ROLE_REVOKED,
        roomId: r.roomId,
        userId: r.userId,
        actor: r.actor,
        at: r.at,
        role: r.role,
        reason: r.reason,
        spaceId: r.spaceId ?? "",
      },
    ],
  };
}

/** A member left a space (LeaveSpace): audit "member.leave", event MEMBER_LEFT naming the role given up. */
export function memberLeft(r: Omit<Removal, "roomId" | "reason" | "spaceId"> & { readonly spaceId: string }): Recorded {
  return {
    audit: [
      {
        tenantId: r.tenantId,
        at: r.at,
        actor: r.actor,
        action: "member.leave",
        targetUserId: r.userId,
        target: r.spaceId,
        detail: { role: r.role, spaceId: r.spaceId },
      },
    ],
    events: [
      {
        tenantId: r.tenantId,
        type: EventType.MEMBER_LEFT,
        userId: r.userId,
        actor: r.actor,
        at: r.at,
        role: r.role,
        spaceId: r.spaceId,
      },
    ],
  };
}

/** The facts of a revoked invite. */
export interface InviteRevocation {
  readonly tenantId: string;
  readonly actor: Actor;
  readonly at: number;
  readonly inviteId: string;
  readonly spaceId: string;
  readonly role: string;
  readonly reason: string;
}

/** An unused invite was revoked: audit "invite.revoke" (target: the invite), event INVITE_REVOKED naming its role. */
export function inviteRevoked(r: InviteRevocation): Recorded {
  return {
    audit: [
      {
        tenantId: r.tenantId,
        at: r.at,
        actor: r.actor,
        action: "invite.revoke",
        target: r.inviteId,
        reason: r.reason,
        detail: { spaceId: r.spaceId, role: r.role },
      },
    ],
    events: [
      {
        tenantId: r.tenantId,
        type: EventType.INVITE_REVOKED,
        actor: r.actor,
        at: r.at,
        role: r.role,
        reason: r.reason,
        spaceId: r.spaceId,
        inviteId: r.inviteId,
      },
    ],
  };
}
