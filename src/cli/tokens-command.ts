import type { JsonObject } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { CliError } from "./cli-error.js";
import { wholeNumber, withStore } from "./options.js";

/** What `tokens create` was asked. */
interface CreateOptions {
  readonly user: string;
  readonly room: string;
  readonly permissions: string;
  readonly ttl?: number;
  readonly metadata?: string;
  readonly tenant?: string;
}

/**
 * `roomgate tokens create|verify`: room member tokens against the configured
 * store and keys. The token machinery (./tokens.js: the domain, the store,
 * the generated permission names) loads with the action.
 */
export function registerTokens(program: Command): void {
  const tokens = program
    .command("tokens")
    .description(
      "issue and verify room member tokens directly against the configured store and keys (no server needed)",
    );
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
    .action((opts: CreateOptions) => create(opts));
  tokens
    .command("verify [token]")
    .description(
      "verify a room member token (keys, expiry, revocations, restrictions); prints its claims as JSON, exit 1 when refused. " +
        "Without a token (or with -) it is read from standard input, which keeps it out of the process list and shell history",
    )
    .option("--tenant <id>", "also require the token to belong to this tenant")
    .action(async (arg: string | undefined, opts: { tenant?: string }) => {
      const token = arg === undefined || arg === "-" ? await tokenFromStdin() : arg;
      const [{ loadConfig }, { verifyToken }] = await Promise.all([
        import("../config/config.js"),
        import("./tokens.js"),
      ]);
      await withStore(async ({ db }) => {
        console.log(JSON.stringify(await verifyToken(loadConfig(), db, token, opts.tenant)));
      });
    });
}

async function create(opts: CreateOptions): Promise<void> {
  const [{ loadConfig }, { createToken, parsePermission }] = await Promise.all([
    import("../config/config.js"),
    import("./tokens.js"),
  ]);
  const permissions = opts.permissions
    .split(",")
    .filter((p) => p.trim() !== "")
    .map(parsePermission);
  const metadata = opts.metadata === undefined ? undefined : jsonObject(opts.metadata);
  await withStore(async ({ db }) => {
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
}

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
