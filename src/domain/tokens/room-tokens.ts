import { fromBinary, type JsonObject } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import type { Permission } from "../../../gen/room/permissions/v1/permission_pb.js";
import { ClaimsSchema } from "../../../gen/room/tokens/v1/claims_pb.js";
import { invalidArgument, RoomAccessDeniedError, RoomgateError, TokenRejectedError } from "../errors.js";
import { checkId } from "../ids.js";
import { journaled, type JournalSink } from "../events/record.js";
import { expandPermissions, isKnownPermission } from "../permissions.js";
import type { Journal, Transact } from "../journal.js";
import { type RestrictionIndex, withoutRestricted, type RestrictionKind } from "../moderation/restrictions.js";
import type { RevocationIndex } from "./revocations.js";
import { BatchSealer } from "./batch-sealer.js";
import { issueAuditEntry } from "./issue-audit.js";
import { InvalidTokenError, MAX_CLAIMS_BYTES, TokenKind, type TokenCodec } from "./token-codec.js";
import { VerifiedCache } from "./verified-cache.js";
import { encodeClaims } from "./claims-encoding.js";

/** What the store keeps for each issued room member token. */
export interface GrantRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly roomId: string;
  readonly permissions: number[];
  readonly metadata: JsonObject;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly issuedBy: string;
}

/** Persistence for grants; `recordGrants` is all-or-nothing. */
export interface GrantStore {
  recordGrants(records: readonly GrantRecord[]): Promise<void>;
}

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

/** A token that verified: its claims with the effective permissions. */
export interface VerifiedToken {
  readonly tokenId: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly roomId: string;
  readonly permissions: readonly Permission[];
  readonly metadata: JsonObject;
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expiresAt: number;
  /** Live restrictions in force, already taken out of `permissions`. */
  readonly restrictions: ReadonlyArray<{ readonly kind: RestrictionKind; readonly until: number | null }>;
}

/**
 * The live state Verify consults and the journal Create writes to. All
 * required: a token issuer without its audit journal, or a verifier
 * without the revocations, would quietly skip a promise.
 */
export interface RoomTokensLive {
  readonly revocations: RevocationIndex;
  readonly restrictions: RestrictionIndex;
  readonly journal: Journal;
  readonly transact: Transact;
  /**
   * Brings this replica's live state up to every write committed so far
   * (the change feed's catchUp): Create refuses a member blocked on ANY
   * replica a moment ago, not only on this one.
   */
  readonly catchUp?: () => Promise<unknown>;
}

/**
 * A verified token as cached: its claims, and the revocation index
 * generation at which it was last found not revoked (-1: not checked yet).
 */
interface CachedToken {
  readonly v: VerifiedToken;
  clearAt: number;
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
      const at = `arguments[${i}]`;
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
      const idBytes = timeOrderedId(now, random.subarray(i * 10, i * 10 + 10));
      const expiresAt = now + ttl * 1000;
      const encoded = encodeClaims({
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
      if (encoded.length > MAX_CLAIMS_BYTES) {
        throw invalidArgument(
          `${at}: ids and metadata make a token of ${encoded.length} bytes; at most ${MAX_CLAIMS_BYTES} fit`,
        );
      }
      claims.push(encoded);
      records.push({
        id: formatTokenId(idBytes),
        tenantId,
        userId: req.userId,
        roomId: req.roomId,
        permissions,
        metadata,
        issuedAt: now,
        expiresAt,
        issuedBy,
      });
    });
    // Sealing starts first: a large batch seals on the sealing thread while
    // this one writes the rows (a small one seals inline, right here).
    const sealing = this.sealer.sealAll(TokenKind.RoomMember, claims);
    try {
      // Grants and their audit entry commit together, or neither does.
      await journaled(this.live.transact, this.sink, async (record) => {
        await this.store.recordGrants(records);
        await record({ audit: [issueAuditEntry(tenantId, issuedBy, now, records)], events: [] });
      });
    } catch (err) {
      sealing.catch(() => undefined); // the tokens are dropped with the batch
      throw err;
    }
    // Tokens are handed out only for rows that committed. Sealing cannot
    // fail here: the one reason seal() throws (size) was checked above.
    return sealing;
  }

  private checkPermissions(at: string, perms: readonly number[]): Permission[] {
    perms.forEach((p, j) => {
      if (!isKnownPermission(p)) throw invalidArgument(`${at}.permissions[${j}]: unknown permission ${p}`);
    });
    return expandPermissions(perms as Permission[]);
  }
}

/**
 * Verifies room member tokens from memory only: decryption (cached per
 * token), expiry, revocations and live restrictions; never the database.
 */
export class RoomTokenVerifier {
  private readonly cache: VerifiedCache<CachedToken>;
  private readonly revocations: RevocationIndex;
  private readonly restrictions: RestrictionIndex;
  /** Told whether each Verify found its token already opened (metrics); unset costs nothing. */
  onCacheLookup: ((hit: boolean) => void) | undefined;

