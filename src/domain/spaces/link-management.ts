import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled, roleRevoked, type RecordFn } from "../events/record.js";
import type { Actor, StoredEvent } from "../journal.js";
import { moderatesRoom } from "../membership.js";
import { decodeKeyset, encodeKeyset, pageSizeOf } from "../paging.js";
import { requireRoomAccess } from "../room-permissions.js";
import type { Revocation } from "../tokens/revocations.js";
import type { AccessLinksDeps, LinkListRequest, LinkManager, LinkPage } from "./access-link-types.js";
import { findRoomIn } from "./lookups.js";
import { actorOf, checkId, checkReason, checkScope, tenantOf } from "./rules.js";
import type { AccessLinkRecord, RoomRecord } from "./store.js";

/** One page of a room's links, newest first. */
export async function listLinks(deps: AccessLinksDeps, who: LinkManager, req: LinkListRequest): Promise<LinkPage> {
  const pageSize = pageSizeOf(req.pageSize);
  const after = req.pageToken === "" ? undefined : decodeKeyset(req.pageToken);
  const room = await managedRoom(deps, who, req.spaceId, req.roomId, undefined);
  // One more than asked tells whether another page follows.
  const rows = await deps.store.listAccessLinks(room.tenantId, room.id, after, pageSize + 1);
  const links = rows.slice(0, pageSize);
  const last = links[links.length - 1];
  return {
    links,
    nextPageToken: rows.length > pageSize && last ? encodeKeyset({ at: last.createdAt, id: last.id }) : "",
  };
}

/** A link being revoked, as the write needs it. */
interface LinkRevocation {
  readonly tenantId: string;
  readonly roomId: string;
  readonly link: AccessLinkRecord;
  readonly actor: Actor;
  readonly at: number;
  readonly reason: string;
}

/**
 * Revokes one link: it never redeems again; its guest (if it was redeemed)
 * loses the room — every token issued to the guest so far is revoked and
 * the guest's room role removed. One transaction, audited, announced as
 * TOKEN_REVOKED naming the link, which is returned.
 */
export async function revokeLink(
  deps: AccessLinksDeps,
  who: LinkManager,
  spaceId: string,
  roomId: string,
  linkId: string,
  reason: string,
): Promise<StoredEvent> {
  if (!/^[0-9a-f]{32}$/.test(linkId)) throw invalidArgument("link_id must be 32 lower-case hex digits");
  checkReason(reason);
  const tenantId = tenantOf(who);
  const link = await deps.store.findAccessLink(tenantId, linkId);
  if (!link || link.roomId !== roomId) throw new RoomgateError("not_found", "access link not found");
  await managedRoom(deps, who, spaceId, roomId, link);
  const r: LinkRevocation = { tenantId, roomId, link, actor: actorOf(who), at: deps.clock(), reason };
  const { events } = await journaled(deps.transact, deps.sink, (record) => writeRevocation(deps, r, record), {
    withEvents: true,
  });
  return events[events.length - 1]!;
}

/** Inside the write: the link's row, its guest's revocation and room role, and the record. */
async function writeRevocation(deps: AccessLinksDeps, r: LinkRevocation, record: RecordFn): Promise<void> {
  const { tenantId, roomId, link, actor, at: now, reason } = r;
  if (!(await deps.store.revokeAccessLink(tenantId, link.id, now))) {
    throw new RoomgateError("failed_precondition", "access link already revoked");
  }
  const guest = (await deps.store.findAccessLink(tenantId, link.id))?.guestUserId ?? null;
  let revocation: Revocation | undefined;
  if (guest !== null) {
    revocation = { kind: "user_room", tenantId, userId: guest, roomId, at: now };
    await deps.revocationStore.addRevocation(revocation, null);
    if (await deps.memberships.removeRoomRole(tenantId, roomId, guest)) {
      await record(
        roleRevoked({
          tenantId,
          actor,
          at: now,
          userId: guest,
          role: link.role,
          roomId,
          via: "access_link",
          target: link.id,
        }),
      );
    }
  }
  await record({
    audit: [
      {
        tenantId,
        at: now,
        actor,
        action: "access_link.revoke",
        roomId,
        targetUserId: guest ?? "",
        target: link.id,
        reason,
      },
    ],
    events: [
      {
        tenantId,
        type: EventType.TOKEN_REVOKED,
        roomId,
        userId: guest ?? "",
        actor,
        at: now,
        tokenId: link.id,
        reason,
        effects: revocation ? { revocations: [revocation] } : undefined,
      },
    ],
  });
}

/**
 * The room whose links `who` may see or revoke: the API key, any room of
 * its tenant; an end user, a room open to them of which they are the
 * creator or a moderator — or, for one link, its creator.
 */
async function managedRoom(
  deps: AccessLinksDeps,
  who: LinkManager,
  spaceId: string,
  roomId: string,
  link: AccessLinkRecord | undefined,
): Promise<RoomRecord> {
  if (who.kind === "api_key") {
    checkId("room_id", roomId);
    return await findRoomIn(deps.store, who.tenantId, spaceId, roomId);
  }
  const caller = who.caller;
  checkId("space_id", spaceId);
  checkId("room_id", roomId);
  checkScope(caller, roomId);
  const room = await findRoomIn(deps.store, caller.tenantId, spaceId, roomId);
  requireRoomAccess(caller, room.id, deps.access);
  const mine = await deps.memberships.roomRolesOf(caller.tenantId, caller.userId, room.id);
  const ownLink = link !== undefined && link.createdBy === caller.userId;
  if (room.creatorUserId !== caller.userId && !ownLink && !moderatesRoom(mine)) {
    throw new RoomgateError(
      "permission_denied",
      "only the room's creator or a room moderator may manage its access links",
    );
  }
  return room;
}
