import { Code, ConnectError, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import fc from "fast-check";
import { Service as AccessPrivate } from "../../gen/room/access/private/v1/service_pb.js";
import { Service as Access } from "../../gen/room/access/v1/service_pb.js";
import { Service as Consumer } from "../../gen/room/consumer/private/v1/service_pb.js";
import { Action, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { type Action as UserAction, Service as Moderation } from "../../gen/room/moderation/v1/service_pb.js";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Service as Spaces } from "../../gen/room/spaces/v1/service_pb.js";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { EVENT_ID_HEADER } from "../../src/services/tokens-private-service.js";
import { bearer, grpcTransport } from "./clients.js";

// Random states for the access agreement property (issue 20), built only
// through the public API: an operation names users, rooms, spaces, tokens
// and links by index into what the state has so far (taken modulo its
// length), so every generated sequence means something however the earlier
// operations went. A refusal the rules allow (not_found, permission_denied,
// failed_precondition, already_exists) is part of the state space: the
// state is simply whatever the server accepted.

/** Every client one replica is called with (gRPC over HTTP/2, one session). */
export interface Endpoint {
  readonly tokens: Client<typeof TokensPrivate>;
  readonly users: Client<typeof UsersPrivate>;
  readonly consumer: Client<typeof Consumer>;
  readonly spacesPrivate: Client<typeof SpacesPrivate>;
  readonly spaces: Client<typeof Spaces>;
  readonly access: Client<typeof Access>;
  readonly moderation: Client<typeof ModerationPrivate>;
  readonly moderationUser: Client<typeof Moderation>;
  readonly permissions: Client<typeof Permissions>;
  readonly check: Client<typeof AccessPrivate>;
}

/** The clients of the replica at `baseUrl`. */
export function endpoint(baseUrl: string): Endpoint {
  const t = grpcTransport(baseUrl);
  return {
    tokens: createClient(TokensPrivate, t),
    users: createClient(UsersPrivate, t),
    consumer: createClient(Consumer, t),
    spacesPrivate: createClient(SpacesPrivate, t),
    spaces: createClient(Spaces, t),
    access: createClient(Access, t),
    moderation: createClient(ModerationPrivate, t),
    moderationUser: createClient(Moderation, t),
    permissions: createClient(Permissions, t),
    check: createClient(AccessPrivate, t),
  };
}

/** User ids that only ever hold room member tokens (the tenant's own system's ids); the same in every tenant. */
export const PHANTOM_USERS = ["ext-user-1", "ext-user-2"] as const;
/** Room ids first named by token Create or seed 003's chatRoom; the same in every tenant. */
export const BARE_ROOMS = ["bare-room-1", "bare-room-2"] as const;

/** A room the state has: in a space, or bare ("" space). */
export interface WorldRoom {
  readonly id: string;
  readonly spaceId: string;
}

/** A room member token as Create answered it, with what was asked. */
export interface WorldToken {
  readonly token: string;
  readonly userId: string;
  readonly roomId: string;
  readonly permissions: readonly Permission[];
  /** From a Verify right after Create; undefined when that was already refused (a revocation in the same ms). */
  readonly tokenId: string | undefined;
}

/** What one random state holds, as the test knows it from the answers it got. */
export interface World {
  readonly tenantId: string;
  readonly apiKey: string;
  /** Every user id of the tenant: registered, seed 003, access-link guests (deleted ones stay). */
  readonly users: string[];
  /** Users DeleteUser took (their ids stay in `users`: tokens may still name them). */
  readonly deleted: Set<string>;
  readonly consumers: { readonly uui: string; readonly userId: string }[];
  readonly spaces: string[];
  readonly rooms: WorldRoom[];
  readonly tokens: WorldToken[];
  /** (user, space) pairs an invite or a join put in the space: who may leave. */
  readonly spaceMembers: { readonly userId: string; readonly spaceId: string }[];
  /** (user, room) pairs some operation made members (they may have left since): moderation's targets. */
  readonly members: { readonly userId: string; readonly roomId: string }[];
  readonly links: { readonly linkId: string; readonly accessToken: string; readonly roomId: string }[];
  /** The highest event id a write answered with (a consistency token). */
  lastEventId: bigint;
  /** When the last write that takes access away took effect (-1: none yet). */
  removalAt: number;
}

/** A new, empty state for the tenant. */
export function emptyWorld(tenantId: string, apiKey: string): World {
  return {
    tenantId,
    apiKey,
    users: [],
    deleted: new Set(),
    consumers: [],
    spaces: [],
    rooms: [],
    tokens: [],
    links: [],
    members: [],
    spaceMembers: [],
    lastEventId: 0n,
    removalAt: -1,
  };
}

/** Every user id a check covers: the tenant's users and the phantom token holders. */
export function usersOf(w: World): string[] {
  return [...w.users, ...PHANTOM_USERS];
}

// ---- operations ----

const TTL = fc.constantFrom(0, 0, 60, 600, 7200);
const DURATION = fc.constantFrom(0, 60, 600);
const idx = fc.nat({ max: 1000 });
/** True four times in five. */
const mostly = fc.nat({ max: 4 }).map((n) => n > 0);

/** The catalog (groups included), for token permissions and the sampled checks. */
export const CATALOG: readonly Permission[] = Object.values(Permission).filter(
  (v): v is Permission => typeof v === "number" && v !== Permission.PermissionUnspecified,
);

const tokenArg = fc.record({
  user: idx,
  room: idx,
  permissions: fc.subarray([...CATALOG], { minLength: 1, maxLength: 4 }),
  ttl: fc.constantFrom(0, 60, 600, 3600),
});

/**
 * Who makes a call: absent or null, the API key (the backend surfaces);
 * an even number 2i, user i with a user access token issued then; an odd
 * number 2i+1, the holder of room member token i (the end-user surfaces,
 * where the rules of rank and permission decide).
 */
export type By = number | null;

/** The API key two times in three. */
const BY: fc.Arbitrary<By> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.nat({ max: 1000 }) },
);

