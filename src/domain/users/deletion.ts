import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled, type JournalSink, type Recorded, type RecordFn } from "../events/record.js";
import { checkId } from "../ids.js";
import type { Actor, AuditInit, EventInit, StoredEvent, Transact } from "../journal.js";
import type { MembershipStore } from "../membership.js";
import type { Revocation } from "../tokens/revocations.js";
import type { KeyCaller } from "./directory.js";
import type { DeletedUser, RevokedLink, UserDirectoryStore } from "./records.js";

/** Longest reason accepted (as for revocations). */
const MAX_REASON = 1_024;

/** Everything deletion works with. */
export interface UserDeletionDeps {
  readonly store: UserDirectoryStore;
  /** Where revocations are stored (the revocations table), so a restarted replica loads them. */
  readonly revocationStore: { addRevocation(r: Revocation, expiresAt: number | null): Promise<void> };
  readonly memberships: Pick<MembershipStore, "removeRoomRole">;
  readonly transact: Transact;
  readonly sink: JournalSink;
  readonly clock: () => number;
}

/**
 * DeleteUser: a soft delete that scrubs personal data and keeps the id.
 *
 * In one write transaction:
 * - the row becomes kind `deleted` with username, email, phone, password,
 *   external and unique identifiers, meta and picture cleared and tenant-wide
 *   moderation ended — so it can no longer log in (Login, seed 003's
 *   identifier) or be found, and its username and email are free again;
 * - its room and space roles are removed;
 * - a `user` revocation at the deletion time refuses every token it holds —
 *   user access tokens, session cookies, room member tokens — carried as the
 *   USER_DELETED event's effects, so every replica's feed applies it;
 * - access links it created are revoked like RevokeAccessLink does (they
 *   never redeem again; their guests lose the room): the deleted user may
 *   still hold them, and a permanent link is a credential. The link it
 *   redeemed as a guest is revoked too.
 *
 * The time is read inside the transaction, after the write lock: a Login or
 * seed 003 call serialised before the deletion issued its token at or
 * before that time (the watermark refuses it), one serialised after finds
 * no user. Invites the user created stay (an invite is the space's, and is
 * activated with the invitee's own credential).
 */
export class UserDeletion {
  constructor(private readonly deps: UserDeletionDeps) {}

  /** Deletes a live user of the caller's tenant; not_found when there is none. Returns USER_DELETED. */
  async delete(caller: KeyCaller, userId: string, reason: string): Promise<StoredEvent> {
    checkId("user_id", userId);
    if (reason.length > MAX_REASON) throw invalidArgument(`reason is longer than ${MAX_REASON} characters`);
    const d: Deleting = { tenantId: caller.tenantId, userId, actor: `key:${caller.keyId}`, reason };
    const { events } = await journaled(this.deps.transact, this.deps.sink, (record) => this.deleteInWrite(d, record), {
      withEvents: true,
    });
    return events[events.length - 1]!;
  }

  /** The deletion, inside the write: the time is read after the write lock (see above). */
  private async deleteInWrite(d: Deleting, record: RecordFn): Promise<void> {
    const { tenantId, userId } = d;
    const at = this.deps.clock();
    const gone = await this.deps.store.deleteUser(tenantId, userId);
    if (!gone) throw new RoomgateError("not_found", `user ${userId} not found`);
    const revocation: Revocation = { kind: "user", tenantId, userId, at };
    await this.deps.revocationStore.addRevocation(revocation, null);
    // Links first, so USER_DELETED is the last event: its id, as a
    // consistency token, then covers every effect of the deletion.
    const links = await this.deps.store.revokeLinksOf(tenantId, userId, at);
    for (const link of links) await record(await this.revokeLink(d, at, link));
    await record(userDeleted(d, at, gone, links, revocation));
  }

  /** A link of the user, revoked like RevokeAccessLink does: its guest loses the room. */
  private async revokeLink(d: Deleting, at: number, link: RevokedLink): Promise<Recorded> {
    const { tenantId, userId, actor } = d;
    const guest = link.guestUserId !== null && link.guestUserId !== userId ? link.guestUserId : null;
    const audit: AuditInit[] = [];
    const events: EventInit[] = [];
    let guestRevocation: Revocation | undefined;
    if (guest !== null) {
      guestRevocation = { kind: "user_room", tenantId, userId: guest, roomId: link.roomId, at };
      await this.deps.revocationStore.addRevocation(guestRevocation, null);
      if (await this.deps.memberships.removeRoomRole(tenantId, link.roomId, guest)) {
        audit.push({
          tenantId,
          at,
          actor,
          action: "role.revoke",
          roomId: link.roomId,
          targetUserId: guest,
          target: link.id,
          detail: { role: link.role, via: "access_link" },
        });
        events.push({
          tenantId,
          type: EventType.ROLE_REVOKED,
          roomId: link.roomId,
          userId: guest,
          actor,
          at,
          role: link.role,
          reason: "user deleted",
        });
      }
    }
    audit.push({
      tenantId,
      at,
      actor,
      action: "access_link.revoke",
      roomId: link.roomId,
      targetUserId: guest ?? "",
      target: link.id,
      reason: "user deleted",
      detail: { linkOf: userId },
    });
    events.push({
      tenantId,
      type: EventType.TOKEN_REVOKED,
      roomId: link.roomId,
      userId: guest ?? "",
      actor,
      at,
      tokenId: link.id,
      reason: "user deleted",
      effects: guestRevocation ? { revocations: [guestRevocation] } : undefined,
    });
    return { audit, events };
  }
}

/** One deletion: whose, by whom, why. */
interface Deleting {
  readonly tenantId: string;
  readonly userId: string;
  readonly actor: Actor;
  readonly reason: string;
}

/** "user.delete" and USER_DELETED (carrying the user revocation), after a ROLE_REVOKED per room role. */
function userDeleted(
  d: Deleting,
  at: number,
  gone: DeletedUser,
  links: readonly RevokedLink[],
  revocation: Revocation,
): Recorded {
  const { tenantId, userId, actor, reason } = d;
  // A watcher of one room learns that the member is gone from it.
  const roleEvents: EventInit[] = gone.roomRoles.map((r) => ({
    tenantId,
    type: EventType.ROLE_REVOKED,
    roomId: r.roomId,
    userId,
    actor,
    at,
    role: r.role,
    reason: "user deleted",
  }));
  return {
    audit: [
      {
        tenantId,
        at,
        actor,
        action: "user.delete",
        targetUserId: userId,
        reason,
        detail: {
          kind: gone.kind,
          tenantModerator: gone.tenantModerator,
          roomRoles: gone.roomRoles,
          spaceRoles: gone.spaceRoles,
          linksRevoked: links.map((l) => l.id),
        },
      },
    ],
    events: [
      ...roleEvents,
      { tenantId, type: EventType.USER_DELETED, userId, actor, at, reason, effects: { revocations: [revocation] } },
    ],
  };
}
