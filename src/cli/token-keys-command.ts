import type { Command } from "commander";

/**
 * `roomgate token-keys list|add|activate|retire|export`: the key file's
 * keyring. What the actions need (the key file, the store for the change
 * announcement) loads with them (./token-keys.js).
 */
export function registerTokenKeys(program: Command): void {
  const tokenKeys = program.command("token-keys").description("manage the token encryption keyring (key file)");
  tokenKeys
    .command("list")
    .description("list token keys and their state")
    .action(async () => (await import("./token-keys.js")).listKeys());
  tokenKeys
    .command("add")
    .description("generate a new token key; --activate makes it the one new tokens use")
    .option("--activate", "make the new key active (the old one stays decrypt-only)")
    .action(async (opts: { activate?: boolean }) => (await import("./token-keys.js")).add(Boolean(opts.activate)));
  tokenKeys
    .command("activate <id>")
    .description("make an existing key active; the previous one becomes decrypt-only")
    .action(async (raw: string) => {
      const id = keyIdArg(raw);
      await (await import("./token-keys.js")).activate(id);
    });
  tokenKeys
    .command("retire <id>")
    .description("remove a decrypt-only key: tokens sealed with it stop verifying")
    .action(async (raw: string) => {
      const id = keyIdArg(raw);
      await (await import("./token-keys.js")).retire(id);
    });
  tokenKeys
    .command("export")
    .description(
      "print the keyring as ROOMGATE_TOKEN_KEYS takes it (id:secret,…, active key first) to stdout; it is the secret",
    )
    .action(async () => (await import("./token-keys.js")).exportKeys());
}

/** A key id argument: a whole number, or a clear error. */
function keyIdArg(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new Error(`token key id must be a whole number, got "${raw}"`);
  return Number(raw);
}
