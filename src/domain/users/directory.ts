import { EventType } from "../../../gen/room/events/private/v1/service_pb.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled, type JournalSink } from "../events/record.js";
import { checkId } from "../ids.js";
import type { StoredEvent, Transact } from "../journal.js";
import { pageSizeOf } from "../paging.js";
import { decodeUserPageToken, encodeUserPageToken } from "./page-token.js";
import { hashPassword } from "./passwords.js";
import type { Sessions } from "./sessions.js";
import {
  MAX_MODERATED_ROOMS,
  type UserColumnsPatch,
  type UserDirectoryStore,
  type UserFilter,
  type UserRecord,
  type UserView,
} from "./records.js";
import type { UserKind } from "./users.js";
import {
  usernameKey,
  validateEmail,
  validateMeta,
  validateOptionalId,
  validatePassword,
  validatePhone,
  validateProfilePic,
  validateUsername,
} from "./validation.js";

/** The API key acting: its tenant, and its id for the audit log. */
export interface KeyCaller {
  readonly tenantId: string;
  readonly keyId: string;
}

/** A ListUsers request as plain values ("" / undefined: no filter). */
export interface ListUsersInput {
  readonly pageSize: number;
  readonly pageToken: string;
  readonly externalUserId: string;
  readonly username: string;
  readonly kind: UserKind | undefined;
}

/** One page of users. */
export interface UserPage {
  readonly users: readonly UserView[];
  readonly nextPageToken: string;
}

/** UpdateUser's fields: undefined = not set (stays), "" = clear where allowed. */
export interface UserUpdateInput {
  readonly username?: string;
  readonly email?: string;
  readonly phone?: string;
  readonly externalUserId?: string;
  readonly meta?: string;
  readonly profilePic?: string;
  readonly password?: string;
}

/** Everything the directory works with. */
export interface UserDirectoryDeps {
  readonly store: UserDirectoryStore;
  readonly transact: Transact;
  readonly sink: JournalSink;
  readonly clock: () => number;
  /** A password set here ends every session of the user, as SetPassword does. */
  readonly sessions: Pick<Sessions, "list" | "endWithin">;
}

/**
 * Reading users back and updating them, for the tenant's API key
 * (room.users.private.v1). Another tenant's user, an unknown id and a
 * deleted user are all not_found; the password hash is never read out.
 */
export class UserDirectory {
  constructor(private readonly deps: UserDirectoryDeps) {}

  /** One live user of the caller's tenant. */
  async get(tenantId: string, userId: string): Promise<UserView> {
    checkId("user_id", userId);
    const user = await this.deps.store.findUser(tenantId, userId);
    if (!user) throw notFound(userId);
    return (await this.withRooms(tenantId, [user]))[0]!;
  }

