import { createContextValues, type ConnectRouterOptions, type Interceptor } from "@connectrpc/connect";
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Config } from "./config/config.js";
import { bootstrapTenant, type BootstrapResult } from "./domain/auth/tenants.js";
import { Keyring, type TokenKey } from "./domain/tokens/keyring.js";
import { RoomTokens } from "./domain/tokens/room-tokens.js";
import { BatchSealer } from "./domain/tokens/batch-sealer.js";
import { TokenCodec, TokenKind } from "./domain/tokens/token-codec.js";
import { SubjectTokens } from "./domain/auth/subject-tokens.js";
import { CachedApiKeyLookup } from "./domain/auth/api-key-cache.js";
import { RateLimiter } from "./domain/rate-limit.js";
import { compatHandler, type CompatRoute } from "./server/compat.js";
import { healthRoute, readyRoute } from "./server/compat/health-route.js";
import { HealthService } from "./services/health-service.js";
import { withCors } from "./server/cors.js";
import { ApiKeyGate } from "./server/api-key-auth.js";
import { withStrictUtf8 } from "./server/strict-utf8.js";
import { endUserInterceptor } from "./server/end-user-auth.js";
import { SqlMembershipStore } from "./store/membership-store.js";
import { SqlModerationStore } from "./store/moderation-store.js";
import { SqlJournal } from "./store/journal-store.js";
import type { EventBus } from "./domain/events/event-bus.js";
import type { ChangeFeed } from "./domain/feed/change-feed.js";
import type { Transact } from "./domain/journal.js";
import { Moderation } from "./domain/moderation/moderation.js";
import type { RestrictionIndex } from "./domain/moderation/restrictions.js";
import { RestrictionLapses } from "./domain/moderation/lapses.js";
import { Revoker } from "./domain/tokens/revoker.js";
import type { RevocationIndex } from "./domain/tokens/revocations.js";
import { apiKeyInterceptor, errorInterceptor, strictFieldsInterceptor } from "./server/interceptors.js";
import { freshnessInterceptor, gatedRoute } from "./server/freshness.js";
import { startConsistency } from "./app/consistency.js";
import type { SiblingSync } from "./cluster/sibling-sync.js";
import type { FeedLease } from "./domain/feed/lease.js";
import { OnePortServer } from "./server/listener.js";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { Metrics } from "./observability/metrics.js";
import { createTracing, type Tracing } from "./observability/tracing.js";
import { CallObserver } from "./observability/calls.js";
import { observabilityInterceptor } from "./observability/interceptor.js";
import { tenantOfCall } from "./services/context.js";
import { startMetricsServer, withMetricsEndpoint } from "./observability/metrics-endpoint.js";
import { createNodeHandler } from "./server/node-adapter.js";
import { routes, SERVED_SERVICES, type Services } from "./server/routes.js";
import { ReflectionService } from "./services/reflection-service.js";
import { TokensPrivateService } from "./services/tokens-private-service.js";
import { Spaces } from "./domain/spaces/spaces.js";
import { AccessLinks } from "./domain/spaces/access-links.js";
import { SqlSpaceStore } from "./store/space-store.js";
import { SqlSpaceListStore } from "./store/space-list-store.js";
import { SpacesService } from "./services/spaces-service.js";
import { SpacesPrivateService } from "./services/spaces-private-service.js";
import { AccessService } from "./services/access-service.js";
import { Users } from "./domain/users/users.js";
import { LoginGuard } from "./domain/users/login-guard.js";
import { peerAddressKey } from "./services/peer-address.js";
import { ConsumerUsers } from "./domain/users/consumer.js";
import { SqlUserStore } from "./store/user-store.js";
import { SqlUserDirectoryStore } from "./store/user-directory-store.js";
import { UserDirectory } from "./domain/users/directory.js";
import { UserDeletion } from "./domain/users/deletion.js";
import { UsersPrivateService } from "./services/users-private-service.js";
import { UsersService } from "./services/users-service.js";
import { ConsumerPrivateService } from "./services/consumer-private-service.js";
import { consumerRoute } from "./server/compat/consumer-route.js";
import { PermissionsService } from "./services/permissions-service.js";
import { StreamLimits } from "./domain/stream-limits.js";
import { EventsPrivateService } from "./services/events-private-service.js";
import { AuditPrivateService } from "./services/audit-private-service.js";
import { ModerationService } from "./services/moderation-service.js";
import { ModerationPrivateService } from "./services/moderation-private-service.js";
import type { RoomPermissionDeps } from "./domain/room-permissions.js";
import { roomPermissionsRoute } from "./server/compat/room-permissions-route.js";
import { SqlRoomStore } from "./store/room-store.js";
import type { Store } from "./store/db.js";
import type { Database } from "./store/database.js";
import type { SqliteDatabase } from "./store/sqlite-database.js";
import { openDatabase } from "./app/database.js";
import { startLiveState } from "./app/live.js";
import { startWebhooks, type Webhooks } from "./app/webhook-wiring.js";
import type { Resolver } from "./domain/webhooks/address-policy.js";
import { WebhooksPrivateService } from "./services/webhooks-private-service.js";
import { SqlGrantStore } from "./store/grant-store.js";
import { loadOrCreateKeys, parseKeysConfig, readKeyFile } from "./store/key-file.js";
import { SqlTenantStore } from "./store/tenant-store.js";
import { SqlSharedRateLimiter } from "./store/login-bucket-store.js";

