import { sql, type SQL } from "drizzle-orm";
import { noteEffects } from "../domain/events/pending-effects.js";
import { noteTenantModerator } from "./access-facts-store.js";
import { RoomgateError } from "../domain/errors.js";
import type { ConsumerUserPatch, ConsumerUserRecord, NewUser, UserStore } from "../domain/users/users.js";
import { usernameKey } from "../domain/users/validation.js";
import { bool, type Database } from "./database-port.js";
import { isUniqueViolation } from "./sql-errors.js";

/**
 * A registered user of the tenant with this name: by the case-insensitive
 * key, or — for a row without one (see backfillUsernameKeys) — by its exact
 * name. The conditions match the partial unique indexes (kind =
 * 'registered'), so the lookup is answered from the index.
 */
function registeredNamed(tenantId: string, username: string): SQL {
  return sql`tenant_id = ${tenantId} and kind = 'registered'
             and (username_key = ${usernameKey(username)} or (username_key is null and username = ${username}))`;
}

/** The columns {@link ConsumerUserPatch} may change. */
const PATCH_COLUMNS: { readonly [K in keyof Required<ConsumerUserPatch>]: SQL } = {
  username: sql.raw("username"),
  email: sql.raw("email"),
  profilePic: sql.raw("profile_pic"),
  meta: sql.raw("meta"),
  externalUserId: sql.raw("external_user_id"),
  tenantModerator: sql.raw("tenant_moderator"),
};

/** Users. */
export class SqlUserStore implements UserStore {
  constructor(private readonly db: Database) {}

  /**
   * Inserts a user; a registered username (in any case) or email, or an
   * identifier, already in use is already_exists naming the field. The
   * checks run in the insert's write transaction (the caller's, when there
   * is one): writers are serialised, so nothing can take the name between
   * check and insert. A unique violation the checks did not foresee (a
   * duplicate id) is already_exists too.
   */
  insertUser(user: NewUser): Promise<void> {
    return this.db.write(async () => {
      if (user.kind === "registered") {
        if (await this.registeredUsernameTaken(user.tenantId, user.username))
          throw new RoomgateError("already_exists", "username: already taken");
        if (user.email !== null && (await this.registeredEmailTaken(user.tenantId, user.email))) {
          throw new RoomgateError("already_exists", "email: already registered");
        }
      }
      if (
        user.uniqueUserIdentifier !== null &&
        (await this.identifierTaken(user.tenantId, user.uniqueUserIdentifier))
      ) {
        throw new RoomgateError("already_exists", "unique_user_identifier: already in use");
      }
      // The key is derived here, next to the unique index that relies on it,
      // so no caller can store a name without its key.
      const key = user.kind === "registered" ? usernameKey(user.username) : null;
      try {
        await this.db.run(
          sql`insert into users (id, tenant_id, kind, username, username_key, email, password_hash, phone, external_user_id,
                                 unique_user_identifier, profile_pic, meta, tenant_moderator, created_at)
              values (${user.id}, ${user.tenantId}, ${user.kind}, ${user.username}, ${key}, ${user.email}, ${user.passwordHash},
                      ${user.phone}, ${user.externalUserId}, ${user.uniqueUserIdentifier}, ${user.profilePic}, ${user.meta},
                      ${user.tenantModerator}, ${user.createdAt})`,
        );
        if (user.tenantModerator) await noteTenantModerator(this.db, user.tenantId, user.id);
      } catch (err) {
        if (isUniqueViolation(err)) throw new RoomgateError("already_exists", "user already exists");
        throw err;
      }
    });
  }

  async registeredUsernameTaken(tenantId: string, username: string): Promise<boolean> {
    const row = await this.db.get(
      sql`select id as "id" from users where ${registeredNamed(tenantId, username)} limit 1`,
    );
    return row !== undefined;
  }

  async registeredEmailTaken(tenantId: string, email: string): Promise<boolean> {
    const row = await this.db.get(
      sql`select id as "id" from users where tenant_id = ${tenantId} and email = ${email} and kind = 'registered' limit 1`,
    );
    return row !== undefined;
  }

  async findRegisteredByUsername(
    tenantId: string,
    username: string,
  ): Promise<{ id: string; passwordHash: string | null } | undefined> {
    // The exact spelling first, should a legacy case variant exist too.
    const row = await this.db.get(
      sql`select id as "id", password_hash as "passwordHash" from users where ${registeredNamed(tenantId, username)}
          order by (username = ${username}) desc limit 1`,
    );
    if (row === undefined) return undefined;
    return {
      id: String(row.id),
      passwordHash: row.passwordHash === null || row.passwordHash === undefined ? null : String(row.passwordHash),
    };
  }

