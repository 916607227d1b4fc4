import { describe, expect, it } from "vitest";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { RestrictionIndex, withoutRestricted } from "../../src/domain/moderation/restrictions.js";
import { expandPermissions } from "../../src/domain/permissions.js";

const member = expandPermissions([
  P.PermissionMessaging,
  P.PermissionFiles,
  P.PermissionChatMute,
  P.PermissionCanSendNudge,
]);

describe("RestrictionIndex", () => {
  it("keeps each member's restrictions apart and lifts them by time or on request", () => {
    const idx = new RestrictionIndex();
    idx.set({ tenantId: "t", roomId: "r", userId: "u", kind: "mute", until: 1_000 });
    idx.set({ tenantId: "t", roomId: "r", userId: "u", kind: "room_block", until: null });
    expect(idx.active("t", "r", "u", 999)).toEqual([
      { kind: "room_block", until: null },
      { kind: "mute", until: 1_000 },
    ]);
    expect(idx.active("t", "r", "u", 1_000)).toEqual([{ kind: "room_block", until: null }]);
    expect(idx.active("t", "r", "other", 0)).toEqual([]);
    expect(idx.active("t", "other", "u", 0)).toEqual([]);
    expect(idx.active("other", "r", "u", 0)).toEqual([]);
    idx.lift("t", "r", "u", "room_block");
    expect(idx.isRoomBlocked("t", "r", "u", 0)).toBe(false);
  });

  it("mute takes sending away, chat block all of messaging and files, room block everything", () => {
    const mute = withoutRestricted(member, [{ kind: "mute", until: null }]);
    expect(mute).not.toContain(P.PermissionCanSendMessagesInMainThread);
    expect(mute).not.toContain(P.PermissionMessaging);
    expect(mute).toContain(P.PermissionCanReactToMessagesWithEmojiInMainThread);
    expect(mute).toContain(P.PermissionCanSendNudge);
    const block = withoutRestricted(member, [{ kind: "chat_block", until: null }]);
    expect(block.filter((p) => p >= 300 && p < 500)).toEqual([]);
    expect(block).toContain(P.PermissionChatMute);
    expect(withoutRestricted(member, [{ kind: "room_block", until: null }])).toEqual([]);
    expect(withoutRestricted(member, [])).toBe(member);
  });

  it("apply equals withoutRestricted of the member's active restrictions", () => {
    const idx = new RestrictionIndex();
    idx.set({ tenantId: "t", roomId: "r", userId: "u", kind: "mute", until: 50 });
    expect(idx.apply(member, "t", "r", "u", 10)).toEqual(withoutRestricted(member, idx.active("t", "r", "u", 10)));
    expect(idx.apply(member, "t", "r", "u", 50)).toBe(member);
  });
});
