import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  GrantRoleResponseSchema,
  ListAccessLinksResponseSchema,
  RevokeAccessLinkResponseSchema,
  type GrantRoleRequest,
  type GrantRoleResponse,
  type ListAccessLinksRequest,
  type ListAccessLinksResponse,
  type RevokeAccessLinkRequest,
  type RevokeAccessLinkResponse,
  type Service,
} from "../../gen/room/spaces/private/v1/service_pb.js";
import type { AccessLinks, LinkManager } from "../domain/spaces/access-links.js";
import type { Spaces } from "../domain/spaces/spaces.js";
import { accessLinkMessage } from "./access-link-message.js";
import { requireApiKey } from "./context.js";

/**
 * room.spaces.private.v1.Service: room roles and access links managed by a
 * backend with its API key, for any room of the tenant (rooms without a
 * space included).
 */
export class SpacesPrivateService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly spaces: Spaces,
    private readonly links: AccessLinks,
  ) {}

  async grantRole(req: GrantRoleRequest, ctx: HandlerContext): Promise<GrantRoleResponse> {
    const key = requireApiKey(ctx);
    await this.spaces.grantRoleAsBackend(key.tenantId, key.keyId, {
      spaceId: req.spaceId,
      roomId: req.roomId,
      targetUserId: req.targetUserId,
      role: req.role,
    });
    return create(GrantRoleResponseSchema);
  }

  async listAccessLinks(req: ListAccessLinksRequest, ctx: HandlerContext): Promise<ListAccessLinksResponse> {
    const page = await this.links.list(manager(ctx), req);
    return create(ListAccessLinksResponseSchema, { links: page.links.map(accessLinkMessage), nextPageToken: page.nextPageToken });
  }

  async revokeAccessLink(req: RevokeAccessLinkRequest, ctx: HandlerContext): Promise<RevokeAccessLinkResponse> {
    const e = await this.links.revoke(manager(ctx), req.spaceId, req.roomId, req.linkId, req.reason);
    return create(RevokeAccessLinkResponseSchema, { eventId: BigInt(e.id) });
  }
}

function manager(ctx: HandlerContext): LinkManager {
  const key = requireApiKey(ctx);
  return { kind: "api_key", tenantId: key.tenantId, keyId: key.keyId };
}
