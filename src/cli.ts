#!/usr/bin/env node
// First: from here on a signal during start-up is recorded, not fatal (see StartupStop).
import { startupStop } from "./cluster/startup-stop.js";
import type { JsonObject } from "@bufbuild/protobuf";
import { Command, InvalidArgumentError } from "commander";
import cluster from "node:cluster";
import { existsSync } from "node:fs";
import type { Logger } from "pino";
import { Progress, progressLine } from "./cli-progress.js";
import { prepareOnce } from "./cluster/prepare.js";
import { choosePort, WorkerPool } from "./cluster/primary.js";
import { drainAndExit, keyringReloader } from "./cluster/serving.js";
import { DEFAULT_WORKERS, loadConfig, MAX_WORKERS, type Config } from "./config/config.js";
import { generateApiKey } from "./domain/auth/api-keys.js";
import { createTenantWithKey, type BootstrapResult } from "./domain/auth/tenants.js";
import { activateKey, addKey, generateTokenKey, retireKey, type TokenKey } from "./domain/tokens/keyring.js";
import { createLogger } from "./server/logger.js";
import { pino } from "pino";
import { openDatabase } from "./app/database.js";
import { revokeApiKey } from "./domain/auth/api-key-revocation.js";
import { settleAcrossReplicas } from "./cli/settle.js";
import { RoomgateError } from "./domain/errors.js";
import { EventType } from "../gen/room/events/private/v1/service_pb.js";
import type { Database } from "./store/database-port.js";
import { SqlJournal } from "./store/journal-store.js";
import { formatKeysConfig, loadOrCreateKeys, writeKeyFile } from "./store/key-file.js";
import { pruneInBatches, SqlMaintenanceStore, type PruneTarget } from "./store/maintenance-store.js";
import { SqlTenantStore } from "./store/tenant-store.js";
import { ensurePortFree } from "./cli/port-check.js";
import { settingsHelp } from "./cli/settings-help.js";
import { requireExistingStore, storeExists } from "./cli/store-check.js";
import { CliError, createToken, parsePermission, verifyToken } from "./cli/tokens.js";
import { packageVersion } from "./cli/version.js";

const program = new Command("roomgate")
  .description("Multi-tenant room access service")
  .version(packageVersion(), "-V, --version", "print roomgate's version")
  // No default command: a misspelled one is named as unknown (with a
  // suggestion) instead of being taken as arguments to `serve`.
  .showSuggestionAfterError(true);

program
  .command("serve")
  .description("run the service on one port for Connect, gRPC and gRPC-Web (the command when none is given)")
  .addHelpText("after", settingsHelp())
  .option(
    "--workers <n>",
    `processes serving the port (default: ROOMGATE_WORKERS, else ${DEFAULT_WORKERS}); 1 runs no cluster`,
    wholeNumber(1, MAX_WORKERS),
  )
  .action(async (opts: { workers?: number }) => {
    const config = loadConfig();
    // The app's module graph (about 0.4 s to load) only where it serves: every other command starts without it.
    if (cluster.isWorker)
      return (await import("./cluster/worker.js")).runWorker(
        config,
        createLogger(config.logLevel).child({ worker: cluster.worker!.id }),
      );
    const log = createLogger(config.logLevel);
    const workers = opts.workers ?? config.workers;
    startupStop.attach(log, config.shutdownGraceMs);
    log.debug({ workers }, "start-up: checking the port");
    // A taken port fails here, before the store, key file or bootstrap
    // tenant is written (and before a key is printed that nothing serves).
    await ensurePortFree(config.host, config.port);
    await startupStop.exitIfRequested();
    if (workers === 1) return serveSingle(config, log);
    // The port first (a free one for 0), then the one-time work before any
    // worker exists: workers find it done.
    const port = await choosePort(config.host, config.port);
    log.debug("start-up: preparing the key file and the store");
    // Announced even when a stop came meanwhile: a bootstrap key is printed once or never usable.
    announce(config, log, await prepareOnce(config, log));
    await startupStop.exitIfRequested();
    log.debug({ workers }, "start-up: forking workers");
    new WorkerPool({
      workers,
      host: config.host,
      port,
      graceMs: config.shutdownGraceMs,
      tls: Boolean(config.tlsCert),
      log,
    }).start();
    // After the pool's handlers are in: a signal not yet dispatched reaches them.
    startupStop.handOver();
  });

