import { and, eq, sql } from "drizzle-orm";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { RoomgateError } from "../domain/errors.js";
import type { ConsumerUserPatch, ConsumerUserRecord, NewUser, UserStore } from "../domain/users/users.js";
import { writeTransaction, type Db } from "./db.js";
import { rooms, users } from "./schema.js";

/** Users in SQLite. */
export class SqliteUserStore implements UserStore {
  private readonly usernameTaken;
  private readonly emailTaken;
  private readonly byUsername;
  private readonly byIdentifier;
  private readonly ensureRoomStmt;

  constructor(private readonly db: Db) {
    const tenant = eq(users.tenantId, sql.placeholder("tenantId"));
    const registered = eq(users.kind, "registered");
    // The lookups match the partial unique indexes (kind = 'registered'), so
    // SQLite answers them from the index.
    this.usernameTaken = db
      .select({ id: users.id })
      .from(users)
      .where(and(tenant, eq(users.username, sql.placeholder("username")), registered))
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
      .where(and(tenant, eq(users.username, sql.placeholder("username")), registered))
      .prepare();
    this.byIdentifier = db
      .select({ id: users.id, username: users.username, tenantModerator: users.tenantModerator })
      .from(users)
      .where(and(tenant, eq(users.uniqueUserIdentifier, sql.placeholder("uui")), eq(users.kind, "consumer")))
      .prepare();
    this.ensureRoomStmt = db
      .insert(rooms)
      .values({ tenantId: sql.placeholder("tenantId"), id: sql.placeholder("id"), createdAt: sql.placeholder("createdAt") })
      .onConflictDoNothing()
      .prepare();
  }

  transaction<T>(fn: () => T): T {
    // Register reads (username/email free?) before it writes: the lock must
    // be taken up front, or a concurrent writer makes the insert fail.
    return writeTransaction(this.db, fn);
  }

  insertUser(user: NewUser): void {
    try {
      this.db.insert(users).values(user).run();
    } catch (err) {
      throw translateInsertError(err);
    }
  }

  registeredUsernameTaken(tenantId: string, username: string): boolean {
    return this.usernameTaken.get({ tenantId, username }) !== undefined;
  }

  registeredEmailTaken(tenantId: string, email: string): boolean {
    return this.emailTaken.get({ tenantId, email }) !== undefined;
  }

  findRegisteredByUsername(tenantId: string, username: string): { id: string; passwordHash: string | null } | undefined {
    return this.byUsername.get({ tenantId, username });
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
    if (message.includes("users.username")) return new RoomgateError("already_exists", "username: already taken");
    if (message.includes("users.email")) return new RoomgateError("already_exists", "email: already registered");
    if (message.includes("users.unique_user_identifier")) return new RoomgateError("already_exists", "unique_user_identifier: already in use");
    return new RoomgateError("already_exists", "user already exists");
  }
  return cause instanceof Error ? cause : new Error("user insert failed");
}
