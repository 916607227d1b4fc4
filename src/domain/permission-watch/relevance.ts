import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import type { StoredEvent } from "../journal.js";

/** Events that never change anyone's permissions or credential. */
const NEVER: ReadonlySet<EventType> = new Set([
  EventType.MESSAGE_DELETED,
  EventType.API_KEY_REVOKED,
  EventType.INVITE_REVOKED,
]);

/**
 * True when `e` may change what `userId` may do in `roomId`, so the answer
 * is computed again: anything about that member in that room or in no
 * particular room (space roles, RevokeUser, deletion, profile), and
 * anything about nobody in particular in that room or tenant-wide
 * (RevokeRoom). Other members' and other rooms' changes are skipped
 * without a read. A false positive costs one computation and sends
 * nothing (the watch drops an equal answer); a false negative would leave
 * a page wrong, so the rule errs wide.
 */
export function mayAffect(e: StoredEvent, userId: string, roomId: string): boolean {
  if (NEVER.has(e.type)) return false;
  const room = e.roomId ?? "";
  if (room !== "" && room !== roomId) return false;
  const user = e.userId ?? "";
  return user === "" || user === userId;
}
