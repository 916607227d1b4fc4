import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import type { AccessIndex } from "../access/access-index.js";
import type { RestrictionIndex } from "../moderation/restrictions.js";
import type { RevocationIndex } from "../tokens/revocations.js";
import type { LiveEffects, RevokedApiKey } from "./effects.js";

/** The live, in-memory state of one replica that stored effects change. */
export interface LiveState {
  readonly revocations: RevocationIndex;
  readonly restrictions: RestrictionIndex;
  /** The ways into rooms (roles, rooms, live tokens) Check answers from. */
  readonly access: AccessIndex;
  /** A key stopped working: forget it everywhere it is cached, end its streams. */
  readonly onApiKeyRevoked: (key: RevokedApiKey) => void;
  /** The keyring changed on disk: reload it. */
  readonly onKeyringChanged: () => void;
}

/**
 * Applies one event's effects to the live state. Every step is idempotent
 * (a revocation only raises a watermark, a set replaces, a lift of nothing
 * is nothing), so an event applied again after a restart's table load
 * changes nothing; the feed applies events in id order, so sets and lifts
 * of one member end in the order they were committed.
 */
export function applyEffects(state: LiveState, effects: LiveEffects): void {
  for (const r of effects.revocations ?? []) state.revocations.add(r);
  for (const r of effects.restrictionsSet ?? []) state.restrictions.set(r);
  for (const l of effects.restrictionsLifted ?? []) state.restrictions.lift(l.tenantId, l.roomId, l.userId, l.kind);
  state.access.apply(effects);
  for (const k of effects.apiKeysRevoked ?? []) state.onApiKeyRevoked(k);
  if (effects.keyringChanged) state.onKeyringChanged();
}

/**
 * True when the effects take access away (a revocation, a restriction set,
 * a role removed, a user deleted, an API key revoked, the keyring changed): such a write answers only once
 * every live replica applied it (see RemovalBarrier). Lifting a restriction
 * grants, and may reach other replicas within the feed delay.
 */
export function takesAccessAway(effects: LiveEffects): boolean {
  return (
    (effects.revocations?.length ?? 0) > 0 ||
    (effects.restrictionsSet?.length ?? 0) > 0 ||
    (effects.apiKeysRevoked?.length ?? 0) > 0 ||
    (effects.rolesRemoved?.length ?? 0) > 0 ||
    (effects.usersRemoved?.length ?? 0) > 0 ||
    effects.keyringChanged === true
  );
}

/**
 * Event types that take access away whether or not they carry live effects
 * (a role revoked or a member gone changes what the store answers, and what
 * every replica's permission Watch streams show).
 */
const REMOVING_TYPES: ReadonlySet<EventType> = new Set([
  EventType.CHAT_KICKED,
  EventType.ROOM_KICKED,
  EventType.CHAT_BLOCKED,
  EventType.ROOM_BLOCKED,
  EventType.MUTED,
  EventType.PERMISSIONS_CHANGED,
  EventType.TOKEN_REVOKED,
  EventType.API_KEY_REVOKED,
  EventType.ROLE_REVOKED,
  EventType.MEMBER_LEFT,
  EventType.INVITE_REVOKED,
  EventType.USER_DELETED,
]);

/** True for an event whose type takes access away (see {@link takesAccessAway} for effects). */
export function isRemovalEvent(type: EventType): boolean {
  return REMOVING_TYPES.has(type);
}
