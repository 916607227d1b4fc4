import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { AccessChecker } from "../../src/domain/access/access-checker.js";
import { AccessIndex } from "../../src/domain/access/access-index.js";
import type { AccessEffects, FactScope } from "../../src/domain/access/facts.js";
import { RestrictionIndex } from "../../src/domain/moderation/restrictions.js";
import { RevocationIndex } from "../../src/domain/tokens/revocations.js";

// The lookups keep their sorted candidate lists up to date between calls
// (src/domain/access/candidates.ts) instead of rebuilding them: these tests
// change the index in every way it changes and page through both lookups
// after each step, holding every page to what Check answers for each user
// and room, so a candidate the lists miss (or a row listed twice, or out of
// order) fails here.

const T = "tenant-a";
const NOW = 1_000_000;
const PERMISSION = Permission.PermissionCanSendMessagesInMainThread;
// Mixed lengths, cases and a non-ASCII id: pages are in code-unit order.
const USERS = ["a", "ab", "B", "b", "u-01", "u-02", "u-10", "u-2", "x", "y", "zz", "é", "Z", "m", "n", "o", "p", "q"];
const ROOMS = ["r1", "r2", "r3", "R4", "r5"];
const SPACES = ["s1", "s2"];

type Op =
  | { op: "room"; roomId: string; spaceId: string | null; isPublic: boolean }
  | { op: "see"; roomId: string }
  | { op: "role"; scope: FactScope; scopeId: string; userId: string; expired: boolean }
  | { op: "unrole"; scope: FactScope; scopeId: string; userId: string }
  | { op: "gone"; userId: string }
  | { op: "tokens"; roomId: string; users: string[]; expired: boolean }
  | { op: "prune" }
  | { op: "look"; pageSize: number };

const user = fc.constantFrom(...USERS);
const room = fc.constantFrom(...ROOMS);
const scoped = fc.oneof(
  fc.record({ scope: fc.constant<FactScope>("room"), scopeId: room }),
  fc.record({ scope: fc.constant<FactScope>("space"), scopeId: fc.constantFrom(...SPACES) }),
  fc.record({ scope: fc.constant<FactScope>("tenant"), scopeId: fc.constant("") }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("room" as const),
      roomId: room,
      spaceId: fc.option(fc.constantFrom(...SPACES)),
      isPublic: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("see" as const), roomId: room }) },
  {
    weight: 5,
    arbitrary: fc
      .record({ op: fc.constant("role" as const), userId: user, expired: fc.boolean() })
      .chain((r) => scoped.map((s) => ({ ...r, ...s }))),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ op: fc.constant("unrole" as const), userId: user })
      .chain((r) => scoped.map((s) => ({ ...r, ...s }))),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("gone" as const), userId: user }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("tokens" as const),
      roomId: room,
      users: fc.subarray(USERS),
      expired: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("prune" as const) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("look" as const), pageSize: fc.integer({ min: 1, max: 4 }) }) },
);

const ROLE: Record<FactScope, string> = {
  room: "role_room_user",
  space: "role_space_user",
  tenant: "consumer_tenant_moderator",
};

let tokenSeq = 0;

function effectsOf(o: Op): AccessEffects | undefined {
  switch (o.op) {
    case "room":
      return { roomsCreated: [{ tenantId: T, roomId: o.roomId, spaceId: o.spaceId, isPublic: o.isPublic }] };
    case "see":
      return { roomsSeen: [{ tenantId: T, roomId: o.roomId }] };
    case "role": {
      const expiresAt = o.expired ? NOW - 1 : null;
      return {
        rolesSet: [
          { tenantId: T, scope: o.scope, scopeId: o.scopeId, userId: o.userId, role: ROLE[o.scope], expiresAt },
        ],
      };
    }
    case "unrole":
      return { rolesRemoved: [{ tenantId: T, scope: o.scope, scopeId: o.scopeId, userId: o.userId }] };
    case "gone":
      return { usersRemoved: [{ tenantId: T, userId: o.userId }] };
    case "tokens": {
      const expiresAt = o.expired ? NOW - 1 : NOW + 60_000;
      const tokens = o.users.map((u) => [`t${++tokenSeq}`, u, o.roomId, 0, expiresAt] as const);
      return { tokensIssued: [{ tenantId: T, issuedAt: NOW - 10, permissionSets: [[PERMISSION]], tokens }] };
    }
    default:
      return undefined;
  }
}

/** Every row of a lookup, page by page. */
function walk(next: (after: string) => { rows: readonly { id: string }[]; next: string }, pageSize: number): string[] {
  const ids: string[] = [];
  let after = "";
  for (;;) {
    const p = next(after);
    expect(p.rows.length).toBeLessThanOrEqual(pageSize);
    ids.push(...p.rows.map((r) => r.id));
    if (p.next === "") return ids;
    expect(p.rows).toHaveLength(pageSize);
    after = p.next;
  }
}

/** Both lookups, paged, against Check for every user and room. */
function holdsToCheck(index: AccessIndex, checker: AccessChecker, pageSize: number): void {
  const t = index.tenant(T);
  if (t === undefined) return;
  const rooms = [...t.rooms.keys()];
  const allowed = (u: string, r: string) => checker.check(T, u, r, [PERMISSION]).answers[0]!.allowed;
  for (const r of rooms) {
    const members = walk((after) => checker.lookupMembers(T, r, PERMISSION, pageSize, after), pageSize);
    expect(members, `members of ${r}`).toEqual(USERS.filter((u) => allowed(u, r)).sort());
  }
  for (const u of USERS) {
    const rs = walk((after) => checker.lookupRooms(T, u, PERMISSION, pageSize, after), pageSize);
    expect(rs, `rooms of ${u}`).toEqual(rooms.filter((r) => allowed(u, r)).sort());
  }
}

