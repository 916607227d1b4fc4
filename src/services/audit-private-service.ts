import { create } from "@bufbuild/protobuf";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ListResponseSchema,
  type ListRequest,
  type ListResponse,
  type Service,
} from "../../gen/room/audit/private/v1/service_pb.js";
import { invalidArgument } from "../domain/errors.js";
import type { AuditEntry, AuditQuery } from "../domain/journal.js";
import { decodeBase64Url, encodeBase64Url } from "../domain/tokens/base64url.js";
import { checkOptionalId } from "../domain/ids.js";
import { requireApiKey } from "./context.js";

/** The audit log as this service reads it (SqlJournal). */
export interface AuditLog {
  listAudit(q: AuditQuery): Promise<AuditEntry[]>;
}

/** Page size when the request gives none. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest page size accepted. */
export const MAX_PAGE_SIZE = 500;
const MAX_FILTER_CHARS = 256;

/**
 * room.audit.private.v1.Service: the tenant's audit log, newest first,
 * filtered, one page at a time. The page token is an opaque cursor (the
 * last id returned), so pages stay stable while new entries are written.
 */
export class AuditPrivateService implements ServiceImpl<typeof Service> {
  constructor(private readonly log: AuditLog) {}

  async list(req: ListRequest, ctx: HandlerContext): Promise<ListResponse> {
    const caller = requireApiKey(ctx);
    if (req.pageSize > MAX_PAGE_SIZE)
      throw invalidArgument(`page_size: ${req.pageSize} exceeds the maximum of ${MAX_PAGE_SIZE}`);
    const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : req.pageSize;
    // Ids follow the one id rule (src/domain/ids.ts), like everywhere they are written.
    checkOptionalId("room_id", req.roomId);
    checkOptionalId("user_id", req.userId);
    if (req.action.length > MAX_FILTER_CHARS)
      throw invalidArgument(`action: longer than ${MAX_FILTER_CHARS} characters`);
    const since = req.since === undefined ? undefined : toMs("since", req.since);
    const until = req.until === undefined ? undefined : toMs("until", req.until);
    if (since !== undefined && until !== undefined && until <= since)
      throw invalidArgument("until: must be after since");
    const beforeId = req.pageToken === "" ? undefined : decodePageToken(req.pageToken);
    const rows = await this.log.listAudit({
      tenantId: caller.tenantId,
      roomId: req.roomId || undefined,
      userId: req.userId || undefined,
      action: req.action || undefined,
      since,
      until,
      beforeId,
      // One more than asked tells whether another page follows.
      limit: pageSize + 1,
    });
    const page = rows.slice(0, pageSize);
    const more = rows.length > pageSize;
    return create(ListResponseSchema, {
      entries: page.map((e) => ({
        id: BigInt(e.id),
        time: timestampFromMs(e.at),
        actor: e.actor,
        action: e.action,
        roomId: e.roomId ?? "",
        targetUserId: e.targetUserId ?? "",
        target: e.target ?? "",
        reason: e.reason ?? "",
        detailJson: JSON.stringify(e.detail ?? {}),
      })),
      nextPageToken: more ? encodePageToken(page[page.length - 1]!.id) : "",
    });
  }
}

/** The cursor after `lastId`: unpadded base64url of its 8-byte big-endian value. */
export function encodePageToken(lastId: number): string {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(lastId));
  return encodeBase64Url(bytes);
}

/** The id a page token continues before; invalid_argument for anything this service did not issue. */
export function decodePageToken(token: string): number {
  const bytes = decodeBase64Url(token);
  if (bytes === undefined || bytes.length !== 8)
    throw invalidArgument("page_token: not a token from a previous response");
  const id = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
  if (id < 1n || id > BigInt(Number.MAX_SAFE_INTEGER))
    throw invalidArgument("page_token: not a token from a previous response");
  return Number(id);
}

/** A Timestamp as epoch ms, rounded up (entries are stored to the millisecond). */
function toMs(field: string, t: Timestamp): number {
  if (t.nanos < 0 || t.nanos > 999_999_999) throw invalidArgument(`${field}: nanos out of range`);
  const ms = Number(t.seconds) * 1000 + Math.ceil(t.nanos / 1_000_000);
  if (!Number.isSafeInteger(ms)) throw invalidArgument(`${field}: out of range`);
  return ms;
}
