import { toJson } from "@bufbuild/protobuf";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import {
  type CheckResponse,
  type PermissionAnswer,
  PermissionAnswerSchema,
  type WayIn,
  WayInSchema,
} from "../../gen/room/access/private/v1/service_pb.js";
import { RoomAccessDenied_Reason, RoomAccessDeniedSchema } from "../../gen/room/errors/v1/errors_pb.js";
import type { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import type { VerifyResponse } from "../../gen/room/tokens/private/v1/service_pb.js";
import { expandPermissions } from "../../src/domain/permissions.js";
import { bearer } from "./clients.js";
import { BARE_ROOMS, type Endpoint, usersOf, type World, type WorldToken } from "./access-world.js";

// The agreement the issue asks for, on one state: for every user, room and
// sampled permission, Check answers what a fresh user access token's
// GetRoomPermissions and the user's live room member tokens' Verify give
// together; Check's ways in and restrictions are the ones those calls
// judged by; CheckBulk, LookupRooms and LookupMembers (walked page by
// page) give Check's answers row for row.

/** Where each question goes. */
export interface OracleTarget {
  /** GetRoomPermissions and Verify: the answers Check must agree with. */
  readonly truth: Endpoint;
  /** Check, CheckBulk and the lookups. */
  readonly reader: Endpoint;
  /** Asked of the reader with every call (a consistency token; 0n: none). */
  readonly minEventId: bigint;
  /** When set, Check here must answer exactly as the reader does (the writing replica). */
  readonly mirror?: Endpoint;
  /** A fresh user access token for the user (issued now). */
  userToken(userId: string): string;
}

/** What the checks met, over a whole property run: proof the states were interesting. */
export interface Seen {
  readonly deniedReasons: Map<string, number>;
  /** Kinds of the ways in that granted an allowed answer. */
  readonly grantingKinds: Map<string, number>;
  pairs: number;
  allowed: number;
  lookupPages: number;
}

/** A new, empty {@link Seen}. */
export function newSeen(): Seen {
  return { deniedReasons: new Map(), grantingKinds: new Map(), pairs: 0, allowed: 0, lookupPages: 0 };
}

type Verified =
  | { readonly kind: "ok"; readonly v: VerifyResponse }
  | { readonly kind: "room_blocked" | "revoked" | "expired" };

interface RoomView {
  /** undefined: no user to ask for (a phantom or deleted user has no user access token that works). */
  readonly blocked: boolean | undefined;
  readonly granted: readonly Permission[];
}

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
const sorted = (ps: Iterable<number>) => [...new Set(ps)].sort((a, b) => a - b);
const wayKey = (w: WayIn) => JSON.stringify(toJson(WayInSchema, w));
const pairKey = (u: string, r: string) => `${u}\u0000${r}`;

/** An answer as plain data, its ways in sorted (their order means nothing). */
export function normAnswer(a: PermissionAnswer): unknown {
  const json = toJson(PermissionAnswerSchema, { ...a, grantedBy: [] }) as Record<string, unknown>;
  return { ...json, grantedBy: a.grantedBy.map(wayKey).sort() };
}

/** A Check answer as plain data, order-free where order means nothing. */
export function normCheck(c: CheckResponse): unknown {
  return {
    answers: c.answers.map(normAnswer),
    permissions: c.permissions,
    waysIn: c.waysIn.map(wayKey).sort(),
    restrictions: c.restrictions.map((r) => `${r.kind}@${r.until ? timestampMs(r.until) : "-"}`).sort(),
  };
}

function roomBlockOf(err: unknown): boolean {
  if (!(err instanceof ConnectError) || err.code !== Code.PermissionDenied) return false;
  return err.findDetails(RoomAccessDeniedSchema).some((d) => d.reason === RoomAccessDenied_Reason.ROOM_BLOCKED);
}

async function verifyAll(w: World, o: OracleTarget): Promise<Verified[]> {
  return Promise.all(
    w.tokens.map(async (t): Promise<Verified> => {
      try {
        return { kind: "ok", v: await o.truth.tokens.verify({ token: t.token }, bearer(w.apiKey)) };
      } catch (err) {
        if (roomBlockOf(err)) return { kind: "room_blocked" };
        if (err instanceof ConnectError && err.code === Code.Unauthenticated) {
          if (err.rawMessage === "token revoked") return { kind: "revoked" };
          if (err.rawMessage === "token expired") return { kind: "expired" };
        }
        throw new Error(`Verify of a token of ${t.userId} in ${t.roomId}: ${String(err)}`, { cause: err });
      }
    }),
  );
}

async function roomView(o: OracleTarget, w: World, token: string, userId: string, roomId: string): Promise<RoomView> {
  try {
    const res = await o.truth.permissions.getRoomPermissions({ roomId }, bearer(token));
    return { blocked: false, granted: res.roomPermissions!.granted };
  } catch (err) {
    if (roomBlockOf(err)) return { blocked: true, granted: [] };
    // Nobody to log in as: no role can give anything (DeleteUser removed them; a phantom never had one).
    const userless = !w.users.includes(userId) || w.deleted.has(userId);
    if (
      userless &&
      err instanceof ConnectError &&
      err.rawMessage === "the user of this access token no longer exists"
    ) {
      return { blocked: undefined, granted: [] };
    }
    throw new Error(`GetRoomPermissions of ${userId} in ${roomId}: ${String(err)}`, { cause: err });
  }
}

/** One (user, room) pair with everything the truth side said about it. */
interface Pair {
  readonly userId: string;
  readonly roomId: string;
  readonly view: RoomView;
  readonly tokens: readonly { readonly t: WorldToken; readonly r: Verified }[];
  readonly check: CheckResponse;
}

/**
 * Asserts the agreement on the world's current state (nothing may write
 * meanwhile). `perms` are the sampled permissions; `pageSizes` the page
 * sizes the lookups cycle through.
 */
export async function assertAgreement(
  w: World,
  o: OracleTarget,
  perms: readonly Permission[],
  pageSizes: readonly number[],
  seen: Seen,
): Promise<void> {
  const verified = await verifyAll(w, o);
  const users = usersOf(w);
  const fresh = new Map(users.map((u) => [u, o.userToken(u)]));
  const key = bearer(w.apiKey);
  const pairs = await Promise.all(
    users.flatMap((userId) =>
      w.rooms.map(async (room): Promise<Pair> => {
        const roomId = room.id;
        const [view, check] = await Promise.all([
          roomView(o, w, fresh.get(userId)!, userId, roomId),
          o.reader.check.check({ userId, roomId, permissions: [...perms], minEventId: o.minEventId, full: true }, key),
        ]);
        const tokens = w.tokens
          .map((t, i) => ({ t, r: verified[i]! }))
          .filter(({ t }) => t.userId === userId && t.roomId === roomId);
        if (o.mirror) {
          const mirrored = await o.mirror.check.check({ userId, roomId, permissions: [...perms], full: true }, key);
          expect(normCheck(check), `${userId} in ${roomId}: the reader and the writer`).toEqual(normCheck(mirrored));
        }
        return { userId, roomId, view, tokens, check };
      }),
    ),
  );
  const byPair = new Map(pairs.map((p) => [pairKey(p.userId, p.roomId), p]));
  for (const p of pairs) assertPair(p, perms, o.minEventId, seen);
  await assertForeignRooms(w, o, perms);
  await assertBulk(w, o, pairs, perms);
  await assertLookups(w, o, byPair, perms, pageSizes, seen);
}

function assertPair(p: Pair, perms: readonly Permission[], minEventId: bigint, seen: Seen): void {
  const label = `${p.userId} in ${p.roomId}`;
  const { check, view } = p;
  seen.pairs++;
  expect(check.eventId >= minEventId, `${label}: event_id ${check.eventId} < ${minEventId}`).toBe(true);
  const ok = p.tokens.flatMap(({ r }) => (r.kind === "ok" ? [r.v] : []));
  const expected = new Set<number>([...view.granted, ...ok.flatMap((v) => v.permissions)]);
  expect(sorted(check.permissions), `${label}: permissions`).toEqual(sorted(expected));
  const blocked = check.restrictions.some((r) => r.kind === "room_block");
  if (view.blocked !== undefined) expect(blocked, `${label}: room block`).toBe(view.blocked);

  // Token ways in: exactly the live tokens (those Verify accepts, or refuses only for the room block).
  const tokenWays = check.waysIn.filter((x) => x.kind === "token");
  const liveIds = p.tokens.flatMap(({ t, r }) =>
    r.kind === "ok" ? [r.v.tokenId] : r.kind === "room_blocked" ? [t.tokenId ?? "?"] : [],
  );
  expect(tokenWays.map((x) => x.tokenId).sort(), `${label}: token ways in`).toEqual(liveIds.sort());
  const effective = new Set<number>(check.permissions);
  for (const v of ok) {
    const way = tokenWays.find((x) => x.tokenId === v.tokenId)!;
    const tl = `${label}, token ${v.tokenId}`;
    expect(sorted(v.permissions), `${tl}: Verify's permissions`).toEqual(
      sorted(way.permissions.filter((x) => effective.has(x))),
    );
    expect(timestampMs(way.expiresAt!), `${tl}: expiry`).toBe(timestampMs(v.expiresAt!));
    expect(restrictionKeys(v.restrictions), `${tl}: restrictions`).toEqual(restrictionKeys(check.restrictions));
  }

  // Role ways in: what a fresh user access token gets, before restrictions.
  const roleWays = check.waysIn.filter((x) => x.kind !== "token");
  for (const x of roleWays) {
    expect(["room_role", "space_role", "tenant_moderator", "access_link"], `${label}: way kind`).toContain(x.kind);
    expect(x.kind === "access_link", `${label}: ${x.kind} ${x.role}`).toBe(["user", "moderator"].includes(x.role));
  }
  if (!blocked) {
    const byRoles = roleWays.flatMap((x) => x.permissions).filter((x) => effective.has(x));
    expect(sorted(view.granted), `${label}: GetRoomPermissions against the role ways in`).toEqual(sorted(byRoles));
  }

  // Each permission asked.
  const removed = new Set<number>(
    expandPermissions(p.tokens.flatMap(({ t, r }) => (r.kind === "revoked" ? [...t.permissions] : []))),
  );
  expect(
    check.answers.map((a) => a.permission),
    `${label}: answers in order`,
  ).toEqual([...perms]);
  for (const a of check.answers) assertAnswer(label, a, check, expected, removed, seen);
}

function restrictionKeys(rs: readonly { kind: string; until?: Timestamp }[]): string[] {
  return rs.map((r) => `${r.kind}@${r.until ? timestampMs(r.until) : "-"}`).sort();
}

function assertAnswer(
  label: string,
  a: PermissionAnswer,
  check: CheckResponse,
  expected: ReadonlySet<number>,
  removed: ReadonlySet<number>,
  seen: Seen,
): void {
  const al = `${label}, permission ${a.permission}`;
  expect(a.allowed, `${al}: allowed`).toBe(expected.has(a.permission));
  const granting = check.waysIn.filter((x) => x.permissions.includes(a.permission));
  // granted_by names each way without its permissions (listed once, in ways_in).
  for (const w of a.grantedBy) expect(w.permissions, `${al}: granted_by lists no permissions`).toEqual([]);
  expect(a.grantedBy.map(wayKey).sort(), `${al}: granted_by`).toEqual(
    granting.map((w) => wayKey({ ...w, permissions: [] })).sort(),
  );
  const restriction = (kind: string) => check.restrictions.find((r) => r.kind === kind);
  let reason = "";
  if (!a.allowed) {
    if (restriction("room_block")) reason = "room_blocked";
    else if (granting.length > 0) reason = restriction("chat_block") ? "chat_block" : "mute";
    else reason = removed.has(a.permission) ? "removed" : "no_way_in";
  }
  expect(a.deniedReason, `${al}: denied_reason`).toBe(reason);
  const until = reason === "" ? undefined : restriction(reason === "room_blocked" ? "room_block" : reason)?.until;
  expect(a.deniedUntil === undefined ? null : timestampMs(a.deniedUntil), `${al}: denied_until`).toBe(
    until === undefined ? null : timestampMs(until),
  );
  if (a.allowed) {
    seen.allowed++;
    for (const g of granting) bump(seen.grantingKinds, g.kind);
  } else bump(seen.deniedReasons, reason);
}

/**
 * A room the tenant does not have is not_found for Check and LookupMembers,
 * also when another tenant has a room of that id (the bare rooms carry the
 * same ids in every tenant).
 */
async function assertForeignRooms(w: World, o: OracleTarget, perms: readonly Permission[]): Promise<void> {
  const key = bearer(w.apiKey);
  const userId = usersOf(w)[0]!;
  const foreign = ["no-such-room", ...BARE_ROOMS.filter((r) => !w.rooms.some((x) => x.id === r))];
  for (const roomId of foreign) {
    const label = `${roomId}, not a room of this tenant`;
    await expectNotFound(
      o.reader.check.check({ userId, roomId, permissions: [...perms], minEventId: o.minEventId, full: true }, key),
      label,
    );
    await expectNotFound(
      o.reader.check.lookupMembers({ roomId, permission: perms[0]!, minEventId: o.minEventId }, key),
      label,
    );
  }
}

async function expectNotFound(call: Promise<unknown>, label: string): Promise<void> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err instanceof ConnectError ? Code[err.code] : err, label).toBe(Code[Code.NotFound]);
}

