import { randomUUID } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Action, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { decodeBase64Url } from "../../src/domain/tokens/base64url.js";
import { addKey, generateTokenKey } from "../../src/domain/tokens/keyring.js";
import { loadOrCreateKeys, writeKeyFile } from "../../src/store/key-file.js";
import { bearer, connectTransport, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

// Large Creates: sealed on the sealing thread while the rows are written,
// one audit entry per batch, all or nothing.

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ tokenKeys: "file" });
  await srv.h.sealer.whenReady();
});
afterAll(async () => {
  await srv?.close();
});

const connect = () => tokensClient(connectTransport(srv.baseUrl));
const grpc = () => tokensClient(grpcTransport(srv.baseUrl));

const args = (roomId: string, n: number, tag = randomUUID().slice(0, 8)) =>
  Array.from({ length: n }, (_, i) => ({
    userId: `${tag}-${i}`,
    roomId,
    permissions: [Permission.PermissionChat],
    metadata: { i },
  }));

const keyIdOf = (token: string) => {
  const b = decodeBase64Url(token)!;
  return ((b[1]! << 24) | (b[2]! << 16) | (b[3]! << 8) | b[4]!) >>> 0;
};

async function count(table: "grants" | "audit_log", roomId: string): Promise<number> {
  const row = await srv.h.rows.get(
    sql`select count(*) as "n" from ${sql.raw(table)} where tenant_id = ${srv.tenantId} and room_id = ${roomId}`,
  );
  return Number(row?.n ?? 0);
}

/** Every token verifies (in-process, the real verifier) as its own argument, in order; returns the token ids. */
function verifyAll(tokens: readonly string[], sent: ReturnType<typeof args>): string[] {
  expect(tokens).toHaveLength(sent.length);
  return tokens.map((t, i) => {
    const v = srv.h.roomTokens.verify(srv.tenantId, t);
    expect([v.userId, v.roomId, v.metadata]).toEqual([sent[i]!.userId, sent[i]!.roomId, sent[i]!.metadata]);
    return v.tokenId;
  });
}

/** The batch's one audit entry names exactly these token ids, in order. */
async function auditedIds(roomId: string): Promise<string[][]> {
  const rows = await srv.h.journal.listAudit({ tenantId: srv.tenantId, roomId, action: "token.issue", limit: 10 });
  return rows.map((r) => (r.detail as { grants: Array<{ tokenId: string }> }).grants.map((g) => g.tokenId));
}

describe("Create of 1,000 arguments", () => {
  it.each([
    ["Connect JSON", connect],
    ["gRPC", grpc],
  ])(
    "over %s: sealed on the thread, every token verifies as its argument, one grant each, one audit entry",
    async (_name, client) => {
      const roomId = `batch-${randomUUID()}`;
      const sent = args(roomId, 1000);
      const before = srv.h.sealer.counts;
      const { tokens } = await client().create({ arguments: sent }, bearer(srv.apiKey));
      expect(srv.h.sealer.counts.offloaded).toBe(before.offloaded + 1);
      expect(srv.h.sealer.counts.fallbacks).toBe(before.fallbacks);
      const ids = verifyAll(tokens, sent);
      expect(new Set(ids).size).toBe(1000);
      // A sample over the wire too.
      for (const t of [tokens[0]!, tokens[499]!, tokens[999]!]) {
        expect((await client().verify({ token: t }, bearer(srv.apiKey))).roomId).toBe(roomId);
      }
      expect(await count("grants", roomId)).toBe(1000);
      expect(await count("audit_log", roomId)).toBe(1);
      expect(await auditedIds(roomId)).toEqual([ids]);
    },
  );

  it("after a key rotation (app.reloadKeys) the thread seals with the new key: new key id, and the tokens verify", async () => {
    const file = srv.app.config.keyFile;
    const { keys } = loadOrCreateKeys(file, Date.now());
    const oldId = srv.h.codec.keyring.active.id;
    const warm = await connect().create({ arguments: args(`rot-${randomUUID()}`, 100) }, bearer(srv.apiKey));
    expect(new Set(warm.tokens.map(keyIdOf))).toEqual(new Set([oldId]));
    const fresh = generateTokenKey(Date.now());
    writeKeyFile(file, addKey(keys, fresh, true));
    srv.app.reloadKeys("test rotation");
    expect(srv.h.codec.keyring.active.id).toBe(fresh.id);

    const before = srv.h.sealer.counts;
    const roomId = `rot-${randomUUID()}`;
    const sent = args(roomId, 1000);
    const { tokens } = await grpc().create({ arguments: sent }, bearer(srv.apiKey));
    // Sealed by the thread (no fallback), and with the new key.
    expect(srv.h.sealer.counts.offloaded).toBe(before.offloaded + 1);
    expect(srv.h.sealer.counts.fallbacks).toBe(before.fallbacks);
    expect(new Set(tokens.map(keyIdOf))).toEqual(new Set([fresh.id]));
    verifyAll(tokens, sent);
    // Tokens of the old key still verify (it is decrypt-only now).
    expect((await connect().verify({ token: warm.tokens[0]! }, bearer(srv.apiKey))).tokenId).not.toBe("");
  });

  it("concurrent batch Creates keep their rows apart: each audit entry names its own tokens, each token its own argument", async () => {
    const shared = `conc-${randomUUID()}`;
    const rooms = [0, 1, 2, 3].map((i) => (i < 2 ? shared : `conc-${i}-${randomUUID()}`));
    const sent = rooms.map((roomId, i) => args(roomId, 200 + i * 100));
    const results = await Promise.all(
      sent.map((a, i) => (i % 2 ? grpc() : connect()).create({ arguments: a }, bearer(srv.apiKey))),
    );
    const ids = results.map((r, i) => verifyAll(r.tokens, sent[i]!));
    expect(await count("grants", shared)).toBe(200 + 300);
    expect(await count("audit_log", shared)).toBe(2);
    expect((await auditedIds(shared)).sort((a, b) => a.length - b.length)).toEqual([ids[0], ids[1]]);
    for (const i of [2, 3]) {
      expect(await count("grants", rooms[i]!)).toBe(sent[i]!.length);
      expect(await auditedIds(rooms[i]!)).toEqual([ids[i]]);
    }
  });
});

