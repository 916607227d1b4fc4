import { and, asc, desc, eq, isNull, or, sql } from "drizzle-orm";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { RoomgateError } from "../domain/errors.js";
import type { ConsumerUserPatch, ConsumerUserRecord, NewUser, UserStore } from "../domain/users/users.js";
import { usernameKey } from "../domain/users/validation.js";
import { writeTransaction, type Db } from "./db.js";
import { rooms, tenants, users } from "./schema.js";

/** Users in SQLite. */
export class SqliteUserStore implements UserStore {
  private readonly usernameTaken;
  private readonly emailTaken;
  private readonly byUsername;
  private readonly byIdentifier;
  private readonly tenantById;
  private readonly ensureRoomStmt;

  constructor(private readonly db: Db) {
    const tenant = eq(users.tenantId, sql.placeholder("tenantId"));
    const registered = eq(users.kind, "registered");
    // A registered user is found by the case-insensitive key; a row without
    // one (see backfillUsernameKeys) by its exact name.
    const sameName = or(
      eq(users.usernameKey, sql.placeholder("key")),
      and(isNull(users.usernameKey), eq(users.username, sql.placeholder("username"))),
    );
    // The lookups match the partial unique indexes (kind = 'registered'), so
    // SQLite answers them from the index.
    this.usernameTaken = db
      .select({ id: users.id })
      .from(users)
      .where(and(tenant, sameName, registered))
      .limit(1)
      .prepare();
    this.emailTaken = db
      .select({ id: users.id })
      .from(users)
      .where(and(tenant, eq(users.email, sql.placeholder("email")), registered))
      .limit(1)
      .prepare();
    this.byUsername = db
      .select({ id: users.id, passwordHash: users.passwordHash })
      .from(users)
      .where(and(tenant, sameName, registered))
      // The exact spelling first, should a legacy case variant exist too.
      .orderBy(desc(sql`${users.username} = ${sql.placeholder("username")}`))
      .limit(1)
      .prepare();
    this.byIdentifier = db
      .select({ id: users.id, username: users.username, tenantModerator: users.tenantModerator })
      .from(users)
      .where(and(tenant, eq(users.uniqueUserIdentifier, sql.placeholder("uui")), eq(users.kind, "consumer")))
      .prepare();
    this.tenantById = db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, sql.placeholder("tenantId"))).prepare();
    this.ensureRoomStmt = db
      .insert(rooms)
      .values({ tenantId: sql.placeholder("tenantId"), id: sql.placeholder("id"), createdAt: sql.placeholder("createdAt") })
      .onConflictDoNothing()
      .prepare();
    this.backfillUsernameKeys();
  }

  transaction<T>(fn: () => T): T {
    // Register reads (username/email free?) before it writes: the lock must
    // be taken up front, or a concurrent writer makes the insert fail.
    return writeTransaction(this.db, fn);
  }

  insertUser(user: NewUser): void {
    // The key is derived here, next to the unique index that relies on it,
    // so no caller can store a name without its key.
    const row = { ...user, usernameKey: user.kind === "registered" ? usernameKey(user.username) : null };
    try {
      this.db.insert(users).values(row).run();
    } catch (err) {
      throw translateInsertError(err);
    }
  }

  registeredUsernameTaken(tenantId: string, username: string): boolean {
    return this.usernameTaken.get({ tenantId, key: usernameKey(username), username }) !== undefined;
  }

  registeredEmailTaken(tenantId: string, email: string): boolean {
    return this.emailTaken.get({ tenantId, email }) !== undefined;
  }

  findRegisteredByUsername(tenantId: string, username: string): { id: string; passwordHash: string | null } | undefined {
    return this.byUsername.get({ tenantId, key: usernameKey(username), username });
  }

  tenantExists(tenantId: string): boolean {
    return this.tenantById.get({ tenantId }) !== undefined;
  }

  findConsumerByIdentifier(tenantId: string, uniqueUserIdentifier: string): ConsumerUserRecord | undefined {
    return this.byIdentifier.get({ tenantId, uui: uniqueUserIdentifier });
  }

  updateConsumer(tenantId: string, userId: string, patch: ConsumerUserPatch): void {
    const set = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as ConsumerUserPatch;
    if (Object.keys(set).length === 0) return;
    this.db
      .update(users)
      .set(set)
      .where(and(eq(users.tenantId, tenantId), eq(users.id, userId), eq(users.kind, "consumer")))
      .run();
  }

  ensureRoom(tenantId: string, roomId: string, now: number): void {
    this.ensureRoomStmt.run({ tenantId, id: roomId, createdAt: now });
  }

  /**
   * Gives registered users stored before case-insensitive usernames (or
   * inserted around this store) their key. The key needs Unicode case
   * mapping, which SQLite's lower() lacks, so this runs here rather than in
   * the SQL migration. When two old rows differ only in case, the oldest
   * gets the key; the others keep none and still log in (and count as
   * taken) by their exact name.
   */
  private backfillUsernameKeys(): void {
    writeTransaction(this.db, () => {
      const tx = this.db;
      const missing = tx
        .select({ id: users.id, tenantId: users.tenantId, username: users.username })
        .from(users)
        .where(and(eq(users.kind, "registered"), isNull(users.usernameKey)))
        .orderBy(asc(users.createdAt), asc(users.id))
        .all();
      for (const u of missing) {
        const key = usernameKey(u.username);
        const taken = tx
          .select({ id: users.id })
          .from(users)
          .where(and(eq(users.tenantId, u.tenantId), eq(users.kind, "registered"), eq(users.usernameKey, key)))
          .get();
        if (!taken) tx.update(users).set({ usernameKey: key }).where(eq(users.id, u.id)).run();
      }
    });
  }
}

/**
 * A unique-index violation becomes already_exists naming the field. Any
 * other failure is rethrown without drizzle's wrapper, whose message lists
 * the bound parameters (a password hash among them) and would reach the log.
 */
function translateInsertError(err: unknown): unknown {
  const cause = err instanceof DrizzleQueryError ? err.cause : err;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const message = cause instanceof Error ? cause.message : "";
  if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    if (message.includes("users.username_key")) return new RoomgateError("already_exists", "username: already taken");
    if (message.includes("users.email")) return new RoomgateError("already_exists", "email: already registered");
    if (message.includes("users.unique_user_identifier")) return new RoomgateError("already_exists", "unique_user_identifier: already in use");
    return new RoomgateError("already_exists", "user already exists");
  }
  return cause instanceof Error ? cause : new Error("user insert failed");
}
