import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import {
  ALL_PERMISSIONS,
  GROUP_PERMISSIONS,
  expandPermissions,
  impliedBy,
  isKnownPermission,
  permissionName,
} from "../../src/domain/permissions.js";

describe("permission catalog", () => {
  it("numbers seed 000's names in table order: chat from 100, room from 200", () => {
    expect(Permission.PermissionChat).toBe(100);
    expect(Permission.PermissionChatBlock).toBe(101);
    expect(Permission.PermissionChatUnblock).toBe(102);
    expect(Permission.PermissionChatMute).toBe(103);
    expect(Permission.PermissionChatUnmute).toBe(104);
    expect(Permission.PermissionChatMessageDelete).toBe(105);
    expect(Permission.PermissionChatKick).toBe(106);
    expect(Permission.permissionChatSlowmodeBypass).toBe(107);
    expect(Permission.PermissionRoom).toBe(200);
    expect(Permission.PermissionRoomBlock).toBe(201);
    expect(Permission.PermissionRoomUnblock).toBe(202);
    expect(Permission.PermissionRoomKick).toBe(203);
  });

  it("keeps the seed's lower-case wire name", () => {
    expect(permissionName(Permission.permissionChatSlowmodeBypass)).toBe("permissionChatSlowmodeBypass");
  });

  it("has one permission per seed 002 flag (24) plus one group per range", () => {
    const flags = ALL_PERMISSIONS.filter((p) => p >= 300 && p % 100 !== 0);
    expect(flags).toHaveLength(24);
    expect(GROUP_PERMISSIONS).toEqual([100, 200, 300, 400, 500, 600, 700, 800]);
  });

  it("refuses unspecified and unknown values", () => {
    expect(isKnownPermission(0)).toBe(false);
    expect(isKnownPermission(108)).toBe(false);
    expect(isKnownPermission(999)).toBe(false);
    expect(isKnownPermission(-1)).toBe(false);
    expect(isKnownPermission(203)).toBe(true);
  });
});

describe("expandPermissions", () => {
  it("expands PermissionChat to all eight chat permissions", () => {
    expect(expandPermissions([Permission.PermissionChat])).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
  });

  it("expands PermissionRoom and leaves single permissions alone", () => {
    expect(expandPermissions([Permission.PermissionRoom])).toEqual([200, 201, 202, 203]);
    expect(expandPermissions([Permission.PermissionRoomKick])).toEqual([203]);
    expect(impliedBy(Permission.PermissionRoomKick)).toEqual([]);
  });

  const anyPerms = fc.array(fc.constantFrom(...ALL_PERMISSIONS), { maxLength: 40 });

  it("is sorted, unique, a superset of its input, and idempotent", () => {
    fc.assert(
      fc.property(anyPerms, (perms) => {
        const out = expandPermissions(perms);
        expect([...out].sort((a, b) => a - b)).toEqual(out);
        expect(new Set(out).size).toBe(out.length);
        for (const p of perms) expect(out).toContain(p);
        expect(expandPermissions(out)).toEqual(out);
      }),
    );
  });

  it("contains a group's whole range exactly when the group is present", () => {
    fc.assert(
      fc.property(anyPerms, (perms) => {
        const out = new Set(expandPermissions(perms));
        for (const g of GROUP_PERMISSIONS) {
          if (perms.includes(g)) for (const m of impliedBy(g)) expect(out.has(m)).toBe(true);
        }
        // Nothing appears that neither the input nor one of its groups names.
        for (const p of out) {
          const group = (Math.floor(p / 100) * 100) as Permission;
          expect(perms.includes(p) || perms.includes(group)).toBe(true);
        }
      }),
    );
  });

  it("does not depend on input order", () => {
    fc.assert(
      fc.property(anyPerms, (perms) => {
        expect(expandPermissions([...perms].reverse())).toEqual(expandPermissions(perms));
      }),
    );
  });
});
