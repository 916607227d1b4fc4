import type { NewUser } from "../../src/domain/users/users.js";

// Builders of the domain's records for tests: one place that knows every
// field, so a new column changes one file; each test states only the fields
// it is about.

/**
 * A user row as the store inserts it: a registered user named `id` in
 * `tenantId`, created at 1, every optional column null; `over` replaces any
 * field.
 */
export function newUser(id: string, tenantId: string, over: Partial<NewUser> = {}): NewUser {
  return {
    id,
    tenantId,
    kind: "registered",
    username: id,
    email: null,
    passwordHash: null,
    phone: null,
    externalUserId: null,
    uniqueUserIdentifier: null,
    profilePic: null,
    meta: null,
    tenantModerator: false,
    createdAt: 1,
    ...over,
  };
}