function fresh(): { index: AccessIndex; checker: AccessChecker } {
  const index = new AccessIndex();
  const checker = new AccessChecker({
    index,
    revocations: new RevocationIndex(),
    restrictions: new RestrictionIndex(),
    clock: () => NOW,
  });
  return { index, checker };
}

describe("access lookups' candidate lists, kept up to date between calls", () => {
  it("page for page, list what Check allows after every kind of change (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), (ops) => {
        const { index, checker } = fresh();
        // Every room is known before anything names it (as the store keeps it: a role's room exists).
        index.apply({ roomsSeen: ROOMS.map((roomId) => ({ tenantId: T, roomId })) });
        for (const o of ops) {
          const e = effectsOf(o);
          if (e) index.apply(e);
          else if (o.op === "prune") index.pruneExpired(NOW);
          else if (o.op === "look") holdsToCheck(index, checker, o.pageSize);
        }
        holdsToCheck(index, checker, 3);
      }),
      { numRuns: 200 },
    );
  });

  it("finds a member added before the last one seen is removed and set again, and a public room new to a space member", () => {
    const { index, checker } = fresh();
    const role = (scope: FactScope, scopeId: string, userId: string) =>
      index.apply({ rolesSet: [{ tenantId: T, scope, scopeId, userId, role: ROLE[scope], expiresAt: null }] });
    const members = () => walk((after) => checker.lookupMembers(T, "r1", PERMISSION, 2, after), 2);
    const rooms = () => walk((after) => checker.lookupRooms(T, "b", PERMISSION, 2, after), 2);
    index.apply({ roomsSeen: [{ tenantId: T, roomId: "r1" }] });
    role("room", "r1", "a");
    role("room", "r1", "x");
    expect(members()).toEqual(["a", "x"]);
    // "x", the last key read, leaves; "m" comes; "x" comes back after it.
    index.apply({ rolesRemoved: [{ tenantId: T, scope: "room", scopeId: "r1", userId: "x" }] });
    role("room", "r1", "m");
    role("room", "r1", "x");
    expect(members()).toEqual(["a", "m", "x"]);

    role("space", "s1", "b");
    expect(rooms()).toEqual([]);
    index.apply({ roomsCreated: [{ tenantId: T, roomId: "r2", spaceId: "s1", isPublic: true }] });
    expect(rooms()).toEqual(["r2"]);
  });

  it("a large room keeps every member through joins one by one and in batches, removals, and the rebuild they lead to", () => {
    const { index, checker } = fresh();
    const ids = Array.from({ length: 3_000 }, (_, i) => `m${((i * 7919) % 3_000).toString(36)}`);
    const join = (users: readonly string[]) =>
      index.apply({
        tokensIssued: [
          {
            tenantId: T,
            issuedAt: NOW - 10,
            permissionSets: [[PERMISSION]],
            tokens: users.map((u) => [`t${++tokenSeq}`, u, "big", 0, NOW + 60_000] as const),
          },
        ],
      });
    const members = () => walk((after) => checker.lookupMembers(T, "big", PERMISSION, 500, after), 500);
    join(ids.slice(0, 2_000));
    expect(members()).toEqual(ids.slice(0, 2_000).sort());
    // One by one (each inserted where it sorts), then 500 at once (merged), a lookup between each.
    const joined = ids.slice(0, 2_000).sort();
    for (const u of ids.slice(2_000, 2_100)) {
      join([u]);
      joined.push(u);
      joined.sort();
      // The page after the one before it starts with it.
      const before = joined[joined.indexOf(u) - 1] ?? "";
      expect(checker.lookupMembers(T, "big", PERMISSION, 1, before).rows[0]!.id).toBe(u);
    }
    join(ids.slice(2_100, 2_600));
    expect(members()).toEqual(ids.slice(0, 2_600).sort());
    // Room roles for some, removed again for others; then more removals than the list tolerates stale.
    for (const u of ids.slice(2_600)) {
      index.apply({
        rolesSet: [{ tenantId: T, scope: "room", scopeId: "big", userId: u, role: "role_room_user", expiresAt: null }],
      });
    }
    expect(members()).toEqual([...ids].sort());
    for (const u of ids.slice(2_600, 2_700))
      index.apply({ rolesRemoved: [{ tenantId: T, scope: "room", scopeId: "big", userId: u }] });
    expect(members()).toEqual([...ids.slice(0, 2_600), ...ids.slice(2_700)].sort());
    for (const u of ids.slice(2_700))
      index.apply({ rolesRemoved: [{ tenantId: T, scope: "room", scopeId: "big", userId: u }] });
    index.apply({
      rolesSet: [
        {
          tenantId: T,
          scope: "tenant",
          scopeId: "",
          userId: "zz-moderator",
          role: "consumer_tenant_moderator",
          expiresAt: null,
        },
      ],
    });
    expect(members()).toEqual([...ids.slice(0, 2_600), "zz-moderator"].sort());
  });
});
