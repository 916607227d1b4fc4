import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  GrantRoleResponseSchema,
  type GrantRoleRequest,
  type GrantRoleResponse,
  type Service,
} from "../../gen/room/spaces/private/v1/service_pb.js";
import type { Spaces } from "../domain/spaces/spaces.js";
import { requireApiKey } from "./context.js";

/**
 * room.spaces.private.v1.Service: room roles granted by a backend with its
 * API key, for any room of the tenant (rooms without a space included).
 */
export class SpacesPrivateService implements ServiceImpl<typeof Service> {
  constructor(private readonly spaces: Spaces) {}

  grantRole(req: GrantRoleRequest, ctx: HandlerContext): GrantRoleResponse {
    const key = requireApiKey(ctx);
    this.spaces.grantRoleAsBackend(key.tenantId, key.keyId, {
      spaceId: req.spaceId,
      roomId: req.roomId,
      targetUserId: req.targetUserId,
      role: req.role,
    });
    return create(GrantRoleResponseSchema);
  }
}