describe("a Create whose transaction fails writes nothing", () => {
  it("a refused member anywhere in a large batch: failed_precondition, no grant and no audit entry", async () => {
    const roomId = `refused-${randomUUID()}`;
    const sent = args(roomId, 500);
    // A member (holding a token) may be blocked; the batch then asks for a new one.
    await connect().create({ arguments: [sent[437]!] }, bearer(srv.apiKey));
    const moderation = createClient(ModerationPrivate, grpcTransport(srv.baseUrl));
    await moderation.act({ action: Action.ROOM_BLOCK, roomId, targetUserId: sent[437]!.userId }, bearer(srv.apiKey));
    const auditBefore = await count("audit_log", roomId);
    await expectCode(
      connect().create({ arguments: sent }, bearer(srv.apiKey)),
      Code.FailedPrecondition,
      /arguments\[437\].*blocked from room/,
    );
    expect(await count("grants", roomId)).toBe(1);
    expect(await count("audit_log", roomId)).toBe(auditBefore);
    expect(auditBefore).toBe(2); // the first token's and the block's, nothing from the refused Create
  });

  it("a store error in the audit insert rolls back the grants already written in the same transaction", async () => {
    const roomId = `boom-${randomUUID()}`;
    // A real store error: the database refuses the batch's audit row.
    const accept = await srv.h.faults.refuseAuditFor(roomId);
    try {
      const before = srv.h.sealer.counts;
      await expectCode(grpc().create({ arguments: args(roomId, 1000) }, bearer(srv.apiKey)), Code.Internal);
      // The batch was handed to the sealing thread (its tokens are dropped, unseen, when they come back).
      await vi.waitFor(() =>
        expect(srv.h.sealer.counts.offloaded + srv.h.sealer.counts.fallbacks).toBe(
          before.offloaded + before.fallbacks + 1,
        ),
      );
      expect(await count("grants", roomId)).toBe(0);
      expect(await count("audit_log", roomId)).toBe(0);
      const rooms = await srv.h.rows.get(
        sql`select count(*) as "n" from rooms where tenant_id = ${srv.tenantId} and id = ${roomId}`,
      );
      expect(Number(rooms?.n)).toBe(0);
    } finally {
      await accept();
    }
    // The same batch goes through once the store accepts it.
    const sent = args(roomId, 1000);
    verifyAll((await grpc().create({ arguments: sent }, bearer(srv.apiKey))).tokens, sent);
    expect(await count("grants", roomId)).toBe(1000);
  });
});
