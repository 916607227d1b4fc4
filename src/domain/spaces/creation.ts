import { randomUUID } from "node:crypto";
import { RoomgateError } from "../errors.js";
import { journaled, type Recorded } from "../events/record.js";
import type { Actor } from "../journal.js";
import { INVITE_ROLES, type RoleName } from "../roles.js";
import type { SpacesDeps } from "./deps.js";
import { findSpaceIn, requireCaller, requireUser } from "./lookups.js";
import {
  actorOf,
  checkId,
  checkName,
  checkRole,
  checkScope,
  creatorOf,
  MAX_NAME_CHARS,
  tenantOf,
  type SpaceCaller,
  type SpaceManager,
} from "./rules.js";
import type { SpaceRecord } from "./store.js";
import { NO_EXPIRY, roleExpiry } from "./expiry.js";

/** A new space or room, as the caller describes it. */
export interface NewPlace {
  readonly name: string;
  readonly isPublic: boolean;
}

/**
 * Creating spaces, rooms and invites, by an end user or the API key: each
 * one write with its audit entry (no event: nobody is in a new place yet).
 */
export class SpaceCreation {
  constructor(private readonly deps: SpacesDeps) {}

  /** Creates a space owned by the caller; returns its id. */
  async createSpace(caller: SpaceCaller, input: NewPlace): Promise<string> {
    checkName("name", input.name, MAX_NAME_CHARS);
    checkScope(caller);
    await requireCaller(this.deps.store, caller);
    return await this.writeSpace(caller.tenantId, `user:${caller.userId}`, input, caller.userId);
  }

  /**
   * Creates a space with the API key `keyId`; `ownerUserId` ("" for none),
   * a user of the tenant, becomes its owner. Without one the space has no
   * owner user and is managed with the API key. Returns its id.
   */
  async createSpaceAsBackend(
    tenantId: string,
    keyId: string,
    input: NewPlace & { readonly ownerUserId: string },
  ): Promise<string> {
    checkName("name", input.name, MAX_NAME_CHARS);
    const owner = input.ownerUserId === "" ? null : input.ownerUserId;
    if (owner !== null) {
      checkId("owner_user_id", owner);
      await requireUser(this.deps.store, tenantId, owner);
    }
    return await this.writeSpace(tenantId, `key:${keyId}`, input, owner);
  }

