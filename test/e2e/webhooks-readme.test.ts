import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Service as Webhooks } from "../../gen/room/webhooks/private/v1/service_pb.js";
import { bearer, connectTransport, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

// The README's webhook receiver, run as written, receives a real delivery.

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const section = readme.slice(readme.indexOf("## Webhooks"), readme.indexOf("\n## ", readme.indexOf("## Webhooks") + 1));
const receiverSource = /```ts\n([\s\S]*?)```/.exec(section)?.[1];

let srv: TestServer;
let dir: string;
let proc: ChildProcess | undefined;
beforeAll(async () => {
  srv = await startTestServer({
    env: { ROOMGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true", ROOMGATE_WEBHOOK_RETRY_BASE_MS: "50" },
  });
  dir = mkdtempSync(join(tmpdir(), "roomgate-readme-webhook-"));
  symlinkSync(new URL("../../node_modules", import.meta.url).pathname, join(dir, "node_modules"));
});
afterAll(async () => {
  proc?.kill("SIGKILL");
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe("README webhook receiver", () => {
  it("is ten-odd lines that verify, dedupe and print a real delivery, and refuse a forged one", async () => {
    expect(receiverSource).toBeDefined();
    expect(receiverSource!.trim().split("\n").length).toBeLessThanOrEqual(14);
    writeFileSync(join(dir, "receiver.ts"), receiverSource!);
    const port = await freePort();
    const hooks = createClient(Webhooks, connectTransport(srv.baseUrl));
    const made = await hooks.createEndpoint(
      { url: `http://127.0.0.1:${port}/`, eventTypes: ["EVENT_TYPE_TOKEN_REVOKED"] },
      bearer(srv.apiKey),
    );
    let out = "";
    proc = spawn(process.execPath, ["--import", "tsx", "receiver.ts"], {
      cwd: dir,
      env: { PATH: process.env["PATH"], HOME: process.env["HOME"], PORT: String(port), WEBHOOK_SECRET: made.secret },
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    proc.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    await tokensClient(grpcTransport(srv.baseUrl)).revokeRoom({ roomId: "readme-room" }, bearer(srv.apiKey));
    await vi.waitFor(() => expect(out).toContain("readme-room"), { timeout: 20_000, interval: 100 });
    expect(out).toContain("EVENT_TYPE_TOKEN_REVOKED");
    expect(out).toContain("readme-room");
    const forged = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: {
        "webhook-id": "msg_x",
        "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        "webhook-signature": "v1,AAAA",
      },
      body: "{}",
    });
    expect(forged.status).toBe(400);
  });
});