/** Says once what this start created; the bootstrap API key goes to stdout, never to the log. */
function announce(config: Config, log: Logger, started: { bootstrap: BootstrapResult; keyFileCreated: boolean }): void {
  // The tenant id is not secret, and browsers need it to log in.
  if (started.bootstrap.tenantId) log.info({ tenantId: started.bootstrap.tenantId }, "bootstrap tenant");
  if (started.keyFileCreated) log.info({ file: config.keyFile }, "generated token key file (mode 0600)");
  if (started.bootstrap.newKey) {
    // Printed once to stdout, never logged: only its hash is stored.
    process.stdout.write(
      `\nroomgate created tenant ${started.bootstrap.tenantId} with this API key (shown once, store it now):\n\n  ${started.bootstrap.newKey}\n\n`,
    );
  }
}

/** `serve` as one process, no cluster at all (`--workers 1`). */
async function serveSingle(config: Config, log: Logger): Promise<void> {
  log.debug("start-up: opening the store");
  const { createApp, serve } = await import("./app.js");
  const app = await createApp(config, log);
  announce(config, log, app);
  await startupStop.exitIfRequested(() => app.close());
  log.debug("start-up: store ready, starting to listen");
  const server = await serve(app);
  log.info({ port: server.port, tls: Boolean(config.tlsCert) }, "roomgate listening");
  process.once("SIGTERM", () => drainAndExit(server, "SIGTERM", log));
  process.once("SIGINT", () => drainAndExit(server, "SIGINT", log));
  const reload = keyringReloader(config, app.reloadKeys);
  process.on("SIGHUP", () => reload("SIGHUP"));
  // A stop that came while the server started listening drains it now.
  const stopped = startupStop.handOver();
  if (stopped !== undefined) drainAndExit(server, stopped, log);
}

const tokenKeys = program.command("token-keys").description("manage the token encryption keyring (key file)");

/**
 * The key file's keys, creating the file (one active key) when there is
 * none yet — and saying so, since a command that only meant to look at the
 * keyring has then written one.
 */
function keyFileKeys(create = false): { keyFile: string; keys: TokenKey[] } {
  const { keyFile, tokenKeys: fromEnv } = loadConfig();
  if (fromEnv) {
    console.error(
      "roomgate: note: ROOMGATE_TOKEN_KEYS is set, so a server started with it ignores the key file these commands edit",
    );
  }
  // Only `add` may start a keyring; the others read one that must exist (a mistyped data dir).
  if (!create && !existsSync(keyFile)) {
    throw new CliError(
      `no token key file at ${keyFile} (check ROOMGATE_DATA_DIR / ROOMGATE_KEY_FILE; \`roomgate serve\` or \`token-keys add\` creates it)`,
    );
  }
  const loaded = loadOrCreateKeys(keyFile, Date.now());
  if (loaded.created) console.log(`created key file ${keyFile} (mode 0600) with active key ${loaded.keys[0]!.id}`);
  return { keyFile, keys: [...loaded.keys] };
}

/** A key id argument: a whole number, or a clear error. */
function keyIdArg(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new Error(`token key id must be a whole number, got "${raw}"`);
  return Number(raw);
}

const RELOAD_HINT = "a running server picks the change up within a second (or at once on SIGHUP)";

tokenKeys
  .command("list")
  .description("list token keys and their state")
  .action(() => {
    for (const k of keyFileKeys().keys) {
      console.log(`${k.id}\t${k.state}\t${new Date(k.createdAt).toISOString()}`);
    }
  });

tokenKeys
  .command("add")
  .description("generate a new token key; --activate makes it the one new tokens use")
  .option("--activate", "make the new key active (the old one stays decrypt-only)")
  .action(async (opts: { activate?: boolean }) => {
    const { keyFile, keys: before } = keyFileKeys(true);
    const key = generateTokenKey(Date.now());
    const previous = before.find((k) => k.state === "active");
    writeKeyFile(keyFile, addKey(before, key, Boolean(opts.activate)));
    if (opts.activate) {
      console.log(
        `added key ${key.id} (active): new tokens are sealed with it${previous ? `; key ${previous.id} is now decrypt-only` : ""}`,
      );
    } else {
      console.log(
        `added key ${key.id} (decrypt-only): tokens sealed with it verify; activate it with \`token-keys activate ${key.id}\``,
      );
    }
    await announceKeyringChange();
    console.log(RELOAD_HINT);
  });

tokenKeys
  .command("activate <id>")
  .description("make an existing key active; the previous one becomes decrypt-only")
  .action(async (raw: string) => {
    const id = keyIdArg(raw);
    const { keyFile, keys } = keyFileKeys();
    const previous = keys.find((k) => k.state === "active");
    if (previous?.id === id) {
      console.log(`key ${id} is already active; nothing changed`);
      return;
    }
    writeKeyFile(keyFile, activateKey(keys, id));
    console.log(
      `key ${id} is active: new tokens are sealed with it${previous ? `; key ${previous.id} is now decrypt-only` : ""}`,
    );
    await announceKeyringChange();
    console.log(RELOAD_HINT);
  });