/** Everything a running roomgate is made of, wired once. */
export interface App {
  readonly config: Config;
  readonly log: Logger;
  /** The store (SQLite or PostgreSQL). */
  readonly db: Database;
  /** The SQLite store, when that is the store (maintenance, tests). */
  readonly store: Store | undefined;
  readonly tenants: SqlTenantStore;
  readonly grants: SqlGrantStore;
  readonly codec: TokenCodec;
  /** Seals Create batches (a large one on its thread). */
  readonly sealer: BatchSealer;
  readonly clock: () => number;
  readonly roomTokens: RoomTokens;
  /** User access tokens (login, seed 003, redeemed access links). */
  readonly userTokens: SubjectTokens;
  /** Access-link tokens (seed 001 generateAccess). */
  readonly linkTokens: SubjectTokens;
  readonly memberships: SqlMembershipStore;
  readonly journal: SqlJournal;
  readonly transact: Transact;
  readonly bus: EventBus;
  /** This replica's change feed: applies every replica's writes to the live state below. */
  readonly feed: ChangeFeed;
  /** This process's lease on its memory (src/domain/feed/lease.ts). */
  readonly lease: FeedLease;
  readonly revocations: RevocationIndex;
  readonly restrictions: RestrictionIndex;
  readonly moderation: Moderation;
  readonly moderationStore: SqlModerationStore;
  /** Records and announces timed blocks and mutes as they lapse. */
  readonly lapses: RestrictionLapses;
  /** Webhook endpoints and this replica's delivery worker. */
  readonly webhooks: Webhooks;
  readonly services: Services;
  /** The seeds' REST routes, served where no RPC path matches. */
  readonly compatRoutes: CompatRoute[];
  readonly routerOptions: ConnectRouterOptions;
  readonly bootstrap: BootstrapResult;
  /** True when this start generated the token key file. */
  readonly keyFileCreated: boolean;
  readonly shutdown: AbortController;
  /** Prometheus metrics (its own registry), served on `/metrics`. */
  readonly metrics: Metrics;
  /** OpenTelemetry tracing, or undefined when off (no OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly tracing: Tracing | undefined;
  /** Counts, traces and logs each call (RPCs and REST routes). */
  readonly observer: CallObserver;
  /** Re-reads the token key file (rotation); a file that fails to load keeps the current keyring. */
  reloadKeys(why: string): void;
  /** Stops the feed and the lapse timer and closes the store. */
  close(): Promise<void>;
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
  /** Turns tracing on with this exporter (tests: an in-memory one), spans exported one by one. */
  readonly spanExporter?: SpanExporter;
  /** Resolves webhook hosts instead of the system resolver. */
  readonly webhookResolver?: Resolver;
  /** A cluster worker's link to its sibling workers (src/cluster/sibling-sync.ts). */
  readonly siblings?: SiblingSync;
}

/**
 * Opens the store (applying migrations), loads the keyring, bootstraps the
 * first tenant, loads the live state and starts the change feed, and builds
 * the services. No socket is opened here.
 */
