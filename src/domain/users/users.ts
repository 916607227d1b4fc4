import { randomUUID } from "node:crypto";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled, RECORDS_NOTHING } from "../events/record.js";
import { checkId } from "../ids.js";
import type { Transact } from "../journal.js";
import { addressLimitKey, type LoginGuard } from "./login-guard.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import type { ClientInfo, Sessions } from "./sessions.js";
import {
  charCount,
  USER_LIMITS,
  usernameKey,
  validateEmail,
  validatePassword,
  validatePhone,
  validateUsername,
} from "./validation.js";

/** How a user came to be: seed 001 registration, seed 003 backend, or an access link. */
export type UserKind = "registered" | "consumer" | "guest";

/** A user row to insert; optional columns are null when absent. */
export interface NewUser {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: UserKind;
  readonly username: string;
  readonly email: string | null;
  readonly passwordHash: string | null;
  readonly phone: string | null;
  readonly externalUserId: string | null;
  readonly uniqueUserIdentifier: string | null;
  readonly profilePic: string | null;
  readonly meta: string | null;
  readonly tenantModerator: boolean;
  readonly createdAt: number;
}

/** A seed 003 user as the domain needs it back. */
export interface ConsumerUserRecord {
  readonly id: string;
  readonly username: string;
  readonly tenantModerator: boolean;
}

/** Changes to a seed 003 user; undefined fields stay as they are. */
export interface ConsumerUserPatch {
  readonly username?: string;
  readonly email?: string;
  readonly profilePic?: string;
  readonly meta?: string;
  readonly externalUserId?: string;
  readonly tenantModerator?: boolean;
}

/**
 * Persistence for users; implemented in src/store/user-store.ts. Usernames
 * of registered users compare case-insensitively, by {@link usernameKey}.
 */
export interface UserStore {
  /** Inserts a user; a username (in any case), email or identifier already in use is already_exists. */
  insertUser(user: NewUser): Promise<void>;
  /** True when a registered user of the tenant has this username, in any case. */
  registeredUsernameTaken(tenantId: string, username: string): Promise<boolean>;
  /** True when a registered user of the tenant has this (lower-cased) email. */
  registeredEmailTaken(tenantId: string, email: string): Promise<boolean>;
  /** The password hash of a registered user, by username in any case. */
  findRegisteredByUsername(
    tenantId: string,
    username: string,
  ): Promise<{ id: string; passwordHash: string | null } | undefined>;
  /** True when the tenant exists. */
  tenantExists(tenantId: string): Promise<boolean>;
  /** A seed 003 user of the tenant by its unique_user_identifier. */
  findConsumerByIdentifier(tenantId: string, uniqueUserIdentifier: string): Promise<ConsumerUserRecord | undefined>;
  /** Applies a patch to a seed 003 user of the tenant. */
  updateConsumer(tenantId: string, userId: string, patch: ConsumerUserPatch): Promise<void>;
  /** Makes sure the room exists for the tenant (a no-op when it does). */
  ensureRoom(tenantId: string, roomId: string, now: number): Promise<void>;
}

/** Settings for user access tokens. */
export interface UserTokenOptions {
  /** Lifetime of a user access token and of the session cookie. */
  readonly tokenTtlSeconds: number;
}

/** Settings of Login's tokens. */
export interface LoginOptions {
  /** Lifetime of the access token (and the session cookie). */
  readonly accessTtlSeconds: number;
  /** Idle bound of the session (and the refresh cookie's Max-Age). */
  readonly sessionTtlSeconds: number;
}

/** Seed 001's createUser body, as plain strings ("" = absent for phone). */
export interface RegisterInput {
  readonly email: string;
  readonly username: string;
  readonly password: string;
  readonly phone: string;
}

/** A successful login or refresh: a session's fresh access and refresh tokens. */
export interface LoginResult {
  readonly accessToken: string;
  readonly userId: string;
  readonly expiresAt: number;
  /** Lifetime of the access token. */
  readonly ttlSeconds: number;
  readonly refreshToken: string;
  readonly sessionId: string;
  /** Lifetime of the refresh token's cookie (the session's idle bound). */
  readonly refreshTtlSeconds: number;
}

/** One message for every failed login, so it never tells which part was wrong. */
export const LOGIN_FAILED = "wrong username or password";

/**
 * Registered users (seed 001): creation with a scrypt-hashed password and
 * login to a user access token.
 *
 * Usernames and emails are unique per tenant and case-insensitive: `Ann` and
 * `ann` are one name (already_exists), and `ANN` logs in as `Ann`. The
 * username is kept as typed (NFC) for display; uniqueness and login go by
 * {@link usernameKey} (Unicode case mapping, see there). Emails are plain
 * ASCII addresses and are stored lower-cased.
 */
export class Users {
  constructor(
    private readonly store: UserStore,
    private readonly sessions: Sessions,
    private readonly options: LoginOptions,
    private readonly clock: () => number,
    /** The one write transaction. */
    private readonly transact: Transact,
    /** Login limits (attempts and failures); none when omitted. */
    private readonly guard?: LoginGuard,
  ) {}

