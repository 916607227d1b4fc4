import type { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import type { LiveEffects } from "./feed/effects.js";

/**
 * Who did something, as written in the audit log and events: an API key, a
 * user, or roomgate itself ("system": a timed block or mute that lapsed).
 */
export type Actor = `key:${string}` | `user:${string}` | "system";

/** An event to store and announce. */
export interface EventInit {
  readonly tenantId: string;
  readonly type: EventType;
  readonly roomId?: string;
  readonly userId?: string;
  readonly actor: Actor;
  readonly at: number;
  readonly reason?: string;
  readonly tokenId?: string;
  readonly messageId?: string;
  readonly role?: string;
  /** When a block or mute lifts by itself; null/undefined when indefinite. */
  readonly until?: number | null;
  /** The space, for space-level changes. */
  readonly spaceId?: string;
  /** The invite, for INVITE_REVOKED and joins through an invite. */
  readonly inviteId?: string;
  /**
   * What the change does to every replica's live state (revocations,
   * restrictions, API keys), stored with the event and applied by each
   * replica's change feed — the one path by which in-memory state changes.
   */
  readonly effects?: LiveEffects;
}

/** A stored event with its increasing id. */
export interface StoredEvent extends EventInit {
  readonly id: number;
}

/** One audit log entry to write. */
export interface AuditInit {
  readonly tenantId: string;
  readonly at: number;
  readonly actor: Actor;
  /** Dotted action name, e.g. "token.issue", "role.grant", "moderation.chat_mute". */
  readonly action: string;
  readonly roomId?: string;
  readonly targetUserId?: string;
  readonly target?: string;
  readonly reason?: string;
  readonly detail?: Record<string, unknown>;
  /**
   * Every room the entry concerns, when there are several (a Create batch
   * issuing into more than one room; `roomId` is then ""): the room filter
   * finds the entry by any of them.
   */
  readonly roomIds?: readonly string[];
  /** Likewise every user, when there are several (`targetUserId` is then ""). */
  readonly targetUserIds?: readonly string[];
}

/** A stored audit entry. */
export interface AuditEntry extends AuditInit {
  readonly id: number;
}

/** Filters for listing the audit log; `beforeId` is the page cursor. */
export interface AuditQuery {
  readonly tenantId: string;
  readonly roomId?: string;
  readonly userId?: string;
  readonly action?: string;
  readonly since?: number;
  readonly until?: number;
  readonly beforeId?: number;
  readonly limit: number;
}

/**
 * Appends audit entries and events. Called inside the transaction of the
 * change it records, so a change and its record are written together or
 * not at all; events are announced only after that transaction commits.
 */
export interface Journal {
  record(audit: readonly AuditInit[], events: readonly EventInit[]): Promise<StoredEvent[]>;
}

/**
 * Runs `fn` in the one write transaction of the store (Database.write): the
 * write lock is taken first, so a concurrent writer waits instead of
 * failing; everything `fn` writes, through any repository, commits together
 * or not at all; nested calls join it. `fn` may read before it writes.
 */
export type Transact = <T>(fn: () => Promise<T>) => Promise<T>;