tokenKeys
  .command("retire <id>")
  .description("remove a decrypt-only key: tokens sealed with it stop verifying")
  .action(async (raw: string) => {
    const id = keyIdArg(raw);
    const { keyFile, keys } = keyFileKeys();
    const left = retireKey(keys, id);
    writeKeyFile(keyFile, left);
    await announceKeyringChange();
    console.log(`key ${id} retired: tokens sealed with it no longer verify; ${left.length} key(s) left`);
    console.log(RELOAD_HINT);
  });

tokenKeys
  .command("export")
  .description(
    "print the keyring as ROOMGATE_TOKEN_KEYS takes it (id:secret,…, active key first) to stdout; it is the secret",
  )
  .action(() => {
    const { keys } = keyFileKeys();
    // The keys go to stdout only (by design: the operator asked for them); the warning to stderr keeps a pipe clean.
    console.error(
      "roomgate: warning: this is the token keyring's secret: whoever holds it can mint and read every token. Keep it out of logs, shell history and version control",
    );
    process.stdout.write(`${formatKeysConfig(keys)}\n`);
  });

const apiKeys = program.command("api-keys").description("manage tenants' API keys");

apiKeys
  .command("create")
  .description("create an API key (for --tenant, or for a new tenant named --name); shown once")
  .option("--tenant <id>", "existing tenant id")
  .option("--name <name>", "create a new tenant with this name", "default")
  .action(async (opts: { tenant?: string; name: string }) => {
    await withDatabase(async (db) => {
      const tenants = new SqlTenantStore(db);
      if (opts.tenant) {
        if (!(await tenants.findTenant(opts.tenant))) throw new Error(`no tenant ${opts.tenant}`);
        const key = generateApiKey();
        await tenants.addApiKey(opts.tenant, { id: key.id, hash: key.hash, label: "cli" }, Date.now());
        console.log(`tenant ${opts.tenant}\nkey id ${key.id}\n\n  ${key.key}\n\n(shown once)`);
      } else {
        const r = await createTenantWithKey(tenants, opts.name, Date.now());
        console.log(`tenant ${r.tenant.id}\nkey id ${r.keyId}\n\n  ${r.key}\n\n(shown once)`);
      }
    });
  });

apiKeys
  .command("list")
  .description("list API keys by public id (never the secret)")
  .option("--tenant <id>", "only this tenant's keys")
  .action(async (opts: { tenant?: string }) => {
    await withDatabase(async (db) => {
      for (const k of await new SqlTenantStore(db).listApiKeys(opts.tenant)) {
        const state = k.revokedAt === null ? "live" : `revoked ${new Date(k.revokedAt).toISOString()}`;
        console.log(`${k.id}\t${k.tenantId}\t${k.label}\t${state}`);
      }
    });
  });

apiKeys
  .command("revoke <id>")
  .description("revoke an API key by its public id (every running replica refuses it at once)")
  .action(async (id: string) => {
    await withDatabase(async (db) => {
      const tenants = new SqlTenantStore(db);
      // The event carries the revocation to every replica's change feed;
      // this process keeps no live state: it waits for the replicas to apply it.
      const sink = { journal: new SqlJournal(db), feed: { catchUp: settleAcrossReplicas(db) } };
      let tenantId: string;
      try {
        ({ tenantId } = await revokeApiKey(
          { tenants, transact: (fn) => db.write(fn), sink, clock: Date.now },
          id,
          "system",
        ));
      } catch (err) {
        if (err instanceof RoomgateError) throw new Error(err.message);
        throw err;
      }
      const live = (await tenants.listApiKeys(tenantId)).filter((k) => k.revokedAt === null).length;
      console.log(
        `revoked API key ${id} of tenant ${tenantId}: calls with it are refused from now on; the tenant has ${live} live key(s) left`,
      );
    });
  });

const maintenance = program.command("maintenance").description("database housekeeping (safe while a server runs)");

