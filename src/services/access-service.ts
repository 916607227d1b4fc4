import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  RedeemResponseSchema,
  type RedeemRequest,
  type RedeemResponse,
  type Service,
} from "../../gen/room/access/v1/service_pb.js";
import type { AccessLinks } from "../domain/spaces/access-links.js";

/**
 * room.access.v1.Service: redeems access links. It needs no credential of
 * its own: the link's token in the request is the credential.
 */
export class AccessService implements ServiceImpl<typeof Service> {
  constructor(private readonly links: AccessLinks) {}

  async redeem(req: RedeemRequest): Promise<RedeemResponse> {
    const r = await this.links.redeem(req.accessToken);
    return create(RedeemResponseSchema, {
      accessToken: r.accessToken,
      userId: r.userId,
      roomId: r.roomId,
      participantName: r.participantName,
      expiresAt: timestampFromMs(r.expiresAt),
    });
  }
}