/** One step of a random state's history. */
export type Op =
  | { k: "user" }
  | { k: "consumer"; uui: number; moderator: boolean; chatRoom: number | null; ttl: number }
  | { k: "space"; owner: number | null; isPublic: boolean; by?: By }
  | { k: "room"; space: number; isPublic: boolean; by?: By }
  | { k: "grant"; room: number; user: number; moderator: boolean; ttl: number; by?: By }
  | { k: "revokeRole"; room: number | null; space: number; user: number; member: boolean; by?: By }
  | { k: "invite"; space: number; user: number; moderator: boolean; ttl: number }
  | { k: "joinSpace"; space: number; user: number }
  | { k: "joinRoom"; room: number; user: number }
  | { k: "leaveSpace"; space: number; user: number }
  | { k: "link"; room: number; moderator: boolean; permanent: boolean; redeems: number; by?: By }
  | { k: "revokeLink"; link: number }
  | { k: "token"; args: { user: number; room: number; permissions: Permission[]; ttl: number }[] }
  | { k: "revoke"; token: number }
  | { k: "revokeUser"; user: number; room: number | null }
  | { k: "revokeRoom"; room: number }
  | { k: "act"; action: Action; room: number; user: number; member: boolean; duration: number; by?: By }
  | { k: "tick"; ms: number; sweep: boolean }
  | { k: "deleteUser"; user: number };

const spaceOp = fc.record({
  k: fc.constant("space" as const),
  owner: fc.option(idx, { nil: null }),
  isPublic: fc.boolean(),
  by: BY,
});
const roomOp = fc.record({ k: fc.constant("room" as const), space: idx, isPublic: fc.boolean(), by: BY });

/** A moderation action among `actions`, mostly on someone who got into the room somehow. */
function actArb(actions: readonly Action[]): fc.Arbitrary<Extract<Op, { k: "act" }>> {
  return fc.record({
    k: fc.constant("act" as const),
    action: fc.constantFrom(...actions),
    room: idx,
    user: idx,
    member: mostly,
    duration: DURATION,
    by: BY,
  });
}
const tokenOpArb = fc.record({
  k: fc.constant("token" as const),
  args: fc.array(tokenArg, { minLength: 1, maxLength: 3 }),
});