/** A whole-number option value (within `max`, when given), or commander's usage error naming the option. */
function wholeNumber(min: number, max?: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || (max !== undefined && n > max)) {
      throw new InvalidArgumentError(
        max === undefined ? `expected a whole number >= ${min}` : `expected a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };
}

const DAY_MS = 86_400_000;

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
  .action(async (opts: { keepDays?: number; batchSize: number; dryRun?: boolean }) => {
    await withDatabase(async (db) => {
      const started = Date.now();
      const m = new SqlMaintenanceStore(db);
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
  });

/**
 * Tells every running replica, through the change feed, to re-read its key
 * file now (those reading the same file also notice within a second). The
 * event belongs to no tenant, so no Watch stream shows it. Skipped when the
 * store does not exist yet (no SQLite file, no PostgreSQL schema): nothing
 * runs then, and the key file alone is what the first `serve` will use.
 */
async function announceKeyringChange(): Promise<void> {
  if (!(await storeExists(loadConfig()))) return;
  await withDatabase(async (db) => {
    const journal = new SqlJournal(db);
    await db.write(() =>
      journal.record(
        [],
        [
          {
            tenantId: "",
            type: EventType.UNSPECIFIED,
            actor: "system",
            at: Date.now(),
            effects: { keyringChanged: true },
          },
        ],
      ),
    );
    // A retired key is a removing write: done once every live replica reloaded.
    await settleAcrossReplicas(db)();
  });
}

/**
 * Runs a command against the configured store (SQLite file or PostgreSQL)
 * and closes it. Every command but `serve` goes through here, so all of
 * them refuse a store that does not exist yet rather than creating an empty
 * one (a mistyped data dir or URL).
 */
async function withDatabase(fn: (db: Database) => Promise<void>): Promise<void> {
  const config = loadConfig();
  await requireExistingStore(config);
  const { db } = await openDatabase(config, pino({ level: "silent" }));
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

/** The store a command worked on, for its summary (never a password). */
function storeName(config: Config): string {
  if (config.databaseUrl === undefined) return config.dbPath;
  const u = new URL(config.databaseUrl);
  return `postgres ${u.host}${u.pathname}`;
}

const tokens = program
  .command("tokens")
  .description("issue and verify room member tokens directly against the configured store and keys (no server needed)");

tokens
  .command("create")
  .description('issue one room member token as Create would; prints {"tenantId","token"} as JSON')
  .requiredOption("--user <id>", "user id the token is for")
  .requiredOption("--room <id>", "room id the token is for")
  .option(
    "--permissions <names>",
    "comma-separated permissions, e.g. PermissionRoomKick,PermissionChat (names or numbers)",
    "",
  )
  .option("--ttl <seconds>", "lifetime in seconds (default: ROOMGATE_TOKEN_TTL_SECONDS)", wholeNumber(1))
  .option("--metadata <json>", "a JSON object carried in the token")
  .option("--tenant <id>", "tenant to issue for (default: the only tenant in the store)")
  .action(
    async (opts: {
      user: string;
      room: string;
      permissions: string;
      ttl?: number;
      metadata?: string;
      tenant?: string;
    }) => {
      const permissions = opts.permissions
        .split(",")
        .filter((p) => p.trim() !== "")
        .map(parsePermission);
      const metadata = opts.metadata === undefined ? undefined : jsonObject(opts.metadata);
      await withDatabase(async (db) => {
        const out = await createToken(loadConfig(), db, {
          tenant: opts.tenant,
          user: opts.user,
          room: opts.room,
          permissions,
          ttl: opts.ttl,
          metadata,
        });
        console.log(JSON.stringify(out));
      });
    },
  );

tokens
  .command("verify [token]")
  .description(
    "verify a room member token (keys, expiry, revocations, restrictions); prints its claims as JSON, exit 1 when refused. " +
      "Without a token (or with -) it is read from standard input, which keeps it out of the process list and shell history",
  )
  .option("--tenant <id>", "also require the token to belong to this tenant")
  .action(async (arg: string | undefined, opts: { tenant?: string }) => {
    const token = arg === undefined || arg === "-" ? await tokenFromStdin() : arg;
    await withDatabase(async (db) => {
      console.log(JSON.stringify(await verifyToken(loadConfig(), db, token, opts.tenant)));
    });
  });

/**
 * The token from standard input: its first line, trimmed. A terminal on
 * stdin is refused (nothing would ever arrive), as is an empty line.
 */
async function tokenFromStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new CliError("no token given: pass it as an argument, or pipe it in (… | roomgate tokens verify -)");
  let input = "";
  for await (const chunk of process.stdin) {
    input += String(chunk);
    if (input.length > 64 * 1024) throw new CliError("standard input is too long to be a token");
  }
  const token = input.split("\n", 1)[0]!.trim();
  if (token === "") throw new CliError("no token on standard input");
  return token;
}

/** A --metadata value: a JSON object, or a usage error. */
function jsonObject(raw: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new CliError("--metadata must be a JSON object");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new CliError("--metadata must be a JSON object");
  return v as JsonObject;
}

// Only `serve` has a start-up to protect; every other command gets Node's default signals back.
program.hook("preAction", (_program, command) => {
  if (command.name() !== "serve") startupStop.release();
});

// `roomgate` alone serves; anything else is a command commander must know.
const args = process.argv.slice(2);
program.parseAsync(args.length === 0 ? ["serve"] : args, { from: "user" }).catch((err: unknown) => {
  console.error(`roomgate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