  /** A page of the tenant's live users, newest first; the token is a keyset position. */
  async list(tenantId: string, req: ListUsersInput): Promise<UserPage> {
    const pageSize = pageSizeOf(req.pageSize);
    const after = req.pageToken === "" ? undefined : decodeUserPageToken(req.pageToken);
    const filter: UserFilter = {
      externalUserId: validateOptionalId(req.externalUserId, "external_user_id"),
      usernameKey: req.username === "" ? undefined : usernameKey(validateUsername(req.username)),
      kind: req.kind,
    };
    // One more than asked tells whether another page follows.
    const rows = await this.deps.store.listUsers(tenantId, filter, after, pageSize + 1);
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      users: await this.withRooms(tenantId, page),
      nextPageToken: rows.length > pageSize && last ? encodeUserPageToken({ at: last.createdAt, id: last.id }) : "",
    };
  }

  /**
   * Changes the fields that are set. Everything is validated, and the
   * password hashed, before the write transaction; inside it the user is
   * read again and uniqueness checked against the other registered users,
   * so nothing is written when anything is refused. Audited and announced
   * as USER_UPDATED (field names only, never values).
   */
  async update(
    caller: KeyCaller,
    userId: string,
    input: UserUpdateInput,
  ): Promise<{ user: UserView; event: StoredEvent }> {
    checkId("user_id", userId);
    const fields = (Object.keys(input) as (keyof UserUpdateInput)[]).filter((k) => input[k] !== undefined);
    if (fields.length === 0) throw invalidArgument("nothing to update: set at least one field");
    const username = input.username === undefined ? undefined : validateUsername(input.username);
    const email = input.email === undefined ? undefined : input.email === "" ? null : validateEmail(input.email);
    const password = input.password === undefined ? undefined : validatePassword(input.password);
    const base: UserColumnsPatch = {
      phone: input.phone === undefined ? undefined : (validatePhone(input.phone) ?? null),
      externalUserId:
        input.externalUserId === undefined
          ? undefined
          : (validateOptionalId(input.externalUserId, "external_user_id") ?? null),
      meta: input.meta === undefined ? undefined : (validateMeta(input.meta, "meta") ?? null),
      profilePic:
        input.profilePic === undefined ? undefined : (validateProfilePic(input.profilePic, "profile_pic") ?? null),
    };
    const { tenantId } = caller;
    const before = await this.deps.store.findUser(tenantId, userId);
    if (!before) throw notFound(userId);
    checkForKind(before.kind, email, password);
    // Hashing is slow: done once, outside the lock.
    const passwordHash = password === undefined ? undefined : await hashPassword(password);

    const { result, events } = await journaled(
      this.deps.transact,
      this.deps.sink,
      async (record) => {
        const user = await this.deps.store.findUser(tenantId, userId);
        if (!user) throw notFound(userId);
        // A user deleted and replaced in between cannot change kind, but the
        // rules are the kind's, so check again against what is stored now.
        checkForKind(user.kind, email, password);
        const registered = user.kind === "registered";
        if (registered) await this.checkUnique(tenantId, userId, username, email);
        const patch: UserColumnsPatch = {
          ...base,
          username,
          usernameKey: username !== undefined && registered ? usernameKey(username) : undefined,
          email,
          passwordHash,
        };
        if (!(await this.deps.store.updateUser(tenantId, userId, patch))) throw notFound(userId);
        const at = this.deps.clock();
        const actor = `key:${caller.keyId}` as const;
        await record({
          audit: [{ tenantId, at, actor, action: "user.update", targetUserId: userId, detail: { fields } }],
          events: [{ tenantId, type: EventType.USER_UPDATED, userId, actor, at }],
        });
        if (passwordHash !== undefined) {
          const ending = await this.deps.sessions.list(tenantId, userId);
          await this.deps.sessions.endWithin(record, ending, actor, "session.password", "");
        }
        return await this.get(tenantId, userId);
      },
      { withEvents: true },
    );
    return { user: result, event: events[events.length - 1]! };
  }

  /** A registered user's new username and email must not belong to another registered user. */
  private async checkUnique(
    tenantId: string,
    userId: string,
    username: string | undefined,
    email: string | null | undefined,
  ): Promise<void> {
    const { store } = this.deps;
    if (username !== undefined && (await store.registeredUsernameTakenByOther(tenantId, username, userId))) {
      throw new RoomgateError("already_exists", "username: already taken");
    }
    if (email != null && (await store.registeredEmailTakenByOther(tenantId, email, userId))) {
      throw new RoomgateError("already_exists", "email: already registered");
    }
  }

  /** Adds the moderated rooms to each record (one query for the lot). */
  private async withRooms(tenantId: string, users: readonly UserRecord[]): Promise<UserView[]> {
    if (users.length === 0) return [];
    const rooms = await this.deps.store.moderatedRooms(
      tenantId,
      users.map((u) => u.id),
      MAX_MODERATED_ROOMS + 1,
    );
    return users.map((u) => {
      const all = rooms.get(u.id) ?? [];
      return {
        ...u,
        moderatedRoomIds: all.slice(0, MAX_MODERATED_ROOMS),
        moderatedRoomIdsTruncated: all.length > MAX_MODERATED_ROOMS,
      };
    });
  }
}

/** The rules that depend on the user's kind. */
function checkForKind(kind: UserKind, email: string | null | undefined, password: string | undefined): void {
  if (kind === "registered" && email === null) throw invalidArgument("email: must not be empty for a registered user");
  if (kind !== "registered" && password !== undefined) {
    throw new RoomgateError("failed_precondition", "password: only registered users log in with a password");
  }
}

function notFound(userId: string): RoomgateError {
  return new RoomgateError("not_found", `user ${userId} not found`);
}
