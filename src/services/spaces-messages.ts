import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { ExpiryInput } from "../domain/spaces/expiry.js";
import { invalidArgument } from "../domain/errors.js";
import {
  InviteSchema,
  InviteState,
  MemberSchema,
  RestrictionSchema,
  RoomSchema,
  SpaceSchema,
  WayIn,
  type Invite,
  type Member,
  type Room,
  type Space,
} from "../../gen/room/spaces/v1/service_pb.js";
import type { RoomListing, SpaceListing } from "../domain/spaces/list-store.js";
import type { MemberListing, WayIn as DomainWayIn } from "../domain/spaces/listings.js";
import { creatorLabel } from "../domain/spaces/rules.js";
import type { InviteRecord } from "../domain/spaces/store.js";

/** A space as both spaces surfaces show it. */
export function spaceMessage(s: SpaceListing): Space {
  return create(SpaceSchema, {
    id: s.id,
    name: s.name,
    isPublic: s.isPublic,
    ownerUserId: s.ownerUserId ?? "",
    createdAt: timestampFromMs(s.createdAt),
    role: s.role ?? "",
  });
}

/** A room as both spaces surfaces show it. */
export function roomMessage(r: RoomListing): Room {
  return create(RoomSchema, {
    id: r.id,
    spaceId: r.spaceId ?? "",
    name: r.name,
    isPublic: r.isPublic,
    creatorUserId: r.creatorUserId ?? "",
    createdAt: timestampFromMs(r.createdAt),
    role: r.role ?? "",
  });
}

const WAY_IN: Readonly<Record<DomainWayIn, WayIn>> = {
  room_role: WayIn.ROOM_ROLE,
  space_role: WayIn.SPACE_ROLE,
  tenant_moderator: WayIn.TENANT_MODERATOR,
  access_link: WayIn.ACCESS_LINK,
  room_member_token: WayIn.ROOM_MEMBER_TOKEN,
};

/** A room member as both spaces surfaces show it. */
export function memberMessage(m: MemberListing): Member {
  return create(MemberSchema, {
    userId: m.userId,
    username: m.username,
    roomRole: m.roomRole ?? "",
    spaceRole: m.spaceRole ?? "",
    waysIn: m.waysIn.map((w) => WAY_IN[w]),
    accessLinkId: m.accessLinkId ?? "",
    restrictions: m.restrictions.map((r) =>
      create(RestrictionSchema, { kind: r.kind, until: r.until === null ? undefined : timestampFromMs(r.until) }),
    ),
    roomRoleExpiresAt: msToTimestamp(m.roomRoleExpiresAt),
    spaceRoleExpiresAt: msToTimestamp(m.spaceRoleExpiresAt),
    tenantModeratorExpiresAt: msToTimestamp(m.tenantModeratorExpiresAt),
  });
}

/** An invite as both spaces surfaces show it; the creator like an audit actor. */
export function inviteMessage(i: InviteRecord): Invite {
  const state = i.usedAt !== null ? InviteState.USED : i.revokedAt !== null ? InviteState.REVOKED : InviteState.UNUSED;
  return create(InviteSchema, {
    id: i.id,
    spaceId: i.spaceId,
    role: i.role,
    createdBy: creatorLabel(i.createdBy),
    createdAt: timestampFromMs(i.createdAt),
    state,
    usedBy: i.usedBy ?? "",
    usedAt: i.usedAt === null ? undefined : timestampFromMs(i.usedAt),
    revokedAt: i.revokedAt === null ? undefined : timestampFromMs(i.revokedAt),
    roleExpiresAt: msToTimestamp(i.roleExpiresAt),
  });
}

/** A time in ms as a Timestamp; null/undefined as unset. */
function msToTimestamp(ms: number | null | undefined): Timestamp | undefined {
  return ms === null || ms === undefined ? undefined : timestampFromMs(ms);
}

/**
 * A request's optional expiry (`expires_at` or `ttl_seconds`) as the domain
 * checks it; a ttl too large for a number is refused here, before the domain.
 */
export function expiryOf(req: { readonly expiresAt?: Timestamp; readonly ttlSeconds: bigint }): ExpiryInput {
  if (req.ttlSeconds > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument("ttl_seconds: too large");
  return {
    expiresAt: req.expiresAt === undefined ? undefined : timestampMs(req.expiresAt),
    ttlSeconds: Number(req.ttlSeconds),
  };
}