  /** A user's kind, username and password hash (PasswordStore); a deleted user is not found. */
  async passwordOf(
    tenantId: string,
    userId: string,
  ): Promise<{ kind: string; username: string; passwordHash: string | null } | undefined> {
    const row = await this.db.get(
      sql`select kind as "kind", username as "username", password_hash as "passwordHash" from users
          where tenant_id = ${tenantId} and id = ${userId} and kind <> 'deleted'`,
    );
    if (row === undefined) return undefined;
    const passwordHash = row.passwordHash === null ? null : String(row.passwordHash);
    return { kind: String(row.kind), username: String(row.username), passwordHash };
  }

  async setPasswordHash(tenantId: string, userId: string, passwordHash: string): Promise<void> {
    await this.db.run(
      sql`update users set password_hash = ${passwordHash} where tenant_id = ${tenantId} and id = ${userId}`,
    );
  }

  async tenantExists(tenantId: string): Promise<boolean> {
    return (await this.db.get(sql`select id as "id" from tenants where id = ${tenantId}`)) !== undefined;
  }

  async findConsumerByIdentifier(
    tenantId: string,
    uniqueUserIdentifier: string,
  ): Promise<ConsumerUserRecord | undefined> {
    const row = await this.db.get(
      sql`select id as "id", username as "username", tenant_moderator as "tenantModerator" from users
          where tenant_id = ${tenantId} and unique_user_identifier = ${uniqueUserIdentifier} and kind = 'consumer'`,
    );
    return row === undefined
      ? undefined
      : { id: String(row.id), username: String(row.username), tenantModerator: bool(row.tenantModerator) };
  }

  async updateConsumer(tenantId: string, userId: string, patch: ConsumerUserPatch): Promise<void> {
    const set: SQL[] = [];
    for (const field of Object.keys(PATCH_COLUMNS) as Array<keyof ConsumerUserPatch>) {
      const value = patch[field];
      if (value !== undefined) set.push(sql`${PATCH_COLUMNS[field]} = ${value}`);
    }
    if (set.length === 0) return;
    await this.db.run(
      sql`update users set ${sql.join(set, sql`, `)} where tenant_id = ${tenantId} and id = ${userId} and kind = 'consumer'`,
    );
    if (patch.tenantModerator !== undefined) await noteTenantModerator(this.db, tenantId, userId);
  }

  async ensureRoom(tenantId: string, roomId: string, now: number): Promise<void> {
    await this.db.run(
      sql`insert into rooms (tenant_id, id, created_at) values (${tenantId}, ${roomId}, ${now}) on conflict (tenant_id, id) do nothing`,
    );
    noteEffects(tenantId, { roomsSeen: [{ tenantId, roomId }] });
  }

  /**
   * Gives registered users stored before case-insensitive usernames (or
   * inserted around this store) their key; call it once at start, before
   * serving. The key needs Unicode case mapping, which SQL's lower() lacks,
   * so this runs here rather than in a migration. When two old rows differ
   * only in case, the oldest gets the key; the others keep none and still
   * log in (and count as taken) by their exact name. Running it again
   * changes nothing.
   *
   * @returns How many users got their key.
   */
  backfillUsernameKeys(): Promise<number> {
    return this.db.write(async () => {
      const missing = await this.db.all(
        sql`select id as "id", tenant_id as "tenantId", username as "username" from users
            where kind = 'registered' and username_key is null order by created_at, id`,
      );
      let given = 0;
      for (const u of missing) {
        const key = usernameKey(String(u.username));
        const taken = await this.db.get(
          sql`select id as "id" from users where tenant_id = ${String(u.tenantId)} and kind = 'registered' and username_key = ${key}`,
        );
        if (taken === undefined) {
          await this.db.run(sql`update users set username_key = ${key} where id = ${String(u.id)}`);
          given++;
        }
      }
      return given;
    });
  }

  private async identifierTaken(tenantId: string, uniqueUserIdentifier: string): Promise<boolean> {
    const row = await this.db.get(
      sql`select id as "id" from users where tenant_id = ${tenantId} and unique_user_identifier = ${uniqueUserIdentifier} limit 1`,
    );
    return row !== undefined;
  }
}
