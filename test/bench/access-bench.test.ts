import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type LatencyCase,
  percentiles,
  rateKey,
  type Rates,
  renderAccessTargets,
  renderLatencies,
  renderRates,
} from "../../bench/lib/access-table.js";
import type { RunResult } from "../../bench/lib/http-load.js";

const result = (reqPerSec: number, serverUsPerReq: number, genCpu = 0.3): RunResult => ({
  tool: "wrk",
  requests: reqPerSec,
  reqPerSec,
  p50: 1,
  p99: 2,
  genCpu,
  serverUsPerReq,
});

describe("bench/lib/access-table", () => {
  it("takes nearest-rank percentiles", () => {
    const ms = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(ms)).toEqual({ p50: 50, p99: 99, max: 100 });
  });

  it("prints Check beside Verify with both ratios, and judges each target on its own figure", () => {
    const rates: Rates = new Map([
      [rateKey("verify", "json"), [result(1000, 100)]],
      [rateKey("check", "json"), [result(950, 104)]],
      [rateKey("verify", "grpc"), [result(2000, 50, 0.95)]],
      [rateKey("check", "grpc"), [result(1600, 60)]],
    ]);
    const rows = renderRates(rates, ["json", "grpc"], "best").split("\n");
    expect(rows).toHaveLength(2 + 6);
    expect(rows[4]).toMatch(/^\| Check ÷ Verify \| Connect JSON h1 \| 0\.95× \| 1\.04× \|/);
    expect(rows[5]).toContain("2,000 † (1.00 / 2.00)");
    const cases: LatencyCase[] = [
      { id: "small", call: "LookupMembers, room of 100", label: "the whole room", ms: [1, 2, 3] },
      {
        id: "big",
        call: "LookupMembers, room of 9",
        label: "random page",
        ms: [4, 6, 8],
        baseline: "small",
        target: true,
      },
      { id: "after", call: "LookupMembers, room of 9", label: "after a change", ms: [11, 12, 13], target: true },
    ];
    expect(renderLatencies(cases).split("\n")[3]).toBe(
      "| LookupMembers, room of 9 | random page | 3 | 6.00 | 8.00 | 8.00 | 3.00× (the whole room) |",
    );
    expect(renderAccessTargets(rates, ["json", "grpc", "binary"], "best", cases)).toEqual([
      "- met: Check ≥ 0.9× Verify's rate, Connect JSON h1 — measured 0.95× (server CPU per call: Check 1.04× Verify's)",
      "- MISSED: Check ≥ 0.9× Verify's rate, gRPC h2c — measured 0.80× (server CPU per call: Check 1.20× Verify's; GENERATOR-BOUND: the generator capped a rate, so the CPU ratio says more)",
      "- not measured: Check ≥ 0.9× Verify's rate, Connect binary h1",
      "- met: LookupMembers, room of 9, random page: p50 ≤ 10 ms — measured p50 6.00 ms, p99 8.00 ms (3 calls)",
      "- MISSED: LookupMembers, room of 9, after a change: p50 ≤ 10 ms — measured p50 12.0 ms, p99 13.0 ms (3 calls)",
    ]);
  });
});

describe("bench/access.ts", () => {
  it("smoke run on small sizes: seeds through Create, probes both calls, prints both tables and every target", async () => {
    const script = fileURLToPath(new URL("../../bench/access.ts", import.meta.url));
    const argv = ["--members", "250", "--rooms", "150", "--duration", "1", "--warmup", "0", "--rounds", "1"];
    const child = spawn(process.execPath, ["--import", "tsx", script, ...argv, "--samples", "5", "--changes", "2"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code, err).toBe(0);
    const rows = out.split("\n").filter((l) => l.startsWith("| "));
    const rateRows = rows.filter((l) => /Connect JSON h1|gRPC h2c/.test(l));
    expect(rateRows.map((l) => l.split(" | ")[0])).toEqual([
      "| Verify (cache hit) — baseline",
      "| Check (1 permission; room role + token)",
      "| Check ÷ Verify",
      "| Verify (cache hit) — baseline",
      "| Check (1 permission; room role + token)",
      "| Check ÷ Verify",
    ]);
    const lookups = rows.filter((l) => l.startsWith("| Lookup"));
    // Per list: the small baseline, then first, random, the walk, after a change, after a room elsewhere.
    expect(lookups).toHaveLength(12);
    expect(lookups.filter((l) => l.includes("every page in order"))).toEqual([
      expect.stringContaining("room of 250 members | every page in order (3 pages) | 3 |"),
      expect.stringContaining("user in 150 rooms | every page in order (2 pages) | 2 |"),
    ]);
    const targets = out.split("\n").filter((l) => /^- (met|MISSED|not measured): /.test(l));
    expect(targets).toHaveLength(2 + 8);
    expect(targets.filter((l) => l.startsWith("- not measured"))).toEqual([]);
  }, 180_000);
});
