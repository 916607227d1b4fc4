import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import { Permission as P } from "../../../gen/room/permissions/v1/permission_pb.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { checkId } from "../ids.js";
import { journaled, type JournalSink, type Recorded } from "../events/record.js";
import type { Actor, StoredEvent, Transact } from "../journal.js";
import type { Revocation } from "../tokens/revocations.js";
import type { Restriction, RestrictionKind } from "./restrictions.js";
import { rankIn, type MembershipStore } from "../membership.js";
import type { RoomStanding } from "../room-permissions.js";

/** The moderation actions of seed 000, by the permission each needs. */
export type ModerationAction =
  | "chat_block"
  | "chat_unblock"
  | "chat_mute"
  | "chat_unmute"
  | "chat_kick"
  | "room_block"
  | "room_unblock"
  | "room_kick";

/** Permission a caller needs for each action (the API key needs none). */
export const REQUIRED_PERMISSION: Readonly<Record<ModerationAction, P>> = {
  chat_block: P.PermissionChatBlock,
  chat_unblock: P.PermissionChatUnblock,
  chat_mute: P.PermissionChatMute,
  chat_unmute: P.PermissionChatUnmute,
  chat_kick: P.PermissionChatKick,
  room_block: P.PermissionRoomBlock,
  room_unblock: P.PermissionRoomUnblock,
  room_kick: P.PermissionRoomKick,
};

/** What each action does to the member and which event announces it. */
const EFFECT: Readonly<
  Record<ModerationAction, { set?: RestrictionKind; lift?: RestrictionKind; kick?: true; event: EventType }>
> = {
  chat_block: { set: "chat_block", event: EventType.CHAT_BLOCKED },
  chat_unblock: { lift: "chat_block", event: EventType.CHAT_UNBLOCKED },
  chat_mute: { set: "mute", event: EventType.MUTED },
  chat_unmute: { lift: "mute", event: EventType.UNMUTED },
  chat_kick: { kick: true, event: EventType.CHAT_KICKED },
  room_block: { set: "room_block", event: EventType.ROOM_BLOCKED },
  room_unblock: { lift: "room_block", event: EventType.ROOM_UNBLOCKED },
  room_kick: { kick: true, event: EventType.ROOM_KICKED },
};

/** The persistence moderation needs; implemented in src/store. */
export interface ModerationStore {
  setRestriction(r: Restriction, createdBy: string, now: number): Promise<void>;
  liftRestriction(tenantId: string, roomId: string, userId: string, kind: RestrictionKind): Promise<boolean>;
  addRevocation(r: Revocation, expiresAt: number | null): Promise<void>;
  roomExists(tenantId: string, roomId: string): Promise<boolean>;
  isMember(tenantId: string, roomId: string, userId: string): Promise<boolean>;
}

/** Everything moderation works with, wired once in a feature module (src/app/modules/). */
export interface ModerationDeps {
  readonly store: ModerationStore;
  readonly transact: Transact;
  /** Journal and change feed: restrictions and kicks reach live state through the feed. */
  readonly sink: JournalSink;
  /** Where the target's rank in the room is read (hierarchy rule). */
  readonly memberships: Pick<MembershipStore, "roomRolesOf">;
  readonly clock: () => number;
}

/** Who acts: the tenant's API key (anything within the tenant), or an end user's standing in the room. */
export type ModerationCaller = "api_key" | RoomStanding;

/** One action request, after the service layer's translation. */
export interface ActInput {
  readonly tenantId: string;
  readonly actor: Actor;
  /** The caller's standing in the room (roomStanding), or "api_key" for the backend. */
  readonly caller: ModerationCaller;
  readonly action: ModerationAction;
  readonly roomId: string;
  readonly targetUserId: string;
  readonly durationSeconds: number;
  readonly reason: string;
}

const MAX_DURATION = 366 * 86_400;
const MAX_REASON = 1_024;

/**
 * Moderation rules: the caller needs the action's permission in that room
 * (or the API key); the target must be a member of that room and rank
 * below the caller there (the API key outranks everyone); block and mute
 * may carry a duration after which they lift by themselves; kick revokes the
 * member's current tokens for the room (newer ones still work); a room block
 * empties their effective permissions and refuses new tokens. Each action
 * is written with its audit entry and event in one transaction, then the
 * in-memory indexes are updated and the event announced.
 */
export class Moderation {
  constructor(private readonly deps: ModerationDeps) {}

  /** Applies one action; returns the event that announced it. */
  async act(input: ActInput): Promise<StoredEvent> {
    const { store } = this.deps;
    const effect = EFFECT[input.action];
    checkAct(input, effect);
    const now = this.deps.clock();
    const change = liveChange(input, effect, now);
    const { restriction, lifted, revocation } = change;
    const { events } = await journaled(
      this.deps.transact,
      this.deps.sink,
      async (record) => {
        await this.checkTarget(input);
        if (restriction) await store.setRestriction(restriction, input.actor, now);
        if (lifted) await store.liftRestriction(lifted.tenantId, lifted.roomId, lifted.userId, lifted.kind);
        if (revocation) await store.addRevocation(revocation, null);
        await record(actRecorded(input, effect.event, now, change));
      },
      { withEvents: true },
    );
    return events[0]!;
  }

