/**
 * Reads a V8 .cpuprofile (from node --cpu-prof or node:inspector) and
 * summarises it: top self time by function, and inclusive time of named
 * buckets (a bucket matches a frame by function name and file).
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A named group of frames; time is counted once per sample if any frame on the stack matches. */
export interface Bucket {
  readonly name: string;
  readonly fn: RegExp;
  readonly file?: RegExp;
  /** Only count samples whose stack also has a frame matching this (an enclosing call). */
  readonly under?: { readonly fn: RegExp; readonly file?: RegExp };
}

const matches = (m: { readonly fn: RegExp; readonly file?: RegExp }, cf: CallFrame): boolean =>
  m.fn.test(cf.functionName) && (m.file === undefined || m.file.test(cf.url));

export interface ProfileSummary {
  readonly totalMs: number;
  readonly self: { frame: string; ms: number }[];
  readonly buckets: { name: string; ms: number }[];
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  return url.replace(/^file:\/\/.*?\/(src|bench|gen)\//, "$1/");
}

function frameName(cf: CallFrame): string {
  return `${cf.functionName || "(anonymous)"} ${shortUrl(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ""}`;
}

export function summarizeProfile(path: string, buckets: readonly Bucket[], top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const perNode = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const d = p.timeDeltas[i] ?? 0;
    perNode.set(id, (perNode.get(id) ?? 0) + d);
    total += d;
  });

  const self = new Map<string, number>();
  const bucketUs = new Map<string, number>(buckets.map((b) => [b.name, 0]));
  for (const [id, us] of perNode) {
    const leaf = byId.get(id)!;
    const name = frameName(leaf.callFrame);
    self.set(name, (self.get(name) ?? 0) + us);
    const stack: CallFrame[] = [];
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) stack.push(byId.get(x)!.callFrame);
    for (const b of buckets) {
      if (stack.some((cf) => matches(b, cf)) && (b.under === undefined || stack.some((cf) => matches(b.under!, cf)))) {
        bucketUs.set(b.name, bucketUs.get(b.name)! + us);
      }
    }
  }
  return {
    totalMs: total / 1000,
    self: [...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, us]) => ({ frame, ms: us / 1000 })),
    buckets: [...bucketUs.entries()].map(([name, us]) => ({ name, ms: us / 1000 })),
  };
}