export async function createApp(config: Config, log: Logger, overrides: AppOverrides = {}): Promise<App> {
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
  const opened = await openDatabase(config, log);
  const db = opened.db;
  const metrics = new Metrics();
  const tracing = createTracing(config, overrides.spanExporter);
  // Every write, through every repository, is one Database.write: the lock
  // first. Each is timed, and traced as a child of its call when tracing is on.
  const timedWrite = <T>(fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const done = () => metrics.observeTransaction((performance.now() - start) / 1000);
    return db.write(fn).finally(done);
  };
  const transact: Transact = tracing ? (fn) => tracing.transaction(() => timedWrite(fn)) : timedWrite;
  const tenants = new SqlTenantStore(db);
  const grants = new SqlGrantStore(db);
  const userStore = new SqlUserStore(db);
  await userStore.backfillUsernameKeys();
  // Replicas may start together: the check and the creation are one write.
  const bootstrap = await transact(() => bootstrapTenant(tenants, config.apiKey, clock()));
  const moderationStore = new SqlModerationStore(db);
  const journal = new SqlJournal(db);
  // Live state: loaded once here, then kept current by the change feed —
  // this replica's writes and every other replica's alike — so Verify and
  // "my permissions" never read the database.
  const live = await startLiveState(
    {
      feed: { eventsAfter: (a, n) => journal.feedEventsAfter(a, n), lastId: () => journal.lastEventId() },
      liveRevocations: (now) => moderationStore.liveRevocations(now),
      activeRestrictions: (now) => moderationStore.activeRestrictions(now),
    },
    { pollMs: config.feedPollMs, clock, log },
  );
  const { revocations, restrictions, bus, feed } = live;
  const stopListening = await opened.listen(() => feed.poke());
  // Writers answer only once the rest of the service applied their write (issue 16).
  const consistency = await startConsistency(db, live, {
    leaseMs: config.replicaLeaseMs,
    waitMs: config.consistencyWaitMs,
    siblings: overrides.siblings,
    log,
  });
  const sink = { journal, feed: { catchUp: consistency.settle } };
  const memberships = new SqlMembershipStore(db);
  const moderation = new Moderation({ store: moderationStore, transact, sink, memberships, clock });
  const revoker = new Revoker({ store: moderationStore, transact, sink, clock });
  // Large Creates seal on a thread (the other core) while this one writes
  // the rows; the thread only saves time, a Create never depends on it.
  const sealer = new BatchSealer(codec, {
    onError: (err) => log.warn({ err }, "token sealing thread failed; sealing inline"),
  });
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
    { revocations, restrictions, journal, transact, catchUp: () => feed.catchUp() },
    sealer,
  );
  const userTokens = new SubjectTokens(codec, TokenKind.UserAccess, clock, revocations);
  // Redeem judges a link's own revocation and its guest's (AccessLinks.redeem).
  const linkTokens = new SubjectTokens(codec, TokenKind.AccessLink, clock, null);
  const spaceStore = new SqlSpaceStore(db);
  // Every end-user call in a room refuses a member the room is closed to.
  const access = { restrictions, revocations, clock };
  const spacesDeps = {
    store: spaceStore,
    lists: new SqlSpaceListStore(db),
    memberships,
    clock,
    sink,
    access,
    transact,
  };
  const spaces = new Spaces(spacesDeps);
  const accessLinks = new AccessLinks({
    ...spacesDeps,
    linkTokens,
    userTokens,
    options: { publicUrl: config.publicUrl, maxTtlSeconds: config.maxTtlSeconds },
    revocationStore: moderationStore,
  });
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
    // Failed logins per account hold across every replica together.
    new SqlSharedRateLimiter(
      db,
      "login-account",
      config.loginAccountFailuresPerMinute / 60,
      config.loginAccountFailuresPerMinute,
      clock,
    ),
  );
  const users = new Users(userStore, userTokens, userTokenOptions, clock, transact, loginGuard);
  const consumers = new ConsumerUsers(userStore, memberships, userTokens, userTokenOptions, clock, sink, transact);
  const userDirectoryStore = new SqlUserDirectoryStore(db);
  const userDirectory = new UserDirectory({ store: userDirectoryStore, transact, sink, clock });
  const userDeletion = new UserDeletion({
    store: userDirectoryStore,
    revocationStore: moderationStore,
    memberships,
    transact,
    sink,
    clock,
  });
  // "My permissions" and end-user moderation judge the caller the same way.
  const roomPermissionDeps: RoomPermissionDeps = {
    rooms: new SqlRoomStore(db),
    memberships,
    restrictions,
    revocations,
    clock,
  };
  // Aborted when draining begins: not ready any more, streams end with unavailable.
  const shutdown = new AbortController();
  // Aborted when the drain is over: calls still running are cancelled.
  const cutoff = new AbortController();
  setMaxListeners(0, cutoff.signal);
  // connect links every in-flight call to this signal: more than 10
  // concurrent calls is normal, not a listener leak.
  setMaxListeners(0, shutdown.signal);
  // Lapses due while the server was down are sent now; later ones on time.
  const lapses = new RestrictionLapses({
    store: moderationStore,
    transact,
    sink,
    bus,
    clock,
    onError: (err) => log.error({ err }, "restriction lapse failed; retrying"),
  });
  await lapses.start(shutdown.signal, { timer: overrides.lapseTimer ?? overrides.clock === undefined });
  const webhooks = await startWebhooks({
    config,
    db,
    journal,
    transact,
    sink,
    bus,
    keyring: () => codec.keyring,
    clock,
    log,
    resolve: overrides.webhookResolver,
  });
  const storeAlive = () => db.ping();
  const fresh = { feed, waitMs: config.consistencyWaitMs };
  const eventsPrivate = new EventsPrivateService(
    { subscribe: (t, l) => bus.subscribe(t, l), eventsAfter: (t, r, a, n) => journal.eventsAfter(t, r, a, n) },
    { maxWatchersPerTenant: config.maxWatchersPerTenant, shutdown: shutdown.signal },
  );
  const permissionStreamLimits = new StreamLimits(
    "permission streams",
    config.maxPermissionStreamsPerUser,
    config.maxPermissionStreamsPerTenant,
  );
  const services: Services = {
    health: new HealthService(storeAlive, shutdown.signal),
    tokensPrivate: new TokensPrivateService(roomTokens, revoker, fresh),
    spaces: new SpacesService(spaces, accessLinks),
    spacesPrivate: new SpacesPrivateService(spaces, accessLinks),
    access: new AccessService(accessLinks),
    usersPrivate: new UsersPrivateService(users, userTokens, fresh, userDirectory, userDeletion),
    users: new UsersService(users),
    consumerPrivate: new ConsumerPrivateService(consumers),
    permissions: new PermissionsService(roomPermissionDeps, fresh, {
      // Driven by the bus, which every replica's feed fills: works on any replica.
      deps: { ...roomPermissionDeps, bus, appliedId: () => feed.appliedId },
      limits: permissionStreamLimits,
      shutdown: shutdown.signal,
      fresh,
    }),
    moderation: new ModerationService(moderation, roomPermissionDeps),
    moderationPrivate: new ModerationPrivateService(moderation),
    eventsPrivate,
    auditPrivate: new AuditPrivateService(journal),
    webhooksPrivate: new WebhooksPrivateService(webhooks.endpoints),
    reflection: new ReflectionService(SERVED_SERVICES),
  };
  roomTokens.verifier.onCacheLookup = (hit) => metrics.observeVerifyCache(hit);
  metrics.watch({
    revokedTokens: () => revocations.revokedTokenCount,
    openWatchers: () => eventsPrivate.openWatchers,
    openPermissionStreams: () => services.permissions.openStreams,
    feedLag: async () => (await journal.lastEventId()) - feed.appliedId,
  });
  const observer = new CallObserver(metrics, log, tracing);
  const compatRoutes: CompatRoute[] = [];
  compatRoutes.push(healthRoute(storeAlive));
  compatRoutes.push(readyRoute(storeAlive, shutdown.signal));

  compatRoutes.push(
    gatedRoute(roomPermissionsRoute({ permissions: services.permissions, userTokens, roomTokens }), consistency.gate),
  );
  // API keys are looked up on every backend call; a short cache keeps that
  // off the database, and remembers which presented key opened so a hot
  // caller costs no hash per call. A revocation reaches both through the
  // change feed at once, on every replica (the ttl only bounds a missed one).
  const apiKeys = new CachedApiKeyLookup(tenants, config.apiKeyCacheMs, clock);
  live.hooks.onApiKeyRevoked = (k) => {
    // Drops the record and every remembered presented form of the key.
    apiKeys.forget(k.keyId);
    eventsPrivate.endStreamsOfKey(k.keyId);
  };
  // One gate (one per-key limiter) for the RPCs and the REST route alike.
  const apiKeyGate = new ApiKeyGate(
    apiKeys,
    new RateLimiter(config.rateLimitPerSecond, config.rateLimitPerSecond * 2, clock),
  );
  compatRoutes.push(gatedRoute(consumerRoute(consumers, apiKeyGate), consistency.gate));
  const interceptors: Interceptor[] = [
    // Outermost: sees every call's final code, refusals by the others included.
    observabilityInterceptor(observer, tenantOfCall),
    errorInterceptor(log),
    // Before any credential is resolved: the lease, and the caller's min_event_id.
    freshnessInterceptor(consistency.gate),
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
    // Only at the end of the shutdown grace: until then every call that reached the server is answered.
    shutdownSignal: cutoff.signal,
  };
  const reloadKeys = (why: string): void => {
    if (config.tokenKeys || overrides.tokenKeys)
      return log.warn({ why }, "token keys come from the configuration; nothing to reload");
    try {
      const fileKeys = readKeyFile(config.keyFile);
      if (fileKeys) codec.setKeyring(new Keyring(fileKeys));
      log.info({ keys: fileKeys?.length, why }, "token keyring reloaded");
      // Webhook secrets follow the active key, so the old one can be retired.
      if (fileKeys) void webhooks.worker.reseal();
    } catch (err) {
      log.error({ err }, "keyring reload failed; keeping the current one");
    }
  };
  live.hooks.onKeyringChanged = () => reloadKeys("keyring changed (change feed)");
  let closed: Promise<void> | undefined;
  return {
    config,
    log,
    db,
    store: "store" in db ? (db as SqliteDatabase).store : undefined,
    tenants,
    grants,
    codec,
    sealer,
    clock,
    roomTokens,
    userTokens,
    linkTokens,
    memberships,
    journal,
    transact,
    bus,
    feed,
    lease: consistency.lease,
    revocations,
    restrictions,
    moderation,
    moderationStore,
    lapses,
    webhooks,
    services,
    compatRoutes,
    routerOptions,
    bootstrap,
    keyFileCreated,
    shutdown,
    metrics,
    tracing,
    observer,
    reloadKeys,
    close() {
      closed ??= (async () => {
        shutdown.abort();
        cutoff.abort();
        lapses.stop();
        await webhooks.stop();
        await consistency.close();
        feed.stop();
        await sealer.close();
        await stopListening();
        await db.close();
        await tracing?.shutdown();
      })();
      return closed;
    },
  };
}

