/**
 * Shared set-up for the RPC benchmarks: a real roomgate App on a temp data
 * dir, the seed-000 request shape, and the message a forked server sends.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { createApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config/config.js";
import { apiKeyId, type ApiKeyPrincipal } from "../../src/domain/auth/api-keys.js";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";
import { RoomTokens } from "../../src/domain/tokens/room-tokens.js";

/** What a ready server tells its parent. */
export interface Ready {
  readonly kind: ServerKind;
  /** HTTP/1.1 port (Connect JSON). */
  readonly port: number;
  /** h2c port for gRPC (the same as `port` for ours). */
  readonly h2Port: number;
  readonly apiKey: string;
  /** A room member token issued by this server, for Verify. */
  readonly token: string;
  readonly pid: number;
}

export type ServerKind = "ours" | "connect" | "bare";
export const SERVER_KINDS: readonly ServerKind[] = ["ours", "connect", "bare"];

export const SEED_USER_ID = "b7e4d2a1-5c3f-4e8a-9d6b-2f1a0c9e8d7b";
export const SEED_ROOM_ID = "e1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b";
export const BENCH_API_KEY = "bench-api-key-0123456789";

/** One seed-000 shaped argument as Connect JSON (proto field names). */
export function seedArgumentJson(userId = SEED_USER_ID, roomId = SEED_ROOM_ID): Record<string, unknown> {
  return { user_id: userId, room_id: roomId, metadata: { note: "temporary moderator" }, permissions: ["PermissionRoomKick"] };
}

/** A RoomTokens wired exactly like createApp wires the one inside the service. */
export function roomTokensFor(app: App): RoomTokens {
  return new RoomTokens(app.codec, app.grants, {
    defaultTtlSeconds: app.config.defaultTtlSeconds,
    maxTtlSeconds: app.config.maxTtlSeconds,
    maxBatch: app.config.maxBatch,
    maxMetadataBytes: app.config.maxMetadataBytes,
    maxIdBytes: 256,
  });
}

/** A real app on a fresh temp data dir, as test/support/server.ts builds it. */
export function createBenchApp(): { app: App; dataDir: string; principal: ApiKeyPrincipal } {
  const dataDir = mkdtempSync(join(tmpdir(), "roomgate-bench-"));
  const config = loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    ROOMGATE_DATA_DIR: dataDir,
    ROOMGATE_API_KEY: BENCH_API_KEY,
    ROOMGATE_SHUTDOWN_GRACE_MS: "1000",
  });
  const app = createApp(config, pino({ level: "silent" }), {
    tokenKeys: [{ ...generateTokenKey(Date.now()), state: "active" }],
  });
  const principal: ApiKeyPrincipal = { tenantId: app.bootstrap.tenantId!, keyId: apiKeyId(BENCH_API_KEY) };
  return { app, dataDir, principal };
}

