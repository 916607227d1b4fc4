/**
 * bench/access.ts's output: Check's rate beside Verify's (same server,
 * protocol, generator and connections) with the ratio, the lookups'
 * one-at-a-time latencies beside their small baselines, and issue 20's
 * targets as met / MISSED.
 */
import { quantile } from "./h2load.js";
import type { ProtocolId } from "./http-calls.js";
import type { RunResult } from "./http-load.js";
import { GENERATOR_BOUND, pickRound, type Pick } from "./http-table.js";

/** The two calls whose rates are compared. */
export type RateCall = "verify" | "check";
/** Every round of each call × protocol, keyed by {@link rateKey}. */
export type Rates = Map<string, RunResult[]>;

export const rateKey = (call: RateCall, protocol: ProtocolId): string => `${call}/${protocol}`;

const RATE_LABEL: Record<RateCall, string> = {
  verify: "Verify (cache hit) — baseline",
  check: "Check (1 permission; room role + token)",
};
const PROTOCOL_LABEL: Record<ProtocolId, string> = {
  json: "Connect JSON h1",
  binary: "Connect binary h1",
  grpc: "gRPC h2c",
};

/** Check must reach this share of Verify's rate (issue 20). */
export const CHECK_MIN_RATIO = 0.9;
/** A lookup page's p50 must be at most this (issue 20), milliseconds. */
export const LOOKUP_P50_MS = 10;

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const msf = (n: number): string => (!Number.isFinite(n) ? "n/a" : n < 10 ? n.toFixed(2) : n.toFixed(1));
const times = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "n/a");

function row(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function header(cells: readonly string[], textColumns: number): string[] {
  return [row(cells), `|${cells.map((_, i) => (i < textColumns ? "---" : "---:")).join("|")}|`];
}

/** The picked rounds of Verify and Check over `protocol`, when both ran. */
export function pickedPair(rates: Rates, protocol: ProtocolId, pick: Pick): [RunResult, RunResult] | undefined {
  const v = pickRound(rates.get(rateKey("verify", protocol)) ?? [], pick);
  const c = pickRound(rates.get(rateKey("check", protocol)) ?? [], pick);
  return v && c ? [v, c] : undefined;
}

/** The rate table: per protocol, Verify, Check, and Check ÷ Verify (rate, and server CPU per call). */
export function renderRates(rates: Rates, protocols: readonly ProtocolId[], pick: Pick): string {
  const lines = header(["call", "protocol", "req/s (p50 / p99 ms)", "server CPU µs/req", "gen CPU", "rounds req/s"], 2);
  for (const p of protocols) {
    for (const call of ["verify", "check"] as const) {
      const rounds = rates.get(rateKey(call, p)) ?? [];
      const r = pickRound(rounds, pick);
      if (r === undefined) continue;
      const bound = r.genCpu >= GENERATOR_BOUND;
      lines.push(
        row([
          RATE_LABEL[call],
          PROTOCOL_LABEL[p],
          `${int(r.reqPerSec)}${bound ? " †" : ""} (${msf(r.p50)} / ${msf(r.p99)})`,
          int(r.serverUsPerReq),
          `${Math.round(r.genCpu * 100)}%${bound ? " GENERATOR-BOUND" : ""}`,
          rounds.map((x) => int(x.reqPerSec)).join(" / "),
        ]),
      );
    }
    const pair = pickedPair(rates, p, pick);
    if (pair) {
      const [v, c] = pair;
      lines.push(
        row([
          "Check ÷ Verify",
          PROTOCOL_LABEL[p],
          times(c.reqPerSec / v.reqPerSec),
          times(c.serverUsPerReq / v.serverUsPerReq),
          "",
          "",
        ]),
      );
    }
  }
  return lines.join("\n");
}

/** One latency case: calls made one at a time, each round trip in ms. */
export interface LatencyCase {
  readonly id: string;
  readonly call: string;
  readonly label: string;
  readonly ms: readonly number[];
  /** The id of the case its p50 is divided by. */
  readonly baseline?: string;
  /** Judged against issue 20's p50 ≤ 10 ms. */
  readonly target?: boolean;
}

/** p50, p99 and max of a case's round trips (nearest rank). */
export function percentiles(ms: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(ms).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? NaN };
}

/** The latency table, one row per case, with p50 ÷ its baseline's p50. */
export function renderLatencies(cases: readonly LatencyCase[]): string {
  const byId = new Map(cases.map((c) => [c.id, c]));
  const lines = header(["call", "case", "calls", "p50 ms", "p99 ms", "max ms", "p50 ÷ baseline"], 2);
  for (const c of cases) {
    const q = percentiles(c.ms);
    const base = c.baseline === undefined ? undefined : byId.get(c.baseline);
    const ratio = base ? `${times(q.p50 / percentiles(base.ms).p50)} (${base.label})` : "—";
    lines.push(row([c.call, c.label, String(c.ms.length), msf(q.p50), msf(q.p99), msf(q.max), ratio]));
  }
  return lines.join("\n");
}

/** One line per target: met / MISSED with the measured figure. */
export function renderAccessTargets(
  rates: Rates,
  protocols: readonly ProtocolId[],
  pick: Pick,
  cases: readonly LatencyCase[],
): string[] {
  const out: string[] = [];
  for (const p of protocols) {
    const text = `Check ≥ ${CHECK_MIN_RATIO}× Verify's rate, ${PROTOCOL_LABEL[p]}`;
    const pair = pickedPair(rates, p, pick);
    if (!pair) {
      out.push(`- not measured: ${text}`);
      continue;
    }
    const [v, c] = pair;
    const x = c.reqPerSec / v.reqPerSec;
    const bound = [v, c].some((r) => r.genCpu >= GENERATOR_BOUND)
      ? "; GENERATOR-BOUND: the generator capped a rate, so the CPU ratio says more"
      : "";
    out.push(
      `- ${x >= CHECK_MIN_RATIO ? "met" : "MISSED"}: ${text} — measured ${times(x)} ` +
        `(server CPU per call: Check ${times(c.serverUsPerReq / v.serverUsPerReq)} Verify's${bound})`,
    );
  }
  for (const c of cases.filter((x) => x.target)) {
    const q = percentiles(c.ms);
    out.push(
      `- ${q.p50 <= LOOKUP_P50_MS ? "met" : "MISSED"}: ${c.call}, ${c.label}: p50 ≤ ${LOOKUP_P50_MS} ms — ` +
        `measured p50 ${msf(q.p50)} ms, p99 ${msf(q.p99)} ms (${c.ms.length} calls)`,
    );
  }
  return out;
}
