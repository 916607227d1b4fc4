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

const SEP = "\u0000";

type Untils = { chat_block?: number; mute?: number; room_block?: number };

/**
 * Restrictions in force, in memory, kept current on every write and loaded
 * at start; Verify and "my permissions" apply them without a database read.
 * A restriction whose time has passed simply stops applying (the clock is
 * injected, so tests can move it).
 */
export class RestrictionIndex {
  private readonly byMember = new Map<string, Untils>();

  /** Sets (or replaces) a restriction. */
  set(r: Restriction): void {
    const key = r.tenantId + SEP + r.roomId + SEP + r.userId;
    const u = this.byMember.get(key) ?? {};
    u[r.kind] = r.until ?? Number.POSITIVE_INFINITY;
    this.byMember.set(key, u);
  }

  /** Lifts a restriction. */
  lift(tenantId: string, roomId: string, userId: string, kind: RestrictionKind): void {
    const key = tenantId + SEP + roomId + SEP + userId;
    const u = this.byMember.get(key);
    if (!u) return;
    delete u[kind];
    if (u.chat_block === undefined && u.mute === undefined && u.room_block === undefined) this.byMember.delete(key);
  }

  /** The restrictions of a member in force at `now`, with their end times. */
  active(tenantId: string, roomId: string, userId: string, now: number): Array<{ kind: RestrictionKind; until: number | null }> {
    if (this.byMember.size === 0) return [];
    const u = this.byMember.get(tenantId + SEP + roomId + SEP + userId);
    if (!u) return [];
    const out: Array<{ kind: RestrictionKind; until: number | null }> = [];
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
    const active = this.active(tenantId, roomId, userId, now);
    if (active.length === 0) return perms;
    if (active.some((r) => r.kind === "room_block")) return [];
    const chatBlocked = active.some((r) => r.kind === "chat_block");
    return perms.filter((p) => !(chatBlocked ? inChat(p) : SENDING.has(p)));
  }
}
