import { randomUUID } from "node:crypto";
import { RoomgateError } from "../errors.js";
import { journaled, memberJoined, roleGranted, type JournalSink, type Recorded } from "../events/record.js";
import { moderatesRoom, rankIn, type MembershipStore } from "../membership.js";
import { requireRoomAccess, type RoomPermissionDeps } from "../room-permissions.js";
import { INVITE_ROLES, rankOfRole, ROOM_GRANT_ROLES, type RoleName } from "../roles.js";
import {
  actorOf,
  checkId,
  checkName,
  checkRole,
  checkScope,
  creatorOf,
  MAX_NAME_CHARS,
  strongerSpaceRole,
  tenantOf,
  type SpaceCaller,
  type SpaceManager,
} from "./rules.js";
import type { Actor, Transact } from "../journal.js";
import type { SpaceListStore } from "./list-store.js";
import { SpaceListings } from "./listings.js";
import type { RoomRecord, SpaceRecord, SpaceStore } from "./store.js";
import { SpaceUndo } from "./undo.js";

/** A new space or room, as the caller describes it. */
export interface NewPlace {
  readonly name: string;
  readonly isPublic: boolean;
}

/** A room role grant: which room (by space, "" for none), whom, which role. */
export interface RoleGrant {
  readonly spaceId: string;
  readonly roomId: string;
  readonly targetUserId: string;
  readonly role: string;
}

/** What spaces and access links work with; all required, wired once in src/app.ts. */
export interface SpacesDeps {
  readonly store: SpaceStore;
  /** The reads behind the list calls. */
  readonly lists: SpaceListStore;
  readonly memberships: MembershipStore;
  readonly clock: () => number;
  /** Where every change is audited and announced. */
  readonly sink: JournalSink;
  /** The one write transaction (Database.write). */
  readonly transact: Transact;
  /** Live blocks and revocations: a room closed to the caller refuses them. */
  readonly access: Pick<RoomPermissionDeps, "restrictions" | "revocations" | "clock">;
}

/**
 * Spaces, rooms, invites and room roles (seed 001); the rules are listed in
 * ./rules.ts. Inputs are checked first (invalid_argument), then looked up
 * (not_found), then authorised (permission_denied).
 */
export class Spaces {
  /** ListSpaces, ListRooms, ListMembers, ListInvites. */
  readonly listings: SpaceListings;
  /** RevokeInvite, RevokeRole, LeaveSpace. */
  readonly undo: SpaceUndo;
  private readonly store: SpaceStore;
  private readonly memberships: MembershipStore;
  private readonly clock: () => number;

  constructor(private readonly deps: SpacesDeps) {
    this.store = deps.store;
    this.memberships = deps.memberships;
    this.clock = deps.clock;
    this.listings = new SpaceListings(deps);
    this.undo = new SpaceUndo(deps);
  }

  /** Creates a space owned by the caller; returns its id. */
  async createSpace(caller: SpaceCaller, input: NewPlace): Promise<string> {
    checkName("name", input.name, MAX_NAME_CHARS);
    checkScope(caller);
    await this.requireCaller(caller);
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
      await this.requireUser(tenantId, owner);
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
    const now = this.clock();
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      await this.store.insertSpace(space, now);
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
    await this.requireCaller(caller);
    const space = await this.space(caller.tenantId, spaceId);
    const role = await this.store.spaceRoleOf(caller.tenantId, space.id, caller.userId);
    if (role !== "role_space_owner" && role !== "role_space_moderator") {
      throw new RoomgateError("permission_denied", "only the space owner or a space moderator may create rooms");
    }
    return await this.writeRoom(caller.tenantId, `user:${caller.userId}`, space, input, caller.userId);
  }

