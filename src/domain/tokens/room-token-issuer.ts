import type { JsonObject } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import type { Permission } from "../../../gen/room/permissions/v1/permission_pb.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled, type JournalSink } from "../events/record.js";
import { checkId } from "../ids.js";
import type { RestrictionIndex } from "../moderation/restrictions.js";
import { expandPermissions, isKnownPermission } from "../permissions.js";
import { BatchSealer } from "./batch-sealer.js";
import { encodeClaims } from "./claims-encoding.js";
import type { GrantRecord, GrantStore } from "./grants.js";
import { issueAuditEntry } from "./issue-audit.js";
import type { RoomTokensLive } from "./room-tokens-live.js";
import { MAX_CLAIMS_BYTES, TokenKind, type TokenCodec } from "./token-codec.js";
import { formatTokenId, timeOrderedId } from "./token-id.js";

/** Limits on Create, all configurable. */
export interface TokenLimits {
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
  readonly maxBatch: number;
  readonly maxMetadataBytes: number;
  readonly maxIdBytes: number;
  /** Verified tokens kept decoded in memory (0 disables the cache). */
  readonly verifyCacheSize: number;
}

/** The built-in limits (see the README's settings table). */
export const DEFAULT_TOKEN_LIMITS: TokenLimits = {
  defaultTtlSeconds: 86_400,
  maxTtlSeconds: 30 * 86_400,
  maxBatch: 1_000,
  maxMetadataBytes: 4_096,
  maxIdBytes: 256,
  verifyCacheSize: 100_000,
};

/** One token to issue, as the service layer hands it over. */
export interface TokenRequest {
  readonly userId: string;
  readonly roomId: string;
  readonly metadata?: JsonObject | undefined;
  readonly permissions: readonly number[];
  readonly ttlSeconds?: number | undefined;
}

/**
 * Issues room member tokens (seed 000): validates every argument before
 * sealing anything, and records the whole batch in one transaction.
 */
export class RoomTokenIssuer {
  private readonly restrictions: RestrictionIndex;
  private readonly sink: JournalSink;

  constructor(
    codec: TokenCodec,
    private readonly store: GrantStore,
    /** The limits this instance enforces (read by benchmarks). */
    readonly limits: TokenLimits = DEFAULT_TOKEN_LIMITS,
    private readonly clock: () => number = Date.now,
    private readonly live: RoomTokensLive,
    /** Seals the batch (a large one on its thread); inline when not given. */
    private readonly sealer: BatchSealer = new BatchSealer(codec, { worker: false }),
  ) {
    this.restrictions = live.restrictions;
    this.sink = { journal: live.journal, feed: { catchUp: () => live.catchUp?.() ?? Promise.resolve() } };
  }

  /** Issues one token per request, in order; throws before writing on any bad argument. */
  async issue(tenantId: string, issuedBy: string, requests: readonly TokenRequest[]): Promise<string[]> {
    return (await this.issueRecorded(tenantId, issuedBy, requests)).tokens;
  }

