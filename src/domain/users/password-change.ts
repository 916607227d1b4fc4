import type { SubjectClaims } from "../auth/subject-tokens.js";
import { invalidArgument, RoomgateError } from "../errors.js";
import { journaled, type JournalSink } from "../events/record.js";
import { checkId } from "../ids.js";
import type { Actor, Transact } from "../journal.js";
import { addressLimitKey, type LoginGuard } from "./login-guard.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import type { Sessions } from "./sessions.js";
import { usernameKey, validatePassword } from "./validation.js";

/** The password column of a user; implemented in src/store/user-store.ts. */
export interface PasswordStore {
  /** The user's kind and password hash; undefined for an unknown id, another tenant's or a deleted user. */
  passwordOf(
    tenantId: string,
    userId: string,
  ): Promise<{ kind: string; username: string; passwordHash: string | null } | undefined>;
  setPasswordHash(tenantId: string, userId: string, passwordHash: string): Promise<void>;
}

/** Everything password changes work with. */
export interface PasswordChangeDeps {
  readonly store: PasswordStore;
  readonly sessions: Sessions;
  readonly transact: Transact;
  readonly sink: JournalSink;
  readonly clock: () => number;
  /** Login's limits: a wrong old password is a failed login of the account (none when omitted). */
  readonly guard?: LoginGuard;
}

/**
 * ChangePassword (the user, with the old password: every other session
 * ends) and SetPassword (the API key: every session ends). The new hash,
 * the audit entry and the ends are one write; the ends are removing writes
 * (see Sessions), answered once every replica applied them.
 */
export class PasswordChanges {
  constructor(private readonly deps: PasswordChangeDeps) {}

  /**
   * The caller's own change; `caller` is the presented access token's
   * claims, `clientAddress` keys Login's limits, which old-password guesses
   * are charged to as failed logins of the account. Returns the last event
   * id (0: none).
   */
  async change(caller: SubjectClaims, oldPassword: string, newPassword: string, clientAddress = ""): Promise<number> {
    if (oldPassword === "") throw invalidArgument("old_password: must not be empty");
    const password = validatePassword(newPassword, "new_password");
    const { tenantId, userId } = caller;
    const { hash: before, username } = await this.passwordOf(tenantId, userId);
    const ticket = await this.deps.guard?.admit({
      tenant: tenantId,
      account: `${tenantId}\u0000${usernameKey(username)}`,
      address: addressLimitKey(clientAddress),
    });
    if (!(await verifyPassword(oldPassword.normalize("NFC"), before))) {
      throw new RoomgateError("permission_denied", "old_password: does not match");
    }
    await ticket?.succeeded();
    const actor: Actor = `user:${userId}`;
    return await this.set(tenantId, userId, password, before, actor, "user.password_change", caller.tokenId);
  }

  /** The API key's reset: no old password; every session of the user ends. */
  async reset(tenantId: string, actor: Actor, userId: string, newPassword: string): Promise<number> {
    checkId("user_id", userId);
    const password = validatePassword(newPassword);
    const { hash } = await this.passwordOf(tenantId, userId);
    return await this.set(tenantId, userId, password, hash, actor, "user.set_password", "");
  }

  /** The current hash; not_found / failed_precondition when there is none to change. */
  private async passwordOf(tenantId: string, userId: string): Promise<{ hash: string; username: string }> {
    const row = await this.deps.store.passwordOf(tenantId, userId);
    if (row === undefined) throw new RoomgateError("not_found", `user ${userId} not found`);
    if (row.kind !== "registered" || row.passwordHash === null) {
      throw new RoomgateError("failed_precondition", "password: only registered users log in with a password");
    }
    return { hash: row.passwordHash, username: row.username };
  }

  private async set(
    tenantId: string,
    userId: string,
    password: string,
    before: string,
    actor: Actor,
    action: string,
    keep: string,
  ): Promise<number> {
    const hash = await hashPassword(password);
    const { sessions, store } = this.deps;
    const { events } = await journaled(
      this.deps.transact,
      this.deps.sink,
      async (record) => {
        // Another change that committed while the hash was computed wins: this one would undo it unseen.
        if ((await store.passwordOf(tenantId, userId))?.passwordHash !== before) {
          throw new RoomgateError("failed_precondition", "password: changed meanwhile; try again");
        }
        await store.setPasswordHash(tenantId, userId, hash);
        const at = this.deps.clock();
        await record({
          audit: [{ tenantId, at, actor, action, roomId: "", targetUserId: userId, target: "", reason: "" }],
          events: [],
        });
        const ending = (await sessions.list(tenantId, userId)).filter((s) => s.id !== keep);
        await sessions.endWithin(record, ending, actor, "session.password", "");
      },
      { withEvents: true },
    );
    return events.at(-1)?.id ?? 0;
  }
}