  /** Creates a room in a space of the tenant with the API key `keyId` (no user is its creator); returns its id. */
  async createRoomAsBackend(tenantId: string, keyId: string, spaceId: string, input: NewPlace): Promise<string> {
    checkId("space_id", spaceId);
    checkName("name", input.name, MAX_NAME_CHARS);
    const space = await this.space(tenantId, spaceId);
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
    const now = this.clock();
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      await this.store.insertRoom({
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
        await this.memberships.setRoomRole(tenantId, id, creatorUserId, "role_room_moderator", creatorUserId, now);
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
  async createInvite(caller: SpaceCaller, spaceId: string, role: string): Promise<string> {
    checkId("space_id", spaceId);
    const inviteRole = checkRole("role", role, INVITE_ROLES);
    checkScope(caller);
    await this.requireCaller(caller);
    const space = await this.space(caller.tenantId, spaceId);
    if ((await this.store.spaceRoleOf(caller.tenantId, space.id, caller.userId)) !== "role_space_owner") {
      throw new RoomgateError("permission_denied", "only the space owner may invite");
    }
    return await this.writeInvite({ kind: "user", caller }, space, inviteRole);
  }

  /** Creates a single-use invite to a space of the tenant with the API key `keyId`; returns its id. */
  async createInviteAsBackend(tenantId: string, keyId: string, spaceId: string, role: string): Promise<string> {
    checkId("space_id", spaceId);
    const inviteRole = checkRole("role", role, INVITE_ROLES);
    const space = await this.space(tenantId, spaceId);
    return await this.writeInvite({ kind: "api_key", tenantId, keyId }, space, inviteRole);
  }

  private async writeInvite(who: SpaceManager, space: SpaceRecord, role: RoleName): Promise<string> {
    const id = randomUUID();
    const now = this.clock();
    const tenantId = tenantOf(who);
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      await this.store.insertInvite({
        id,
        tenantId,
        spaceId: space.id,
        role,
        createdBy: creatorOf(who),
        createdAt: now,
        usedBy: null,
        usedAt: null,
        revokedAt: null,
      });
      await record(created(tenantId, actorOf(who), now, "invite.create", id, "", { spaceId: space.id, role }));
    });
    return id;
  }

  /**
   * Gives the caller the invite's role in its space; an invite works exactly
   * once. An invite for a role the caller already holds or outranks in the
   * space is refused (failed_precondition) and stays unused, for its
   * rightful invitee; so is a revoked one.
   */
  async activateInvite(caller: SpaceCaller, spaceId: string, inviteId: string): Promise<void> {
    checkId("space_id", spaceId);
    checkId("invite_id", inviteId);
    checkScope(caller);
    await this.requireCaller(caller);
    const now = this.clock();
    // Claim and role write commit together: a crash between them cannot
    // burn an invite without giving the role, and a lost race writes nothing.
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const invite = await this.store.findInvite(caller.tenantId, inviteId);
      if (!invite || invite.spaceId !== spaceId) throw new RoomgateError("not_found", "invite not found");
      // Read in the write transaction: a revocation or another activation
      // either committed before (seen here) or waits for this one.
      if (invite.usedAt !== null) throw new RoomgateError("failed_precondition", "invite already used");
      if (invite.revokedAt !== null) throw new RoomgateError("failed_precondition", "invite revoked");
      const held = await this.store.spaceRoleOf(caller.tenantId, invite.spaceId, caller.userId);
      const role = strongerSpaceRole(held, checkRole("role", invite.role, INVITE_ROLES));
      if (role === held) {
        throw new RoomgateError(
          "failed_precondition",
          `you already hold ${held} in this space, which ${invite.role} does not raise; the invite stays unused`,
        );
      }
      if (!(await this.store.claimInvite(caller.tenantId, invite.id, caller.userId, now))) {
        throw new RoomgateError("failed_precondition", "invite already used");
      }
      await this.memberships.setSpaceRole(caller.tenantId, invite.spaceId, caller.userId, role, now);
      const change = {
        ...self(caller, now),
        role,
        roomId: "",
        spaceId: invite.spaceId,
        via: "invite",
        target: invite.id,
      };
      // A member whose invite raises their role was granted it; anyone else joined.
      await record(held === undefined ? memberJoined(change) : roleGranted({ ...change, previousRole: held }));
    });
  }

  /** Joins a public space as role_space_user; a private one needs an invite. */
  async joinSpace(caller: SpaceCaller, spaceId: string): Promise<void> {
    checkId("space_id", spaceId);
    checkScope(caller);
    await this.requireCaller(caller);
    const now = this.clock();
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const space = await this.space(caller.tenantId, spaceId);
      const held = await this.store.spaceRoleOf(caller.tenantId, space.id, caller.userId);
      // A member of a private space is already in: nothing to refuse or change.
      if (!space.isPublic && held === undefined) {
        throw new RoomgateError("permission_denied", "this space is private: join it with an invite");
      }
      const role = strongerSpaceRole(held, "role_space_user");
      if (role !== held) {
        await this.memberships.setSpaceRole(caller.tenantId, space.id, caller.userId, role, now);
        await record(memberJoined({ ...self(caller, now), role, roomId: "", spaceId: space.id, via: "public" }));
      }
    });
  }

  /** Joins a public room (of a public space, or of the caller's space) as role_room_user. */
  async joinRoom(caller: SpaceCaller, spaceId: string, roomId: string): Promise<void> {
    checkId("space_id", spaceId);
    checkId("room_id", roomId);
    checkScope(caller, roomId);
    await this.requireCaller(caller);
    const now = this.clock();
    // A block committed on any replica before this call is applied here
    // first (this replica's memory may be behind); see AccessLinks.redeem.
    await this.deps.sink.feed.catchUp();
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const room = await this.room(caller.tenantId, spaceId, roomId);
      requireRoomAccess(caller, room.id, this.deps.access);
      const space = room.spaceId === null ? undefined : await this.store.findSpace(caller.tenantId, room.spaceId);
      const inSpace =
        space !== undefined && (await this.store.spaceRoleOf(caller.tenantId, space.id, caller.userId)) !== undefined;
      if (!room.isPublic || space === undefined || !(space.isPublic || inSpace)) {
        throw new RoomgateError("permission_denied", "this room is not open to you: ask for a role");
      }
      // role_room_user is the weakest room role: any role held already is kept.
      if ((await this.memberships.roomRolesOf(caller.tenantId, caller.userId, room.id)).roomRole === undefined) {
        await this.memberships.setRoomRole(
          caller.tenantId,
          room.id,
          caller.userId,
          "role_room_user",
          caller.userId,
          now,
        );
        await record(memberJoined({ ...self(caller, now), role: "role_room_user", roomId: room.id, via: "public" }));
      }
    });
  }

  /** Grants a room role as an end user: the space owner or a room moderator may. */
  async grantRole(caller: SpaceCaller, grant: RoleGrant): Promise<void> {
    checkId("space_id", grant.spaceId);
    const role = this.checkGrant(grant);
    checkScope(caller, grant.roomId);
    await this.requireCaller(caller);
    const room = await this.room(caller.tenantId, grant.spaceId, grant.roomId);
    requireRoomAccess(caller, room.id, this.deps.access);
    await this.requireUser(caller.tenantId, grant.targetUserId);
    const mine = await this.memberships.roomRolesOf(caller.tenantId, caller.userId, room.id);
    if (mine.spaceRole !== "role_space_owner" && !moderatesRoom(mine)) {
      throw new RoomgateError("permission_denied", "only the space owner or a room moderator may grant room roles");
    }
    const rank = rankIn(mine);
    if (rankOfRole(role) >= rank)
      throw new RoomgateError("permission_denied", `granting ${role} needs a higher rank than yours in this room`);
    const target = rankIn(await this.memberships.roomRolesOf(caller.tenantId, grant.targetUserId, room.id));
    if (target >= rank)
      throw new RoomgateError("permission_denied", "the target's rank in this room is equal to or higher than yours");
    await this.setRoomRole(caller.tenantId, room.id, grant.targetUserId, role, caller.userId, `user:${caller.userId}`);
  }

  /**
   * Grants a room role with the tenant's API key: any room of the tenant,
   * including rooms without a space. `grantedBy` is the key's public id.
   */
  async grantRoleAsBackend(tenantId: string, grantedBy: string, grant: RoleGrant): Promise<void> {
    const role = this.checkGrant(grant);
    const room = await this.room(tenantId, grant.spaceId, grant.roomId);
    await this.requireUser(tenantId, grant.targetUserId);
    await this.setRoomRole(tenantId, room.id, grant.targetUserId, role, grantedBy, `key:${grantedBy}`);
  }

  /** Writes a room role grant with its audit entry and events. */
  private async setRoomRole(
    tenantId: string,
    roomId: string,
    userId: string,
    role: RoleName,
    grantedBy: string,
    actor: Actor,
  ): Promise<void> {
    const now = this.clock();
    await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const previousRole = (await this.memberships.roomRolesOf(tenantId, userId, roomId)).roomRole;
      await this.memberships.setRoomRole(tenantId, roomId, userId, role, grantedBy, now);
      await record(roleGranted({ tenantId, actor, at: now, userId, role, roomId, via: "grant", previousRole }));
    });
  }

  private async room(tenantId: string, spaceId: string, roomId: string): Promise<RoomRecord> {
    return await findRoomIn(this.store, tenantId, spaceId, roomId);
  }

  private checkGrant(grant: RoleGrant): RoleName {
    checkId("room_id", grant.roomId);
    checkId("target_user_id", grant.targetUserId);
    return checkRole("role", grant.role, ROOM_GRANT_ROLES);
  }

  private async space(tenantId: string, spaceId: string): Promise<SpaceRecord> {
    const space = await this.store.findSpace(tenantId, spaceId);
    if (!space) throw new RoomgateError("not_found", "space not found");
    return space;
  }

  private async requireUser(tenantId: string, userId: string): Promise<void> {
    if (!(await this.store.userExists(tenantId, userId))) throw new RoomgateError("not_found", "user not found");
  }

  // A token can outlive its user; writes must not reference a missing one.
  private async requireCaller(caller: SpaceCaller): Promise<void> {
    if (!(await this.store.userExists(caller.tenantId, caller.userId))) {
      throw new RoomgateError("unauthenticated", "the user of this access token no longer exists");
    }
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

/** The caller acting on themselves: tenant, actor, member and time of a change. */
function self(caller: SpaceCaller, at: number): { tenantId: string; actor: Actor; at: number; userId: string } {
  return { tenantId: caller.tenantId, actor: `user:${caller.userId}`, at, userId: caller.userId };
}

/**
 * The room `roomId` of space `spaceId` in the tenant; `spaceId` "" names a
 * room without a space. A room of another space (or tenant) is not_found,
 * like an unknown one.
 */
export async function findRoomIn(
  store: SpaceStore,
  tenantId: string,
  spaceId: string,
  roomId: string,
): Promise<RoomRecord> {
  const room = await store.findRoom(tenantId, roomId);
  if (!room || (room.spaceId ?? "") !== spaceId) throw new RoomgateError("not_found", "room not found");
  return room;
}