/** A random operation, weighted towards the ones that build ways in. */
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ k: "user" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("consumer" as const),
      uui: fc.nat({ max: 3 }),
      moderator: fc.boolean(),
      chatRoom: fc.option(idx, { nil: null }),
      ttl: TTL,
    }),
  },
  { weight: 2, arbitrary: spaceOp },
  { weight: 3, arbitrary: roomOp },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("grant" as const),
      room: idx,
      user: idx,
      moderator: fc.boolean(),
      ttl: TTL,
      by: BY,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("revokeRole" as const),
      room: fc.option(idx, { nil: null }),
      space: idx,
      user: idx,
      member: fc.boolean(),
      by: BY,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("invite" as const),
      space: idx,
      user: idx,
      moderator: fc.boolean(),
      ttl: TTL,
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("joinSpace" as const), space: idx, user: idx }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("joinRoom" as const), room: idx, user: idx }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("leaveSpace" as const), space: idx, user: idx }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("link" as const),
      room: idx,
      moderator: fc.boolean(),
      permanent: fc.boolean(),
      redeems: fc.nat({ max: 2 }),
      by: BY,
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("revokeLink" as const), link: idx }) },
  { weight: 5, arbitrary: tokenOpArb },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("revoke" as const), token: idx }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("revokeUser" as const), user: idx, room: fc.option(idx, { nil: null }) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("revokeRoom" as const), room: idx }) },
  {
    weight: 6,
    // Restrictions more often than their lifting, so they are in force when the checks run.
    arbitrary: actArb([
      Action.CHAT_BLOCK,
      Action.CHAT_BLOCK,
      Action.CHAT_UNBLOCK,
      Action.CHAT_MUTE,
      Action.CHAT_MUTE,
      Action.CHAT_UNMUTE,
      Action.CHAT_KICK,
      Action.ROOM_BLOCK,
      Action.ROOM_UNBLOCK,
      Action.ROOM_KICK,
    ]),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("tick" as const),
      // Exactly a lifetime too, so that an expiry falls on the very millisecond of the checks.
      ms: fc.constantFrom(1, 30_000, 60_000, 61_000, 600_000, 601_000, 7_201_000),
      sweep: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("deleteUser" as const), user: idx }) },
);

/** Every kind of operation {@link opArb} makes. */
export const OP_KINDS: readonly Op["k"][] = [
  "user",
  "consumer",
  "space",
  "room",
  "grant",
  "revokeRole",
  "invite",
  "joinSpace",
  "joinRoom",
  "leaveSpace",
  "link",
  "revokeLink",
  "token",
  "revoke",
  "revokeUser",
  "revokeRoom",
  "act",
  "tick",
  "deleteUser",
];

/**
 * A random history: a few users (one a tenant-wide moderator), spaces and
 * rooms first, so the rest has something to act on; then `min`–`max`
 * random operations; then a token, restrictions and a removal, so that
 * every state has some in force when the checks run.
 */
export function historyArb(min: number, max: number): fc.Arbitrary<Op[]> {
  return fc
    .tuple(
      // Registered users cost a scrypt hash each: most of the first ones are seed 003's (no password).
      fc
        .array(fc.boolean(), { minLength: 2, maxLength: 4 })
        .map((kinds) =>
          kinds.map(
            (registered, i): Op =>
              registered && i === 0
                ? { k: "user" }
                : { k: "consumer", uui: 100 + i, moderator: false, chatRoom: null, ttl: 0 },
          ),
        ),
      fc.record({
        k: fc.constant("consumer" as const),
        uui: fc.constant(200),
        moderator: fc.constant(true),
        chatRoom: fc.constant(null),
        ttl: TTL,
      }),
      fc.array(spaceOp, { minLength: 1, maxLength: 2 }),
      fc.array(roomOp, { minLength: 1, maxLength: 4 }),
      fc.array(opArb, { minLength: min, maxLength: max }),
      tokenOpArb,
      fc.array(actArb([Action.CHAT_BLOCK, Action.CHAT_MUTE, Action.ROOM_BLOCK]), { minLength: 1, maxLength: 3 }),
      fc.oneof(
        fc.record({ k: fc.constant("revoke" as const), token: idx }),
        fc.record({ k: fc.constant("revokeUser" as const), user: idx, room: fc.option(idx, { nil: null }) }),
        actArb([Action.CHAT_KICK, Action.ROOM_KICK]),
      ),
    )
    .map((parts) => parts.flat());
}

