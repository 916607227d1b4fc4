import { execFile } from "node:child_process";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startReplicas, type ReplicaSet } from "../support/replicas.js";

/**
 * Issue 17, point 5: an oversized body is answered, and the server then
 * reads on (and discards) up to a bound before it closes, so a client that
 * writes its whole body before it reads — as node:http does — still reads
 * the answer instead of an EPIPE or a reset.
 */

// A server process of its own: in this process the client's writes and the server's reads would share one event loop.
let set: ReplicaSet;
let srv: { port: number; apiKey: string };
beforeAll(async () => {
  set = await startReplicas(1);
  srv = { port: set.replicas[0]!.port, apiKey: set.apiKey };
}, 60_000);
afterAll(async () => {
  await set?.close();
});

const CREATE = "/room.tokens.private.v1.Service/Create";
const NINE_MB = 9 * 1024 * 1024;

/** A Connect JSON POST of `size` bytes written in 64 KiB chunks, as node:http writes a large body. */
function bigPost(
  port: number,
  key: string,
  size: number,
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.request({
      host: "127.0.0.1",
      port,
      path: CREATE,
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json", authorization: `Bearer ${key}`, "content-length": size },
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const write = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}

describe("an oversized request body is answered, not cut off", () => {
  it("node:http writing a 9 MB Create body reads resource_exhausted, ten times in a row", async () => {
    for (let i = 0; i < 10; i++) {
      const r = await bigPost(srv.port, srv.apiKey, NINE_MB);
      expect(r).toMatchObject({ status: 429 });
      expect(JSON.parse((r as { body: string }).body)).toMatchObject({ code: "resource_exhausted" });
    }
  });

  it("curl reads it too", async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        "sh",
        [
          "-c",
          `head -c ${NINE_MB} /dev/zero | tr '\\0' ' ' | curl -s -o - -w '\\n%{http_code}' -H 'content-type: application/json' -H 'authorization: Bearer ${srv.apiKey}' --data-binary @- http://127.0.0.1:${srv.port}${CREATE}`,
        ],
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    expect(out.trim().split("\n").at(-1)).toBe("429");
  });
});
