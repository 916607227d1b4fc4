import { randomBytes } from "node:crypto";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled } from "../events/record.js";
import { moderatesRoom } from "../membership.js";
import { requireRoomAccess } from "../room-permissions.js";
import { ACCESS_LINK_ROLES } from "../roles.js";
import type { AccessLinksDeps, AccessRequest, GeneratedAccess, LinkManager } from "./access-link-types.js";
import { findRoomIn } from "./lookups.js";
import {
  actorOf,
  checkExternalUserId,
  checkId,
  checkName,
  checkRole,
  checkScope,
  creatorOf,
  DEFAULT_LINK_TTL_SECONDS,
  MAX_LINK_USERNAME_CHARS,
  tenantOf,
  type SpaceCaller,
} from "./rules.js";
import type { AccessLinkRecord, RoomRecord } from "./store.js";

/**
 * Creates an access link; only the room's creator or a room moderator may,
 * or the API key, in any room of its tenant (space "" for a room without
 * one). The link records its creator (creatorOf: a user id or `key:<id>`).
 */
export async function generateLink(
  deps: AccessLinksDeps,
  who: LinkManager,
  req: AccessRequest,
): Promise<GeneratedAccess> {
  const { role, ttlSeconds } = checkRequest(deps, who, req);
  const tenantId = tenantOf(who);
  const room = await findRoomIn(deps.store, tenantId, req.spaceId, req.roomId);
  if (who.kind === "user") await requireLinkCreator(deps, who.caller, req, room);
  const id = randomBytes(16).toString("hex");
  // Sealing writes nothing, so the token is made first and the row gets
  // the token's exact expiry.
  const { token, claims } = deps.linkTokens.issue({ tenantId, userId: "", roomId: room.id, ttlSeconds, tokenId: id });
  await journaled(deps.transact, deps.sink, async (record) => {
    await deps.store.insertAccessLink({
      id,
      tenantId,
      roomId: room.id,
      username: req.username,
      role,
      externalUserId: req.externalUserId,
      isPermanent: req.isPermanent,
      expiresAt: claims.expiresAt,
      createdBy: creatorOf(who),
      createdAt: claims.issuedAt,
      guestUserId: null,
      useCount: 0,
      revokedAt: null,
    });
    await record({
      audit: [
        {
          tenantId,
          at: claims.issuedAt,
          actor: actorOf(who),
          action: "access_link.generate",
          roomId: room.id,
          target: id,
          detail: { role, isPermanent: req.isPermanent, expiresAt: claims.expiresAt, username: req.username },
        },
      ],
      events: [],
    });
  });
  const link =
    `${deps.options.publicUrl}/join/${encodeURIComponent(room.id)}` +
    `?participantName=${encodeURIComponent(req.username)}&accessToken=${encodeURIComponent(token)}`;
  return { link, participantName: req.username, accessToken: token, expiresAt: claims.expiresAt, linkId: id };
}

/** The request's fields, checked before anything is looked up. */
function checkRequest(
  deps: AccessLinksDeps,
  who: LinkManager,
  req: AccessRequest,
): { role: AccessLinkRecord["role"]; ttlSeconds: number } {
  if (who.kind === "user") checkId("space_id", req.spaceId);
  checkId("room_id", req.roomId);
  checkName("username", req.username, MAX_LINK_USERNAME_CHARS);
  // ACCESS_LINK_ROLES is exactly the two access_links.role values.
  const role = checkRole("role", req.role, ACCESS_LINK_ROLES as readonly AccessLinkRecord["role"][]);
  checkExternalUserId(req.externalUserId);
  const ttlSeconds = req.ttlSeconds || DEFAULT_LINK_TTL_SECONDS;
  if (ttlSeconds > deps.options.maxTtlSeconds) {
    throw invalidArgument(`ttl: ${ttlSeconds} exceeds the maximum of ${deps.options.maxTtlSeconds} seconds`);
  }
  return { role, ttlSeconds };
}

/** An end user may generate links only in a room open to them that they created or moderate. */
async function requireLinkCreator(
  deps: AccessLinksDeps,
  caller: SpaceCaller,
  req: AccessRequest,
  room: RoomRecord,
): Promise<void> {
  checkScope(caller, req.roomId);
  requireRoomAccess(caller, room.id, deps.access);
  // Seed 001: the creator or a room moderator — a space owner as such is
  // not enough (moderatesRoom does not count the owner).
  const mine = await deps.memberships.roomRolesOf(caller.tenantId, caller.userId, room.id);
  if (room.creatorUserId !== caller.userId && !moderatesRoom(mine)) {
    throw new RoomgateError(
      "permission_denied",
      "only the room's creator or a room moderator may generate access links",
    );
  }
}
