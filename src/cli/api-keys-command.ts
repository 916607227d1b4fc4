import type { Command } from "commander";
import { revokeApiKey } from "../domain/auth/api-key-revocation.js";
import { generateApiKey } from "../domain/auth/api-keys.js";
import { createTenantWithKey } from "../domain/auth/tenants.js";
import { RoomgateError } from "../domain/errors.js";
import { withStore } from "./options.js";
import { settleAcrossReplicas } from "./settle.js";

/** `roomgate api-keys create|list|revoke`: tenants' API keys, against the store directly. */
export function registerApiKeys(program: Command): void {
  const apiKeys = program.command("api-keys").description("manage tenants' API keys");
  apiKeys
    .command("create")
    .description("create an API key (for --tenant, or for a new tenant named --name); shown once")
    .option("--tenant <id>", "existing tenant id")
    .option("--name <name>", "create a new tenant with this name", "default")
    .action((opts: { tenant?: string; name: string }) => create(opts));
  apiKeys
    .command("list")
    .description("list API keys by public id (never the secret)")
    .option("--tenant <id>", "only this tenant's keys")
    .action((opts: { tenant?: string }) =>
      withStore(async ({ stores }) => {
        for (const k of await stores.tenants.listApiKeys(opts.tenant)) {
          const state = k.revokedAt === null ? "live" : `revoked ${new Date(k.revokedAt).toISOString()}`;
          console.log(`${k.id}\t${k.tenantId}\t${k.label}\t${state}`);
        }
      }),
    );
  apiKeys
    .command("revoke <id>")
    .description("revoke an API key by its public id (every running replica refuses it at once)")
    .action((id: string) => revoke(id));
}

function create(opts: { tenant?: string; name: string }): Promise<void> {
  return withStore(async ({ stores: { tenants } }) => {
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
}

function revoke(id: string): Promise<void> {
  return withStore(async ({ db, stores: { tenants, journal } }) => {
    // The event carries the revocation to every replica's change feed;
    // this process keeps no live state: it waits for the replicas to apply it.
    const sink = { journal, feed: { catchUp: settleAcrossReplicas(db) } };
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
}
