import { randomUUID } from "node:crypto";
import { users } from "../../src/store/schema.js";
import type { TestServer } from "./server.js";

// The users feature is built in parallel: test users are inserted straight
// through the real store, and signed in with a real user access token.

/** A registered test user and its bearer token (a user access token). */
export interface TestUser {
  readonly userId: string;
  readonly token: string;
}

/** Inserts a registered user into `tenantId` (default: the bootstrap tenant) and issues it a 1 h user access token. */
export function createTestUser(srv: TestServer, opts: { tenantId?: string; tenantModerator?: boolean } = {}): TestUser {
  const tenantId = opts.tenantId ?? srv.tenantId;
  const userId = randomUUID();
  srv.app.store.db
    .insert(users)
    .values({
      id: userId,
      tenantId,
      kind: "registered",
      username: `user-${userId}`,
      email: `${userId}@example.test`,
      tenantModerator: opts.tenantModerator ?? false,
      createdAt: Date.now(),
    })
    .run();
  return { userId, token: srv.app.userTokens.issue({ tenantId, userId, ttlSeconds: 3600 }).token };
}