/** What running the operations needs besides the endpoint: the clock and the harness-side helpers. */
export interface Driver {
  /** Where writes go. */
  readonly at: Endpoint;
  /** The injected clock. */
  now(): number;
  /** Moves the injected clock on. */
  advance(ms: number): void;
  /** Runs the due lapses (restrictions and role expiry), as the lapse timer would. */
  runDue(): Promise<void>;
  /** A user access token for `userId` in the world's tenant issued now (as Login or seed 003 would give). */
  userToken(userId: string): string;
}

/** Operations that take access away: a credential issued in the same millisecond is covered too. */
const REMOVALS: ReadonlySet<Op["k"]> = new Set([
  "revoke",
  "revokeUser",
  "revokeRoom",
  "act",
  "deleteUser",
  "revokeLink",
  "revokeRole",
  "leaveSpace",
]);

/**
 * Moves the clock on by 1 ms when a removal took effect in this very
 * millisecond, so that what is issued next is issued after it (as any real
 * login or token would be). Otherwise the clock stays, so that expiries
 * and lapses are also met exactly at their millisecond.
 */
export function afterRemovals(w: World, d: Driver): void {
  if (w.removalAt === d.now()) d.advance(1);
}

/** Refusals the rules allow for a well-formed call; anything else fails the property. */
const ALLOWED = new Set([Code.NotFound, Code.PermissionDenied, Code.FailedPrecondition, Code.AlreadyExists]);

/** Outcomes per operation kind, over a whole property run (the generator's coverage). */
export type Tally = Map<string, { ok: number; refused: number; skipped: number; ms: number; asEndUser: number }>;

/** Runs `ops` in order against `d`, growing `w`; counts outcomes into `tally`. */
export async function runOps(w: World, d: Driver, ops: readonly Op[], tally: Tally): Promise<void> {
  for (const op of ops) {
    const t = tally.get(op.k) ?? { ok: 0, refused: 0, skipped: 0, ms: 0, asEndUser: 0 };
    tally.set(op.k, t);
    const start = performance.now();
    try {
      if ((await runOp(w, d, op)) === "skipped") t.skipped++;
      else {
        t.ok++;
        if ("by" in op && typeof op.by === "number") t.asEndUser++;
        if (REMOVALS.has(op.k)) w.removalAt = d.now();
      }
    } catch (err) {
      // A room member token acting may have expired or been revoked by then.
      const deadToken = err instanceof ConnectError && err.code === Code.Unauthenticated && byToken(op);
      if (!(err instanceof ConnectError) || !(ALLOWED.has(err.code) || deadToken)) {
        throw new Error(`operation ${JSON.stringify(op)} failed: ${String(err)}`, { cause: err });
      }
      t.refused++;
    } finally {
      t.ms += performance.now() - start;
    }
  }
}

function byToken(op: Op): boolean {
  const by = "by" in op ? op.by : null;
  return typeof by === "number" && by % 2 === 1;
}

/** Who a call is made as (see {@link By}). */
interface Actor {
  readonly opts: CallOptions;
  /** False for the API key. */
  readonly endUser: boolean;
  /** The user acting with a user access token; undefined otherwise. */
  readonly userId: string | undefined;
}

/** The actor `by` names; undefined when there is nobody to act as. */
function actorOf(w: World, d: Driver, by: By | undefined): Actor | undefined {
  if (by === null || by === undefined) return { opts: key(w), endUser: false, userId: undefined };
  const token = by % 2 === 1 ? pick(w.tokens, (by - 1) / 2) : undefined;
  if (token !== undefined) return { opts: bearer(token.token), endUser: true, userId: undefined };
  const userId = pick(
    w.users.filter((u) => !w.deleted.has(u)),
    Math.floor(by / 2),
  );
  if (userId === undefined) return undefined;
  afterRemovals(w, d);
  return { opts: bearer(d.userToken(userId)), endUser: true, userId };
}

function pick<T>(list: readonly T[], i: number | null): T | undefined {
  return i === null || list.length === 0 ? undefined : list[i % list.length];
}

