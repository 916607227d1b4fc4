import type { Command } from "commander";
import { withStore } from "./options.js";

/**
 * `roomgate api-keys create|list|revoke`: tenants' API keys, against the
 * store directly. The domain loads with the action (./api-keys.js), not
 * with the command's definition.
 */
export function registerApiKeys(program: Command): void {
  const apiKeys = program.command("api-keys").description("manage tenants' API keys");
  apiKeys
    .command("create")
    .description("create an API key (for --tenant, or for a new tenant named --name); shown once")
    .option("--tenant <id>", "existing tenant id")
    .option("--name <name>", "create a new tenant with this name", "default")
    .action(async (opts: { tenant?: string; name: string }) => (await import("./api-keys.js")).createApiKey(opts));
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
    .action(async (id: string) => (await import("./api-keys.js")).revokeApiKeyById(id));
}