/** A listening roomgate. */
export interface RunningServer {
  readonly port: number;
  /** The ROOMGATE_METRICS_PORT server's port, when one is set. */
  readonly metricsPort: number | undefined;
  /** Drains in-flight calls, then closes the store. */
  close(): Promise<void>;
}

/** Options for {@link serve}. */
export interface ServeOptions {
  /** Overrides ROOMGATE_FAST_PATH (the differential test serves one app both ways). */
  readonly fastPath?: boolean;
}

/** Serves the app on one port for every protocol. */
export async function serve(app: App, opts: ServeOptions = {}): Promise<RunningServer> {
  const rpc = createNodeHandler({
    ...app.routerOptions,
    fastPath: opts.fastPath ?? app.config.fastPath,
    routes: routes(app.services),
    fallback: compatHandler(app.compatRoutes, app.log, app.observer),
    log: app.log,
    // The direct peer's address, for the login limits (see LoginGuard).
    contextValues: (req) => createContextValues().set(peerAddressKey, req.socket?.remoteAddress ?? ""),
  });
  const handler = withMetricsEndpoint(withCors(rpc, app.config.corsOrigins), app.metrics);
  const tls =
    app.config.tlsCert && app.config.tlsKey
      ? { cert: readFileSync(app.config.tlsCert), key: readFileSync(app.config.tlsKey) }
      : undefined;
  const server = new OnePortServer({
    handler,
    tls,
    onStopAccepting: () => app.log.info("stopped accepting connections; answering every call that reached this server"),
  });
  const port = await server.listen(app.config.port, app.config.host);
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  if (app.config.metricsPort !== undefined) {
    try {
      metricsServer = await startMetricsServer(app.metrics, app.config.metricsPort, app.config.host);
    } catch (err) {
      await server.close(0);
      throw err;
    }
  }
  let closing: Promise<void> | undefined;
  return {
    port,
    metricsPort: metricsServer?.port,
    close() {
      closing ??= (async () => {
        // Not ready at once (/readyz, gRPC health), Watch streams end with unavailable; calls keep being answered.
        app.shutdown.abort();
        const [cut] = await Promise.all([
          server.close(app.config.shutdownGraceMs, app.config.drainDelayMs),
          metricsServer?.close(),
        ]);
        if (cut > 0)
          app.log.warn(
            { connections: cut, graceMs: app.config.shutdownGraceMs },
            "shutdown grace over: connections still open were cut off",
          );
        await app.close();
      })();
      return closing;
    },
  };
}
