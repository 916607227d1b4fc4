import { ACCESS_EFFECT_FIELDS, type AccessEffects, validateAccessEffects } from "../access/facts.js";
import type { Restriction, RestrictionKind } from "../moderation/restrictions.js";
import type { Revocation } from "../tokens/revocations.js";
import { id, InvalidEffectsError, list, record, time } from "./effect-checks.js";

export { InvalidEffectsError } from "./effect-checks.js";

/** A restriction that was lifted (by a moderator or because it lapsed). */
export interface LiftedRestriction {
  readonly tenantId: string;
  readonly roomId: string;
  readonly userId: string;
  readonly kind: RestrictionKind;
}

/** An API key that stopped working. */
export interface RevokedApiKey {
  readonly tenantId: string;
  readonly keyId: string;
}

/**
 * The change one stored event makes to the live in-memory state of every
 * replica. Written in the same transaction as the event (the events table's
 * `effects` column) and applied by each replica's change feed in id order.
 * Every effect is idempotent, so replaying events a replica already loaded
 * from the tables is harmless. The access facts (roles, rooms, issued
 * tokens: src/domain/access/facts.ts) keep Check's memory current.
 */
export interface LiveEffects extends AccessEffects {
  readonly revocations?: readonly Revocation[];
  readonly restrictionsSet?: readonly Restriction[];
  readonly restrictionsLifted?: readonly LiftedRestriction[];
  readonly apiKeysRevoked?: readonly RevokedApiKey[];
  /** The keyring changed (key added, activated or retired): reload it. */
  readonly keyringChanged?: true;
}

const RESTRICTION_KINDS: ReadonlySet<string> = new Set<RestrictionKind>(["chat_block", "mute", "room_block"]);

/**
 * The stored text of `effects`, or null when there is nothing to apply (the
 * column stays NULL for the many events that change no live state). The value
 * is validated first, so a bad value fails its write instead of every
 * replica's feed; only known fields are written.
 */
export function encodeEffects(effects: LiveEffects | undefined): string | null {
  if (effects === undefined) return null;
  const clean = validate(effects);
  return Object.keys(clean).length === 0 ? null : JSON.stringify(clean);
}

/**
 * Parses and validates a stored `effects` value. Throws
 * {@link InvalidEffectsError} on anything but a well-formed value: unknown
 * fields included, since a field this version does not know is a change it
 * would silently not make.
 */
export function decodeEffects(text: string): LiveEffects {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InvalidEffectsError("$", "not JSON");
  }
  return validate(raw);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function validate(raw: unknown): LiveEffects {
  const o = record(raw, "$", [
    "revocations",
    "restrictionsSet",
    "restrictionsLifted",
    "apiKeysRevoked",
    "keyringChanged",
    ...ACCESS_EFFECT_FIELDS,
  ]);
  const out: Mutable<LiveEffects> = { ...validateAccessEffects(o) };
  const revocations = list(o.revocations, "revocations", revocation);
  if (revocations.length > 0) out.revocations = revocations;
  const set = list(o.restrictionsSet, "restrictionsSet", restriction);
  if (set.length > 0) out.restrictionsSet = set;
  const lifted = list(o.restrictionsLifted, "restrictionsLifted", liftedRestriction);
  if (lifted.length > 0) out.restrictionsLifted = lifted;
  const keys = list(o.apiKeysRevoked, "apiKeysRevoked", revokedKey);
  if (keys.length > 0) out.apiKeysRevoked = keys;
  if (o.keyringChanged !== undefined) {
    if (o.keyringChanged !== true) throw new InvalidEffectsError("keyringChanged", "must be true when present");
    out.keyringChanged = true;
  }
  return out;
}

function revocation(v: unknown, path: string): Revocation {
  const kind = record(v, path, ["kind"], true).kind;
  switch (kind) {
    case "token": {
      const o = record(v, path, ["kind", "tenantId", "tokenId", "at"]);
      return {
        kind,
        tenantId: id(o.tenantId, `${path}.tenantId`),
        tokenId: id(o.tokenId, `${path}.tokenId`),
        at: time(o.at, `${path}.at`),
      };
    }
    case "user": {
      const o = record(v, path, ["kind", "tenantId", "userId", "at"]);
      return {
        kind,
        tenantId: id(o.tenantId, `${path}.tenantId`),
        userId: id(o.userId, `${path}.userId`),
        at: time(o.at, `${path}.at`),
      };
    }
    case "user_room": {
      const o = record(v, path, ["kind", "tenantId", "userId", "roomId", "at"]);
      return {
        kind,
        tenantId: id(o.tenantId, `${path}.tenantId`),
        userId: id(o.userId, `${path}.userId`),
        roomId: id(o.roomId, `${path}.roomId`),
        at: time(o.at, `${path}.at`),
      };
    }
    case "room": {
      const o = record(v, path, ["kind", "tenantId", "roomId", "at"]);
      return {
        kind,
        tenantId: id(o.tenantId, `${path}.tenantId`),
        roomId: id(o.roomId, `${path}.roomId`),
        at: time(o.at, `${path}.at`),
      };
    }
    default:
      throw new InvalidEffectsError(`${path}.kind`, "must be token, user, user_room or room");
  }
}

function restriction(v: unknown, path: string): Restriction {
  const o = record(v, path, ["tenantId", "roomId", "userId", "kind", "until"]);
  const until = o.until === null ? null : time(o.until, `${path}.until`);
  return { ...member(o, path), until };
}

function liftedRestriction(v: unknown, path: string): LiftedRestriction {
  return member(record(v, path, ["tenantId", "roomId", "userId", "kind"]), path);
}

function member(o: Record<string, unknown>, path: string): LiftedRestriction {
  if (typeof o.kind !== "string" || !RESTRICTION_KINDS.has(o.kind)) {
    throw new InvalidEffectsError(`${path}.kind`, "must be chat_block, mute or room_block");
  }
  return {
    tenantId: id(o.tenantId, `${path}.tenantId`),
    roomId: id(o.roomId, `${path}.roomId`),
    userId: id(o.userId, `${path}.userId`),
    kind: o.kind as RestrictionKind,
  };
}

function revokedKey(v: unknown, path: string): RevokedApiKey {
  const o = record(v, path, ["tenantId", "keyId"]);
  return { tenantId: id(o.tenantId, `${path}.tenantId`), keyId: id(o.keyId, `${path}.keyId`) };
}
