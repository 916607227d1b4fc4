import { Permission as P } from "../../../gen/room/permissions/v1/permission_pb.js";

/** A live restriction on one member of one room. */
export type RestrictionKind = "chat_block" | "mute" | "room_block";

/** A restriction as stored; `until` null means until lifted. */
export interface Restriction {
  readonly tenantId: string;
  readonly roomId: string;
  readonly userId: string;
  readonly kind: RestrictionKind;
  readonly until: number | null;
}

/**
 * What each restriction takes away. A group permission goes with its
 * members: holding PermissionMessaging would otherwise still imply sending.
 * Mute: sending messages and files. Chat block: all of messaging and files.
 * Room block: everything.
 */
const SENDING: ReadonlySet<P> = new Set([
  P.PermissionMessaging,
  P.PermissionCanSendMessagesInDiscussion,
  P.PermissionCanSendMessagesInMainThread,
  P.PermissionFiles,
  P.PermissionCanSendFilesIntoRoomInDiscussion,
  P.PermissionCanSendFilesIntoRoomInMainThread,
  P.PermissionCanAttachOrDeleteFilesInOwnMessagesInDiscussion,
  P.PermissionCanAttachOrDeleteFilesInOwnMessagesInMainThread,
]);

function inChat(p: P): boolean {
  return (p >= 300 && p < 500) || p === P.permissionChatSlowmodeBypass;
}

type Untils = { chat_block?: number; mute?: number; room_block?: number };

/** One live restriction: its kind and when it lifts (null: until lifted). */
export interface ActiveRestriction {
  readonly kind: RestrictionKind;
  readonly until: number | null;
}

/**
 * Granted permissions minus what `active` restrictions take away (see the
 * table above). Pure: Verify computes `active` once and applies it here.
 */
export function withoutRestricted(perms: readonly P[], active: readonly ActiveRestriction[]): readonly P[] {
  if (active.length === 0) return perms;
  if (active.some((r) => r.kind === "room_block")) return [];
  const chatBlocked = active.some((r) => r.kind === "chat_block");
  return perms.filter((p) => !(chatBlocked ? inChat(p) : SENDING.has(p)));
}

const NONE: readonly ActiveRestriction[] = Object.freeze([]);

export class RestrictionIndex {
  /** tenant → room → user → end times; nested so Verify builds no key strings. */
  private readonly byTenant = new Map<string, Map<string, Map<string, Untils>>>();

  /** Sets (or replaces) a restriction. */
  set(r: Restriction): void {
    let rooms = this.byTenant.get(r.tenantId);
    if (!rooms) this.byTenant.set(r.tenantId, (rooms = new Map()));
    let members = rooms.get(r.roomId);
    if (!members) rooms.set(r.roomId, (members = new Map()));
    let u = members.get(r.userId);
    if (!u) members.set(r.userId, (u = {}));
    u[r.kind] = r.until ?? Number.POSITIVE_INFINITY;
  }

  /** Lifts a restriction. */
  lift(tenantId: string, roomId: string, userId: string, kind: RestrictionKind): void {
    const members = this.byTenant.get(tenantId)?.get(roomId);
    const u = members?.get(userId);
    if (!members || !u) return;
    delete u[kind];
    if (u.chat_block === undefined && u.mute === undefined && u.room_block === undefined) members.delete(userId);
  }

  /** The restrictions of a member in force at `now`, with their end times. */
  active(tenantId: string, roomId: string, userId: string, now: number): readonly ActiveRestriction[] {
    // One shared empty answer: Verify asks this on every call, and most members have none.
    if (this.byTenant.size === 0) return NONE;
    const u = this.byTenant.get(tenantId)?.get(roomId)?.get(userId);
    if (!u) return NONE;
    const out: ActiveRestriction[] = [];
    for (const kind of ["room_block", "chat_block", "mute"] as const) {
      const until = u[kind];
      if (until !== undefined && until > now) out.push({ kind, until: Number.isFinite(until) ? until : null });
    }
    return out;
  }

  /** True when the member is blocked from the room at `now`. */
  isRoomBlocked(tenantId: string, roomId: string, userId: string, now: number): boolean {
    return this.active(tenantId, roomId, userId, now).some((r) => r.kind === "room_block");
  }

  /** Granted permissions minus what the member's live restrictions take away. */
  apply(perms: readonly P[], tenantId: string, roomId: string, userId: string, now: number): readonly P[] {
    return withoutRestricted(perms, this.active(tenantId, roomId, userId, now));
  }
}
