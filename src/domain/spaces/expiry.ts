import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import { invalidArgument } from "../errors.js";
import type { Recorded } from "../events/record.js";

/**
 * An optional expiry as a request gives it: an absolute time or a duration
 * from now (GrantRole, CreateInvite, seed 003's moderator), never both.
 */
export interface ExpiryInput {
  /** Absolute expiry in ms since the epoch, or undefined when not given. */
  readonly expiresAt: number | undefined;
  /** Duration from now in seconds; 0 when not given. */
  readonly ttlSeconds: number;
}

/** No expiry given. */
export const NO_EXPIRY: ExpiryInput = { expiresAt: undefined, ttlSeconds: 0 };

/** The furthest ahead a role may be set to expire: ten years (a later end is no end; leave it unset). */
export const MAX_ROLE_EXPIRY_SECONDS = 10 * 366 * 86_400;

/**
 * The expiry as a time in ms, or null for a role that lasts until revoked.
 * Refused with invalid_argument (before anything is written): both forms
 * given, a time not in the future, or one more than ten years ahead.
 */
export function roleExpiry(input: ExpiryInput, now: number): number | null {
  const { expiresAt, ttlSeconds } = input;
  if (expiresAt !== undefined && ttlSeconds !== 0)
    throw invalidArgument("expires_at and ttl_seconds: give at most one of them");
  if (ttlSeconds !== 0) {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > MAX_ROLE_EXPIRY_SECONDS)
      throw invalidArgument(`ttl_seconds: must be between 1 and ${MAX_ROLE_EXPIRY_SECONDS} (ten years)`);
    return now + ttlSeconds * 1000;
  }
  if (expiresAt === undefined) return null;
  if (!Number.isFinite(expiresAt) || expiresAt <= now) throw invalidArgument("expires_at: must be in the future");
  if (expiresAt > now + MAX_ROLE_EXPIRY_SECONDS * 1000)
    throw invalidArgument("expires_at: must be at most ten years ahead");
  return expiresAt;
}

/**
 * The record of a grant or join, with the role's expiry: the events carry
 * it as `until` (every replica's role expiry arms its timer from it, and
 * watchers learn when the role ends), the audit entry as `expiresAt`.
 */
export function withExpiry(rec: Recorded, expiresAt: number | null): Recorded {
  if (expiresAt === null) return rec;
  return {
    audit: rec.audit.map((a) => ({ ...a, detail: { ...a.detail, expiresAt } })),
    events: rec.events.map((e) =>
      e.type === EventType.ROLE_GRANTED || e.type === EventType.MEMBER_JOINED ? { ...e, until: expiresAt } : e,
    ),
  };
}