const key = (w: World): CallOptions => bearer(w.apiKey);
const ttlSeconds = (ttl: number) => BigInt(ttl);
let serial = 0;

function note(w: World, eventId: bigint | undefined): void {
  if (eventId !== undefined && eventId > w.lastEventId) w.lastEventId = eventId;
}

function addRoom(w: World, id: string, spaceId: string): void {
  if (!w.rooms.some((r) => r.id === id)) w.rooms.push({ id, spaceId });
}

function addUser(w: World, id: string): void {
  if (!w.users.includes(id)) w.users.push(id);
}

async function runOp(w: World, d: Driver, op: Op): Promise<"done" | "skipped"> {
  switch (op.k) {
    case "user":
    case "consumer":
    case "deleteUser":
      return userOp(w, d, op);
    case "space":
    case "room":
    case "grant":
    case "revokeRole":
      return structureOp(w, d, op);
    case "invite":
    case "joinSpace":
    case "joinRoom":
    case "leaveSpace":
      return joinOp(w, d, op);
    case "link":
    case "revokeLink":
      return linkOp(w, d, op);
    case "token":
    case "revoke":
    case "revokeUser":
    case "revokeRoom":
      return tokenOp(w, d, op);
    case "act":
      return actOp(w, d, op);
    case "tick":
      d.advance(op.ms);
      if (op.sweep) await d.runDue();
      return "done";
  }
}

async function userOp(w: World, d: Driver, op: Extract<Op, { k: "user" | "consumer" | "deleteUser" }>) {
  const n = ++serial;
  if (op.k === "user") {
    const name = `agree${n}`;
    const { id } = await d.at.users.createUser(
      { email: `${name}@example.test`, username: name, password: "correct-horse-battery" },
      key(w),
    );
    addUser(w, id);
    return "done";
  }
  if (op.k === "deleteUser") {
    const userId = pick(w.users, op.user);
    if (userId === undefined) return "skipped";
    note(w, (await d.at.users.deleteUser({ userId }, key(w))).eventId);
    w.deleted.add(userId);
    return "done";
  }
  const uui = `uui-${op.uui}`;
  const chatRoom = op.chatRoom === null ? "" : pick([...w.rooms.map((r) => r.id), ...BARE_ROOMS], op.chatRoom)!;
  const res = await d.at.consumer.createUser(
    {
      uniqueUserIdentifier: uui,
      username: `consumer${n}`,
      isModerator: op.moderator,
      chatRoom,
      // Only a role expires: a plain user without chat_room gets none.
      ttlSeconds: ttlSeconds(op.moderator || chatRoom !== "" ? op.ttl : 0),
    },
    key(w),
  );
  if (chatRoom !== "") addRoom(w, chatRoom, "");
  addUser(w, res.userId);
  if (chatRoom !== "") w.members.push({ userId: res.userId, roomId: chatRoom });
  if (!w.consumers.some((c) => c.uui === uui)) w.consumers.push({ uui, userId: res.userId });
  return "done";
}

