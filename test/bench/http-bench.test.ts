import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  h2loadLatencies,
  parseH2loadResult,
  parseWrkResult,
  runMeasured,
  wrkScript,
} from "../../bench/lib/http-load.js";
import { cellKey, pickRound, renderTable, renderTargets, type Cell } from "../../bench/lib/http-table.js";
import { CALLS } from "../../bench/lib/http-calls.js";
import type { RunResult } from "../../bench/lib/http-load.js";
import { installed } from "../../bench/lib/load-gen.js";

const result = (reqPerSec: number, genCpu = 0.3): RunResult => ({
  tool: "wrk",
  requests: reqPerSec,
  reqPerSec,
  p50: 1,
  p99: 2,
  genCpu,
  serverUsPerReq: 100,
});

describe("bench/lib/http-load parsers", () => {
  it("refuses a wrk run with any non-2xx response or socket error, and reads the rest", () => {
    const line = (non2xx: number, read = 0) => `RESULT 1000 2000000 0 ${read} 0 0 0 ${non2xx} 1500 9000\n`;
    expect(parseWrkResult(line(0), "u")).toEqual({ requests: 1000, seconds: 2, p50: 1.5, p99: 9 });
    expect(() => parseWrkResult(line(1), "u")).toThrow(/non-2xx 1/);
    expect(() => parseWrkResult(line(0, 2), "u")).toThrow(/read 2/);
    expect(() => parseWrkResult("no summary", "u")).toThrow(/no RESULT/);
  });

  it("refuses an h2load run with a failed stream or a non-2xx status, and takes percentiles from its log", () => {
    const out = (failed: number, fourxx: number) =>
      `finished in 2.00s, 500.00 req/s, 1KB/s\nrequests: 1000 total, 1000 started, 1000 done, ${1000 - failed - fourxx} succeeded, ${failed} failed, 0 errored, 0 timeout\nstatus codes: ${1000 - fourxx - failed} 2xx, 0 3xx, ${fourxx} 4xx, 0 5xx\n`;
    expect(parseH2loadResult(out(0, 0), "u")).toEqual({ requests: 1000, reqPerSec: 500 });
    expect(() => parseH2loadResult(out(1, 0), "u")).toThrow(/1 failed/);
    expect(() => parseH2loadResult(out(0, 3), "u")).toThrow(/3 non-2xx/);
    const log =
      Array.from({ length: 100 }, (_, i) => `1700000000000000\t200\t${(i + 1) * 1000}`).join("\n") +
      "\n1700000000000000\t-1\t999999999\n";
    expect(parseH2loadResult(out(0, 0).replace("2.00s", "999.33ms"), "u").reqPerSec).toBe(500);
    expect(h2loadLatencies(log)).toEqual({ p50: 50, p99: 99 });
  });
});

describe("bench/lib/http-table", () => {
  it("reports the best or the median round", () => {
    const rounds = [result(300), result(100), result(200)];
    expect(pickRound(rounds, "best")!.reqPerSec).toBe(300);
    expect(pickRound(rounds, "median")!.reqPerSec).toBe(200);
    expect(pickRound([], "best")).toBeUndefined();
  });

  it("prints one row per measured cell with both ratios, flags a generator-bound cell, and judges the targets", () => {
    const cells = new Map<string, Cell>([
      [
        cellKey("verify", "json"),
        new Map([
          ["fast", [result(3000)]],
          ["slow", [result(1000)]],
          ["plain", [result(1000)]],
          ["bare", [result(6000, 0.95)]],
        ]),
      ],
    ]);
    const lines = renderTable(CALLS, cells, "best").split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain("| 3.00× | 0.50× |");
    expect(lines[2]).toContain("6,000 †");
    expect(lines[2]).toContain("GENERATOR-BOUND (bare)");
    const cols = (l: string) => l.split("|").length - 2;
    expect(cols(lines[2]!)).toBe(cols(lines[0]!));
    expect(renderTargets(cells, "best")).toEqual([
      "- met: Verify, Connect JSON: ≥ 2.5× plain connect — measured 3.00×",
      "- MISSED: Verify, Connect JSON: ≥ 60% of bare — measured 50% (a generator-bound figure: the ratio is approximate)",
      "- not measured: Verify, gRPC: ≥ 75% of bare",
      "- not measured: Create ×1 (Connect JSON): ≥ 85% of bare",
    ]);
  });
});

describe.skipIf(!installed("wrk"))("bench/lib/http-load wrk script", () => {
  it("sends the body from the file byte for byte with its headers, and counts a non-2xx answer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "roomgate-wrk-test-"));
    const seen: { body: Buffer; type: string | undefined }[] = [];
    let n = 0;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ body: Buffer.concat(chunks), type: req.headers["content-type"] });
        // 302: a status wrk itself does not count as an error, only the script does.
        res.writeHead(++n % 5 === 0 ? 302 : 200, { "content-length": "0" }).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const body = Buffer.from([0, 1, 0x5d, 0x5d, 13, 10, 255, 0]); // NULs, "]]", CRLF: all survive
      writeFileSync(join(dir, "body"), body);
      writeFileSync(join(dir, "s.lua"), wrkScript(join(dir, "body"), { "content-type": "application/proto" }));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      const r = await runMeasured("wrk", ["-t1", "-c2", "-d1s", "-s", join(dir, "s.lua"), url], undefined);
      expect(seen.length).toBeGreaterThan(5);
      for (const s of seen) expect(s).toEqual({ body, type: "application/proto" });
      expect(() => parseWrkResult(r.stdout, url)).toThrow(/non-2xx [1-9]/);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("bench/http.ts", () => {
  it("smoke run: probes every contender on all three protocols and prints the table and the targets", async () => {
    const script = fileURLToPath(new URL("../../bench/http.ts", import.meta.url));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", script, "--duration", "1", "--warmup", "0", "--rounds", "1", "--only", "verify"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code, err).toBe(0);
    const rows = out.split("\n").filter((l) => l.startsWith("| "));
    expect(rows).toHaveLength(4); // header + Connect JSON, Connect binary, gRPC
    expect(rows.slice(1).map((l) => l.split(" | ").slice(0, 2))).toEqual([
      ["| Verify (cache hit)", "Connect JSON h1"],
      ["| Verify (cache hit)", "Connect binary h1"],
      ["| Verify (cache hit)", "gRPC h2c"],
    ]);
    for (const row of rows.slice(1)) {
      // Four rates with latencies, two ratios, four CPU figures, one generator share.
      expect(row).toMatch(
        /^(?:\|[^|]+){2}(?:\| [\d,]+(?: †)? \([\d.]+ \/ [\d.]+ ms\) ){4}(?:\| [\d.]+× ){2}(?:\| [\d,]+ ){4}\| \d+%[^|]* \|$/,
      );
    }
    const targets = out.split("\n").filter((l) => /^- (met|MISSED|not measured): /.test(l));
    expect(targets).toHaveLength(4);
    expect(targets.filter((l) => l.startsWith("- not measured"))).toEqual([
      "- not measured: Create ×1 (Connect JSON): ≥ 85% of bare",
    ]);
  }, 180_000);
});
