import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "../domain/errors.js";
import type { UserView } from "../domain/users/records.js";
import type { SessionRecord } from "../domain/users/sessions.js";
import { SessionSchema, type Session } from "../../gen/room/users/v1/service_pb.js";
import type { UserKind as DomainKind } from "../domain/users/users.js";
import { ModeratorScope, UserKind, UserSchema, type User } from "../../gen/room/users/private/v1/service_pb.js";

const KINDS: Readonly<Record<DomainKind, UserKind>> = {
  registered: UserKind.REGISTERED,
  consumer: UserKind.CONSUMER,
  guest: UserKind.GUEST,
};

/** A user as room.users.private.v1 returns it (empty strings for unset values; never the password). */
export function userMessage(u: UserView): User {
  const scope = u.tenantModerator
    ? ModeratorScope.TENANT
    : u.moderatedRoomIds.length > 0
      ? ModeratorScope.ROOMS
      : ModeratorScope.NONE;
  return create(UserSchema, {
    id: u.id,
    kind: KINDS[u.kind],
    username: u.username,
    email: u.email ?? "",
    phone: u.phone ?? "",
    externalUserId: u.externalUserId ?? "",
    meta: u.meta ?? "",
    profilePic: u.profilePic ?? "",
    uniqueUserIdentifier: u.uniqueUserIdentifier ?? "",
    moderatorScope: scope,
    moderatedRoomIds: [...u.moderatedRoomIds],
    moderatedRoomIdsTruncated: u.moderatedRoomIdsTruncated,
    createdAt: timestampFromMs(u.createdAt),
    hasPassword: u.hasPassword,
  });
}

/** The domain kind a ListUsers filter names: unspecified is none; an unknown number is invalid_argument. */
export function kindFilter(kind: UserKind): DomainKind | undefined {
  if (kind === UserKind.UNSPECIFIED) return undefined;
  const found = (Object.keys(KINDS) as DomainKind[]).find((k) => KINDS[k] === kind);
  if (found === undefined) throw invalidArgument(`kind: unknown value ${kind}`);
  return found;
}

/** A session as room.users.v1 and room.users.private.v1 list it; `current` when it is the caller's own. */
export function sessionMessage(s: SessionRecord, currentId = ""): Session {
  return create(SessionSchema, {
    id: s.id,
    userId: s.userId,
    createdAt: timestampFromMs(s.createdAt),
    lastUsedAt: timestampFromMs(s.lastUsedAt),
    clientAddress: s.clientAddress,
    userAgent: s.userAgent,
    expiresAt: timestampFromMs(s.expiresAt),
    current: s.id === currentId,
  });
}