/** CheckBulk of every (user, room, permission), 100 at a time, against Check; an unknown room answers room_not_found. */
async function assertBulk(w: World, o: OracleTarget, pairs: readonly Pair[], perms: readonly Permission[]) {
  const items = pairs.flatMap((p) =>
    p.check.answers.map((a, i) => ({ userId: p.userId, roomId: p.roomId, permission: perms[i]!, want: a })),
  );
  items.push({ userId: usersOf(w)[0]!, roomId: "no-such-room", permission: perms[0]!, want: undefined! });
  for (let i = 0; i < items.length; i += 100) {
    const chunk = items.slice(i, i + 100);
    const res = await o.reader.check.checkBulk(
      {
        items: chunk.map(({ userId, roomId, permission }) => ({ userId, roomId, permission })),
        minEventId: o.minEventId,
      },
      bearer(w.apiKey),
    );
    expect(res.eventId >= o.minEventId, "CheckBulk event_id").toBe(true);
    expect(res.answers).toHaveLength(chunk.length);
    chunk.forEach((it, j) => {
      const got = res.answers[j]!;
      const label = `CheckBulk ${it.userId} in ${it.roomId}, permission ${it.permission}`;
      if (it.want === undefined) {
        expect([got.allowed, got.deniedReason], label).toEqual([false, "room_not_found"]);
      } else expect(normAnswer(got), label).toEqual(normAnswer(it.want));
    });
  }
}

