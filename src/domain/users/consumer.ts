import { randomUUID } from "node:crypto";
import type { SubjectTokens } from "../auth/subject-tokens.js";
import type { MembershipStore } from "../membership.js";
import type { RoleName } from "../roles.js";
import { invalidArgument } from "../errors.js";
import { journaled, type JournalSink, type RecordFn, roleGranted, roleRevoked } from "../events/record.js";
import type { ClientInfo, Sessions } from "./sessions.js";
import type { UserStore, UserTokenOptions } from "./users.js";

/** A backend's CreateUser names no end-user client: the session shows none. */
const NO_CLIENT: ClientInfo = { address: "", userAgent: "" };
import type { Transact } from "../journal.js";
import { type ExpiryInput, NO_EXPIRY, roleExpiry, withExpiry } from "../spaces/expiry.js";
import { validateEmail, validateMeta, validateOptionalId, validateProfilePic, validateUsername } from "./validation.js";

/** Seed 003's request as plain values; "" means "not given". */
export interface ConsumerUserInput {
  readonly chatRoom: string;
  readonly externalUserId: string;
  readonly isModerator: boolean;
  readonly email: string;
  readonly profilePic: string;
  readonly meta: string;
  readonly username: string;
  readonly uniqueUserIdentifier: string;
  /** When the role this call gives (moderation, or the role in chat_room) expires; not given: it lasts. */
  readonly expiry?: ExpiryInput;
}

/** Who is asking: the tenant and the API key (recorded as the grantor). */
export interface ConsumerCaller {
  readonly tenantId: string;
  readonly keyId: string;
}

/** Seed 003's response, plus whether a user was created. */
export interface ConsumerUserResult {
  readonly accessToken: string;
  readonly username: string;
  readonly userId: string;
  readonly isModerator: boolean;
  /** False when a known unique_user_identifier logged an existing user in again. */
  readonly created: boolean;
}

/** Role given in `chat_room` for each value of is_moderator. */
const ROOM_ROLE: Readonly<Record<"moderator" | "user", RoleName>> = {
  moderator: "consumer_room_moderator",
  user: "role_room_user",
};

/**
 * Seed 003: a backend creates a user or moderator and gets an access token
 * in one call.
 *
 * - A known `uniqueUserIdentifier` (per tenant) is the same user again: the
 *   given username, email, profilePic, meta and externalUserId replace the
 *   stored ones, and a fresh token is issued.
 * - `isModerator` with `chatRoom`: consumer_room_moderator in that room.
 *   `isModerator` without it: moderator of every room of the tenant.
 *   Not a moderator with `chatRoom`: role_room_user in that room.
 * - Each call states the user's moderator status, so `isModerator: false`
 *   also ends tenant-wide moderation from an earlier call; a backend must
 *   be able to demote, and keeping a stale moderator is the unsafe default.
 *
 * Validation happens before any write; all writes share one transaction.
 */
export class ConsumerUsers {
  constructor(
    private readonly store: UserStore,
    private readonly roles: Pick<MembershipStore, "setRoomRole" | "roomRolesOf" | "setTenantModeratorExpiry">,
    private readonly tokens: SubjectTokens,
    private readonly options: UserTokenOptions,
    private readonly clock: () => number,
    /** Where role grants are audited and announced. */
    private readonly sink: JournalSink,
    /** The one write transaction. */
    private readonly transact: Transact,
    /**
     * Where the token becomes a session (issue 19): it can be listed and
     * ended like a login's. Without it (domain tests) a bare token is issued.
     */
    private readonly sessions?: Pick<Sessions, "start">,
  ) {}

  /** Creates the user (or finds it by identifier), applies the roles and issues a token. */
  async createOrLogin(caller: ConsumerCaller, input: ConsumerUserInput): Promise<ConsumerUserResult> {
    const { tenantId } = caller;
    const now = this.clock();
    const checked = checkInput(input, now);
    const written = await journaled(this.transact, this.sink, async (record) => {
      const user = await this.upsert(tenantId, checked, now);
      await this.applyRoles(caller, checked, user, now, record);
      // Issued in the transaction: a DeleteUser serialised after it takes
      // a later time, so its revocation covers this token.
      const ttlSeconds = this.options.tokenTtlSeconds;
      const token = this.sessions
        ? (await this.sessions.start(tenantId, user.userId, NO_CLIENT, { ttlSeconds })).accessToken
        : this.tokens.issue({ tenantId, userId: user.userId, ttlSeconds }).token;
      return { ...user, token };
    });
    return {
      accessToken: written.token,
      username: written.username,
      userId: written.userId,
      isModerator: checked.isModerator,
      created: written.created,
    };
  }

