// The stored shape of end-user sessions (see Sessions in ./sessions.ts).

/** A session row to insert. */
export interface NewSession {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly createdAt: number;
  readonly clientAddress: string;
  readonly userAgent: string;
  readonly expiresAt: number;
}

/** A stored session. */
export interface SessionRecord extends NewSession {
  readonly lastUsedAt: number;
  readonly endedAt: number | null;
}

/** What marking a refresh token used found. */
export interface RefreshUse {
  readonly sessionId: string;
  readonly issuedAt: number;
  /** True when it had been used before (reuse), or another use won at the same time. */
  readonly alreadyUsed: boolean;
}

/** Persistence for sessions; implemented in src/store/session-store.ts. */
export interface SessionStore {
  insertSession(s: NewSession): Promise<void>;
  touchSession(id: string, at: number, expiresAt: number, clientAddress: string, userAgent: string): Promise<void>;
  findSession(id: string): Promise<SessionRecord | undefined>;
  /** Sessions of the user not ended and not past their idle bound, newest first. */
  liveSessions(tenantId: string, userId: string, now: number): Promise<SessionRecord[]>;
  endSessions(ids: readonly string[], at: number): Promise<void>;
  insertRefresh(hash: Buffer, sessionId: string, issuedAt: number): Promise<void>;
  useRefresh(hash: Buffer, at: number): Promise<RefreshUse | undefined>;
  /** True when the user exists and is not deleted. */
  userActive(tenantId: string, userId: string): Promise<boolean>;
}
