/**
 * Minimal micro-benchmark helpers shared by the bench/ scripts: time a
 * function in calibrated batches and print ratios against a named baseline.
 */

/** Options for {@link measure}. */
export interface MeasureOptions {
  /** Minimum measured time after warm-up, in milliseconds. */
  minMs: number;
  /** Warm-up time before measuring, in milliseconds (default: minMs / 4). */
  warmupMs?: number;
}

const nowNs = () => process.hrtime.bigint();

/** Runs `fn` `n` times; awaits each call only when fn is async, so sync code pays no await. */
async function runBatch(fn: () => unknown, n: number, isAsync: boolean): Promise<void> {
  if (isAsync) for (let i = 0; i < n; i++) await fn();
  else for (let i = 0; i < n; i++) fn();
}

/** Runs batches until `ms` have passed; returns [ops, elapsed ns]. */
async function runFor(fn: () => unknown, ms: number, batch: number, isAsync: boolean): Promise<[number, bigint]> {
  const limit = BigInt(Math.round(ms * 1e6));
  const start = nowNs();
  let ops = 0;
  let elapsed = 0n;
  while (elapsed < limit) {
    await runBatch(fn, batch, isAsync);
    ops += batch;
    elapsed = nowNs() - start;
  }
  return [ops, elapsed];
}

/**
 * Measures the throughput of `fn` (sync or async): warms up, sizes a batch to
 * take about 5 ms (so clock reads do not dominate), then runs batches until
 * `minMs` have elapsed.
 *
 * @returns Operations per second.
 */
export async function measure(
  name: string,
  fn: () => unknown,
  { minMs, warmupMs = minMs / 4 }: MeasureOptions,
): Promise<number> {
  const first = fn();
  const isAsync = typeof (first as { then?: unknown } | undefined)?.then === "function";
  if (isAsync) await first;
  let batch = 1;
  for (;;) {
    const start = nowNs();
    await runBatch(fn, batch, isAsync);
    if (nowNs() - start >= 5_000_000n || batch >= 1 << 20) break;
    batch *= 2;
  }
  await runFor(fn, warmupMs, batch, isAsync);
  const [ops, elapsed] = await runFor(fn, minMs, batch, isAsync);
  const opsPerSec = (ops * 1e9) / Number(elapsed);
  if (!Number.isFinite(opsPerSec)) throw new Error(`${name}: no measurement`);
  return opsPerSec;
}

/** Formats ops/s with thousands separators. */
export function formatOps(opsPerSec: number): string {
  return Math.round(opsPerSec).toLocaleString("en-US");
}

/**
 * Prints a table of ops/s with each entry's ratio to `baselineName`.
 *
 * @param results - Name → ops/s; must contain `baselineName`.
 */
export function printRatios(title: string, baselineName: string, results: Record<string, number>): void {
  const base = results[baselineName];
  if (base === undefined) throw new Error(`baseline ${baselineName} missing from results`);
  const width = Math.max(...Object.keys(results).map((n) => n.length));
  console.log(`\n${title} (ratio vs ${baselineName})`);
  for (const [name, ops] of Object.entries(results)) {
    console.log(`  ${name.padEnd(width)}  ${formatOps(ops).padStart(12)} ops/s  ${(ops / base).toFixed(2)}x`);
  }
}