/** Every page of a lookup, with its page sizes cycling through `sizes`; rows must come in strictly increasing order. */
async function walk<R extends { answer?: PermissionAnswer }>(
  label: string,
  sizes: readonly number[],
  minEventId: bigint,
  seen: Seen,
  page: (pageSize: number, pageToken: string) => Promise<{ rows: R[]; next: string; eventId: bigint }>,
  idOf: (r: R) => string,
): Promise<Map<string, PermissionAnswer>> {
  const out = new Map<string, PermissionAnswer>();
  let token = "";
  let last = "";
  for (let n = 0; ; n++) {
    expect(n < 1000, `${label}: too many pages`).toBe(true);
    const size = sizes[n % sizes.length]!;
    const res = await page(size, token);
    seen.lookupPages++;
    expect(res.eventId >= minEventId, `${label}: event_id`).toBe(true);
    expect(res.rows.length <= size, `${label}: page of ${res.rows.length} for page_size ${size}`).toBe(true);
    for (const r of res.rows) {
      const id = idOf(r);
      expect(id > last, `${label}: ${id} after ${last}`).toBe(true);
      last = id;
      out.set(id, r.answer!);
    }
    if (res.next === "") return out;
    expect(res.rows.length, `${label}: a full page before a next_page_token`).toBe(size);
    expect(res.next.includes(last), `${label}: the page token is sealed, not the last id`).toBe(false);
    token = res.next;
  }
}

