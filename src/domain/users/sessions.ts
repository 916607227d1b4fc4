import { createHash, randomBytes } from "node:crypto";
import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import type { SubjectClaims, SubjectTokens } from "../auth/subject-tokens.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled, type JournalSink, type RecordFn } from "../events/record.js";
import type { Actor, StoredEvent, Transact } from "../journal.js";
import type { Revocation, RevocationIndex } from "../tokens/revocations.js";
import type { RevocationStore } from "../tokens/revoker.js";
import type { SessionRecord, SessionStore } from "./session-records.js";

export type { NewSession, RefreshUse, SessionRecord, SessionStore } from "./session-records.js";

/** Where a Login or Refresh came from (shown by ListSessions). */
export interface ClientInfo {
  readonly address: string;
  readonly userAgent: string;
}

/** Tokens of a session just started or refreshed. */
export interface SessionTokens {
  readonly sessionId: string;
  readonly accessToken: string;
  readonly claims: SubjectClaims;
  /** Empty when the session was started without one (seed 003). */
  readonly refreshToken: string;
}

/** Lifetimes. */
export interface SessionOptions {
  /** Access tokens of Login and Refresh. */
  readonly accessTtlSeconds: number;
  /** Idle bound of a session. */
  readonly sessionTtlSeconds: number;
  /** The longest any access token lives (seed 003's tokens): how long an end must be remembered. */
  readonly longestTokenTtlSeconds: number;
}

/** Everything sessions work with. */
export interface SessionDeps {
  readonly store: SessionStore;
  readonly revocationStore: Pick<RevocationStore, "addRevocation">;
  readonly revocations: RevocationIndex;
  readonly tokens: SubjectTokens;
  readonly transact: Transact;
  readonly sink: JournalSink;
  readonly clock: () => number;
  readonly options: SessionOptions;
}

/** The one answer for every refresh that does not work, so it never tells why. */
export const REFRESH_FAILED = "refresh token not valid";
const SESSION_ID = /^[0-9a-f]{32}$/;

function hashOf(refreshToken: string): Buffer {
  return createHash("sha256").update(refreshToken, "utf8").digest();
}

/**
 * End-user sessions (issue 19). A session is a stored row whose id is the
 * family of its tokens: every access token it issues carries the session id
 * as its token id, so ending a session is a token revocation by that id,
 * stored with an audit entry and a TOKEN_REVOKED event whose effects reach
 * every replica's revocation index through the change feed — a removing
 * write, answered once every live replica applied it. Refresh tokens are
 * random, kept only as a SHA-256, and work once: a used one presented
 * again ends the session (reuse detection).
 */
export class Sessions {
  constructor(private readonly deps: SessionDeps) {}

  /**
   * Starts a session for the user and issues its first access token (and
   * refresh token unless `ttlSeconds` is given: seed 003's token, whose
   * lifetime is its own). Call inside the caller's write transaction.
   */
  async start(
    tenantId: string,
    userId: string,
    client: ClientInfo,
    opts: { ttlSeconds?: number; roomId?: string } = {},
  ): Promise<SessionTokens> {
    const { store, clock, options } = this.deps;
    const now = clock();
    const id = randomBytes(16).toString("hex");
    const ttl = opts.ttlSeconds ?? options.accessTtlSeconds;
    // Without a refresh token the session lasts as long as its one token.
    const expiresAt = now + (opts.ttlSeconds ?? options.sessionTtlSeconds) * 1000;
    await store.insertSession({ id, tenantId, userId, createdAt: now, ...clientOf(client), expiresAt });
    const { token, claims } = this.deps.tokens.issue({
      tenantId,
      userId,
      ttlSeconds: ttl,
      tokenId: id,
      roomId: opts.roomId,
    });
    const refreshToken = opts.ttlSeconds === undefined ? await this.newRefresh(id, now) : "";
    return { sessionId: id, accessToken: token, claims, refreshToken };
  }

  /**
   * Trades a refresh token for new tokens. A used token ends the session
   * (committed, audited) and the call is unauthenticated; so is anything
   * unknown, a session ended, idle too long, revoked (RevokeUser, DeleteUser)
   * after the token was issued, or of a deleted user.
   */
  async refresh(refreshToken: string, client: ClientInfo): Promise<SessionTokens> {
    if (refreshToken === "") throw invalidArgument("refresh_token: must not be empty");
    if (refreshToken.length > 200) throw new RoomgateError("unauthenticated", REFRESH_FAILED);
    const hash = hashOf(refreshToken);
    const outcome = await journaled(this.deps.transact, this.deps.sink, async (record) => {
      const now = this.deps.clock();
      const use = await this.deps.store.useRefresh(hash, now);
      if (use === undefined) return undefined;
      const s = await this.deps.store.findSession(use.sessionId);
      if (s === undefined || s.endedAt !== null) return undefined;
      if (use.alreadyUsed) {
        await this.endWithin(record, [s], "system", "session.reuse", "refresh token used twice");
        return undefined;
      }
      if (now >= s.expiresAt || !(await this.usable(s))) return undefined;
      return await this.renew(s, client, now);
    });
    if (outcome === undefined) throw new RoomgateError("unauthenticated", REFRESH_FAILED);
    return outcome;
  }

