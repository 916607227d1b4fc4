import { randomUUID } from "node:crypto";
import type { TestServer } from "./server.js";

// The users feature is built in parallel: test users are inserted straight
// through the real store, and signed in with a real user access token.

/** A registered test user and its bearer token (a user access token). */
export interface TestUser {
  readonly userId: string;
  readonly token: string;
}

/** Inserts a registered user into `tenantId` (default: the bootstrap tenant) and issues it a 1 h user access token. */
export async function createTestUser(
  srv: TestServer,
  opts: { tenantId?: string; tenantModerator?: boolean } = {},
): Promise<TestUser> {
  const tenantId = opts.tenantId ?? srv.tenantId;
  const userId = randomUUID();
  const username = `user-${userId}`;
  await srv.h.seed.user({ tenantId, id: userId, username, tenantModerator: opts.tenantModerator });
  return { userId, token: srv.h.userTokens.issue({ tenantId, userId, ttlSeconds: 3600 }).token };
}