  /** Inside the write: the user known by its identifier, updated, or a new one. */
  private async upsert(tenantId: string, c: CheckedInput, now: number): Promise<Upserted> {
    const { username, email, profilePic, meta, externalUserId, uui, isModerator, chatRoom } = c;
    const existing = uui === undefined ? undefined : await this.store.findConsumerByIdentifier(tenantId, uui);
    if (existing) {
      const tenantModerator = isModerator ? (chatRoom === undefined ? true : undefined) : false;
      await this.store.updateConsumer(tenantId, existing.id, {
        username,
        email,
        profilePic,
        meta,
        externalUserId,
        tenantModerator,
      });
      const name = username ?? existing.username;
      return { userId: existing.id, username: name, created: false, wasTenantModerator: existing.tenantModerator };
    }
    if (username === undefined) throw invalidArgument("username: must not be empty");
    const userId = randomUUID();
    await this.store.insertUser({
      id: userId,
      tenantId,
      kind: "consumer",
      username,
      email: email ?? null,
      passwordHash: null,
      phone: null,
      externalUserId: externalUserId ?? null,
      uniqueUserIdentifier: uui ?? null,
      profilePic: profilePic ?? null,
      meta: meta ?? null,
      tenantModerator: isModerator && chatRoom === undefined,
      createdAt: now,
    });
    return { userId, username, created: true, wasTenantModerator: false };
  }

  /** Inside the write: tenant-wide moderation as this call leaves it, and the role in `chat_room`. */
  private async applyRoles(
    caller: ConsumerCaller,
    c: CheckedInput,
    user: Upserted,
    now: number,
    record: RecordFn,
  ): Promise<void> {
    const { tenantId } = caller;
    const { userId, wasTenantModerator } = user;
    const { isModerator, chatRoom, expiresAt } = c;
    const change = { tenantId, actor: `key:${caller.keyId}` as const, at: now, userId, via: "consumer" };
    // Tenant-wide moderation, as this call leaves it (see the rules above).
    const isTenantModerator = isModerator ? chatRoom === undefined || wasTenantModerator : false;
    // The call that makes the tenant-wide moderator sets its expiry (null
    // clears it); a demotion leaves nothing to expire.
    if (isModerator && chatRoom === undefined) await this.roles.setTenantModeratorExpiry(tenantId, userId, expiresAt);
    if (!isTenantModerator && wasTenantModerator) await this.roles.setTenantModeratorExpiry(tenantId, userId, null);
    // A new expiry is announced (watchers and role expiry learn its time).
    if (isTenantModerator && (!wasTenantModerator || (chatRoom === undefined && expiresAt !== null))) {
      const rec = roleGranted({ ...change, role: "consumer_tenant_moderator", roomId: "", previousRole: undefined });
      await record(withExpiry(rec, chatRoom === undefined ? expiresAt : null));
    } else if (!isTenantModerator && wasTenantModerator) {
      await record(roleRevoked({ ...change, role: "consumer_tenant_moderator", roomId: "" }));
    }
    if (chatRoom !== undefined) {
      await this.store.ensureRoom(tenantId, chatRoom, now);
      const role = ROOM_ROLE[isModerator ? "moderator" : "user"];
      const previousRole = (await this.roles.roomRolesOf(tenantId, userId, chatRoom)).roomRole;
      await this.roles.setRoomRole(tenantId, chatRoom, userId, role, caller.keyId, now, expiresAt);
      // Logging the same user in again with the same lasting role changes nothing.
      if (previousRole !== role || expiresAt !== null)
        await record(withExpiry(roleGranted({ ...change, role, roomId: chatRoom, previousRole }), expiresAt));
    }
  }
}

/** The request, checked: undefined for a field not given. */
interface CheckedInput {
  readonly username: string | undefined;
  readonly email: string | undefined;
  readonly profilePic: string | undefined;
  readonly meta: string | undefined;
  readonly chatRoom: string | undefined;
  readonly externalUserId: string | undefined;
  readonly uui: string | undefined;
  readonly isModerator: boolean;
  /** When the role the call gives expires, or null. */
  readonly expiresAt: number | null;
}

/** The user a call created or found, and whether it was a tenant-wide moderator before. */
interface Upserted {
  readonly userId: string;
  readonly username: string;
  readonly created: boolean;
  readonly wasTenantModerator: boolean;
}

/** Validates every field before any write, in the request's order. */
function checkInput(input: ConsumerUserInput, now: number): CheckedInput {
  const username = input.username === "" ? undefined : validateUsername(input.username);
  const email = input.email === "" ? undefined : validateEmail(input.email);
  const profilePic = validateProfilePic(input.profilePic, "profile_pic");
  const meta = validateMeta(input.meta, "meta");
  const chatRoom = validateOptionalId(input.chatRoom, "chat_room");
  const externalUserId = validateOptionalId(input.externalUserId, "external_user_id");
  const uui = validateOptionalId(input.uniqueUserIdentifier, "unique_user_identifier");
  const expiresAt = roleExpiry(input.expiry ?? NO_EXPIRY, now);
  if (expiresAt !== null && !input.isModerator && chatRoom === undefined)
    throw invalidArgument("expires_at: only a role expires: give is_moderator or chat_room with it");
  const isModerator = input.isModerator;
  return { username, email, profilePic, meta, chatRoom, externalUserId, uui, isModerator, expiresAt };
}