  /**
   * {@link issue}, with the id of the event that carried the batch to every
   * replica's memory: a consistency token for Check and the lookups.
   */
  async issueRecorded(
    tenantId: string,
    issuedBy: string,
    requests: readonly TokenRequest[],
  ): Promise<{ tokens: string[]; eventId: number }> {
    if (requests.length === 0) throw invalidArgument("arguments: at least one argument is required");
    if (requests.length > this.limits.maxBatch) {
      throw invalidArgument(
        `arguments: ${requests.length} arguments exceed the batch limit of ${this.limits.maxBatch}`,
      );
    }
    await this.live.catchUp?.();
    const now = this.clock();
    const records: GrantRecord[] = [];
    const claims: Uint8Array[] = [];
    // One CSPRNG call for the whole batch: per-token calls cost more than sealing.
    const random = randomBytes(requests.length * 10);
    requests.forEach((req, i) => {
      const grant = this.prepare(tenantId, issuedBy, now, req, `arguments[${i}]`, random.subarray(i * 10, i * 10 + 10));
      claims.push(grant.claims);
      records.push(grant.record);
    });
    // Sealing starts first: a large batch seals on the sealing thread while
    // this one writes the rows (a small one seals inline, right here).
    const sealing = this.sealer.sealAll(TokenKind.RoomMember, claims);
    let eventId: number;
    try {
      // Grants and their audit entry commit together, or neither does.
      const { events } = await journaled(
        this.live.transact,
        this.sink,
        async (record) => {
          await this.store.recordGrants(records);
          await record({ audit: [issueAuditEntry(tenantId, issuedBy, now, records)], events: [] });
        },
        { withEvents: true },
      );
      eventId = events.at(-1)?.id ?? 0;
    } catch (err) {
      sealing.catch(() => undefined); // the tokens are dropped with the batch
      throw err;
    }
    // Tokens are handed out only for rows that committed. Sealing cannot
    // fail here: the one reason seal() throws (size) was checked above.
    return { tokens: await sealing, eventId };
  }

  /** Checks one request (`at` names it in errors) and builds its grant row and encoded claims. */
  private prepare(
    tenantId: string,
    issuedBy: string,
    now: number,
    req: TokenRequest,
    at: string,
    random: Uint8Array,
  ): { record: GrantRecord; claims: Uint8Array } {
    checkId(`${at}.user_id`, req.userId, this.limits.maxIdBytes);
    checkId(`${at}.room_id`, req.roomId, this.limits.maxIdBytes);
    const permissions = this.checkPermissions(at, req.permissions);
    const metadata = req.metadata ?? {};
    const metadataJson = JSON.stringify(metadata);
    const metaBytes = Buffer.byteLength(metadataJson);
    if (metaBytes > this.limits.maxMetadataBytes) {
      throw invalidArgument(`${at}.metadata: ${metaBytes} bytes exceed the limit of ${this.limits.maxMetadataBytes}`);
    }
    const ttl = req.ttlSeconds || this.limits.defaultTtlSeconds;
    if (ttl > this.limits.maxTtlSeconds) {
      throw invalidArgument(`${at}.ttl_seconds: ${ttl} exceeds the maximum of ${this.limits.maxTtlSeconds}`);
    }
    // The backend may issue tokens, but not into a room closed to the
    // member: a precondition of the call, not a missing right.
    if (this.restrictions.isRoomBlocked(tenantId, req.roomId, req.userId, now)) {
      throw new RoomgateError("failed_precondition", `${at}: user ${req.userId} is blocked from room ${req.roomId}`);
    }
    const idBytes = timeOrderedId(now, random);
    const expiresAt = now + ttl * 1000;
    const claims = encodeClaims({
      tokenId: idBytes,
      tenantId,
      userId: req.userId,
      roomId: req.roomId,
      permissions,
      metadataJson: metadataJson === "{}" ? "" : metadataJson,
      issuedAtMs: now,
      notBeforeMs: now,
      expiresAtMs: expiresAt,
    });
    // Checked here, not by seal(): sealing may finish after the rows commit.
    if (claims.length > MAX_CLAIMS_BYTES) {
      throw invalidArgument(
        `${at}: ids and metadata make a token of ${claims.length} bytes; at most ${MAX_CLAIMS_BYTES} fit`,
      );
    }
    const { userId, roomId } = req;
    const record = {
      id: formatTokenId(idBytes),
      tenantId,
      userId,
      roomId,
      permissions,
      metadata,
      issuedAt: now,
      expiresAt,
      issuedBy,
    };
    return { record, claims };
  }

  private checkPermissions(at: string, perms: readonly number[]): Permission[] {
    perms.forEach((p, j) => {
      if (!isKnownPermission(p)) throw invalidArgument(`${at}.permissions[${j}]: unknown permission ${p}`);
    });
    return expandPermissions(perms as Permission[]);
  }
}
