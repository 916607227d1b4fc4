import { createContextValues, type ConnectRouterOptions, type Interceptor } from "@connectrpc/connect";
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Config } from "./config/config.js";
import { bootstrapTenant, type BootstrapResult } from "./domain/auth/tenants.js";
import { Keyring, type TokenKey } from "./domain/tokens/keyring.js";
import { RoomTokens } from "./domain/tokens/room-tokens.js";
import { TokenCodec, TokenKind } from "./domain/tokens/token-codec.js";
import { SubjectTokens } from "./domain/auth/subject-tokens.js";
import { CachedApiKeyLookup } from "./domain/auth/api-key-cache.js";
import { RateLimiter } from "./domain/rate-limit.js";
import { compatHandler, type CompatRoute } from "./server/compat.js";
import { healthRoute } from "./server/compat/health-route.js";
import { HealthService } from "./services/health-service.js";
import { withCors } from "./server/cors.js";
import { ApiKeyGate } from "./server/api-key-auth.js";
import { withStrictUtf8 } from "./server/strict-utf8.js";
import { endUserInterceptor } from "./server/end-user-auth.js";
import { SqliteMembershipStore } from "./store/membership-store.js";
import { SqliteModerationStore } from "./store/moderation-store.js";
import { SqliteJournal } from "./store/journal-store.js";
import { EventBus } from "./domain/events/event-bus.js";
import type { Transact } from "./domain/journal.js";
import { Moderation } from "./domain/moderation/moderation.js";
import { RestrictionIndex } from "./domain/moderation/restrictions.js";
import { RestrictionLapses } from "./domain/moderation/lapses.js";
import { Revoker } from "./domain/tokens/revoker.js";
import { RevocationIndex } from "./domain/tokens/revocations.js";
import { apiKeyInterceptor, errorInterceptor, strictFieldsInterceptor } from "./server/interceptors.js";
import { OnePortServer } from "./server/listener.js";
import { createNodeHandler } from "./server/node-adapter.js";
import { routes, type Services } from "./server/routes.js";
import { TokensPrivateService } from "./services/tokens-private-service.js";
import { Spaces } from "./domain/spaces/spaces.js";
import { AccessLinks } from "./domain/spaces/access-links.js";
import { SqliteSpaceStore } from "./store/space-store.js";
import { SpacesService } from "./services/spaces-service.js";
import { SpacesPrivateService } from "./services/spaces-private-service.js";
import { AccessService } from "./services/access-service.js";
import { Users } from "./domain/users/users.js";
import { LoginGuard } from "./domain/users/login-guard.js";
import { peerAddressKey } from "./services/peer-address.js";
import { ConsumerUsers } from "./domain/users/consumer.js";
import { SqliteUserStore } from "./store/user-store.js";
import { UsersPrivateService } from "./services/users-private-service.js";
import { UsersService } from "./services/users-service.js";
import { ConsumerPrivateService } from "./services/consumer-private-service.js";
import { consumerRoute } from "./server/compat/consumer-route.js";
import { PermissionsService } from "./services/permissions-service.js";
import { EventsPrivateService } from "./services/events-private-service.js";
import { AuditPrivateService } from "./services/audit-private-service.js";
import { ModerationService } from "./services/moderation-service.js";
import { ModerationPrivateService } from "./services/moderation-private-service.js";
import type { RoomPermissionDeps } from "./domain/room-permissions.js";
import { roomPermissionsRoute } from "./server/compat/room-permissions-route.js";
import { SqliteRoomStore } from "./store/room-store.js";
import { openStore, writeTransaction, type Store } from "./store/db.js";
import { SqliteGrantStore } from "./store/grant-store.js";
import { loadOrCreateKeys, parseKeysConfig } from "./store/key-file.js";
import { SqliteTenantStore } from "./store/tenant-store.js";

/** Everything a running roomgate is made of, wired once. */
export interface App {
  readonly config: Config;
  readonly log: Logger;
  readonly store: Store;
  readonly tenants: SqliteTenantStore;
  readonly grants: SqliteGrantStore;
  readonly codec: TokenCodec;
  readonly clock: () => number;
  readonly roomTokens: RoomTokens;
  /** User access tokens (login, seed 003, redeemed access links). */
  readonly userTokens: SubjectTokens;
  /** Access-link tokens (seed 001 generateAccess). */
  readonly linkTokens: SubjectTokens;
  readonly memberships: SqliteMembershipStore;
  readonly journal: SqliteJournal;
  readonly transact: Transact;
  readonly bus: EventBus;
  readonly revocations: RevocationIndex;
  readonly restrictions: RestrictionIndex;
  readonly moderation: Moderation;
  readonly moderationStore: SqliteModerationStore;
  /** Records and announces timed blocks and mutes as they lapse. */
  readonly lapses: RestrictionLapses;
  readonly services: Services;
  /** The seeds' REST routes, served where no RPC path matches. */
  readonly compatRoutes: CompatRoute[];
  readonly routerOptions: ConnectRouterOptions;
  readonly bootstrap: BootstrapResult;
  /** True when this start generated the token key file. */
  readonly keyFileCreated: boolean;
  readonly shutdown: AbortController;
}

