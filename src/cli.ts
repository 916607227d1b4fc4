#!/usr/bin/env node
import { Command } from "commander";
import { createApp, serve } from "./app.js";
import { loadConfig } from "./config/config.js";
import { generateApiKey } from "./domain/auth/api-keys.js";
import { createTenantWithKey } from "./domain/auth/tenants.js";
import { activateKey, addKey, generateTokenKey, Keyring, retireKey } from "./domain/tokens/keyring.js";
import { createLogger } from "./server/logger.js";
import { openStore } from "./store/db.js";
import { loadOrCreateKeys, readKeyFile, writeKeyFile } from "./store/key-file.js";
import { SqliteTenantStore } from "./store/tenant-store.js";

const program = new Command("roomgate").description("Multi-tenant room access service");

program
  .command("serve", { isDefault: true })
  .description("run the service on one port for Connect, gRPC and gRPC-Web")
  .action(async () => {
    const config = loadConfig();
    const log = createLogger(config.logLevel);
    const app = createApp(config, log);
    if (app.keyFileCreated) log.info({ file: config.keyFile }, "generated token key file (mode 0600)");
    if (app.bootstrap.newKey) {
      // Printed once to stdout, never logged: only its hash is stored.
      process.stdout.write(
        `\nroomgate created tenant ${app.bootstrap.tenantId} with this API key (shown once, store it now):\n\n  ${app.bootstrap.newKey}\n\n`,
      );
    }
    const server = await serve(app);
    log.info({ port: server.port, tls: Boolean(config.tlsCert) }, "roomgate listening");
    const stop = (signal: string) => {
      log.info({ signal }, "draining in-flight calls");
      server.close().then(
        () => {
          log.info("stopped");
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    // Rotation: `roomgate token-keys add --activate` edits the key file,
    // then SIGHUP makes the running server pick it up.
    process.on("SIGHUP", () => {
      if (config.tokenKeys) return log.warn("token keys come from ROOMGATE_TOKEN_KEYS; nothing to reload");
      try {
        const keys = readKeyFile(config.keyFile);
        if (keys) app.codec.setKeyring(new Keyring(keys));
        log.info({ keys: keys?.length }, "token keyring reloaded");
      } catch (err) {
        log.error({ err }, "keyring reload failed; keeping the current one");
      }
    });
  });

const tokenKeys = program.command("token-keys").description("manage the token encryption keyring (key file)");

tokenKeys
  .command("list")
  .description("list token keys and their state")
  .action(() => {
    const { keyFile } = loadConfig();
    for (const k of loadOrCreateKeys(keyFile, Date.now()).keys) {
      console.log(`${k.id}\t${k.state}\t${new Date(k.createdAt).toISOString()}`);
    }
  });

tokenKeys
  .command("add")
  .description("generate a new token key; --activate makes it the one new tokens use")
  .option("--activate", "make the new key active (the old one stays decrypt-only)")
  .action((opts: { activate?: boolean }) => {
    const { keyFile } = loadConfig();
    const key = generateTokenKey(Date.now());
    const keys = addKey(loadOrCreateKeys(keyFile, Date.now()).keys, key, Boolean(opts.activate));
    writeKeyFile(keyFile, keys);
    console.log(`added key ${key.id}${opts.activate ? " (active)" : ""}; send SIGHUP to a running server to reload`);
  });

tokenKeys
  .command("activate <id>")
  .description("make an existing key active; the previous one becomes decrypt-only")
  .action((id: string) => {
    const { keyFile } = loadConfig();
    writeKeyFile(keyFile, activateKey(loadOrCreateKeys(keyFile, Date.now()).keys, Number(id)));
    console.log(`key ${id} is active`);
  });

tokenKeys
  .command("retire <id>")
  .description("remove a decrypt-only key: tokens sealed with it stop verifying")
  .action((id: string) => {
    const { keyFile } = loadConfig();
    writeKeyFile(keyFile, retireKey(loadOrCreateKeys(keyFile, Date.now()).keys, Number(id)));
    console.log(`key ${id} retired`);
  });

const apiKeys = program.command("api-keys").description("manage tenants' API keys");

apiKeys
  .command("create")
  .description("create an API key (for --tenant, or for a new tenant named --name); shown once")
  .option("--tenant <id>", "existing tenant id")
  .option("--name <name>", "create a new tenant with this name", "default")
  .action((opts: { tenant?: string; name: string }) => {
    const config = loadConfig();
    const store = openStore(config.dbPath);
    try {
      const tenants = new SqliteTenantStore(store.db);
      if (opts.tenant) {
        if (!tenants.findTenant(opts.tenant)) throw new Error(`no tenant ${opts.tenant}`);
        const key = generateApiKey();
        tenants.addApiKey(opts.tenant, { id: key.id, hash: key.hash, label: "cli" }, Date.now());
        console.log(`tenant ${opts.tenant}\nkey id ${key.id}\n\n  ${key.key}\n\n(shown once)`);
      } else {
        const r = createTenantWithKey(tenants, opts.name, Date.now());
        console.log(`tenant ${r.tenant.id}\nkey id ${r.keyId}\n\n  ${r.key}\n\n(shown once)`);
      }
    } finally {
      store.close();
    }
  });

apiKeys
  .command("list")
  .description("list API keys by public id (never the secret)")
  .option("--tenant <id>", "only this tenant's keys")
  .action((opts: { tenant?: string }) => {
    const config = loadConfig();
    const store = openStore(config.dbPath);
    try {
      for (const k of new SqliteTenantStore(store.db).listApiKeys(opts.tenant)) {
        const state = k.revokedAt === null ? "live" : `revoked ${new Date(k.revokedAt).toISOString()}`;
        console.log(`${k.id}\t${k.tenantId}\t${k.label}\t${state}`);
      }
    } finally {
      store.close();
    }
  });

apiKeys
  .command("revoke <id>")
  .description("revoke an API key by its public id")
  .action((id: string) => {
    const config = loadConfig();
    const store = openStore(config.dbPath);
    try {
      if (!new SqliteTenantStore(store.db).revokeApiKey(id, Date.now())) throw new Error(`no live API key ${id}`);
      console.log(`revoked ${id}`);
    } finally {
      store.close();
    }
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`roomgate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
