import type { ExpiryInput } from "./expiry.js";
import { SpaceCreation, type NewPlace } from "./creation.js";
import type { SpacesDeps } from "./deps.js";
import { RoomGrants, type RoleGrant } from "./grants.js";
import { SpaceJoins } from "./joins.js";
import { SpaceListings } from "./listings.js";
import type { SpaceCaller } from "./rules.js";
import { SpaceUndo } from "./undo.js";

export type { NewPlace } from "./creation.js";
export type { SpacesDeps } from "./deps.js";
export type { RoleGrant } from "./grants.js";

/**
 * Spaces, rooms, invites and room roles (seed 001); the rules are listed in
 * ./rules.ts. Inputs are checked first (invalid_argument), then looked up
 * (not_found), then authorised (permission_denied). Each concern lives in
 * its own file; this class is the one door the services use.
 */
export class Spaces {
  /** ListSpaces, ListRooms, ListMembers, ListInvites. */
  readonly listings: SpaceListings;
  /** RevokeInvite, RevokeRole, LeaveSpace. */
  readonly undo: SpaceUndo;
  private readonly creation: SpaceCreation;
  private readonly joins: SpaceJoins;
  private readonly grants: RoomGrants;

  constructor(deps: SpacesDeps) {
    this.listings = new SpaceListings(deps);
    this.undo = new SpaceUndo(deps);
    this.creation = new SpaceCreation(deps);
    this.joins = new SpaceJoins(deps);
    this.grants = new RoomGrants(deps);
  }

  /** See {@link SpaceCreation.createSpace}. */
  createSpace(caller: SpaceCaller, input: NewPlace): Promise<string> {
    return this.creation.createSpace(caller, input);
  }

  /** See {@link SpaceCreation.createSpaceAsBackend}. */
  createSpaceAsBackend(
    tenantId: string,
    keyId: string,
    input: NewPlace & { readonly ownerUserId: string },
  ): Promise<string> {
    return this.creation.createSpaceAsBackend(tenantId, keyId, input);
  }

  /** See {@link SpaceCreation.createRoom}. */
  createRoom(caller: SpaceCaller, spaceId: string, input: NewPlace): Promise<string> {
    return this.creation.createRoom(caller, spaceId, input);
  }

  /** See {@link SpaceCreation.createRoomAsBackend}. */
  createRoomAsBackend(tenantId: string, keyId: string, spaceId: string, input: NewPlace): Promise<string> {
    return this.creation.createRoomAsBackend(tenantId, keyId, spaceId, input);
  }

  /** See {@link SpaceCreation.createInvite}. */
  createInvite(caller: SpaceCaller, spaceId: string, role: string, expiry?: ExpiryInput): Promise<string> {
    return this.creation.createInvite(caller, spaceId, role, expiry);
  }

  /** See {@link SpaceCreation.createInviteAsBackend}. */
  createInviteAsBackend(
    tenantId: string,
    keyId: string,
    spaceId: string,
    role: string,
    expiry?: ExpiryInput,
  ): Promise<string> {
    return this.creation.createInviteAsBackend(tenantId, keyId, spaceId, role, expiry);
  }

  /** See {@link SpaceJoins.activateInvite}. */
  activateInvite(caller: SpaceCaller, spaceId: string, inviteId: string): Promise<void> {
    return this.joins.activateInvite(caller, spaceId, inviteId);
  }

  /** See {@link SpaceJoins.joinSpace}. */
  joinSpace(caller: SpaceCaller, spaceId: string): Promise<void> {
    return this.joins.joinSpace(caller, spaceId);
  }

  /** See {@link SpaceJoins.joinRoom}. */
  joinRoom(caller: SpaceCaller, spaceId: string, roomId: string): Promise<void> {
    return this.joins.joinRoom(caller, spaceId, roomId);
  }

  /** See {@link RoomGrants.grantRole}. */
  grantRole(caller: SpaceCaller, grant: RoleGrant): Promise<void> {
    return this.grants.grantRole(caller, grant);
  }

  /** See {@link RoomGrants.grantRoleAsBackend}. */
  grantRoleAsBackend(tenantId: string, grantedBy: string, grant: RoleGrant): Promise<void> {
    return this.grants.grantRoleAsBackend(tenantId, grantedBy, grant);
  }
}
