import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import type { Recorded } from "../events/record.js";
import { LAPSE_ACTOR, type LapseSource } from "./lapses.js";

/** Where a role granted with an expiry was held. */
export type ExpiringRoleKind = "room" | "space" | "tenant_moderator";

/** A role granted with an expiry, as stored. */
export interface ExpiringRole {
  readonly kind: ExpiringRoleKind;
  readonly tenantId: string;
  readonly userId: string;
  /** The room of a room role; "" otherwise. */
  readonly roomId: string;
  /** The space of a space role; "" otherwise. */
  readonly spaceId: string;
  readonly role: string;
  readonly expiresAt: number;
}

/** The persistence role expiry needs; implemented in src/store (membership store). */
export interface RoleExpiryStore {
  /** Roles whose expiry is at or before `now`, soonest first, at most `limit`. */
  dueRoles(now: number, limit: number): Promise<ExpiringRole[]>;
  /** The soonest expiry of any role, or undefined. */
  nextRoleExpiry(): Promise<number | undefined>;
  /** Removes the role only if it is still that role with that expiry; false otherwise. */
  removeExpiredRole(r: ExpiringRole): Promise<boolean>;
}

/** The reason a role expiry is recorded with. */
export const EXPIRY_REASON = "expired";

/**
 * Roles granted with an expiry (GrantRole, an invite, seed 003's moderator)
 * as a lapse source of RestrictionLapses: one timer, and the same
 * exactly-once rule — the row goes only while it still holds that role
 * with that expiry (a re-grant that extended, shortened or cleared it, a
 * revocation, or another replica's expiry first makes this one write
 * nothing). Recorded at the expiry time, by actor "system": audit
 * "role.expire", event ROLE_EXPIRED. Permission checks stop counting the
 * role at its expiry on their own (the membership store compares it with
 * the clock); this writes the change down and tells watchers and webhooks.
 */
export function roleExpirySource(store: RoleExpiryStore): LapseSource<ExpiringRole> {
  return {
    due: (now, limit) => store.dueRoles(now, limit),
    nextEnd: () => store.nextRoleExpiry(),
    async lapse(r) {
      if (!(await store.removeExpiredRole(r))) return undefined;
      return roleExpired(r);
    },
  };
}

/** Audit "role.expire" and event ROLE_EXPIRED for a role that expired. */
function roleExpired(r: ExpiringRole): Recorded {
  const detail = { role: r.role, via: "expiry", expiresAt: r.expiresAt, ...(r.spaceId ? { spaceId: r.spaceId } : {}) };
  return {
    audit: [
      {
        tenantId: r.tenantId,
        at: r.expiresAt,
        actor: LAPSE_ACTOR,
        action: "role.expire",
        roomId: r.roomId,
        targetUserId: r.userId,
        reason: EXPIRY_REASON,
        detail,
      },
    ],
    events: [
      {
        tenantId: r.tenantId,
        type: EventType.ROLE_EXPIRED,
        roomId: r.roomId,
        userId: r.userId,
        actor: LAPSE_ACTOR,
        at: r.expiresAt,
        reason: EXPIRY_REASON,
        role: r.role,
        spaceId: r.spaceId,
      },
    ],
  };
}
