import type { Command } from "commander";
import type { PruneOptions } from "./maintenance.js";
import { wholeNumber } from "./options.js";

/**
 * `roomgate maintenance prune`: database housekeeping, safe while a server
 * runs. The store loads with the action (./maintenance.js).
 */
export function registerMaintenance(program: Command): void {
  const maintenance = program.command("maintenance").description("database housekeeping (safe while a server runs)");
  maintenance
    .command("prune")
    .description(
      "delete grants and token revocations of expired tokens; with --keep-days, also older audit entries and events",
    )
    .option(
      "--keep-days <n>",
      "also delete audit log entries, events and finished webhook deliveries older than n days",
      wholeNumber(0),
    )
    .option("--batch-size <n>", "rows deleted per transaction", wholeNumber(1), 5_000)
    .option("--dry-run", "count what would be deleted; delete nothing")
    .action(async (opts: PruneOptions) => (await import("./maintenance.js")).prune(opts));
}