async function structureOp(w: World, d: Driver, op: Extract<Op, { k: "space" | "room" | "grant" | "revokeRole" }>) {
  const a = actorOf(w, d, op.by);
  if (a === undefined) return "skipped";
  // The same request on either surface: the backend's (API key) or the end user's.
  const api = a.endUser ? d.at.spaces : d.at.spacesPrivate;
  if (op.k === "space") {
    const owner = op.owner === null || a.endUser ? "" : pick(w.users, op.owner);
    if (owner === undefined) return "skipped";
    const name = `space ${++serial}`;
    const { id } = a.endUser
      ? await d.at.spaces.createSpace({ name, isPublic: op.isPublic }, a.opts)
      : await d.at.spacesPrivate.createSpace({ name, isPublic: op.isPublic, ownerUserId: owner }, a.opts);
    w.spaces.push(id);
    return "done";
  }
  if (op.k === "room") {
    const spaceId = pick(w.spaces, op.space);
    if (spaceId === undefined) return "skipped";
    const { id } = await api.createRoom({ spaceId, name: `room ${++serial}`, isPublic: op.isPublic }, a.opts);
    addRoom(w, id, spaceId);
    // An end user who creates a room moderates it.
    if (a.userId !== undefined) w.members.push({ userId: a.userId, roomId: id });
    return "done";
  }
  if (op.k === "grant") {
    const room = pick(w.rooms, op.room);
    const user = pick(w.users, op.user);
    if (room === undefined || user === undefined || (a.endUser && room.spaceId === "")) return "skipped";
    const role = op.moderator ? "role_room_moderator" : "role_room_user";
    await api.grantRole(
      { spaceId: room.spaceId, roomId: room.id, targetUserId: user, role, ttlSeconds: ttlSeconds(op.ttl) },
      a.opts,
    );
    w.members.push({ userId: user, roomId: room.id });
    return "done";
  }
  const member = op.member && op.room !== null ? pick(w.members, op.room) : undefined;
  const user = member?.userId ?? pick(w.users, op.user);
  const room = member ? w.rooms.find((r) => r.id === member.roomId) : pick(w.rooms, op.room);
  const spaceId = room === undefined ? pick(w.spaces, op.space) : room.spaceId;
  if (user === undefined || spaceId === undefined) return "skipped";
  // The end-user surface takes room roles only, in rooms of a space (a member leaves a space with LeaveSpace).
  if (a.endUser && (room === undefined || spaceId === "")) return "skipped";
  const res = await api.revokeRole({ spaceId, roomId: room?.id ?? "", targetUserId: user }, a.opts);
  note(w, res.eventId);
  return "done";
}

async function joinOp(w: World, d: Driver, op: Extract<Op, { k: "invite" | "joinSpace" | "joinRoom" | "leaveSpace" }>) {
  // A deleted user has no credential left to act with.
  const userId = pick(
    w.users.filter((u) => !w.deleted.has(u)),
    op.user,
  );
  if (userId === undefined) return "skipped";
  if (op.k === "leaveSpace") {
    // Someone who joined (a stranger's LeaveSpace is only not_found).
    const m = pick(
      w.spaceMembers.filter((x) => !w.deleted.has(x.userId)),
      op.space,
    );
    if (m === undefined) return "skipped";
    afterRemovals(w, d);
    const res = await d.at.spaces.leaveSpace({ spaceId: m.spaceId }, bearer(d.userToken(m.userId)));
    note(w, res.eventId);
    return "done";
  }
  afterRemovals(w, d);
  const as = bearer(d.userToken(userId));
  if (op.k === "joinRoom") {
    const room = pick(
      w.rooms.filter((r) => r.spaceId !== ""),
      op.room,
    );
    if (room === undefined) return "skipped";
    await d.at.spaces.joinRoom({ spaceId: room.spaceId, roomId: room.id }, as);
    w.members.push({ userId, roomId: room.id });
    return "done";
  }
  const spaceId = pick(w.spaces, op.space);
  if (spaceId === undefined) return "skipped";
  if (op.k === "joinSpace") await d.at.spaces.joinSpace({ spaceId }, as);
  else {
    const role = op.moderator ? "role_space_moderator" : "role_space_user";
    const { id } = await d.at.spacesPrivate.createInvite({ spaceId, role, ttlSeconds: ttlSeconds(op.ttl) }, key(w));
    await d.at.spaces.activateInvite({ spaceId, inviteId: id }, as);
  }
  w.spaceMembers.push({ userId, spaceId });
  return "done";
}

async function linkOp(w: World, d: Driver, op: Extract<Op, { k: "link" | "revokeLink" }>) {
  if (op.k === "revokeLink") {
    const link = pick(w.links, op.link);
    if (link === undefined) return "skipped";
    const spaceId = w.rooms.find((r) => r.id === link.roomId)!.spaceId;
    note(
      w,
      (await d.at.spacesPrivate.revokeAccessLink({ spaceId, roomId: link.roomId, linkId: link.linkId }, key(w)))
        .eventId,
    );
    return "done";
  }
  const room = pick(w.rooms, op.room);
  const a = actorOf(w, d, op.by);
  // The end-user surface names rooms of a space only.
  if (room === undefined || a === undefined || (a.endUser && room.spaceId === "")) return "skipped";
  const link = await (a.endUser ? d.at.spaces : d.at.spacesPrivate).generateAccess(
    {
      spaceId: room.spaceId,
      roomId: room.id,
      username: `guest ${++serial}`,
      role: op.moderator ? "moderator" : "user",
      externalUserId: `guest${serial}`,
      isPermanent: op.permanent,
    },
    a.opts,
  );
  w.links.push({ linkId: link.linkId, accessToken: link.accessToken, roomId: room.id });
  for (let i = 0; i < op.redeems; i++) {
    const redeemed = await d.at.access.redeem({ accessToken: link.accessToken });
    addUser(w, redeemed.userId);
    w.members.push({ userId: redeemed.userId, roomId: room.id });
  }
  return "done";
}

