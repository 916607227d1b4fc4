import type { JsonObject } from "@bufbuild/protobuf";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import type { Config } from "../config/config.js";
import { permissionName } from "../domain/permissions.js";
import { RestrictionIndex } from "../domain/moderation/restrictions.js";
import { Keyring, type TokenKey } from "../domain/tokens/keyring.js";
import { RevocationIndex } from "../domain/tokens/revocations.js";
import { RoomTokens, type VerifiedToken } from "../domain/tokens/room-tokens.js";
import { TokenCodec } from "../domain/tokens/token-codec.js";
import type { Database } from "../store/database-port.js";
import { SqlGrantStore } from "../store/grant-store.js";
import { SqlJournal } from "../store/journal-store.js";
import { parseKeysConfig, readKeyFile } from "../store/key-file.js";
import { SqlModerationStore } from "../store/moderation-store.js";
import { SqlTenantStore } from "../store/tenant-store.js";
import { CliError } from "./cli-error.js";

/**
 * The keys a server started with this configuration uses: ROOMGATE_TOKEN_KEYS,
 * else the key file — which must exist: a token sealed with a key file this
 * command just invented would verify nowhere.
 */
export function configuredKeys(config: Config): TokenKey[] {
  if (config.tokenKeys) return parseKeysConfig(config.tokenKeys);
  const keys = readKeyFile(config.keyFile);
  if (keys === undefined)
    throw new CliError(
      `no token key file at ${config.keyFile} (check ROOMGATE_DATA_DIR / ROOMGATE_KEY_FILE; \`roomgate serve\` creates it on first start)`,
    );
  return keys;
}

/**
 * Room tokens over the configured keys and store, with the live revocations
 * and restrictions loaded once: what a freshly started replica would decide.
 */
async function roomTokensOf(config: Config, db: Database): Promise<RoomTokens> {
  const moderation = new SqlModerationStore(db);
  const now = Date.now();
  const revocations = new RevocationIndex();
  for (const r of await moderation.liveRevocations(now)) revocations.add(r);
  const restrictions = new RestrictionIndex();
  for (const r of await moderation.activeRestrictions(now)) restrictions.set(r);
  return new RoomTokens(
    new TokenCodec(new Keyring(configuredKeys(config))),
    new SqlGrantStore(db),
    {
      defaultTtlSeconds: config.defaultTtlSeconds,
      maxTtlSeconds: config.maxTtlSeconds,
      maxBatch: config.maxBatch,
      maxMetadataBytes: config.maxMetadataBytes,
      maxIdBytes: 256,
      verifyCacheSize: 0,
    },
    Date.now,
    { revocations, restrictions, journal: new SqlJournal(db), transact: (fn) => db.write(fn) },
  );
}

/** The tenant named, or the only one when none is named. */
async function tenantOf(db: Database, named: string | undefined): Promise<string> {
  const tenants = new SqlTenantStore(db);
  if (named !== undefined) {
    if (!(await tenants.findTenant(named))) throw new CliError(`no tenant ${named}`);
    return named;
  }
  // Every tenant is created with a key, so the keys list names them all.
  const ids = [...new Set((await tenants.listApiKeys()).map((k) => k.tenantId))];
  if (ids.length !== 1)
    throw new CliError(`${ids.length} tenants in this store: name one with --tenant (see \`roomgate api-keys list\`)`);
  return ids[0]!;
}

/** A permission by wire name (PermissionRoomKick) or number. */
export function parsePermission(raw: string): number {
  const name = raw.trim();
  if (/^\d+$/.test(name)) return Number(name);
  const value = (Permission as unknown as Record<string, number | undefined>)[name];
  if (typeof value !== "number")
    throw new CliError(`unknown permission "${name}" (names like PermissionRoomKick, see the README's Permissions)`);
  return value;
}

/** What `tokens create` asks for. */
export interface CreateTokenOptions {
  readonly tenant?: string | undefined;
  readonly user: string;
  readonly room: string;
  readonly permissions: readonly number[];
  readonly ttl?: number | undefined;
  readonly metadata?: JsonObject | undefined;
}

/**
 * Issues one room member token exactly as Create would for the tenant,
 * audited as issued by "key:cli" (the grant and audit entry in one write).
 */
export async function createToken(
  config: Config,
  db: Database,
  opts: CreateTokenOptions,
): Promise<{ tenantId: string; token: string }> {
  const tenantId = await tenantOf(db, opts.tenant);
  const tokens = await roomTokensOf(config, db);
  const [token] = await tokens.issue(tenantId, "cli", [
    {
      userId: opts.user,
      roomId: opts.room,
      permissions: opts.permissions,
      ttlSeconds: opts.ttl,
      metadata: opts.metadata,
    },
  ]);
  return { tenantId, token: token! };
}

/** Verifies a token as a freshly started replica would; claims as JSON-ready values. */
export async function verifyToken(
  config: Config,
  db: Database,
  token: string,
  tenant: string | undefined,
): Promise<Record<string, unknown>> {
  const tokens = await roomTokensOf(config, db);
  return claimsJson(tokens.verify(tenant, token));
}

/** Verify's answer in the Connect JSON shape (permission names, ISO times). */
function claimsJson(v: VerifiedToken): Record<string, unknown> {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    tokenId: v.tokenId,
    tenantId: v.tenantId,
    userId: v.userId,
    roomId: v.roomId,
    permissions: v.permissions.map((p) => permissionName(p)),
    metadata: v.metadata,
    issuedAt: iso(v.issuedAt),
    notBefore: iso(v.notBefore),
    expiresAt: iso(v.expiresAt),
    restrictions: v.restrictions.map((r) => ({ kind: r.kind, until: r.until === null ? null : iso(r.until) })),
  };
}
