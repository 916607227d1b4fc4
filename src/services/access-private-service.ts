import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type CheckBulkRequest,
  type CheckBulkResponse,
  CheckBulkResponseSchema,
  type CheckRequest,
  type CheckResponse,
  CheckResponseSchema,
  type LookupMembersRequest,
  type LookupMembersResponse,
  LookupMembersResponseSchema,
  type LookupRoomsRequest,
  type LookupRoomsResponse,
  LookupRoomsResponseSchema,
  type PermissionAnswer,
  PermissionAnswerSchema,
  type Service,
  type WayIn,
  WayInSchema,
} from "../../gen/room/access/private/v1/service_pb.js";
import type { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import type { AccessChecker } from "../domain/access/access-checker.js";
import type { Answer, Way } from "../domain/access/standing.js";
import { requireApiKey } from "./context.js";
import type { Freshness } from "./freshness.js";

/**
 * room.access.private.v1.Service: Check, CheckBulk, LookupRooms and
 * LookupMembers for backends that hold no token. Translation only; the
 * rules are the AccessChecker's. The read gate (src/server/freshness.ts)
 * has already waited for the request's `min_event_id` before the API key
 * was resolved, and every answer is computed synchronously from memory, so
 * `event_id` (this replica's applied id, read with the answer) is exactly
 * the state answered from.
 */
export class AccessPrivateService implements ServiceImpl<typeof Service> {
  constructor(
    private readonly checker: AccessChecker,
    private readonly feed: Pick<Freshness, "appliedId">,
  ) {}

  check(req: CheckRequest, ctx: HandlerContext): CheckResponse {
    const { tenantId } = requireApiKey(ctx);
    const { answers, standing } = this.checker.check(tenantId, req.userId, req.roomId, req.permissions);
    return create(CheckResponseSchema, {
      answers: answers.map(answerMessage),
      permissions: req.full ? [...standing.permissions] : [],
      waysIn: req.full ? standing.ways.map((w) => wayMessage(w, true)) : [],
      restrictions: standing.restrictions.map((r) => ({
        kind: r.kind,
        until: r.until === null ? undefined : timestampFromMs(r.until),
      })),
      eventId: BigInt(this.feed.appliedId),
    });
  }

  checkBulk(req: CheckBulkRequest, ctx: HandlerContext): CheckBulkResponse {
    const { tenantId } = requireApiKey(ctx);
    const answers = this.checker.checkBulk(tenantId, req.items);
    return create(CheckBulkResponseSchema, {
      answers: answers.map(answerMessage),
      eventId: BigInt(this.feed.appliedId),
    });
  }

  lookupRooms(req: LookupRoomsRequest, ctx: HandlerContext): LookupRoomsResponse {
    const { tenantId } = requireApiKey(ctx);
    const page = this.checker.lookupRooms(tenantId, req.userId, req.permission, req.pageSize, req.pageToken);
    return create(LookupRoomsResponseSchema, {
      rooms: page.rows.map((r) => ({ roomId: r.id, answer: answerMessage(r.answer) })),
      nextPageToken: page.next,
      eventId: BigInt(this.feed.appliedId),
    });
  }

  lookupMembers(req: LookupMembersRequest, ctx: HandlerContext): LookupMembersResponse {
    const { tenantId } = requireApiKey(ctx);
    const page = this.checker.lookupMembers(tenantId, req.roomId, req.permission, req.pageSize, req.pageToken);
    return create(LookupMembersResponseSchema, {
      members: page.rows.map((r) => ({ userId: r.id, answer: answerMessage(r.answer) })),
      nextPageToken: page.next,
      eventId: BigInt(this.feed.appliedId),
    });
  }
}

const sorted = new WeakMap<ReadonlySet<Permission>, Permission[]>();

/** A way's permissions in catalog order; the sets are shared (per role, per token), and so is this. */
function sortedOf(set: ReadonlySet<Permission>): Permission[] {
  let list = sorted.get(set);
  if (list === undefined) {
    list = [...set].sort((a, b) => a - b);
    sorted.set(set, list);
  }
  return list;
}

/**
 * A way in; its permissions only in `ways_in`: an answer's `granted_by`
 * names the way, and repeating a role's whole list per permission asked
 * tripled Check's answer (and its cost: bench/access.ts).
 */
function wayMessage(w: Way, withPermissions: boolean): WayIn {
  return create(WayInSchema, {
    kind: w.kind,
    role: w.role,
    spaceId: w.spaceId,
    tokenId: w.tokenId,
    expiresAt: w.expiresAt === null ? undefined : timestampFromMs(w.expiresAt),
    permissions: withPermissions ? sortedOf(w.permissions) : [],
  });
}

function answerMessage(a: Answer): PermissionAnswer {
  return create(PermissionAnswerSchema, {
    permission: a.permission,
    allowed: a.allowed,
    grantedBy: a.grantedBy.map((w) => wayMessage(w, false)),
    deniedReason: a.deniedReason,
    deniedUntil: a.deniedUntil === null ? undefined : timestampFromMs(a.deniedUntil),
  });
}
