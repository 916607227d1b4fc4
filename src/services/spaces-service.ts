import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ActivateInviteResponseSchema,
  CreateInviteResponseSchema,
  CreateRoomResponseSchema,
  CreateSpaceResponseSchema,
  GenerateAccessResponseSchema,
  GrantRoleResponseSchema,
  JoinRoomResponseSchema,
  JoinSpaceResponseSchema,
  ListAccessLinksResponseSchema,
  RevokeAccessLinkResponseSchema,
  LeaveSpaceResponseSchema,
  ListInvitesResponseSchema,
  ListMembersResponseSchema,
  ListRoomsResponseSchema,
  ListSpacesResponseSchema,
  RevokeInviteResponseSchema,
  RevokeRoleResponseSchema,
  type LeaveSpaceRequest,
  type LeaveSpaceResponse,
  type ListInvitesRequest,
  type ListInvitesResponse,
  type ListMembersRequest,
  type ListMembersResponse,
  type ListRoomsRequest,
  type ListRoomsResponse,
  type ListSpacesRequest,
  type ListSpacesResponse,
  type RevokeInviteRequest,
  type RevokeInviteResponse,
  type RevokeRoleRequest,
  type RevokeRoleResponse,
  type ActivateInviteRequest,
  type ActivateInviteResponse,
  type CreateInviteRequest,
  type CreateInviteResponse,
  type CreateRoomRequest,
  type CreateRoomResponse,
  type CreateSpaceRequest,
  type CreateSpaceResponse,
  type GenerateAccessRequest,
  type GenerateAccessResponse,
  type GrantRoleRequest,
  type GrantRoleResponse,
  type JoinRoomRequest,
  type JoinRoomResponse,
  type JoinSpaceRequest,
  type JoinSpaceResponse,
  type ListAccessLinksRequest,
  type ListAccessLinksResponse,
  type RevokeAccessLinkRequest,
  type RevokeAccessLinkResponse,
  type Service,
} from "../../gen/room/spaces/v1/service_pb.js";
import type { AccessLinks } from "../domain/spaces/access-links.js";
import type { SpaceCaller, SpaceManager } from "../domain/spaces/rules.js";
import type { Spaces } from "../domain/spaces/spaces.js";
import { requireUser } from "./context.js";
import { accessLinkMessage } from "./access-link-message.js";
import { expiryOf, inviteMessage, memberMessage, roomMessage, spaceMessage } from "./spaces-messages.js";

/**
 * room.spaces.v1.Service: the end-user surface of seed 001 (spaces, rooms,
 * invites, room roles, access links). Every call needs a user access token;
 * the rules live in {@link Spaces} and {@link AccessLinks}.
 */