async function tokenOp(w: World, d: Driver, op: Extract<Op, { k: "token" | "revoke" | "revokeUser" | "revokeRoom" }>) {
  const roomIds = [...w.rooms.map((r) => r.id), ...BARE_ROOMS];
  if (op.k === "token") {
    const args = op.args.map((a) => ({
      userId: pick(usersOf(w), a.user)!,
      roomId: pick(roomIds, a.room)!,
      permissions: a.permissions,
      ttlSeconds: a.ttl,
    }));
    let header: string | null = null;
    const { tokens } = await d.at.tokens.create(
      { arguments: args },
      { ...key(w), onHeader: (h) => (header = h.get(EVENT_ID_HEADER)) },
    );
    if (header === null) throw new Error(`Create answered no ${EVENT_ID_HEADER} header`);
    note(w, BigInt(header));
    for (const [i, a] of args.entries()) {
      addRoom(w, a.roomId, "");
      const token = tokens[i]!;
      const tokenId = await d.at.tokens.verify({ token }, key(w)).then(
        (v) => v.tokenId,
        () => undefined,
      );
      w.tokens.push({ token, userId: a.userId, roomId: a.roomId, permissions: a.permissions, tokenId });
      w.members.push({ userId: a.userId, roomId: a.roomId });
    }
    return "done";
  }
  if (op.k === "revoke") {
    const tokenId = pick(
      w.tokens.filter((t) => t.tokenId !== undefined),
      op.token,
    )?.tokenId;
    if (tokenId === undefined) return "skipped";
    note(w, (await d.at.tokens.revoke({ tokenId }, key(w))).eventId);
    return "done";
  }
  if (op.k === "revokeUser") {
    const userId = pick(usersOf(w), op.user)!;
    const roomId = op.room === null ? "" : pick(roomIds, op.room)!;
    note(w, (await d.at.tokens.revokeUser({ userId, roomId }, key(w))).eventId);
    return "done";
  }
  const roomId = pick(roomIds, op.room)!;
  note(w, (await d.at.tokens.revokeRoom({ roomId }, key(w))).eventId);
  return "done";
}

/** The actions that set a restriction: the only ones a duration applies to. */
const SETS = new Set([Action.CHAT_BLOCK, Action.CHAT_MUTE, Action.ROOM_BLOCK]);

async function actOp(w: World, d: Driver, op: Extract<Op, { k: "act" }>) {
  // Mostly someone who got in somehow (moderation refuses a stranger: not_found).
  const member = op.member ? pick(w.members, op.room) : undefined;
  const room = member ? w.rooms.find((r) => r.id === member.roomId) : pick(w.rooms, op.room);
  if (room === undefined) return "skipped";
  const targetUserId = member?.userId ?? pick(usersOf(w), op.user)!;
  const durationSeconds = SETS.has(op.action) ? op.duration : 0;
  const a = actorOf(w, d, op.by);
  if (a === undefined) return "skipped";
  const req = { roomId: room.id, targetUserId, durationSeconds };
  const res = a.endUser
    ? await d.at.moderationUser.act({ ...req, action: op.action as number as UserAction }, a.opts)
    : await d.at.moderation.act({ ...req, action: op.action }, a.opts);
  note(w, res.eventId);
  return "done";
}

const plainConsumer = (uui: number): Op => ({ k: "consumer", uui, moderator: false, chatRoom: null, ttl: 0 });

/**
 * One fixed history that meets every operation, every way in and every
 * reason a permission is denied (the random ones meet them only by
 * chance). Indices resolve as runOps picks them; the comments name what
 * each picks: users R, C1, C2, TM (tenant-wide moderator), guests G1–G3,
 * phantoms ext1/ext2; spaces S0 (public, owner R), S1 (private, no owner);
 * rooms Rpub, Rpriv (of S0), Rs1 (public, of S1), bare1.
 */
