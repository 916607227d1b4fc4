#!/usr/bin/env node
// First: from here on a signal during start-up is recorded, not fatal (see StartupStop).
import { startupStop } from "../cluster/startup-stop.js";
import { Command } from "commander";
import { registerApiKeys } from "./api-keys-command.js";
import { registerMaintenance } from "./maintenance-command.js";
import { registerServe } from "./serve-command.js";
import { registerTokenKeys } from "./token-keys-command.js";
import { registerTokens } from "./tokens-command.js";
import { packageVersion } from "./version.js";

/**
 * The `roomgate` command: its groups of subcommands, each in a file of its
 * own. Loaded by src/main.ts (the bin), or run on its own under tsx. Only
 * commander and the command definitions load here; each command's action
 * imports what it needs (the config, the store, the domain, the app) when
 * it runs, so `--version` and `--help` start in tens of milliseconds.
 */
const program = new Command("roomgate")
  .description("Multi-tenant room access service")
  .version(packageVersion(), "-V, --version", "print roomgate's version")
  // No default command: a misspelled one is named as unknown (with a
  // suggestion) instead of being taken as arguments to `serve`.
  .showSuggestionAfterError(true);

const describeServe = registerServe(program);
registerTokenKeys(program);
registerApiKeys(program);
registerMaintenance(program);
registerTokens(program);

// Only `serve` has a start-up to protect; every other command gets Node's default signals back.
program.hook("preAction", (_program, command) => {
  if (command.name() !== "serve") startupStop.release();
});

// `roomgate` alone serves; anything else is a command commander must know.
const args = process.argv.slice(2);
if (args[0] === "help" && args[1] === "serve") await describeServe();
program.parseAsync(args.length === 0 ? ["serve"] : args, { from: "user" }).catch((err: unknown) => {
  console.error(`roomgate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
