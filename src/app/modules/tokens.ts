import { EventEmitter } from "node:events";
import { unwatchFile, watchFile, type StatsListener } from "node:fs";
import type { Config } from "../../config/config.js";
import { SubjectTokens } from "../../domain/auth/subject-tokens.js";
import { BatchSealer } from "../../domain/tokens/batch-sealer.js";
import { Keyring, type TokenKey } from "../../domain/tokens/keyring.js";
import { Revoker } from "../../domain/tokens/revoker.js";
import { RoomTokens } from "../../domain/tokens/room-tokens.js";
import { TokenCodec, TokenKind } from "../../domain/tokens/token-codec.js";
import { TokensPrivateService } from "../../services/tokens-private-service.js";
import { loadOrCreateKeys, parseKeysConfig, readKeyFile } from "../../store/key-file.js";
import type { Kernel } from "../kernel.js";
import type { FeatureModule } from "../module.js";

/** The keyring a start uses, and where it came from. */
export interface TokenKeys {
  readonly keys: readonly TokenKey[];
  /** True when this start generated the token key file. */
  readonly created: boolean;
  /** True when the keys come from the key file (and a reload re-reads it). */
  readonly fromFile: boolean;
}

/**
 * The keys to start with: the test seam's, else ROOMGATE_TOKEN_KEYS, else
 * the key file (created with one active key when there is none).
 */
export function loadTokenKeys(config: Config, given: readonly TokenKey[] | undefined, now: number): TokenKeys {
  if (given) return { keys: given, created: false, fromFile: false };
  if (config.tokenKeys) return { keys: parseKeysConfig(config.tokenKeys), created: false, fromFile: false };
  const loaded = loadOrCreateKeys(config.keyFile, now);
  return { keys: loaded.keys, created: loaded.created, fromFile: true };
}

/** Room member tokens, user and access-link tokens, revocation, and the keyring they are sealed with. */
export interface TokensModule extends FeatureModule {
  readonly codec: TokenCodec;
  /** Seals Create batches (a large one on its thread). */
  readonly sealer: BatchSealer;
  readonly roomTokens: RoomTokens;
  /** User access tokens (login, seed 003, redeemed access links). */
  readonly userTokens: SubjectTokens;
  /** Access-link tokens (seed 001 generateAccess). */
  readonly linkTokens: SubjectTokens;
  readonly tokensPrivate: TokensPrivateService;
  /** Re-reads the token key file; a file that fails to load keeps the current keyring. */
  reloadKeys(why: string): void;
  /** Calls `fn` after every reload that changed the keyring. */
  onKeysReloaded(fn: () => void): void;
}

/** Builds the token services over the keyring `keys`. */
export function tokensModule(k: Kernel, keys: TokenKeys): TokensModule {
  const { config, clock, live } = k;
  const codec = new TokenCodec(new Keyring(keys.keys));
  // Large Creates seal on a thread (the other core) while this one writes
  // the rows; the thread only saves time, a Create never depends on it.
  const sealer = new BatchSealer(codec, {
    onError: (err) => k.log.warn({ err }, "token sealing thread failed; sealing inline"),
  });
  const roomTokens = new RoomTokens(
    codec,
    k.stores.grants,
    {
      defaultTtlSeconds: config.defaultTtlSeconds,
      maxTtlSeconds: config.maxTtlSeconds,
      maxBatch: config.maxBatch,
      maxMetadataBytes: config.maxMetadataBytes,
      maxIdBytes: 256,
      verifyCacheSize: config.verifyCacheSize,
    },
    clock,
    {
      revocations: live.revocations,
      restrictions: live.restrictions,
      journal: k.stores.journal,
      transact: k.transact,
      catchUp: () => live.feed.catchUp(),
      onCacheLookup: (hit) => k.metrics.observeVerifyCache(hit),
    },
    sealer,
  );
  const revoker = new Revoker({ store: k.stores.moderation, transact: k.transact, sink: k.sink, clock });
  const reload = keyringReload(k, codec, keys.fromFile);
  return {
    codec,
    sealer,
    roomTokens,
    userTokens: new SubjectTokens(codec, TokenKind.UserAccess, clock, live.revocations),
    // Redeem judges a link's own revocation and its guest's (AccessLinks.redeem).
    linkTokens: new SubjectTokens(codec, TokenKind.AccessLink, clock, null),
    tokensPrivate: new TokensPrivateService(roomTokens, revoker, k.fresh),
    ...reload,
    async close() {
      reload.stopWatching();
      await sealer.close();
    },
  };
}

/**
 * The one keyring reload. What asks for it: the change feed (a
 * `roomgate token-keys` command, on every replica), the key file changing
 * (polled every second: an edit by hand), and SIGHUP (the process calls
 * `reloadKeys`). Each asks; only this re-reads.
 */
function keyringReload(k: Kernel, codec: TokenCodec, fromFile: boolean) {
  const reloaded = new EventEmitter<{ reloaded: [] }>();
  const reloadKeys = (why: string): void => {
    if (!fromFile) {
      k.log.warn({ why }, "token keys come from the configuration; nothing to reload");
      return;
    }
    try {
      const fileKeys = readKeyFile(k.config.keyFile);
      if (fileKeys) codec.setKeyring(new Keyring(fileKeys));
      k.log.info({ keys: fileKeys?.length, why }, "token keyring reloaded");
      if (fileKeys) reloaded.emit("reloaded");
    } catch (err) {
      k.log.error({ err }, "keyring reload failed; keeping the current one");
    }
  };
  k.signals.on("keyringChanged", () => reloadKeys("keyring changed (change feed)"));
  const onFile: StatsListener = (cur, prev) => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) reloadKeys("key file changed");
  };
  if (fromFile) watchFile(k.config.keyFile, { interval: 1_000, persistent: false }, onFile);
  return {
    reloadKeys,
    onKeysReloaded: (fn: () => void) => void reloaded.on("reloaded", fn),
    stopWatching: () => unwatchFile(k.config.keyFile, onFile),
  };
}
