import { loadConfig } from "../config/config.js";
import { pruneInBatches, type PruneTarget } from "../store/maintenance-store.js";
import { storeName, withStore } from "./options.js";
import { Progress, progressLine } from "./progress.js";

// The action of `roomgate maintenance prune`; loaded by
// maintenance-command.ts only when it runs.

const DAY_MS = 86_400_000;

/** What `maintenance prune` was asked. */
export interface PruneOptions {
  readonly keepDays?: number;
  readonly batchSize: number;
  readonly dryRun?: boolean;
}

/** `maintenance prune`: deletes (or, with --dry-run, counts) what has lapsed, batch by batch; prints a summary. */
export function prune(opts: PruneOptions): Promise<void> {
  return withStore(async ({ stores }) => {
    const started = Date.now();
    const m = stores.maintenance;
    const cutoff = opts.keepDays === undefined ? undefined : started - opts.keepDays * DAY_MS;
    const targets: Array<{ target: PruneTarget; label: string }> = [
      { target: m.expiredGrants(started), label: "grants of expired tokens" },
      { target: m.expiredTokenRevocations(started), label: "revocations of expired tokens" },
    ];
    if (cutoff !== undefined) {
      const older = `older than ${opts.keepDays} day(s)`;
      targets.push(
        { target: m.auditBefore(cutoff), label: `audit entries ${older}` },
        { target: m.eventsBefore(cutoff), label: `events ${older}` },
        { target: m.finishedDeliveriesBefore(cutoff), label: `finished webhook deliveries ${older}` },
      );
    }
    const results = await pruneTargets(targets, opts);
    const width = Math.max(...results.map((r) => r.label.length));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const where = storeName(loadConfig());
    console.log(
      opts.dryRun
        ? `dry run against ${where} (nothing deleted): would delete`
        : `pruned ${where} in ${seconds} s, ${opts.batchSize.toLocaleString("en-US")} rows per transaction:`,
    );
    for (const r of results) console.log(`  ${r.label.padEnd(width)}  ${r.n.toLocaleString("en-US").padStart(12)}`);
    if (cutoff === undefined) console.log("  audit entries and events kept (no --keep-days)");
  });
}

async function pruneTargets(
  targets: ReadonlyArray<{ target: PruneTarget; label: string }>,
  opts: PruneOptions,
): Promise<Array<{ label: string; n: number }>> {
  const progress = new Progress(process.stderr);
  const results: Array<{ label: string; n: number }> = [];
  for (const { target, label } of targets) {
    if (opts.dryRun) {
      results.push({ label, n: await target.count() });
      continue;
    }
    // One short IMMEDIATE transaction per batch, with a pause between
    // batches: a running server's writers wait briefly, never fail.
    const n = await pruneInBatches(target, opts.batchSize, (done, total) =>
      progress.update(progressLine("pruned", done, total, target.name)),
    );
    progress.end();
    results.push({ label, n });
  }
  return results;
}
