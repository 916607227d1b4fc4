import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import type { Actor, AuditInit, EventInit, Journal, StoredEvent, Transact } from "../journal.js";
import { carryPending, collectingEffects, effectsOnlyEvents, effectsQueue } from "./pending-effects.js";

/**
 * Where changes are written down and how they reach live state: the journal
 * writes audit entries and events (with their effects) in the transaction;
 * after it commits, the change feed applies the effects and announces the
 * events — on this replica before the call returns, on the others when
 * their feeds catch up. Wired in src/app/kernel.ts and the feature modules.
 */
export interface JournalSink {
  readonly journal: Journal;
  readonly feed: { catchUp(): Promise<unknown> };
}

/**
 * The sink of a write that by design records nothing: no audit entry, no
 * event, no live effect (a registration, a login's re-check under the write
 * lock, re-sealing stored secrets). Such a write still takes the one path;
 * recording through this sink is a bug and fails the write, so an entry
 * added later cannot be dropped quietly.
 */
export const RECORDS_NOTHING: JournalSink = {
  journal: { record: () => Promise.reject(new Error("this write records nothing: give it the journal sink")) },
  feed: { catchUp: () => Promise.resolve(0) },
};

/**
 * The sink of a process that runs no change feed (the command line): what
 * it records is written all the same, and reaches every running replica
 * through that replica's own feed.
 */
export function withoutFeed(journal: Journal): JournalSink {
  return { journal, feed: { catchUp: () => Promise.resolve(0) } };
}

/** Appends audit entries and events to the transaction in progress. */
export type RecordFn = (change: Recorded) => Promise<void>;

/** Audit entries and events of one change. */
export interface Recorded {
  readonly audit: readonly AuditInit[];
  readonly events: readonly EventInit[];
}

/** Asks {@link journaled} for the stored events as well (their ids answer write calls). */
export interface WithEvents {
  readonly withEvents: true;
}

/** What {@link journaled} returns when asked {@link WithEvents}. */
export interface JournaledWithEvents<T> {
  readonly result: T;
  readonly events: StoredEvent[];
}

/**
 * The one path of every state change, and the only caller of
 * `journal.record`: runs `fn` in one write transaction; whatever it records
 * (audit entries, events with their live effects) is written in that same
 * transaction; after the commit the change feed applies and announces it,
 * before this returns, so the caller's next read on this replica sees it. A
 * rollback writes, applies and announces nothing. Returns `fn`'s result, or
 * with `{ withEvents: true }` the result and the events stored.
 */
export function journaled<T>(transact: Transact, sink: JournalSink, fn: (record: RecordFn) => Promise<T>): Promise<T>;
export function journaled<T>(
  transact: Transact,
  sink: JournalSink,
  fn: (record: RecordFn) => Promise<T>,
  options: WithEvents,
): Promise<JournaledWithEvents<T>>;
export async function journaled<T>(
  transact: Transact,
  sink: JournalSink,
  fn: (record: RecordFn) => Promise<T>,
  options?: WithEvents,
): Promise<T | JournaledWithEvents<T>> {
  const events: StoredEvent[] = [];
  // What the store notes as it writes (noteEffects) rides on the next event
  // recorded, or on an effects-only event at the end.
  const queue = effectsQueue();
  const result = await transact(() =>
    collectingEffects(queue, async () => {
      const r = await fn(async (change) => {
        events.push(...(await sink.journal.record(change.audit, carryPending(queue, change.events))));
      });
      const left = effectsOnlyEvents(queue);
      if (left.length > 0) events.push(...(await sink.journal.record([], left)));
      return r;
    }),
  );
  if (events.length > 0) await sink.feed.catchUp();
  return options?.withEvents ? { result, events } : result;
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
    events: [
      {
        tenantId: c.tenantId,
        type: EventType.MEMBER_JOINED,
        roomId: c.roomId,
        userId: c.userId,
        actor: c.actor,
        at: c.at,
        role: c.role,
        spaceId: c.spaceId ?? "",
        inviteId: c.via === "invite" ? (c.target ?? "") : "",
      },
    ],
  };
}

/**
 * A role was granted: audit "role.grant", event ROLE_GRANTED, and
 * PERMISSIONS_CHANGED too when it replaced a different role.
 */
export function roleGranted(c: MembershipChange & { readonly previousRole: string | undefined }): Recorded {
  const replaced = c.previousRole !== undefined && c.previousRole !== c.role;
  const events: EventInit[] = [
    {
      tenantId: c.tenantId,
      type: EventType.ROLE_GRANTED,
      roomId: c.roomId,
      userId: c.userId,
      actor: c.actor,
      at: c.at,
      role: c.role,
      spaceId: c.spaceId ?? "",
      inviteId: c.via === "invite" ? (c.target ?? "") : "",
    },
  ];
  if (replaced) {
    events.push({
      tenantId: c.tenantId,
      type: EventType.PERMISSIONS_CHANGED,
      roomId: c.roomId,
      userId: c.userId,
      actor: c.actor,
      at: c.at,
    });
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
    events: [
      {
        tenantId: c.tenantId,
        type: EventType.PERMISSIONS_CHANGED,
        roomId: c.roomId,
        userId: c.userId,
        actor: c.actor,
        at: c.at,
      },
    ],
  };
}

function detail(c: MembershipChange): Record<string, unknown> {
  return { role: c.role, via: c.via, ...(c.spaceId === undefined ? {} : { spaceId: c.spaceId }) };
}