  private async writeSpace(
    tenantId: string,
    actor: Actor,
    input: NewPlace,
    ownerUserId: string | null,
  ): Promise<string> {
    const space: SpaceRecord = { id: randomUUID(), tenantId, name: input.name, isPublic: input.isPublic, ownerUserId };
    const now = this.deps.clock();
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      await this.deps.store.insertSpace(space, now);
      const detail = {
        spaceId: space.id,
        name: input.name,
        isPublic: input.isPublic,
        ...(ownerUserId === null ? {} : { ownerUserId }),
      };
      await record(created(tenantId, actor, now, "space.create", space.id, "", detail));
    });
    return space.id;
  }

  /** Creates a room in a space (owner or space moderator); returns its id. */
  async createRoom(caller: SpaceCaller, spaceId: string, input: NewPlace): Promise<string> {
    checkId("space_id", spaceId);
    checkName("name", input.name, MAX_NAME_CHARS);
    checkScope(caller);
    await requireCaller(this.deps.store, caller);
    const space = await findSpaceIn(this.deps.store, caller.tenantId, spaceId);
    const role = await this.deps.store.spaceRoleOf(caller.tenantId, space.id, caller.userId);
    if (role !== "role_space_owner" && role !== "role_space_moderator") {
      throw new RoomgateError("permission_denied", "only the space owner or a space moderator may create rooms");
    }
    return await this.writeRoom(caller.tenantId, `user:${caller.userId}`, space, input, caller.userId);
  }

  /** Creates a room in a space of the tenant with the API key `keyId` (no user is its creator); returns its id. */
  async createRoomAsBackend(tenantId: string, keyId: string, spaceId: string, input: NewPlace): Promise<string> {
    checkId("space_id", spaceId);
    checkName("name", input.name, MAX_NAME_CHARS);
    const space = await findSpaceIn(this.deps.store, tenantId, spaceId);
    return await this.writeRoom(tenantId, `key:${keyId}`, space, input, null);
  }

  private async writeRoom(
    tenantId: string,
    actor: Actor,
    space: SpaceRecord,
    input: NewPlace,
    creatorUserId: string | null,
  ): Promise<string> {
    const id = randomUUID();
    const now = this.deps.clock();
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      await this.deps.store.insertRoom({
        tenantId,
        id,
        spaceId: space.id,
        name: input.name,
        isPublic: input.isPublic,
        creatorUserId,
        createdAt: now,
      });
      // The creator's way into the room, a private one included: space
      // roles reach public rooms only.
      if (creatorUserId !== null)
        await this.deps.memberships.setRoomRole(tenantId, id, creatorUserId, "role_room_moderator", creatorUserId, now);
      await record(
        created(tenantId, actor, now, "room.create", id, id, {
          spaceId: space.id,
          name: input.name,
          isPublic: input.isPublic,
        }),
      );
    });
    return id;
  }

  /** Creates a single-use invite to a space (owner only); returns its id. */
  async createInvite(caller: SpaceCaller, spaceId: string, role: string, expiry = NO_EXPIRY): Promise<string> {
    checkId("space_id", spaceId);
    const inviteRole = checkRole("role", role, INVITE_ROLES);
    const expiresAt = roleExpiry(expiry, this.deps.clock());
    checkScope(caller);
    await requireCaller(this.deps.store, caller);
    const space = await findSpaceIn(this.deps.store, caller.tenantId, spaceId);
    if ((await this.deps.store.spaceRoleOf(caller.tenantId, space.id, caller.userId)) !== "role_space_owner") {
      throw new RoomgateError("permission_denied", "only the space owner may invite");
    }
    return await this.writeInvite({ kind: "user", caller }, space, inviteRole, expiresAt);
  }

  /** Creates a single-use invite to a space of the tenant with the API key `keyId`; returns its id. */
  async createInviteAsBackend(
    tenantId: string,
    keyId: string,
    spaceId: string,
    role: string,
    expiry = NO_EXPIRY,
  ): Promise<string> {
    checkId("space_id", spaceId);
    const inviteRole = checkRole("role", role, INVITE_ROLES);
    const expiresAt = roleExpiry(expiry, this.deps.clock());
    const space = await findSpaceIn(this.deps.store, tenantId, spaceId);
    return await this.writeInvite({ kind: "api_key", tenantId, keyId }, space, inviteRole, expiresAt);
  }

  /** Stores an invite; `roleExpiresAt` is when the role it gives (and the invite) expires, or null. */
  private async writeInvite(
    who: SpaceManager,
    space: SpaceRecord,
    role: RoleName,
    roleExpiresAt: number | null,
  ): Promise<string> {
    const id = randomUUID();
    const now = this.deps.clock();
    const tenantId = tenantOf(who);
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      await this.deps.store.insertInvite({
        id,
        tenantId,
        spaceId: space.id,
        role,
        createdBy: creatorOf(who),
        createdAt: now,
        usedBy: null,
        usedAt: null,
        revokedAt: null,
        roleExpiresAt,
      });
      const detail = { spaceId: space.id, role, ...(roleExpiresAt === null ? {} : { expiresAt: roleExpiresAt }) };
      await record(created(tenantId, actorOf(who), now, "invite.create", id, "", detail));
    });
    return id;
  }
}

/** Audit entry (no event: nobody is in a new place yet) for something a user or key created. */
function created(
  tenantId: string,
  actor: Actor,
  at: number,
  action: string,
  target: string,
  roomId: string,
  detail: Record<string, unknown>,
): Recorded {
  return { audit: [{ tenantId, at, actor, action, roomId, target, detail }], events: [] };
}
