import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AccessLinkSchema, type AccessLink } from "../../gen/room/spaces/v1/service_pb.js";
import { creatorLabel } from "../domain/spaces/rules.js";
import type { AccessLinkRecord } from "../domain/spaces/store.js";

/** An access link as both spaces surfaces show it (never its token). */
export function accessLinkMessage(l: AccessLinkRecord): AccessLink {
  return create(AccessLinkSchema, {
    id: l.id,
    roomId: l.roomId,
    username: l.username,
    role: l.role,
    externalUserId: l.externalUserId,
    isPermanent: l.isPermanent,
    // Made by a user (its id) or an API key ("key:<id>"); shown like audit actors.
    createdBy: creatorLabel(l.createdBy),
    createdAt: timestampFromMs(l.createdAt),
    expiresAt: timestampFromMs(l.expiresAt),
    guestUserId: l.guestUserId ?? "",
    useCount: l.useCount,
    revokedAt: l.revokedAt === null ? undefined : timestampFromMs(l.revokedAt),
  });
}