  constructor(
    private readonly codec: TokenCodec,
    verifyCacheSize: number,
    private readonly clock: () => number = Date.now,
    live: Pick<RoomTokensLive, "revocations" | "restrictions">,
  ) {
    this.cache = new VerifiedCache(verifyCacheSize);
    this.revocations = live.revocations;
    this.restrictions = live.restrictions;
  }

  /**
   * True when `token` opened as a room member token before and the keyring
   * has not changed since: a cheap hint for callers that accept several
   * token kinds. It says nothing about expiry or revocation.
   */
  knows(token: string): boolean {
    return this.cache.get(token, this.codec.generation) !== undefined;
  }

  /**
   * Opens a room member token for `tenantId`. Anything that does not verify —
   * forged, altered, another kind, another tenant — gets the same error.
   */
  verify(tenantId: string | undefined, token: string): VerifiedToken {
    const generation = this.codec.generation;
    let cached = this.cache.get(token, generation);
    this.onCacheLookup?.(cached !== undefined);
    if (cached === undefined) {
      cached = { v: this.open(token), clearAt: -1 };
      this.cache.set(token, cached);
    }
    const v: VerifiedToken = cached.v;
    if (tenantId !== undefined && v.tenantId !== tenantId) {
      throw new TokenRejectedError("invalid");
    }
    const now = this.clock();
    if (now >= v.expiresAt) throw new TokenRejectedError("expired");
    if (now < v.notBefore) throw new TokenRejectedError("not_yet_valid");
    // Revocations only accumulate, so a token found not revoked stays so
    // until the index changes: a warm Verify skips the lookups until then.
    const revocations = this.revocations.generation;
    if (cached.clearAt !== revocations) {
      if (this.revocations.isRevoked(v)) throw new TokenRejectedError("revoked");
      cached.clearAt = revocations;
    }
    const active = this.restrictions.active(v.tenantId, v.roomId, v.userId, now);
    if (active.length === 0) return v;
    // A room block denies access outright (seed 000): a media server that
    // only checks the status must not admit the member.
    const block = active.find((r) => r.kind === "room_block");
    if (block) throw new RoomAccessDeniedError("room_blocked", v.roomId, block.until);
    return { ...v, permissions: withoutRestricted(v.permissions, active), restrictions: active };
  }

  /** Decrypts and decodes a token; every failure is the same "invalid token". */
  private open(token: string): VerifiedToken {
    let claims;
    try {
      claims = fromBinary(ClaimsSchema, this.codec.open(TokenKind.RoomMember, token));
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new TokenRejectedError("invalid");
      throw err;
    }
    return Object.freeze({
      tokenId: formatTokenId(claims.tokenId),
      tenantId: claims.tenantId,
      userId: claims.userId,
      roomId: claims.roomId,
      permissions: Object.freeze(claims.permissions) as Permission[],
      metadata: claims.metadataJson === "" ? {} : (JSON.parse(claims.metadataJson) as JsonObject),
      issuedAt: Number(claims.issuedAtMs),
      notBefore: Number(claims.notBeforeMs),
      expiresAt: Number(claims.expiresAtMs),
      restrictions: [],
    });
  }
}

/**
 * Room member tokens (seed 000): the {@link RoomTokenIssuer} and the
 * {@link RoomTokenVerifier} over one codec and one live state. The two
 * halves share nothing else: issue writes to the store, verify reads only
 * memory.
 */
export class RoomTokens {
  readonly issuer: RoomTokenIssuer;
  readonly verifier: RoomTokenVerifier;

  constructor(
    codec: TokenCodec,
    store: GrantStore,
    limits: TokenLimits,
    clock: () => number,
    live: RoomTokensLive,
    sealer?: BatchSealer,
  ) {
    this.issuer = new RoomTokenIssuer(codec, store, limits, clock, live, sealer);
    this.verifier = new RoomTokenVerifier(codec, limits.verifyCacheSize, clock, live);
  }

  /** The limits Create enforces (read by benchmarks). */
  get limits(): TokenLimits {
    return this.issuer.limits;
  }

  /** See {@link RoomTokenIssuer.issue}. */
  issue(tenantId: string, issuedBy: string, requests: readonly TokenRequest[]): Promise<string[]> {
    return this.issuer.issue(tenantId, issuedBy, requests);
  }

  /** See {@link RoomTokenVerifier.verify}. */
  verify(tenantId: string | undefined, token: string): VerifiedToken {
    return this.verifier.verify(tenantId, token);
  }

  /** See {@link RoomTokenVerifier.knows}. */
  knows(token: string): boolean {
    return this.verifier.knows(token);
  }
}

/**
 * A token id: 6 bytes of issue time (ms) then 10 random bytes. Time-ordered
 * ids append to the grants primary-key index instead of scattering writes
 * across it, which keeps a 1,000-token batch insert cheap as the table grows.
 */
function timeOrderedId(now: number, random: Uint8Array): Uint8Array {
  const id = new Uint8Array(16);
  let t = now;
  for (let i = 5; i >= 0; i--) {
    id[i] = t % 256;
    t = Math.floor(t / 256);
  }
  id.set(random, 6);
  return id;
}

/** Token ids are 16 bytes, shown as 32 lower-case hex digits. */
export function formatTokenId(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