  /** Live sessions of a user, newest first (ended or revoked ones left out). */
  async list(tenantId: string, userId: string): Promise<SessionRecord[]> {
    const rows = await this.deps.store.liveSessions(tenantId, userId, this.deps.clock());
    return rows.filter((s) => !this.revoked(s));
  }

  /**
   * Ends one session of the tenant (of `userId` when given): not_found when
   * it is unknown, another's, or over already.
   */
  async endOne(tenantId: string, sessionId: string, actor: Actor, reason: string, userId?: string) {
    if (!SESSION_ID.test(sessionId)) throw invalidArgument("session_id: must be 32 lower-case hex digits");
    if (reason.length > 1_024) throw invalidArgument("reason: must be at most 1024 characters");
    const events = await this.endWhere(actor, "session.revoke", reason, async () => {
      const s = await this.deps.store.findSession(sessionId);
      const live = s && s.tenantId === tenantId && (userId === undefined || s.userId === userId);
      if (!live || s.endedAt !== null || this.revoked(s)) {
        throw new RoomgateError("not_found", `session ${sessionId} not found`);
      }
      return [s];
    });
    return events[0]!;
  }

  /**
   * Ends the session of a presented access token (Logout). A token issued
   * outside any session (an access link's) is revoked by its id all the same.
   */
  async logout(claims: SubjectClaims): Promise<StoredEvent> {
    const actor: Actor = `user:${claims.userId}`;
    const events = await this.endWhere(actor, "session.logout", "", async () => {
      const s = await this.deps.store.findSession(claims.tokenId);
      if (s !== undefined && s.tenantId === claims.tenantId) return [s];
      const { tenantId, userId, tokenId: id, expiresAt } = claims;
      return [
        {
          id,
          tenantId,
          userId,
          createdAt: 0,
          clientAddress: "",
          userAgent: "",
          expiresAt,
          lastUsedAt: 0,
          endedAt: null,
        },
      ];
    });
    return events[0]!;
  }

  private async endWhere(
    actor: Actor,
    action: string,
    reason: string,
    pick: () => Promise<SessionRecord[]>,
  ): Promise<StoredEvent[]> {
    const { events } = await journaled(
      this.deps.transact,
      this.deps.sink,
      async (record) => await this.endWithin(record, await pick(), actor, action, reason),
      { withEvents: true },
    );
    return events;
  }

  /** Ends sessions in the write transaction in progress: rows, revocations, audit and events. */
  async endWithin(
    record: RecordFn,
    sessions: readonly SessionRecord[],
    actor: Actor,
    action: string,
    reason: string,
  ): Promise<void> {
    if (sessions.length === 0) return;
    const at = this.deps.clock();
    await this.deps.store.endSessions(
      sessions.map((s) => s.id),
      at,
    );
    const keep = this.deps.options.longestTokenTtlSeconds * 1000;
    const revs: Revocation[] = [];
    for (const s of sessions) {
      const r: Revocation = { kind: "token", tenantId: s.tenantId, tokenId: s.id, at };
      await this.deps.revocationStore.addRevocation(r, Math.max(s.expiresAt, at) + keep);
      revs.push(r);
    }
    await record({
      audit: sessions.map((s) => ({
        ...{ tenantId: s.tenantId, at, actor, action, roomId: "", targetUserId: s.userId },
        ...{ target: s.id, reason },
      })),
      events: sessions.map((s, i) => ({
        ...{ tenantId: s.tenantId, type: EventType.TOKEN_REVOKED, roomId: "", userId: s.userId, actor, at },
        ...{ tokenId: s.id, reason, effects: { revocations: [revs[i]!] } },
      })),
    });
  }

  private async renew(s: SessionRecord, client: ClientInfo, now: number): Promise<SessionTokens> {
    const { store, options, tokens } = this.deps;
    const c = clientOf(client);
    await store.touchSession(s.id, now, now + options.sessionTtlSeconds * 1000, c.clientAddress, c.userAgent);
    const { token, claims } = tokens.issue({
      ...{ tenantId: s.tenantId, userId: s.userId },
      ...{ ttlSeconds: options.accessTtlSeconds, tokenId: s.id, issuedAt: s.createdAt },
    });
    return { sessionId: s.id, accessToken: token, claims, refreshToken: await this.newRefresh(s.id, now) };
  }

  /** True unless the user is gone or a revocation covers the session. */
  private async usable(s: SessionRecord): Promise<boolean> {
    return !this.revoked(s) && (await this.deps.store.userActive(s.tenantId, s.userId));
  }

  /**
   * True when the session was revoked: by its id, or by a watermark
   * (RevokeUser, DeleteUser) at or after its start — the time every token
   * of the session carries as its issue time.
   */
  private revoked(s: SessionRecord): boolean {
    const { tenantId, id: tokenId, userId, createdAt: issuedAt } = s;
    return this.deps.revocations.isRevoked({ tenantId, tokenId, userId, roomId: "", issuedAt });
  }

  private async newRefresh(sessionId: string, now: number): Promise<string> {
    const token = `rt1_${randomBytes(32).toString("base64url")}`;
    await this.deps.store.insertRefresh(hashOf(token), sessionId, now);
    return token;
  }
}

/** Client facts as stored: bounded, so a huge header cannot bloat a row. */
function clientOf(c: ClientInfo): { clientAddress: string; userAgent: string } {
  return { clientAddress: c.address.slice(0, 100), userAgent: c.userAgent.slice(0, 512) };
}
