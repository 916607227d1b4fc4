import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  CreateInviteResponseSchema,
  CreateRoomResponseSchema,
  CreateSpaceResponseSchema,
  GenerateAccessResponseSchema,
  GrantRoleResponseSchema,
  ListAccessLinksResponseSchema,
  ListInvitesResponseSchema,
  ListMembersResponseSchema,
  ListRoomsResponseSchema,
  ListSpacesResponseSchema,
  RevokeAccessLinkResponseSchema,
  RevokeInviteResponseSchema,
  RevokeRoleResponseSchema,
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
  type ListAccessLinksRequest,
  type ListAccessLinksResponse,
  type ListInvitesRequest,
  type ListInvitesResponse,
  type ListMembersRequest,
  type ListMembersResponse,
  type ListRoomsRequest,
  type ListRoomsResponse,
  type ListSpacesRequest,
  type ListSpacesResponse,
  type RevokeAccessLinkRequest,
  type RevokeAccessLinkResponse,
  type RevokeInviteRequest,
  type RevokeInviteResponse,
  type RevokeRoleRequest,
  type RevokeRoleResponse,
  type Service,
} from "../../gen/room/spaces/private/v1/service_pb.js";
import type { AccessLinks } from "../domain/spaces/access-links.js";
import type { SpaceManager } from "../domain/spaces/rules.js";
import type { Spaces } from "../domain/spaces/spaces.js";
import { accessLinkMessage } from "./access-link-message.js";
import { requireApiKey } from "./context.js";
import { expiryOf, inviteMessage, memberMessage, roomMessage, spaceMessage } from "./spaces-messages.js";

/**
 * room.spaces.private.v1.Service: spaces, rooms, invites, room roles and
 * access links managed by a backend with its API key — what a space owner
 * may do, in every space and room of the tenant (rooms without a space
 * included). The rules live in {@link Spaces} and {@link AccessLinks}.
 */
export class SpacesPrivateService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly spaces: Spaces,
    private readonly links: AccessLinks,
  ) {}

  async createSpace(req: CreateSpaceRequest, ctx: HandlerContext): Promise<CreateSpaceResponse> {
    const key = requireApiKey(ctx);
    const id = await this.spaces.createSpaceAsBackend(key.tenantId, key.keyId, {
      name: req.name,
      isPublic: req.isPublic,
      ownerUserId: req.ownerUserId,
    });
    return create(CreateSpaceResponseSchema, { id });
  }

  async createRoom(req: CreateRoomRequest, ctx: HandlerContext): Promise<CreateRoomResponse> {
    const key = requireApiKey(ctx);
    const id = await this.spaces.createRoomAsBackend(key.tenantId, key.keyId, req.spaceId, {
      name: req.name,
      isPublic: req.isPublic,
    });
    return create(CreateRoomResponseSchema, { id });
  }

  async createInvite(req: CreateInviteRequest, ctx: HandlerContext): Promise<CreateInviteResponse> {
    const key = requireApiKey(ctx);
    const id = await this.spaces.createInviteAsBackend(key.tenantId, key.keyId, req.spaceId, req.role, expiryOf(req));
    return create(CreateInviteResponseSchema, { id });
  }

  async generateAccess(req: GenerateAccessRequest, ctx: HandlerContext): Promise<GenerateAccessResponse> {
    const access = await this.links.generate(manager(ctx), {
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

  async grantRole(req: GrantRoleRequest, ctx: HandlerContext): Promise<GrantRoleResponse> {
    const key = requireApiKey(ctx);
    await this.spaces.grantRoleAsBackend(key.tenantId, key.keyId, {
      spaceId: req.spaceId,
      roomId: req.roomId,
      targetUserId: req.targetUserId,
      role: req.role,
      expiry: expiryOf(req),
    });
    return create(GrantRoleResponseSchema);
  }

  async listSpaces(req: ListSpacesRequest, ctx: HandlerContext): Promise<ListSpacesResponse> {
    const page = await this.spaces.listings.spaces(manager(ctx), req);
    return create(ListSpacesResponseSchema, {
      spaces: page.items.map(spaceMessage),
      nextPageToken: page.nextPageToken,
    });
  }

  async listRooms(req: ListRoomsRequest, ctx: HandlerContext): Promise<ListRoomsResponse> {
    const page = await this.spaces.listings.rooms(manager(ctx), req.spaceId, req);
    return create(ListRoomsResponseSchema, { rooms: page.items.map(roomMessage), nextPageToken: page.nextPageToken });
  }

  async listMembers(req: ListMembersRequest, ctx: HandlerContext): Promise<ListMembersResponse> {
    const page = await this.spaces.listings.members(manager(ctx), req.spaceId, req.roomId, req);
    return create(ListMembersResponseSchema, {
      members: page.items.map(memberMessage),
      nextPageToken: page.nextPageToken,
    });
  }

  async listInvites(req: ListInvitesRequest, ctx: HandlerContext): Promise<ListInvitesResponse> {
    const page = await this.spaces.listings.invites(manager(ctx), req.spaceId, req);
    return create(ListInvitesResponseSchema, {
      invites: page.items.map(inviteMessage),
      nextPageToken: page.nextPageToken,
    });
  }

  async revokeInvite(req: RevokeInviteRequest, ctx: HandlerContext): Promise<RevokeInviteResponse> {
    const e = await this.spaces.undo.revokeInvite(manager(ctx), req.spaceId, req.inviteId, req.reason);
    return create(RevokeInviteResponseSchema, { eventId: BigInt(e.id) });
  }

  async revokeRole(req: RevokeRoleRequest, ctx: HandlerContext): Promise<RevokeRoleResponse> {
    const e = await this.spaces.undo.revokeRole(manager(ctx), {
      spaceId: req.spaceId,
      roomId: req.roomId,
      targetUserId: req.targetUserId,
      reason: req.reason,
    });
    return create(RevokeRoleResponseSchema, { eventId: BigInt(e.id) });
  }

  async listAccessLinks(req: ListAccessLinksRequest, ctx: HandlerContext): Promise<ListAccessLinksResponse> {
    const page = await this.links.list(manager(ctx), req);
    return create(ListAccessLinksResponseSchema, {
      links: page.links.map(accessLinkMessage),
      nextPageToken: page.nextPageToken,
    });
  }

  async revokeAccessLink(req: RevokeAccessLinkRequest, ctx: HandlerContext): Promise<RevokeAccessLinkResponse> {
    const e = await this.links.revoke(manager(ctx), req.spaceId, req.roomId, req.linkId, req.reason);
    return create(RevokeAccessLinkResponseSchema, { eventId: BigInt(e.id) });
  }
}

/** The API key of the call as a manager of spaces. */
function manager(ctx: HandlerContext): SpaceManager {
  const key = requireApiKey(ctx);
  return { kind: "api_key", tenantId: key.tenantId, keyId: key.keyId };
}