  /**
   * Inside the write, under the write lock: a promotion or a removal
   * committing meanwhile cannot slip between the check and the action.
   */
  private async checkTarget(input: ActInput): Promise<void> {
    const { store } = this.deps;
    if (!(await store.roomExists(input.tenantId, input.roomId)))
      throw new RoomgateError("not_found", `room ${input.roomId} not found`);
    const roles = await this.deps.memberships.roomRolesOf(input.tenantId, input.targetUserId, input.roomId);
    // Seed 003's tenant-wide moderator is a member of every room of the
    // tenant (ListMembers shows WAY_IN_TENANT_MODERATOR), so for moderation
    // too: without this they could be moderated by nobody, not even the API key.
    if (!roles.tenantModerator && !(await store.isMember(input.tenantId, input.roomId, input.targetUserId))) {
      throw new RoomgateError("not_found", `user ${input.targetUserId} is not a member of room ${input.roomId}`);
    }
    // Hierarchy: owner > space moderator (and tenant moderator) > room
    // moderator > member; nobody acts on a member of equal or higher rank
    // (themselves included). The API key outranks everyone.
    if (input.caller !== "api_key" && rankIn(roles) >= input.caller.rank) {
      throw new RoomgateError(
        "permission_denied",
        `${input.action} needs a higher rank than the target's in this room`,
      );
    }
  }

  /** Records a message deletion for the chat server; returns its event. */
  async deleteMessage(input: {
    tenantId: string;
    actor: Actor;
    caller: ModerationCaller;
    roomId: string;
    messageId: string;
    reason: string;
  }): Promise<StoredEvent> {
    checkCommon(input.roomId, input.reason);
    checkId("message_id", input.messageId);
    authorize(input.caller, P.PermissionChatMessageDelete, "message delete");
    if (!(await this.deps.store.roomExists(input.tenantId, input.roomId)))
      throw new RoomgateError("not_found", `room ${input.roomId} not found`);
    const now = this.deps.clock();
    const { events } = await journaled(
      this.deps.transact,
      this.deps.sink,
      (record) =>
        record({
          audit: [
            {
              tenantId: input.tenantId,
              at: now,
              actor: input.actor,
              action: "moderation.message_delete",
              roomId: input.roomId,
              target: input.messageId,
              reason: input.reason,
            },
          ],
          events: [
            {
              tenantId: input.tenantId,
              type: EventType.MESSAGE_DELETED,
              roomId: input.roomId,
              actor: input.actor,
              at: now,
              messageId: input.messageId,
              reason: input.reason,
            },
          ],
        }),
      { withEvents: true },
    );
    return events[0]!;
  }
}

/** What an action does to live state: the restriction set or lifted, the revocation, and until when. */
interface LiveChange {
  readonly until: number | null;
  readonly restriction: Restriction | undefined;
  readonly lifted: Omit<Restriction, "until"> | undefined;
  readonly revocation: Revocation | undefined;
}

/** The arguments of an action, checked before anything is read. */
function checkAct(input: ActInput, effect: (typeof EFFECT)[ModerationAction]): void {
  checkCommon(input.roomId, input.reason);
  checkId("target_user_id", input.targetUserId);
  if (input.durationSeconds > 0 && !effect.set) {
    throw invalidArgument(`duration_seconds applies to block and mute only, not ${input.action}`);
  }
  if (input.durationSeconds > MAX_DURATION) throw invalidArgument(`duration_seconds exceeds ${MAX_DURATION}`);
  authorize(input.caller, REQUIRED_PERMISSION[input.action], input.action);
}

function liveChange(input: ActInput, effect: (typeof EFFECT)[ModerationAction], now: number): LiveChange {
  const until = effect.set && input.durationSeconds > 0 ? now + input.durationSeconds * 1000 : null;
  const restriction: Restriction | undefined = effect.set
    ? { tenantId: input.tenantId, roomId: input.roomId, userId: input.targetUserId, kind: effect.set, until }
    : undefined;
  const revocation: Revocation | undefined = effect.kick
    ? { kind: "user_room", tenantId: input.tenantId, userId: input.targetUserId, roomId: input.roomId, at: now }
    : undefined;
  const lifted = effect.lift
    ? { tenantId: input.tenantId, roomId: input.roomId, userId: input.targetUserId, kind: effect.lift }
    : undefined;
  return { until, restriction, lifted, revocation };
}

/** The audit entry and the event of an action, its live change as the event's effects. */
function actRecorded(input: ActInput, event: EventType, now: number, change: LiveChange): Recorded {
  const { until, restriction, lifted, revocation } = change;
  return {
    audit: [
      {
        tenantId: input.tenantId,
        at: now,
        actor: input.actor,
        action: `moderation.${input.action}`,
        roomId: input.roomId,
        targetUserId: input.targetUserId,
        reason: input.reason,
        detail: until === null ? {} : { until, durationSeconds: input.durationSeconds },
      },
    ],
    events: [
      {
        tenantId: input.tenantId,
        type: event,
        roomId: input.roomId,
        userId: input.targetUserId,
        actor: input.actor,
        at: now,
        reason: input.reason,
        until,
        effects: {
          ...(restriction ? { restrictionsSet: [restriction] } : {}),
          ...(lifted ? { restrictionsLifted: [lifted] } : {}),
          ...(revocation ? { revocations: [revocation] } : {}),
        },
      },
    ],
  };
}

function checkCommon(roomId: string, reason: string): void {
  checkId("room_id", roomId);
  if (reason.length > MAX_REASON) throw invalidArgument(`reason is longer than ${MAX_REASON} characters`);
}

function authorize(caller: ModerationCaller, needed: P, what: string): void {
  if (caller === "api_key" || caller.permissions.includes(needed)) return;
  throw new RoomgateError("permission_denied", `${what} needs ${P[needed]} in this room`);
}