async function assertLookups(
  w: World,
  o: OracleTarget,
  byPair: ReadonlyMap<string, Pair>,
  perms: readonly Permission[],
  pageSizes: readonly number[],
  seen: Seen,
): Promise<void> {
  const key = bearer(w.apiKey);
  const users = usersOf(w);
  const answerOf = (u: string, r: string, i: number) => byPair.get(pairKey(u, r))!.check.answers[i]!;
  const jobs: Promise<void>[] = [];
  perms.forEach((permission, i) => {
    for (const userId of users) {
      jobs.push(
        (async () => {
          const label = `LookupRooms ${userId}, permission ${permission}`;
          const got = await walk(
            label,
            pageSizes,
            o.minEventId,
            seen,
            async (pageSize, pageToken) => {
              const r = await o.reader.check.lookupRooms(
                { userId, permission, pageSize, pageToken, minEventId: o.minEventId },
                key,
              );
              return { rows: r.rooms, next: r.nextPageToken, eventId: r.eventId };
            },
            (r) => r.roomId,
          );
          const want = w.rooms.map((r) => r.id).filter((r) => answerOf(userId, r, i).allowed);
          expect([...got.keys()].sort(), label).toEqual(want.sort());
          for (const [r, a] of got) expect(normAnswer(a), `${label}: ${r}`).toEqual(normAnswer(answerOf(userId, r, i)));
        })(),
      );
    }
    for (const room of w.rooms) {
      jobs.push(
        (async () => {
          const label = `LookupMembers ${room.id}, permission ${permission}`;
          const got = await walk(
            label,
            pageSizes,
            o.minEventId,
            seen,
            async (pageSize, pageToken) => {
              const r = await o.reader.check.lookupMembers(
                { roomId: room.id, permission, pageSize, pageToken, minEventId: o.minEventId },
                key,
              );
              return { rows: r.members, next: r.nextPageToken, eventId: r.eventId };
            },
            (r) => r.userId,
          );
          const want = users.filter((u) => answerOf(u, room.id, i).allowed);
          expect([...got.keys()].sort(), label).toEqual(want.sort());
          for (const [u, a] of got)
            expect(normAnswer(a), `${label}: ${u}`).toEqual(normAnswer(answerOf(u, room.id, i)));
        })(),
      );
    }
  });
  await Promise.all(jobs);
}