  /**
   * Creates a registered user of `tenantId` and returns its id. Username and
   * email are unique per tenant (already_exists); nothing is written when
   * any field is refused.
   */
  async register(tenantId: string, input: RegisterInput): Promise<{ id: string }> {
    const email = validateEmail(input.email);
    const username = validateUsername(input.username);
    const password = validatePassword(input.password);
    const phone = validatePhone(input.phone);
    // Cheap checks first so a taken name does not cost a hash; they run again
    // inside the transaction, which is what actually decides.
    await this.assertFree(tenantId, username, email);
    const passwordHash = await hashPassword(password);
    const id = randomUUID();
    // A registration records no audit entry or event: nothing live depends on a new user.
    await journaled(this.transact, RECORDS_NOTHING, async () => {
      await this.assertFree(tenantId, username, email);
      await this.store.insertUser({
        id,
        tenantId,
        kind: "registered",
        username,
        email,
        passwordHash,
        phone: phone ?? null,
        externalUserId: null,
        uniqueUserIdentifier: null,
        profilePic: null,
        meta: null,
        tenantModerator: false,
        createdAt: this.clock(),
      });
    });
    return { id };
  }

  /**
   * Checks a registered user's password and issues a user access token.
   * An unknown tenant, an unknown username and a wrong password all fail
   * the same way, and take about as long (a dummy hash is checked). The
   * username matches in any case. `clientAddress` (the transport's peer
   * address, "" when unknown) keys the login limits (see LoginGuard), which
   * are charged before the hash so concurrent attempts cannot slip past.
   * `onTenantKnown` hears the tenant once it is known to exist (the call's
   * log line names it), whether or not the login then succeeds.
   */
  async login(
    tenantId: string,
    username: string,
    password: string,
    client: ClientInfo = { address: "", userAgent: "" },
    onTenantKnown?: (tenantId: string) => void,
  ): Promise<LoginResult> {
    checkId("tenant_id", tenantId);
    if (username === "") throw invalidArgument("username: must not be empty");
    if (password === "") throw invalidArgument("password: must not be empty");
    // No stored name or password is longer; refusing here also keeps huge
    // strings out of the limiters' keys and out of scrypt.
    const maxName = USER_LIMITS.usernameMaxChars;
    if (username.length > maxName && charCount(username) > maxName)
      throw invalidArgument(`username: must be at most ${maxName} characters`);
    const maxPw = USER_LIMITS.passwordMaxChars;
    if (password.length > maxPw && charCount(password) > maxPw)
      throw invalidArgument(`password: must be at most ${maxPw} characters`);
    const tenantKnown = await this.store.tenantExists(tenantId);
    if (tenantKnown) onTenantKnown?.(tenantId);
    const ticket = await this.guard?.admit({
      tenant: tenantKnown ? tenantId : "",
      account: `${tenantId}\u0000${usernameKey(username)}`,
      address: addressLimitKey(client.address),
    });
    // Every limit was charged by admit, before the hash below: concurrent
    // attempts cannot all pass the limit and be charged only afterwards.
    const user = tenantKnown
      ? await this.store.findRegisteredByUsername(tenantId, username.normalize("NFC"))
      : undefined;
    const ok = await verifyPassword(password.normalize("NFC"), user?.passwordHash ?? undefined);
    if (!user || !ok) throw new RoomgateError("unauthenticated", LOGIN_FAILED);
    // The token is issued under the write lock, after reading the user
    // again: a DeleteUser (or password change) that committed while the
    // hash was checked wins, and one that comes after takes its time under
    // the same lock, so its revocation covers this token (see UserDeletion).
    // Records nothing: the session row is the only write, and nothing live depends on a new one.
    const started = await journaled(this.transact, RECORDS_NOTHING, async () => {
      const still = await this.store.findRegisteredByUsername(tenantId, username.normalize("NFC"));
      if (still?.id !== user.id || still.passwordHash !== user.passwordHash)
        throw new RoomgateError("unauthenticated", LOGIN_FAILED);
      return await this.sessions.start(tenantId, user.id, client);
    });
    await ticket?.succeeded();
    return this.result(started);
  }

  /** Rotates a session's refresh token (see {@link Sessions.refresh}). */
  async refresh(refreshToken: string, client: ClientInfo): Promise<LoginResult> {
    return this.result(await this.sessions.refresh(refreshToken, client));
  }

  private result(s: Awaited<ReturnType<Sessions["start"]>>): LoginResult {
    return {
      accessToken: s.accessToken,
      userId: s.claims.userId,
      expiresAt: s.claims.expiresAt,
      ttlSeconds: this.options.accessTtlSeconds,
      refreshToken: s.refreshToken,
      sessionId: s.sessionId,
      refreshTtlSeconds: this.options.sessionTtlSeconds,
    };
  }

  private async assertFree(tenantId: string, username: string, email: string): Promise<void> {
    if (await this.store.registeredUsernameTaken(tenantId, username))
      throw new RoomgateError("already_exists", "username: already taken");
    if (await this.store.registeredEmailTaken(tenantId, email))
      throw new RoomgateError("already_exists", "email: already registered");
  }
}