/** Test seams: a fixed clock and keys that bypass the key file. */
export interface AppOverrides {
  readonly clock?: () => number;
  readonly tokenKeys?: readonly TokenKey[];
  /**
   * Arm a real timer for restriction lapses. Default: only with the real
   * clock; with an injected clock the test calls `app.lapses.runDue()`.
   */
  readonly lapseTimer?: boolean;
}

/**
 * Opens the store (applying migrations), loads the keyring, bootstraps the
 * first tenant and builds the services. No socket is opened here.
 */
export function createApp(config: Config, log: Logger, overrides: AppOverrides = {}): App {
  const clock = overrides.clock ?? Date.now;
  let keys = overrides.tokenKeys;
  let keyFileCreated = false;
  if (!keys && config.tokenKeys) keys = parseKeysConfig(config.tokenKeys);
  if (!keys) {
    const loaded = loadOrCreateKeys(config.keyFile, clock());
    keys = loaded.keys;
    keyFileCreated = loaded.created;
  }
  const codec = new TokenCodec(new Keyring(keys));
  const store = openStore(config.dbPath);
  const tenants = new SqliteTenantStore(store.db);
  const grants = new SqliteGrantStore(store.db);
  const bootstrap = bootstrapTenant(tenants, config.apiKey, clock());
  // Live state: loaded once here, then kept current by every write, so
  // Verify and "my permissions" never read the database.
  const moderationStore = new SqliteModerationStore(store.db);
  const journal = new SqliteJournal(store.db);
  // Every write takes the lock up front (BEGIN IMMEDIATE): see writeTransaction.
  const transact: Transact = (fn) => writeTransaction(store.db, fn);
  const bus = new EventBus();
  const revocations = new RevocationIndex();
  for (const r of moderationStore.liveRevocations(clock())) revocations.add(r);
  const restrictions = new RestrictionIndex();
  for (const r of moderationStore.activeRestrictions(clock())) restrictions.set(r);
  const live = { store: moderationStore, journal, transact, bus, clock };
  const memberships = new SqliteMembershipStore(store.db);
  const moderation = new Moderation({ ...live, restrictions, revocations, memberships });
  const revoker = new Revoker({ ...live, index: revocations });
  const roomTokens = new RoomTokens(
    codec,
    grants,
    {
      defaultTtlSeconds: config.defaultTtlSeconds,
      maxTtlSeconds: config.maxTtlSeconds,
      maxBatch: config.maxBatch,
      maxMetadataBytes: config.maxMetadataBytes,
      maxIdBytes: 256,
      verifyCacheSize: config.verifyCacheSize,
    },
    clock,
    { revocations, restrictions, journal, transact },
  );
  const userTokens = new SubjectTokens(codec, TokenKind.UserAccess, clock, revocations);
  const linkTokens = new SubjectTokens(codec, TokenKind.AccessLink, clock);
  const spaceStore = new SqliteSpaceStore(store.db);
  // Joins and role grants are audited and announced like moderation.
  const sink = { journal, bus };
  // Every end-user call in a room refuses a member the room is closed to.
  const access = { restrictions, revocations, clock };
  const spacesDeps = { store: spaceStore, memberships, clock, sink, access };
  const spaces = new Spaces(spacesDeps);
  const accessLinks = new AccessLinks({
    ...spacesDeps,
    linkTokens,
    userTokens,
    options: { publicUrl: config.publicUrl, maxTtlSeconds: config.maxTtlSeconds },
    revocationStore: moderationStore,
  });
  const userStore = new SqliteUserStore(store.db);
  const userTokenOptions = { tokenTtlSeconds: config.userTokenTtlSeconds };
  const loginGuard = new LoginGuard(
    {
      failuresPerMinute: config.loginFailuresPerMinute,
      accountFailuresPerMinute: config.loginAccountFailuresPerMinute,
      attemptsPerMinutePerAddress: config.loginAttemptsPerMinutePerAddress,
      attemptsPerSecondPerTenant: config.loginAttemptsPerSecondPerTenant,
      knownAddressDays: config.loginKnownAddressDays,
    },
    clock,
  );
  const users = new Users(userStore, userTokens, userTokenOptions, clock, loginGuard);
  const consumers = new ConsumerUsers(userStore, memberships, userTokens, userTokenOptions, clock, sink);
  // "My permissions" and end-user moderation judge the caller the same way.
  const roomPermissionDeps: RoomPermissionDeps = {
    rooms: new SqliteRoomStore(store.db),
    memberships,
    restrictions,
    revocations,
    clock,
  };
  const shutdown = new AbortController();
  // connect links every in-flight call to this signal: more than 10
  // concurrent calls is normal, not a listener leak.
  setMaxListeners(0, shutdown.signal);
  // Lapses due while the server was down are sent now; later ones on time.
  const lapses = new RestrictionLapses({ ...live, restrictions, onError: (err) => log.error({ err }, "restriction lapse failed; retrying") });
  lapses.start(shutdown.signal, { timer: overrides.lapseTimer ?? overrides.clock === undefined });
  const storeAlive = () => store.sqlite.open && store.sqlite.prepare("select 1 as ok").get() !== undefined;
  const services: Services = {
    health: new HealthService(storeAlive, shutdown.signal),
    tokensPrivate: new TokensPrivateService(roomTokens, revoker),
    spaces: new SpacesService(spaces, accessLinks),
    spacesPrivate: new SpacesPrivateService(spaces, accessLinks),
    access: new AccessService(accessLinks),
    usersPrivate: new UsersPrivateService(users, userTokens),
    users: new UsersService(users),
    consumerPrivate: new ConsumerPrivateService(consumers),
    permissions: new PermissionsService(roomPermissionDeps),
    moderation: new ModerationService(moderation, roomPermissionDeps),
    moderationPrivate: new ModerationPrivateService(moderation),
    eventsPrivate: new EventsPrivateService(
      { subscribe: (t, l) => bus.subscribe(t, l), eventsAfter: (t, r, a, n) => journal.eventsAfter(t, r, a, n) },
      log,
      { maxWatchersPerTenant: config.maxWatchersPerTenant },
    ),
    auditPrivate: new AuditPrivateService(journal),
  };
  const compatRoutes: CompatRoute[] = [];
  compatRoutes.push(healthRoute(storeAlive));

  compatRoutes.push(roomPermissionsRoute({ permissions: services.permissions, userTokens, roomTokens }));
  // API keys are looked up on every backend call; a short cache keeps that
  // off the database (a key revoked by the CLI stops within the ttl).
  const apiKeys = new CachedApiKeyLookup(tenants, config.apiKeyCacheMs, clock);
  // One gate (one per-key limiter) for the RPCs and the REST route alike.
  const apiKeyGate = new ApiKeyGate(apiKeys, new RateLimiter(config.rateLimitPerSecond, config.rateLimitPerSecond * 2, clock));
  compatRoutes.push(consumerRoute(consumers, apiKeyGate));
  const interceptors: Interceptor[] = [
    errorInterceptor(log),
    apiKeyInterceptor(apiKeyGate),
    endUserInterceptor(userTokens, roomTokens),
    strictFieldsInterceptor(),
  ];
  const routerOptions: ConnectRouterOptions = {
    interceptors,
    // Connect ignores unknown JSON fields and enum names by default; a
    // misspelled permission must be refused, not dropped.
    // Implicit defaults are written too: seed 002's flags are all present,
    // false ones included.
    // JSON bodies are decoded as strict UTF-8 (invalid_argument otherwise).
    jsonOptions: withStrictUtf8({ ignoreUnknownFields: false, alwaysEmitImplicit: true }),
    readMaxBytes: config.readMaxBytes,
    writeMaxBytes: config.readMaxBytes,
    maxTimeoutMs: config.maxTimeoutMs,
    shutdownSignal: shutdown.signal,
  };
  return {
    config,
    log,
    store,
    tenants,
    grants,
    codec,
    clock,
    roomTokens,
    userTokens,
    linkTokens,
    memberships,
    journal,
    transact,
    bus,
    revocations,
    restrictions,
    moderation,
    moderationStore,
    lapses,
    services,
    compatRoutes,
    routerOptions,
    bootstrap,
    keyFileCreated,
    shutdown,
  };
}

/** A listening roomgate. */
export interface RunningServer {
  readonly port: number;
  /** Drains in-flight calls, then closes the store. */
  close(): Promise<void>;
}

/** Serves the app on one port for every protocol. */
export async function serve(app: App): Promise<RunningServer> {
  const rpc = createNodeHandler({
    ...app.routerOptions,
    routes: routes(app.services),
    fallback: compatHandler(app.compatRoutes, app.log),
    log: app.log,
    // The direct peer's address, for the login limits (see LoginGuard).
    contextValues: (req) => createContextValues().set(peerAddressKey, req.socket?.remoteAddress ?? ""),
  });
  const handler = withCors(rpc, app.config.corsOrigins);
  const tls =
    app.config.tlsCert && app.config.tlsKey
      ? { cert: readFileSync(app.config.tlsCert), key: readFileSync(app.config.tlsKey) }
      : undefined;
  const server = new OnePortServer({ handler, tls });
  const port = await server.listen(app.config.port, app.config.host);
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= (async () => {
        app.shutdown.abort();
        await server.close(app.config.shutdownGraceMs);
        app.store.close();
      })();
      return closing;
    },
  };
}
