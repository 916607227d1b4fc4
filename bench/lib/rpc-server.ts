/**
 * One benchmark target, run in its own process so the load generator never
 * shares its event loop. Started by bench/rpc.ts and bench/create-batch.ts:
 *
 *   fork("bench/lib/rpc-server.ts", [kind], { execArgv: ["--import", "tsx"] })
 *
 * Options after kind: --prefill N        insert N synthetic grants before listening
 *                     --env KEY=VALUE    a roomgate setting (repeatable)
 *
 * kind:
 *   ours     the real roomgate: createApp + serve (interceptors, one-port
 *            listener; HTTP/1.1 and h2c on the same port)
 *   connect  plain connect-node: connectNodeAdapter over http.createServer
 *            (and http2.createServer for gRPC), same TokensPrivateService
 *            instance, no interceptors; the principal is injected through
 *            contextValues
 *   bare     node:http / node:http2 handlers calling the domain objects
 *            directly (bench/lib/bare-server.ts: Connect JSON by hand and
 *            Connect binary over HTTP/1.1; gRPC framing by hand over h2c)
 *
 * Every kind builds its state with the real createApp (temp data dir, SQLite
 * store with the production pragmas — or PostgreSQL with
 * --env ROOMGATE_DATABASE_URL=… — one active token key), so the token and
 * database work is identical; only the RPC stack in front differs. Each
 * also seeds a room member with a user access token (seedRoomMember) for
 * VerifyAccessToken and GetRoomPermissions.
 *
 * Protocol with the parent (IPC): sends {type:"ready", ...Ready} once
 * listening; answers {type:"server-times"} with the server time of every
 * Create since the last ask; on "stop" (or when the parent goes away) closes everything,
 * deletes the data dir and exits 0.
 */
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import diagnostics_channel from "node:diagnostics_channel";
import { rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import { Session } from "node:inspector";
import type { AddressInfo } from "node:net";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { serve, type App } from "../../src/app.js";
import type { ApiKeyPrincipal } from "../../src/domain/auth/api-keys.js";
import { authenticateEndUser, isEndUserService } from "../../src/server/end-user-auth.js";
import { routes } from "../../src/server/routes.js";
import { apiKeyPrincipalKey, endUserKey } from "../../src/services/context.js";
import { bareMethods } from "./bare-methods.js";
import { bareGrpcServer, bareHttpHandler } from "./bare-server.js";
import {
  BENCH_API_KEY,
  createBenchApp,
  prefillGrants,
  roomTokensOf,
  SEED_ROOM_ID,
  SEED_USER_ID,
  seedRoomMember,
  SERVER_KINDS,
  type Ready,
  type ServerKind,
} from "./bench-app.js";

/**
 * Plain connect's handler: no interceptors; the API-key principal is
 * injected, and an end user's credential (end-user services only, as the
 * interceptor does) is resolved in contextValues, a plain function call.
 */
function plainConnectHandler(app: App, principal: ApiKeyPrincipal): ReturnType<typeof connectNodeAdapter> {
  return connectNodeAdapter({
    ...app.routerOptions,
    interceptors: [],
    routes: routes(app.services),
    contextValues: (req) => {
      const values = createContextValues().set(apiKeyPrincipalKey, principal);
      const service = (req.url ?? "").split("/")[1] ?? "";
      const authorization = req.headers.authorization;
      if (authorization !== undefined && isEndUserService(service)) {
        try {
          values.set(endUserKey, authenticateEndUser(authorization, null, app.userTokens, app.roomTokens));
        } catch {
          // Left unset: the service answers unauthenticated (a refused credential's code).
        }
      }
      return values;
    },
  });
}

// --- process entry -------------------------------------------------------------

function listen(server: http.Server | http2.Http2Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: http.Server | http2.Http2Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    if (server instanceof http.Server) server.closeAllConnections();
  });
}

/** Per-session tracking so h2c servers can be closed promptly. */
function trackSessions(server: http2.Http2Server): Set<http2.ServerHttp2Session> {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  return sessions;
}

/**
 * Server time of every Create this process answered over HTTP/1.1: from the
 * request's headers parsed to the response's last byte handed to the socket
 * (node:http's diagnostics channels, so every kind is measured alike). The
 * parent fetches and clears them with {type: "server-times"}.
 */
const CREATE_PATH = "/room.tokens.private.v1.Service/Create";
const createStarted = new WeakMap<object, { at: number; cpu: NodeJS.CpuUsage }>();
let serverTimes: number[] = [];
let serverCpu: number[] = [];
diagnostics_channel.subscribe("http.server.request.start", (m) => {
  const { request } = m as { request: http.IncomingMessage };
  if (request.url === CREATE_PATH) createStarted.set(request, { at: performance.now(), cpu: process.cpuUsage() });
});
diagnostics_channel.subscribe("http.server.response.finish", (m) => {
  const { request } = m as { request: http.IncomingMessage };
  const t0 = createStarted.get(request);
  if (t0 === undefined) return;
  serverTimes.push(performance.now() - t0.at);
  // Every thread of the process (the sealing thread too); calls come one at a time.
  const cpu = process.cpuUsage(t0.cpu);
  serverCpu.push((cpu.user + cpu.system) / 1000);
});

