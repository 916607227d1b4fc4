import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, createRouterTransport } from "@connectrpc/connect";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import type { App } from "../../src/app/create-app.js";
import { startHarnessedApp, type Harness } from "../support/harness.js";
import { loadConfig } from "../../src/config/config.js";
import { createTenantWithKey } from "../../src/domain/auth/tenants.js";
import { generateTokenKey } from "../../src/domain/tokens/keyring.js";
import { routes } from "../../src/server/routes.js";
import { bearer, expectCode, SEED_ARGUMENT, tokensClient, type TokensClient } from "../support/clients.js";

const KEY = "router-test-key-0123456789";
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

describe("room.tokens.private.v1.Service through the Connect router (in memory)", () => {
  let dir: string;
  let app: App;
  let h: Harness;
  let client: TokensClient;
  let now: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "roomgate-router-"));
    now = T0;
    // The store is a SQLite file in `dir`, as in production: reads outside a
    // write see committed rows only.
    ({ app, h } = await startHarnessedApp(
      loadConfig({ ROOMGATE_DATA_DIR: dir, ROOMGATE_API_KEY: KEY }),
      pino({ level: "silent" }),
      {
        clock: () => now,
        tokenKeys: [{ ...generateTokenKey(T0), state: "active" }],
      },
    ));
    client = tokensClient(createRouterTransport(routes(app.services), { router: app.routerOptions }));
  });

  afterEach(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("Create → Verify round-trips the seed's argument and records one grant", async () => {
    const { tokens } = await client.create({ arguments: [SEED_ARGUMENT] }, bearer(KEY));
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await h.grants.countGrants(app.bootstrap.tenantId)).toBe(1);

    const v = await client.verify({ token: tokens[0]! }, bearer(KEY));
    expect(v.userId).toBe(SEED_ARGUMENT.userId);
    expect(v.roomId).toBe(SEED_ARGUMENT.roomId);
    expect(v.permissions).toEqual([Permission.PermissionRoomKick]);
    expect(v.metadata).toEqual({ note: "temporary moderator" });
    expect(v.tokenId).toMatch(/^[0-9a-f]{32}$/);
    expect((await h.grants.findGrant(v.tokenId))?.userId).toBe(SEED_ARGUMENT.userId);
  });

  it("returns one distinct token per argument, in argument order", async () => {
    const args = ["a", "b", "c"].map((u) => ({
      userId: u,
      roomId: `room-${u}`,
      permissions: [Permission.PermissionChatMute],
    }));
    const { tokens } = await client.create({ arguments: args }, bearer(KEY));
    expect(tokens).toHaveLength(3);
    expect(new Set(tokens).size).toBe(3);
    const users = await Promise.all(tokens.map(async (token) => (await client.verify({ token }, bearer(KEY))).userId));
    expect(users).toEqual(["a", "b", "c"]);
  });

  it("expands a group permission: PermissionRoom verifies as 200..203", async () => {
    const { tokens } = await client.create(
      { arguments: [{ userId: "u", roomId: "r", permissions: [Permission.PermissionRoom] }] },
      bearer(KEY),
    );
    const v = await client.verify({ token: tokens[0]! }, bearer(KEY));
    expect(v.permissions).toEqual([200, 201, 202, 203]);
    expect(v.permissions).toEqual([
      Permission.PermissionRoom,
      Permission.PermissionRoomBlock,
      Permission.PermissionRoomUnblock,
      Permission.PermissionRoomKick,
    ]);
  });

  it("expands PermissionChat to 100..107 and de-duplicates members given explicitly", async () => {
    const { tokens } = await client.create(
      {
        arguments: [
          {
            userId: "u",
            roomId: "r",
            permissions: [Permission.PermissionChatKick, Permission.PermissionChat, Permission.PermissionChatKick],
          },
        ],
      },
      bearer(KEY),
    );
    const v = await client.verify({ token: tokens[0]! }, bearer(KEY));
    expect(v.permissions).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
  });

  it("round-trips nested metadata of every JSON type", async () => {
    const metadata = {
      note: "temporary moderator",
      level: 3,
      on: true,
      none: null,
      tags: ["a", "b"],
      nested: { x: { y: "z" } },
      emoji: "🦊",
    };
    const { tokens } = await client.create(
      { arguments: [{ userId: "u", roomId: "r", metadata, permissions: [] }] },
      bearer(KEY),
    );
    const v = await client.verify({ token: tokens[0]! }, bearer(KEY));
    expect(v.metadata).toEqual(metadata);
  });

  it("without metadata verifies with an empty object", async () => {
    const { tokens } = await client.create({ arguments: [{ userId: "u", roomId: "r" }] }, bearer(KEY));
    const v = await client.verify({ token: tokens[0]! }, bearer(KEY));
    expect(v.metadata).toEqual({});
    expect(v.permissions).toEqual([]);
  });

  it("defaults to a 24 h lifetime and sets issued_at = not_before = the clock", async () => {
    const { tokens } = await client.create({ arguments: [{ userId: "u", roomId: "r" }] }, bearer(KEY));
    const v = await client.verify({ token: tokens[0]! }, bearer(KEY));
    expect(timestampMs(v.issuedAt!)).toBe(T0);
    expect(timestampMs(v.notBefore!)).toBe(T0);
    expect(timestampMs(v.expiresAt!)).toBe(T0 + 86_400_000);
  });

  it("honours ttl_seconds and refuses the token once the clock passes its expiry", async () => {
    const { tokens } = await client.create({ arguments: [{ userId: "u", roomId: "r", ttlSeconds: 60 }] }, bearer(KEY));
    const token = tokens[0]!;
    const v = await client.verify({ token }, bearer(KEY));
    expect(timestampMs(v.expiresAt!)).toBe(T0 + 60_000);

    now = T0 + 59_999;
    await expect(client.verify({ token }, bearer(KEY))).resolves.toMatchObject({ userId: "u" });

    now = T0 + 60_000; // expiry is exclusive
    await expectCode(client.verify({ token }, bearer(KEY)), Code.Unauthenticated, "token expired");

    now = T0 + 3_600_000;
    await expectCode(client.verify({ token }, bearer(KEY)), Code.Unauthenticated, "token expired");
  });

  it("a repeated Verify gives the same claims and still checks the tenant every time", async () => {
    const other = await createTenantWithKey(h.tenants, "other", T0);
    const { tokens } = await client.create(
      { arguments: [{ userId: "u", roomId: "r", permissions: [Permission.PermissionRoom], metadata: { a: 1 } }] },
      bearer(KEY),
    );
    const token = tokens[0]!;
    const first = await client.verify({ token }, bearer(KEY));
    await expectCode(client.verify({ token }, bearer(other.key)), Code.Unauthenticated, "invalid token");
    const second = await client.verify({ token }, bearer(KEY));
    expect(second).toEqual(first);
    expect(second.permissions).toEqual([200, 201, 202, 203]);
    expect(second.metadata).toEqual({ a: 1 });
    // Tenant B's own tokens are not visible to tenant A either.
    const b = await client.create({ arguments: [{ userId: "u", roomId: "r" }] }, bearer(other.key));
    await expectCode(client.verify({ token: b.tokens[0]! }, bearer(KEY)), Code.Unauthenticated, "invalid token");
    expect(await h.grants.countGrants(other.tenant.id)).toBe(1);
  });

  it("refuses a token before its not_before time", async () => {
    const { tokens } = await client.create({ arguments: [{ userId: "u", roomId: "r" }] }, bearer(KEY));
    now = T0 - 1;
    await expectCode(client.verify({ token: tokens[0]! }, bearer(KEY)), Code.Unauthenticated, "token not yet valid");
  });

  it("requires the API key on both methods", async () => {
    await expectCode(
      client.create({ arguments: [{ userId: "u", roomId: "r" }] }),
      Code.Unauthenticated,
      /missing API key/,
    );
    await expectCode(client.verify({ token: "x" }), Code.Unauthenticated, /missing API key/);
    await expectCode(
      client.create({ arguments: [{ userId: "u", roomId: "r" }] }, bearer("wrong")),
      Code.Unauthenticated,
      "invalid API key",
    );
    expect(await h.grants.countGrants()).toBe(0);
  });
});
