import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import type { Actor, AuditInit, EventInit, Journal, StoredEvent, Transact } from "../journal.js";
import type { EventBus } from "./event-bus.js";

/** Where membership changes are written down and announced; wired in src/app.ts. */
export interface JournalSink {
  readonly journal: Journal;
  readonly bus: EventBus;
}

/** Appends audit entries and events to the transaction in progress. */
export type RecordFn = (change: Recorded) => Promise<void>;

/** Audit entries and events of one change. */
export interface Recorded {
  readonly audit: readonly AuditInit[];
  readonly events: readonly EventInit[];
}

/**
 * Runs `fn` in one write transaction; whatever it records is written in that
 * same transaction and announced on the bus only after it commits (a
 * rollback announces nothing). Without a sink, `fn` just runs in the
 * transaction. Must not be called inside another transaction: publishing
 * would then precede the real commit.
 */
export async function journaled<T>(transact: Transact, sink: JournalSink | undefined, fn: (record: RecordFn) => Promise<T>): Promise<T> {
  const stored: StoredEvent[] = [];
  const result = await transact(() =>
    fn(async (change) => {
      if (sink) stored.push(...(await sink.journal.record(change.audit, change.events)));
    }),
  );
  if (sink && stored.length > 0) sink.bus.publish(stored);
  return result;
}

/** The facts common to a membership change. */
export interface MembershipChange {
  readonly tenantId: string;
  readonly actor: Actor;
  readonly at: number;
  /** The member concerned. */
  readonly userId: string;
  /** The role now held. */
  readonly role: string;
  /** The room, or "" for a space-wide or tenant-wide role. */
  readonly roomId: string;
  /** The space, for space roles. */
  readonly spaceId?: string;
  /** How it happened: "invite", "public", "access_link", "grant", "consumer". */
  readonly via: string;
  /** An invite or access link id, when one was used. */
  readonly target?: string;
}

/** A user joined a room or space: audit "member.join", event MEMBER_JOINED. */
export function memberJoined(c: MembershipChange): Recorded {
  return {
    audit: [
      {
        tenantId: c.tenantId,
        at: c.at,
        actor: c.actor,
        action: "member.join",
        roomId: c.roomId,
        targetUserId: c.userId,
        target: c.target ?? "",
        detail: detail(c),
      },
    ],
    events: [{ tenantId: c.tenantId, type: EventType.MEMBER_JOINED, roomId: c.roomId, userId: c.userId, actor: c.actor, at: c.at, role: c.role }],
  };
}

/**
 * A role was granted: audit "role.grant", event ROLE_GRANTED, and
 * PERMISSIONS_CHANGED too when it replaced a different role.
 */
export function roleGranted(c: MembershipChange & { readonly previousRole: string | undefined }): Recorded {
  const replaced = c.previousRole !== undefined && c.previousRole !== c.role;
  const events: EventInit[] = [
    { tenantId: c.tenantId, type: EventType.ROLE_GRANTED, roomId: c.roomId, userId: c.userId, actor: c.actor, at: c.at, role: c.role },
  ];
  if (replaced) {
    events.push({ tenantId: c.tenantId, type: EventType.PERMISSIONS_CHANGED, roomId: c.roomId, userId: c.userId, actor: c.actor, at: c.at });
  }
  return {
    audit: [
      {
        tenantId: c.tenantId,
        at: c.at,
        actor: c.actor,
        action: "role.grant",
        roomId: c.roomId,
        targetUserId: c.userId,
        target: c.target ?? "",
        detail: { ...detail(c), ...(c.previousRole === undefined ? {} : { previousRole: c.previousRole }) },
      },
    ],
    events,
  };
}

/** A role was taken away: audit "role.revoke", event PERMISSIONS_CHANGED. */
export function roleRevoked(c: MembershipChange): Recorded {
  return {
    audit: [
      {
        tenantId: c.tenantId,
        at: c.at,
        actor: c.actor,
        action: "role.revoke",
        roomId: c.roomId,
        targetUserId: c.userId,
        target: c.target ?? "",
        detail: detail(c),
      },
    ],
    events: [{ tenantId: c.tenantId, type: EventType.PERMISSIONS_CHANGED, roomId: c.roomId, userId: c.userId, actor: c.actor, at: c.at }],
  };
}

function detail(c: MembershipChange): Record<string, unknown> {
  return { role: c.role, via: c.via, ...(c.spaceId === undefined ? {} : { spaceId: c.spaceId }) };
}
