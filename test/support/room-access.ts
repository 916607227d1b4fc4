import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import { RoomAccessDenied_Reason, RoomAccessDeniedSchema } from "../../gen/room/errors/v1/errors_pb.js";

/**
 * Asserts a call is refused with permission_denied and a RoomAccessDenied
 * detail of `reason` for `roomId` (and `until`, when given: a number of ms,
 * or null for "until lifted").
 */
export async function expectRoomAccessDenied(
  call: Promise<unknown>,
  reason: "room_blocked" | "removed",
  roomId: string,
  until?: number | null,
): Promise<ConnectError> {
  let err: unknown;
  try {
    await call;
  } catch (e) {
    err = e;
  }
  expect(err, "the call must fail").toBeInstanceOf(ConnectError);
  const ce = err as ConnectError;
  expect(Code[ce.code]).toBe(Code[Code.PermissionDenied]);
  const [detail, ...more] = ce.findDetails(RoomAccessDeniedSchema);
  expect(more).toHaveLength(0);
  expect(detail, "RoomAccessDenied detail").toBeDefined();
  expect(detail!.reason).toBe(
    reason === "room_blocked" ? RoomAccessDenied_Reason.ROOM_BLOCKED : RoomAccessDenied_Reason.REMOVED,
  );
  expect(detail!.roomId).toBe(roomId);
  if (until !== undefined) expect(detail!.until === undefined ? null : timestampMs(detail!.until)).toBe(until);
  return ce;
}
