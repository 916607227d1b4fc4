import type { Permission } from "../../../gen/room/permissions/v1/permission_pb.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { checkId } from "../ids.js";
import { pageSizeOf } from "../paging.js";
import { isKnownPermission } from "../permissions.js";
import type { AccessIndex, TenantAccess } from "./access-index.js";
import { idsAfter, memberCandidates, roomCandidates } from "./candidates.js";
import { type Answer, answerOf, type Standing, type StandingDeps, standingOf } from "./standing.js";

/** Most permissions one Check answers. */
export const MAX_CHECK_PERMISSIONS = 256;
/** Most items one CheckBulk answers. */
export const MAX_BULK_ITEMS = 100;

/** One CheckBulk question. */
export interface BulkItem {
  readonly userId: string;
  readonly roomId: string;
  readonly permission: number;
}

/** A Check's answer: each permission asked, and the standing behind them. */
export interface CheckResult {
  readonly answers: readonly Answer[];
  readonly standing: Standing;
}

/** One page of a lookup: each row with its answer; `next` is "" on the last page. */
export interface LookupPage {
  readonly rows: readonly { readonly id: string; readonly answer: Answer }[];
  readonly next: string;
}

/** What the checker reads: the replica's memory and its clock. */
export interface AccessCheckerDeps extends StandingDeps {
  readonly index: AccessIndex;
  readonly clock: () => number;
}

/**
 * Check, CheckBulk and the lookups (issue 20): a backend's questions about
 * a user and a room without a token, answered from memory with exactly the
 * rules Verify and GetRoomPermissions use (standing.ts). No database read:
 * the caller waits for the consistency token first (the read gate).
 */
export class AccessChecker {
  constructor(private readonly deps: AccessCheckerDeps) {}

  /** Check: each permission asked (in order), with the standing; not_found for a room the tenant lacks. */
  check(tenantId: string, userId: string, roomId: string, permissions: readonly number[]): CheckResult {
    checkId("user_id", userId);
    checkId("room_id", roomId);
    if (permissions.length > MAX_CHECK_PERMISSIONS) {
      throw invalidArgument(`permissions: ${permissions.length} exceed the limit of ${MAX_CHECK_PERMISSIONS}`);
    }
    const asked = permissions.map((p, i) => checkPermission(`permissions[${i}]`, p));
    const t = this.roomOf(tenantId, roomId);
    const standing = standingOf(t, userId, roomId, this.deps.clock(), this.deps);
    return { answers: asked.map((p) => answerOf(standing, p)), standing };
  }

  /** CheckBulk: one answer per item, in order; an unknown room answers "room_not_found". */
  checkBulk(tenantId: string, items: readonly BulkItem[]): Answer[] {
    if (items.length === 0) throw invalidArgument("items: at least one item is required");
    if (items.length > MAX_BULK_ITEMS) {
      throw invalidArgument(`items: ${items.length} items exceed the limit of ${MAX_BULK_ITEMS}`);
    }
    const asked = items.map((it, i) => {
      checkId(`items[${i}].user_id`, it.userId);
      checkId(`items[${i}].room_id`, it.roomId);
      return checkPermission(`items[${i}].permission`, it.permission);
    });
    const t = this.deps.index.tenant(tenantId);
    const now = this.deps.clock();
    return items.map((it, i) => {
      const permission = asked[i]!;
      if (t === undefined || !t.rooms.has(it.roomId)) {
        return { permission, allowed: false, grantedBy: [], deniedReason: "room_not_found", deniedUntil: null };
      }
      return answerOf(standingOf(t, it.userId, it.roomId, now, this.deps), permission);
    });
  }

  /** LookupRooms: rooms where the user has the permission, by room id, after the inner page token. */
  lookupRooms(tenantId: string, userId: string, permission: number, pageSize: number, after: string): LookupPage {
    checkId("user_id", userId);
    const p = checkPermission("permission", permission);
    const size = pageSizeOf(pageSize);
    const t = this.deps.index.tenant(tenantId);
    if (t === undefined) return { rows: [], next: "" };
    const now = this.deps.clock();
    // A room the index does not know is Check's not_found: never a row.
    return page(roomCandidates(t, userId), after, size, (roomId) =>
      t.rooms.has(roomId) ? answerOf(standingOf(t, userId, roomId, now, this.deps), p) : NOT_A_ROW,
    );
  }

  /** LookupMembers: users who have the permission in the room, by user id; not_found for an unknown room. */
  lookupMembers(tenantId: string, roomId: string, permission: number, pageSize: number, after: string): LookupPage {
    checkId("room_id", roomId);
    const p = checkPermission("permission", permission);
    const size = pageSizeOf(pageSize);
    const t = this.roomOf(tenantId, roomId);
    const now = this.deps.clock();
    return page(memberCandidates(t, roomId), after, size, (userId) =>
      answerOf(standingOf(t, userId, roomId, now, this.deps), p),
    );
  }

  private roomOf(tenantId: string, roomId: string): TenantAccess {
    const t = this.deps.index.tenant(tenantId);
    if (t === undefined || !t.rooms.has(roomId)) {
      throw new RoomgateError("not_found", `room ${JSON.stringify(roomId)} not found`);
    }
    return t;
  }
}

const NOT_A_ROW: Answer = {
  permission: 0,
  allowed: false,
  grantedBy: [],
  deniedReason: "room_not_found",
  deniedUntil: null,
};

/** A permission the catalog has (groups included: they answer for their whole range). */
function checkPermission(at: string, p: number): Permission {
  if (p === 0 || !isKnownPermission(p)) throw invalidArgument(`${at}: unknown permission ${p}`);
  return p as Permission;
}

/** Walks the sorted candidates after `after`, keeping the allowed ones, until the page is full. */
function page(
  lists: readonly (readonly string[])[],
  after: string,
  size: number,
  judge: (id: string) => Answer,
): LookupPage {
  const rows: { id: string; answer: Answer }[] = [];
  for (const id of idsAfter(lists, after)) {
    const answer = judge(id);
    if (!answer.allowed) continue;
    if (rows.length === size) return { rows, next: rows[rows.length - 1]!.id };
    rows.push({ id, answer });
  }
  return { rows, next: "" };
}
