import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { checkId } from "../ids.js";
import { journaled, type JournalSink } from "../events/record.js";
import type { Actor, StoredEvent, Transact } from "../journal.js";
import type { Revocation } from "./revocations.js";

/** The persistence revocation needs; implemented in src/store. */
export interface RevocationStore {
  addRevocation(r: Revocation, expiresAt: number | null): Promise<void>;
  findGrant(
    tenantId: string,
    tokenId: string,
  ): Promise<{ userId: string; roomId: string; expiresAt: number } | undefined>;
}

/** Everything revocation works with. */
export interface RevokerDeps {
  readonly store: RevocationStore;
  readonly transact: Transact;
  /** Journal and change feed: the revocation reaches the index through the feed. */
  readonly sink: JournalSink;
  readonly clock: () => number;
}

const TOKEN_ID = /^[0-9a-f]{32}$/;

/**
 * Revokes one token, a user's tokens (optionally in one room) or a room's
 * tokens. The revocation is stored with its audit entry and event (whose
 * effects carry it to every replica's index through the change feed); this
 * replica has applied it before the call returns, so the very next Verify
 * here refuses the token, and a Verify elsewhere given the answer's event
 * id as its consistency token does too.
 */
export class Revoker {
  constructor(private readonly deps: RevokerDeps) {}

  /** Revokes one token of the tenant by id. */
  async revokeToken(tenantId: string, actor: Actor, tokenId: string, reason: string): Promise<StoredEvent> {
    if (!TOKEN_ID.test(tokenId)) throw invalidArgument("token_id must be 32 lower-case hex digits");
    const grant = await this.deps.store.findGrant(tenantId, tokenId);
    if (!grant) throw new RoomgateError("not_found", `token ${tokenId} not found`);
    return await this.revoke({ kind: "token", tenantId, tokenId, at: this.deps.clock() }, grant.expiresAt, {
      actor,
      reason,
      roomId: grant.roomId,
      userId: grant.userId,
      tokenId,
      action: "token.revoke",
    });
  }

  /** Revokes every token issued so far to a user (in one room when given). */
  async revokeUser(
    tenantId: string,
    actor: Actor,
    userId: string,
    roomId: string,
    reason: string,
  ): Promise<StoredEvent> {
    checkId("user_id", userId);
    if (roomId !== "") checkId("room_id", roomId);
    const at = this.deps.clock();
    const r: Revocation =
      roomId === "" ? { kind: "user", tenantId, userId, at } : { kind: "user_room", tenantId, userId, roomId, at };
    return await this.revoke(r, null, { actor, reason, roomId, userId, action: "token.revoke_user" });
  }

  /** Revokes every token issued so far for a room. */
  async revokeRoom(tenantId: string, actor: Actor, roomId: string, reason: string): Promise<StoredEvent> {
    checkId("room_id", roomId);
    return await this.revoke({ kind: "room", tenantId, roomId, at: this.deps.clock() }, null, {
      actor,
      reason,
      roomId,
      action: "token.revoke_room",
    });
  }

  private async revoke(
    initial: Revocation,
    expiresAt: number | null,
    what: { actor: Actor; reason: string; roomId: string; userId?: string; tokenId?: string; action: string },
  ): Promise<StoredEvent> {
    if (what.reason.length > 1_024) throw invalidArgument("reason is longer than 1024 characters");
    let r = initial;
    const { events } = await journaled(
      this.deps.transact,
      this.deps.sink,
      async (record) => {
        // The watermark is read under the write lock: a token whose issue
        // committed while this revocation waited for the lock is covered too.
        r = { ...r, at: this.deps.clock() };
        await this.deps.store.addRevocation(r, expiresAt);
        await record({
          audit: [
            {
              tenantId: r.tenantId,
              at: r.at,
              actor: what.actor,
              action: what.action,
              roomId: what.roomId,
              targetUserId: what.userId ?? "",
              target: what.tokenId ?? "",
              reason: what.reason,
            },
          ],
          events: [
            {
              tenantId: r.tenantId,
              type: EventType.TOKEN_REVOKED,
              roomId: what.roomId,
              userId: what.userId ?? "",
              actor: what.actor,
              at: r.at,
              tokenId: what.tokenId ?? "",
              reason: what.reason,
              effects: { revocations: [r] },
            },
          ],
        });
      },
      { withEvents: true },
    );
    return events[0]!;
  }
}
