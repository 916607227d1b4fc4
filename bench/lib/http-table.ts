/**
 * bench/http.ts's output: one Markdown table (rows call × protocol; the
 * four contenders' rates with p50/p99, the two ratios of issue 11, server
 * CPU per request, generator CPU) and issue 11's targets as met/missed.
 */
import type { CallDef, ProtocolId } from "./http-calls.js";
import { PROTOCOLS } from "./http-calls.js";
import type { RunResult } from "./http-load.js";

/** The four servers compared: roomgate with the fast path on and off, plain connect-node, bare node. */
export type ContenderId = "fast" | "slow" | "plain" | "bare";
/** The contenders in column order. */
export const CONTENDER_IDS: readonly ContenderId[] = ["fast", "slow", "plain", "bare"];
/** Column titles. */
export const CONTENDER_LABEL: Record<ContenderId, string> = {
  fast: "roomgate fast on",
  slow: "roomgate fast off",
  plain: "plain connect",
  bare: "bare node",
};

/** A generator at or above this share of a core set the pace, not the server. */
export const GENERATOR_BOUND = 0.9;

/** Every round of one cell, per contender. */
export type Cell = Map<ContenderId, RunResult[]>;
/** Which round is reported. */
export type Pick = "best" | "median";

/** The key of a cell (one row of the table). */
export const cellKey = (call: string, protocol: ProtocolId): string => `${call}/${protocol}`;

/** The reported round: the fastest, or the median by rate. */
export function pickRound(rounds: readonly RunResult[], pick: Pick): RunResult | undefined {
  if (rounds.length === 0) return undefined;
  const sorted = [...rounds].sort((a, b) => a.reqPerSec - b.reqPerSec);
  return pick === "best" ? sorted.at(-1) : sorted[Math.floor((sorted.length - 1) / 2)];
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
const msf = (n: number): string => (!Number.isFinite(n) ? "n/a" : n < 10 ? n.toFixed(2) : n.toFixed(1));
const ratio = (a: RunResult | undefined, b: RunResult | undefined): number =>
  a && b ? a.reqPerSec / b.reqPerSec : NaN;
const times = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "n/a");

function rateCell(r: RunResult | undefined): string {
  if (r === undefined) return "—";
  const bound = r.genCpu >= GENERATOR_BOUND ? " †" : "";
  return `${int(r.reqPerSec)}${bound} (${msf(r.p50)} / ${msf(r.p99)} ms)`;
}

/** The Markdown table; cells never measured are left out. */
export function renderTable(calls: readonly CallDef[], cells: ReadonlyMap<string, Cell>, pick: Pick): string {
  const head = [
    "call",
    "protocol",
    ...CONTENDER_IDS.map((c) => `${CONTENDER_LABEL[c]} req/s (p50 / p99)`),
    "fast ÷ plain",
    "fast ÷ bare",
    ...CONTENDER_IDS.map((c) => `CPU µs/req ${c}`),
    "gen CPU (max)",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`];
  for (const call of calls) {
    for (const p of PROTOCOLS) {
      const cell = cells.get(cellKey(call.id, p.id));
      if (cell === undefined) continue;
      const r = new Map(CONTENDER_IDS.map((c) => [c, pickRound(cell.get(c) ?? [], pick)]));
      const gens = CONTENDER_IDS.flatMap((c) => (r.get(c) ? [[c, r.get(c)!.genCpu] as const] : []));
      const top = gens.reduce((a, b) => (b[1] > a[1] ? b : a), ["fast", 0] as readonly [ContenderId, number]);
      const genText = `${Math.round(top[1] * 100)}%${top[1] >= GENERATOR_BOUND ? ` GENERATOR-BOUND (${top[0]})` : ""}`;
      lines.push(
        `| ${[
          call.label,
          p.label,
          ...CONTENDER_IDS.map((c) => rateCell(r.get(c))),
          times(ratio(r.get("fast"), r.get("plain"))),
          times(ratio(r.get("fast"), r.get("bare"))),
          ...CONTENDER_IDS.map((c) => (r.get(c) ? int(r.get(c)!.serverUsPerReq) : "—")),
          genText,
        ].join(" | ")} |`,
      );
    }
  }
  return lines.join("\n");
}

interface Target {
  readonly call: string;
  readonly protocol: ProtocolId;
  readonly over: "plain" | "bare";
  readonly min: number;
  readonly text: string;
}

/** Issue 11's targets (ratios in one run, one worker). */
export const TARGETS: readonly Target[] = [
  { call: "verify", protocol: "json", over: "plain", min: 2.5, text: "Verify, Connect JSON: ≥ 2.5× plain connect" },
  { call: "verify", protocol: "json", over: "bare", min: 0.6, text: "Verify, Connect JSON: ≥ 60% of bare" },
  { call: "verify", protocol: "grpc", over: "bare", min: 0.75, text: "Verify, gRPC: ≥ 75% of bare" },
  { call: "create", protocol: "json", over: "bare", min: 0.85, text: "Create ×1 (Connect JSON): ≥ 85% of bare" },
];

/** One line per target: met / missed with the measured ratio, or not measured. */
export function renderTargets(cells: ReadonlyMap<string, Cell>, pick: Pick): string[] {
  return TARGETS.map((t) => {
    const cell = cells.get(cellKey(t.call, t.protocol));
    const fast = pickRound(cell?.get("fast") ?? [], pick);
    const base = pickRound(cell?.get(t.over) ?? [], pick);
    if (!fast || !base) return `- not measured: ${t.text}`;
    const x = fast.reqPerSec / base.reqPerSec;
    const shown = t.over === "plain" ? `${x.toFixed(2)}×` : `${Math.round(x * 100)}%`;
    const bound = [fast, base].some((r) => r.genCpu >= GENERATOR_BOUND)
      ? " (a generator-bound figure: the ratio is approximate)"
      : "";
    return `- ${x >= t.min ? "met" : "MISSED"}: ${t.text} — measured ${shown}${bound}`;
  });
}
