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
import type { SpaceCaller } from "../domain/spaces/rules.js";
import type { Spaces } from "../domain/spaces/spaces.js";
import { requireUser } from "./context.js";
import { accessLinkMessage } from "./access-link-message.js";

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
    const id = await this.spaces.createInvite(caller(ctx), req.spaceId, req.role);
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
    });
    return create(GrantRoleResponseSchema);
  }

  async generateAccess(req: GenerateAccessRequest, ctx: HandlerContext): Promise<GenerateAccessResponse> {
    const access = await this.links.generate(caller(ctx), {
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
    const page = await this.links.list({ kind: "user", caller: caller(ctx) }, req);
    return create(ListAccessLinksResponseSchema, { links: page.links.map(accessLinkMessage), nextPageToken: page.nextPageToken });
  }

  async revokeAccessLink(req: RevokeAccessLinkRequest, ctx: HandlerContext): Promise<RevokeAccessLinkResponse> {
    const e = await this.links.revoke({ kind: "user", caller: caller(ctx) }, req.spaceId, req.roomId, req.linkId, req.reason);
    return create(RevokeAccessLinkResponseSchema, { eventId: BigInt(e.id) });
  }
}

/** The end user of the call (a user access token; room member tokens are refused). */
function caller(ctx: HandlerContext): SpaceCaller {
  const u = requireUser(ctx);
  return { tenantId: u.tenantId, userId: u.userId, roomScope: u.roomScope, issuedAt: u.issuedAt };
}
