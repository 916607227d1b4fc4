import { revokeApiKey } from "../domain/auth/api-key-revocation.js";
import { generateApiKey } from "../domain/auth/api-keys.js";
import { createTenantWithKey } from "../domain/auth/tenants.js";
import { RoomgateError } from "../domain/errors.js";
import { withStore } from "./options.js";
import { settleAcrossReplicas } from "./settle.js";

// The actions of `roomgate api-keys` that need the domain; loaded by
// api-keys-command.ts only when one of them runs.

/** `api-keys create`: a key for --tenant, or a new tenant with its first key; the key is printed once. */
export function createApiKey(opts: { tenant?: string; name: string }): Promise<void> {
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

/** `api-keys revoke`: revokes the key and returns once every live replica refuses it. */
export function revokeApiKeyById(id: string): Promise<void> {
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