export const COVERING_HISTORY: readonly Op[] = [
  { k: "user" }, // R
  plainConsumer(100), // C1
  plainConsumer(101), // C2
  { k: "consumer", uui: 200, moderator: true, chatRoom: null, ttl: 0 }, // TM
  { k: "space", owner: 0, isPublic: true }, // S0, owned by R
  { k: "space", owner: null, isPublic: false }, // S1
  { k: "room", space: 0, isPublic: true }, // Rpub
  { k: "room", space: 0, isPublic: false }, // Rpriv
  { k: "room", space: 1, isPublic: true }, // Rs1
  { k: "invite", space: 1, user: 1, moderator: false, ttl: 0 }, // C1 a user of S1: a space role in Rs1
  { k: "joinSpace", space: 0, user: 2 }, // C2 joins S0
  { k: "joinRoom", room: 0, user: 2 }, // C2 joins Rpub; members[0]
  { k: "grant", room: 1, user: 1, moderator: false, ttl: 600 }, // C1 in Rpriv for 10 minutes; members[1]
  { k: "tick", ms: 61_000, sweep: true },
  { k: "link", room: 2, moderator: false, permanent: false, redeems: 1 }, // G1 in Rs1; members[2]
  { k: "link", room: 0, moderator: true, permanent: true, redeems: 2 }, // G2 in Rpub (twice the same guest); members[3], [4]
  { k: "link", room: 1, moderator: false, permanent: false, redeems: 1 }, // G3 in Rpriv; members[5]
  { k: "revokeLink", link: 2 }, // G3 loses Rpriv
  {
    k: "token",
    args: [
      { user: 7, room: 0, permissions: [Permission.PermissionChat], ttl: 3600 }, // ext1 in Rpub; members[6]
      { user: 7, room: 3, permissions: [Permission.PermissionMessaging], ttl: 600 }, // ext1 in bare1; members[7]
      {
        user: 8,
        room: 1,
        permissions: [Permission.PermissionRoomKick, Permission.PermissionUiCanSeeRoomSidebar],
        ttl: 0,
      }, // ext2 in Rpriv; members[8]
    ],
  },
  { k: "revoke", token: 2 }, // ext2's token: "removed"
  { k: "act", action: Action.CHAT_MUTE, room: 1, user: 0, member: true, duration: 600 }, // C1 in Rpriv: "mute"
  { k: "act", action: Action.CHAT_BLOCK, room: 7, user: 0, member: true, duration: 0 }, // ext1 in bare1: "chat_block"
  { k: "act", action: Action.ROOM_BLOCK, room: 2, user: 0, member: true, duration: 60 }, // G1 in Rs1: "room_blocked"
  { k: "act", action: Action.CHAT_KICK, room: 0, user: 0, member: true, duration: 0 }, // C2 from Rpub
  { k: "revokeRole", room: 0, space: 0, user: 0, member: true }, // C2's role in Rpub (the space role stays)
  { k: "leaveSpace", space: 1, user: 0 }, // C2 leaves S0
  { k: "revokeUser", user: 7, room: 0 }, // ext1's token in Rpub: "removed"
  { k: "revokeRoom", room: 2 }, // Rs1
  { k: "deleteUser", user: 0 }, // R
  { k: "user" }, // R2
  { k: "consumer", uui: 101, moderator: true, chatRoom: 0, ttl: 600 }, // C2 moderates Rpub for 10 minutes
  // A revocation covers tokens issued in its own millisecond too: the next token comes a moment later.
  { k: "tick", ms: 1, sweep: false },
  { k: "token", args: [{ user: 3, room: 2, permissions: [Permission.PermissionCanSendNudge], ttl: 60 }] }, // TM in Rs1
  // C2 (by: 2 × user 2), now a room moderator of Rpub, on the end-user surface:
  { k: "grant", room: 0, user: 1, moderator: false, ttl: 0, by: 4 }, // C1 a member of Rpub
  { k: "link", room: 0, moderator: false, permanent: false, redeems: 1, by: 4 }, // G4 in Rpub
];