export class SpacesService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly spaces: Spaces,
    private readonly links: AccessLinks,
  ) {}

  async createSpace(req: CreateSpaceRequest, ctx: HandlerContext): Promise<CreateSpaceResponse> {
    const id = await this.spaces.createSpace(caller(ctx), { name: req.name, isPublic: req.isPublic });
    return create(CreateSpaceResponseSchema, { id });
  }

  async createRoom(req: CreateRoomRequest, ctx: HandlerContext): Promise<CreateRoomResponse> {
    const id = await this.spaces.createRoom(caller(ctx), req.spaceId, { name: req.name, isPublic: req.isPublic });
    return create(CreateRoomResponseSchema, { id });
  }

  async createInvite(req: CreateInviteRequest, ctx: HandlerContext): Promise<CreateInviteResponse> {
    const id = await this.spaces.createInvite(caller(ctx), req.spaceId, req.role, expiryOf(req));
    return create(CreateInviteResponseSchema, { id });
  }

  async activateInvite(req: ActivateInviteRequest, ctx: HandlerContext): Promise<ActivateInviteResponse> {
    await this.spaces.activateInvite(caller(ctx), req.spaceId, req.inviteId);
    return create(ActivateInviteResponseSchema);
  }

  async joinSpace(req: JoinSpaceRequest, ctx: HandlerContext): Promise<JoinSpaceResponse> {
    await this.spaces.joinSpace(caller(ctx), req.spaceId);
    return create(JoinSpaceResponseSchema);
  }

  async joinRoom(req: JoinRoomRequest, ctx: HandlerContext): Promise<JoinRoomResponse> {
    await this.spaces.joinRoom(caller(ctx), req.spaceId, req.roomId);
    return create(JoinRoomResponseSchema);
  }

  async grantRole(req: GrantRoleRequest, ctx: HandlerContext): Promise<GrantRoleResponse> {
    await this.spaces.grantRole(caller(ctx), {
      spaceId: req.spaceId,
      roomId: req.roomId,
      targetUserId: req.targetUserId,
      role: req.role,
      expiry: expiryOf(req),
    });
    return create(GrantRoleResponseSchema);
  }

  async generateAccess(req: GenerateAccessRequest, ctx: HandlerContext): Promise<GenerateAccessResponse> {
    const access = await this.links.generate(asUser(ctx), {
      spaceId: req.spaceId,
      roomId: req.roomId,
      username: req.username,
      role: req.role,
      externalUserId: req.externalUserId,
      ttlSeconds: req.ttl,
      isPermanent: req.isPermanent,
    });
    return create(GenerateAccessResponseSchema, {
      link: access.link,
      participantName: access.participantName,
      accessToken: access.accessToken,
      expiresAt: timestampFromMs(access.expiresAt),
      linkId: access.linkId,
    });
  }

  async listAccessLinks(req: ListAccessLinksRequest, ctx: HandlerContext): Promise<ListAccessLinksResponse> {
    const page = await this.links.list(asUser(ctx), req);
    return create(ListAccessLinksResponseSchema, {
      links: page.links.map(accessLinkMessage),
      nextPageToken: page.nextPageToken,
    });
  }

  async revokeAccessLink(req: RevokeAccessLinkRequest, ctx: HandlerContext): Promise<RevokeAccessLinkResponse> {
    const e = await this.links.revoke(asUser(ctx), req.spaceId, req.roomId, req.linkId, req.reason);
    return create(RevokeAccessLinkResponseSchema, { eventId: BigInt(e.id) });
  }

  async listSpaces(req: ListSpacesRequest, ctx: HandlerContext): Promise<ListSpacesResponse> {
    const page = await this.spaces.listings.spaces(asUser(ctx), req);
    return create(ListSpacesResponseSchema, {
      spaces: page.items.map(spaceMessage),
      nextPageToken: page.nextPageToken,
    });
  }

  async listRooms(req: ListRoomsRequest, ctx: HandlerContext): Promise<ListRoomsResponse> {
    const page = await this.spaces.listings.rooms(asUser(ctx), req.spaceId, req);
    return create(ListRoomsResponseSchema, { rooms: page.items.map(roomMessage), nextPageToken: page.nextPageToken });
  }

  async listMembers(req: ListMembersRequest, ctx: HandlerContext): Promise<ListMembersResponse> {
    const page = await this.spaces.listings.members(asUser(ctx), req.spaceId, req.roomId, req);
    return create(ListMembersResponseSchema, {
      members: page.items.map(memberMessage),
      nextPageToken: page.nextPageToken,
    });
  }

  async listInvites(req: ListInvitesRequest, ctx: HandlerContext): Promise<ListInvitesResponse> {
    const page = await this.spaces.listings.invites(asUser(ctx), req.spaceId, req);
    return create(ListInvitesResponseSchema, {
      invites: page.items.map(inviteMessage),
      nextPageToken: page.nextPageToken,
    });
  }

  async revokeInvite(req: RevokeInviteRequest, ctx: HandlerContext): Promise<RevokeInviteResponse> {
    const e = await this.spaces.undo.revokeInvite(asUser(ctx), req.spaceId, req.inviteId, req.reason);
    return create(RevokeInviteResponseSchema, { eventId: BigInt(e.id) });
  }

  async revokeRole(req: RevokeRoleRequest, ctx: HandlerContext): Promise<RevokeRoleResponse> {
    const e = await this.spaces.undo.revokeRole(asUser(ctx), {
      spaceId: req.spaceId,
      roomId: req.roomId,
      targetUserId: req.targetUserId,
      reason: req.reason,
    });
    return create(RevokeRoleResponseSchema, { eventId: BigInt(e.id) });
  }

  async leaveSpace(req: LeaveSpaceRequest, ctx: HandlerContext): Promise<LeaveSpaceResponse> {
    const e = await this.spaces.undo.leaveSpace(caller(ctx), req.spaceId);
    return create(LeaveSpaceResponseSchema, { eventId: BigInt(e.id) });
  }
}

/** The end user of the call as a manager of spaces. */
function asUser(ctx: HandlerContext): SpaceManager {
  return { kind: "user", caller: caller(ctx) };
}

/** The end user of the call (a user access token; room member tokens are refused). */
function caller(ctx: HandlerContext): SpaceCaller {
  const u = requireUser(ctx);
  return { tenantId: u.tenantId, userId: u.userId, roomScope: u.roomScope, issuedAt: u.issuedAt };
}
