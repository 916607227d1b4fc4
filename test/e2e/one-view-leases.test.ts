import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postFresh, RPC } from "../support/json-calls.js";
import { startReplicas, type Replica, type ReplicaSet } from "../support/replicas.js";
import { testStore } from "../support/server.js";

/**
 * Issue 16: taking access away is global when it is acknowledged, across
 * replicas. A removing write answers once every live replica applied it,
 * or once a replica that has not confirmed can no longer serve stale state
 * (its lease ran out). Replica C is paused (SIGSTOP), cut off from the
 * database, or killed; the write on A still answers, and C never answers
 * 200 from what it held before.
 */

const SEND = "PermissionCanSendMessagesInMainThread";

interface Issued {
  readonly token: string;
  readonly tokenId: string;
}

/** `n` tokens issued on `a`, each verified there once (which gives its id). */
async function issue(a: Replica, key: string, n: number, tag: string): Promise<Issued[]> {
  const args = Array.from({ length: n }, (_, i) => ({
    userId: `${tag}-u${i}`,
    roomId: `${tag}-r${i}`,
    permissions: [SEND],
  }));
  const created = await postFresh(a.port, RPC.create, key, { arguments: args });
  expect(created.status, JSON.stringify(created.json)).toBe(200);
  const out: Issued[] = [];
  for (const token of created.json.tokens as string[]) {
    const v = await postFresh(a.port, RPC.verify, key, { token });
    expect(v.status).toBe(200);
    out.push({ token, tokenId: v.json.tokenId });
  }
  return out;
}

/** Verify of `token` on `r`: its HTTP status. */
async function verifyStatus(r: Replica, key: string, token: string): Promise<number> {
  return (await postFresh(r.port, RPC.verify, key, { token })).status;
}

/** Resolves when `r`'s process has exited. */
function exited(r: Replica): Promise<void> {
  if (r.proc.exitCode !== null || r.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => r.proc.once("exit", () => resolve()));
}

describe("three replicas: a removing write on A with replica C paused, cut off or killed", () => {
  let set: ReplicaSet;
  beforeAll(async () => {
    set = await startReplicas(3);
  }, 120_000);
  afterAll(async () => {
    // A failed first test may leave C paused; a paused process never drains.
    const c = set?.replicas[2];
    if (c?.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGCONT");
    await set?.close();
  });

  it("SIGSTOP C, Revoke on A answers; B refuses at once; after SIGCONT, C's very first Verify is refused or unavailable, never 200", async () => {
    const [a, b, c] = set.replicas as [Replica, Replica, Replica];
    const key = set.apiKey;
    const [t] = await issue(a, key, 1, "stop");
    // C knows the token (its verify cache holds it).
    expect(await verifyStatus(c, key, t!.token)).toBe(200);
    process.kill(c.proc.pid!, "SIGSTOP");
    try {
      const revoked = await postFresh(a.port, RPC.revoke, key, { tokenId: t!.tokenId });
      expect(revoked.status, JSON.stringify(revoked.json)).toBe(200);
      expect(await verifyStatus(b, key, t!.token)).toBe(401);
    } finally {
      process.kill(c.proc.pid!, "SIGCONT");
    }
    expect([401, 503]).toContain(await verifyStatus(c, key, t!.token));
    // And C recovers: it catches up and refuses the token as revoked.
    expect(await verifyStatus(c, key, t!.token)).toBe(401);
  });

  it("kill -9 C while A revokes: every Revoke answers, and every acknowledged revocation holds on A, B and a new replica", async () => {
    const [a, b, c] = set.replicas as [Replica, Replica, Replica];
    const key = set.apiKey;
    const tokens = await issue(a, key, 40, "kill");
    const acknowledged: Issued[] = [];
    let killed: Promise<void> | undefined;
    await Promise.all(
      [0, 1, 2, 3].map(async (lane) => {
        for (let i = lane; i < tokens.length; i += 4) {
          const r = await postFresh(a.port, RPC.revoke, key, { tokenId: tokens[i]!.tokenId });
          expect(r.status, JSON.stringify(r.json)).toBe(200);
          acknowledged.push(tokens[i]!);
          // Mid-load: once a quarter is acknowledged, C dies without a word.
          if (killed === undefined && acknowledged.length >= tokens.length / 4) {
            c.proc.kill("SIGKILL");
            killed = exited(c);
          }
        }
      }),
    );
    await killed;
    expect(acknowledged).toHaveLength(tokens.length);
    const fresh = await set.add();
    for (const t of acknowledged) {
      for (const r of [a, b, fresh]) expect(await verifyStatus(r, key, t.token)).toBe(401);
    }
  });
});

describe.runIf(testStore() === "postgres")("a replica cut off from PostgreSQL", () => {
  let set: ReplicaSet;
  let proxy: net.Server;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    set = await startReplicas(1);
    // C reaches PostgreSQL only through this proxy, which the test cuts.
    const target = new URL(set.env["ROOMGATE_DATABASE_URL"]!);
    proxy = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxied = new URL(target);
    proxied.port = String((proxy.address() as net.AddressInfo).port);
    await set.add({ ROOMGATE_DATABASE_URL: proxied.toString() });
  }, 120_000);
  afterAll(async () => {
    proxy?.close();
    for (const s of sockets) s.destroy();
    await set?.close();
  });

  it("Revoke on A answers; C, which cannot confirm its feed, never answers 200 for the revoked token", async () => {
    const [a, c] = set.replicas as [Replica, Replica];
    const key = set.apiKey;
    const [t] = await issue(a, key, 1, "cut");
    expect(await verifyStatus(c, key, t!.token)).toBe(200);
    proxy.close();
    for (const s of sockets) s.destroy();
    const revoked = await postFresh(a.port, RPC.revoke, key, { tokenId: t!.tokenId });
    expect(revoked.status, JSON.stringify(revoked.json)).toBe(200);
    expect([401, 503]).toContain(await verifyStatus(c, key, t!.token));
    expect(await verifyStatus(a, key, t!.token)).toBe(401);
  });
});
