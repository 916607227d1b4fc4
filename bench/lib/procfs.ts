/**
 * Linux /proc readings for the benchmarks: a process's CPU time and RSS, its
 * children, and a sampler that follows several processes over a run (the CPU
 * of a process can only be read while it exists, so a run is sampled and the
 * share taken between the first and the last sample).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

let ticksPerSecond: number | undefined;

/** The kernel's clock ticks per second (USER_HZ) that /proc/<pid>/stat counts in. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // the value on every Linux this runs on
    }
  }
  return ticksPerSecond;
}

/** The fields of /proc/<pid>/stat after the command name (field 3 is index 0), or undefined once the process is gone. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** User + system CPU seconds the process has used so far, or undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  const f = statFields(pid);
  if (f === undefined) return undefined;
  return (Number(f[11]) + Number(f[12])) / clockTicks(); // utime, stime (fields 14, 15)
}

/** Resident set size in bytes (VmRSS), or undefined once the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Pids whose parent is `pid` (this kernel has no /proc/<pid>/task/<pid>/children, so all of /proc is read). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f !== undefined && Number(f[1]) === pid) out.push(Number(name));
  }
  return out;
}

/** CPU share of each followed process over a window: 1 = one core busy the whole time. */
export interface CpuShares {
  /** Seconds between the first and the last sample. */
  readonly seconds: number;
  readonly byPid: ReadonlyMap<number, number>;
}

/**
 * Samples the CPU time of `pids` every `everyMs` until stopped. Shares are
 * taken between the first and the last sample in which the process was
 * still there, so a load generator that exits at the end of its run is
 * measured up to its last moments (within one period).
 */
export class CpuSampler {
  private readonly first = new Map<number, { t: number; cpu: number }>();
  private readonly last = new Map<number, { t: number; cpu: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: readonly number[],
    everyMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    const t = performance.now();
    for (const pid of this.pids) {
      const cpu = cpuSeconds(pid);
      if (cpu === undefined) continue;
      if (!this.first.has(pid)) this.first.set(pid, { t, cpu });
      this.last.set(pid, { t, cpu });
    }
  }

  /** Stops sampling (one last sample first) and returns each process's share over its sampled window. */
  stop(): CpuShares {
    this.sample();
    clearInterval(this.timer);
    const byPid = new Map<number, number>();
    let seconds = 0;
    for (const pid of this.pids) {
      const a = this.first.get(pid);
      const b = this.last.get(pid);
      if (a === undefined || b === undefined || b.t <= a.t) continue;
      const s = (b.t - a.t) / 1000;
      seconds = Math.max(seconds, s);
      byPid.set(pid, (b.cpu - a.cpu) / s);
    }
    return { seconds, byPid };
  }
}

/** The 1, 5 and 15 minute load averages as /proc/loadavg has them (context for figures from a shared machine). */
export function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}