/** On-demand CPU profiling, so a profile covers only the measured window. */
type ProfileMessage = { type: "profile-start"; intervalUs?: number } | { type: "profile-stop"; path: string };
let inspector: Session | undefined;

function post<T>(method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    inspector!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

async function onProfileMessage(m: ProfileMessage): Promise<void> {
  if (m.type === "profile-start") {
    inspector ??= new Session();
    inspector.connect();
    await post("Profiler.enable");
    await post("Profiler.setSamplingInterval", { interval: m.intervalUs ?? 100 });
    await post("Profiler.start");
    process.send!({ type: "profile-started" });
  } else if (m.type === "profile-stop") {
    const { profile } = await post<{ profile: unknown }>("Profiler.stop");
    await post("Profiler.disable");
    inspector!.disconnect();
    writeFileSync(m.path, JSON.stringify(profile));
    process.send!({ type: "profile-saved", path: m.path });
  }
}

async function main(): Promise<void> {
  const kind = process.argv[2] as ServerKind;
  if (!SERVER_KINDS.includes(kind)) throw new Error(`usage: rpc-server.ts ${SERVER_KINDS.join("|")}`);
  if (!process.send) throw new Error("rpc-server.ts must be started with child_process.fork");

  const prefillAt = process.argv.indexOf("--prefill");
  const prefill = prefillAt > 0 ? Number(process.argv[prefillAt + 1]) : 0;

  // --env KEY=VALUE (repeatable): extra roomgate settings, e.g. ROOMGATE_VERIFY_CACHE_SIZE=0.
  const env: Record<string, string> = {};
  process.argv.forEach((a, i) => {
    const kv = a === "--env" ? process.argv[i + 1] : undefined;
    if (kv?.includes("=")) env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  });

  const { app, dataDir, principal } = await createBenchApp(env);
  // Until the servers are up, closing means closing the app (feed, store);
  // the data dir is deleted on every way out, including a failed start.
  let close: () => Promise<void> = () => app.close();
  let stopping: Promise<void> | undefined;
  const stop = (code = 0): Promise<void> =>
    (stopping ??= (async () => {
      try {
        await close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        if (process.connected) process.disconnect();
        process.exit(code);
      }
    })());
  process.on("message", (m: unknown) => {
    if (m === "stop") void stop();
    else if (typeof m === "object" && m !== null && (m as { type?: string }).type === "server-times") {
      process.send!({ type: "server-times", times: serverTimes, cpu: serverCpu });
      serverTimes = [];
      serverCpu = [];
    } else if (typeof m === "object" && m !== null && "type" in m) void onProfileMessage(m as ProfileMessage);
  });
  process.on("disconnect", () => void stop());
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());

  let port: number;
  let h2Port: number;
  let token: string;
  let userToken: string;
  try {
    await prefillGrants(app, principal.tenantId, prefill);
    // The very instance the service uses, so all three stacks share one RoomTokens.
    const tokens = roomTokensOf(app);
    token = (
      await tokens.issue(principal.tenantId, principal.keyId, [
        {
          userId: SEED_USER_ID,
          roomId: SEED_ROOM_ID,
          metadata: { note: "temporary moderator" },
          permissions: [Permission.PermissionRoomKick],
        },
      ])
    )[0]!;
    // After the Create above, which makes SEED_ROOM_ID a room.
    userToken = (await seedRoomMember(app, principal.tenantId)).userToken;

    if (kind === "ours") {
      const running = await serve(app);
      port = h2Port = running.port;
      close = () => running.close();
    } else {
      let h1: http.Server;
      let h2: http2.Http2Server;
      if (kind === "connect") {
        const handler = plainConnectHandler(app, principal);
        h1 = http.createServer(handler);
        h2 = http2.createServer(handler);
      } else {
        const methods = bareMethods(app, principal);
        h1 = http.createServer(bareHttpHandler(methods));
        h2 = bareGrpcServer(methods);
      }
      const sessions = trackSessions(h2);
      close = async () => {
        for (const s of sessions) s.destroy();
        await Promise.all([closeServer(h1), closeServer(h2)]);
        await app.close();
      };
      port = await listen(h1);
      h2Port = await listen(h2);
    }
  } catch (err) {
    console.error(err);
    return stop(1);
  }

  // A large Create seals on the sealing thread once it is up; measure that.
  await app.sealer.whenReady();
  const ready: Ready = { kind, port, h2Port, apiKey: BENCH_API_KEY, token, userToken, pid: process.pid };
  process.send({ type: "ready", ...ready });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
