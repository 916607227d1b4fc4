import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import {
  CreateResponseSchema,
  RevokeResponseSchema,
  RevokeRoomResponseSchema,
  RevokeUserResponseSchema,
  type RevokeRequest,
  type RevokeResponse,
  type RevokeRoomRequest,
  type RevokeRoomResponse,
  type RevokeUserRequest,
  type RevokeUserResponse,
  type CreateRequest,
  type CreateResponse,
  type Service,
  type VerifyRequest,
  type VerifyResponse,
} from "../../gen/room/tokens/private/v1/service_pb.js";
import { invalidArgument } from "../domain/errors.js";
import type { RoomTokens } from "../domain/tokens/room-tokens.js";
import type { Revoker } from "../domain/tokens/revoker.js";
import { freshEnough, type Freshness } from "./freshness.js";
import { requireApiKey } from "./context.js";
import { timestampOf } from "./wire-values.js";

/** Create's consistency token: the id of the event that carried the batch (Check, the lookups). */
export const EVENT_ID_HEADER = "roomgate-event-id";

/**
 * room.tokens.private.v1.Service: proto ⇄ domain translation for the
 * backend token surface. All rules live in {@link RoomTokens}.
 */
export class TokensPrivateService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly tokens: RoomTokens,
    private readonly revoker: Revoker,
    /** This replica's feed, for reads with a consistency token. */
    private readonly fresh: { readonly feed: Freshness; readonly waitMs: number },
  ) {}

  async create(req: CreateRequest, ctx: HandlerContext): Promise<CreateResponse> {
    const caller = requireApiKey(ctx);
    const { tokens, eventId } = await this.tokens.issueRecorded(
      caller.tenantId,
      caller.keyId,
      req.arguments.map((a) => ({
        userId: a.userId,
        roomId: a.roomId,
        metadata: a.metadata,
        permissions: a.permissions,
        ttlSeconds: a.ttlSeconds,
      })),
    );
    // Seed 000's body stays as it is; the consistency token rides in a header.
    ctx.responseHeader.set(EVENT_ID_HEADER, String(eventId));
    return create(CreateResponseSchema, { tokens });
  }

  verify(req: VerifyRequest, ctx: HandlerContext): VerifyResponse | Promise<VerifyResponse> {
    // Synchronous unless the caller asked for a fresher replica than this one is.
    const wait = freshEnough(this.fresh.feed, req.minEventId, this.fresh.waitMs);
    return wait ? wait.then(() => this.verifyNow(req, ctx)) : this.verifyNow(req, ctx);
  }

  private verifyNow(req: VerifyRequest, ctx: HandlerContext): VerifyResponse {
    const caller = requireApiKey(ctx);
    if (req.token === "") throw invalidArgument("token: must not be empty");
    // Synchronous on purpose: Verify reads only in-memory state.
    const v = this.tokens.verify(caller.tenantId, req.token);
    // The message as the plain object create() would make, without its
    // reflection: Verify answers from memory, and this is its hot path.
    return {
      $typeName: "room.tokens.private.v1.VerifyResponse",
      tokenId: v.tokenId,
      userId: v.userId,
      roomId: v.roomId,
      permissions: [...v.permissions],
      metadata: v.metadata,
      issuedAt: timestampOf(v.issuedAt),
      notBefore: timestampOf(v.notBefore),
      expiresAt: timestampOf(v.expiresAt),
      restrictions: v.restrictions.map((r) => ({
        $typeName: "room.tokens.private.v1.Restriction",
        kind: r.kind,
        until: r.until === null ? undefined : timestampOf(r.until),
      })),
    };
  }

  async revoke(req: RevokeRequest, ctx: HandlerContext): Promise<RevokeResponse> {
    const caller = requireApiKey(ctx);
    const e = await this.revoker.revokeToken(caller.tenantId, `key:${caller.keyId}`, req.tokenId, req.reason);
    return create(RevokeResponseSchema, { eventId: BigInt(e.id) });
  }

  async revokeUser(req: RevokeUserRequest, ctx: HandlerContext): Promise<RevokeUserResponse> {
    const caller = requireApiKey(ctx);
    const e = await this.revoker.revokeUser(caller.tenantId, `key:${caller.keyId}`, req.userId, req.roomId, req.reason);
    return create(RevokeUserResponseSchema, { eventId: BigInt(e.id) });
  }

  async revokeRoom(req: RevokeRoomRequest, ctx: HandlerContext): Promise<RevokeRoomResponse> {
    const caller = requireApiKey(ctx);
    const e = await this.revoker.revokeRoom(caller.tenantId, `key:${caller.keyId}`, req.roomId, req.reason);
    return create(RevokeRoomResponseSchema, { eventId: BigInt(e.id) });
  }
}
