/**
 * What test/domain/users.test.ts used to time: a login of an unknown
 * username takes as long as a wrong password for a known one (both run one
 * scrypt check; the test now counts the checks). Medians of sequential
 * Login calls (Connect JSON) against an in-process roomgate on the embedded
 * store; nothing is asserted. Login limits are off so every call is checked.
 *
 * Run: npx tsx bench/login-timing.ts [--samples 40]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { Service as UsersPrivate } from "../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../gen/room/users/v1/service_pb.js";
import { createApp } from "../src/app/create-app.js";
import { serve } from "../src/app/serve.js";
import { loadConfig } from "../src/config/config.js";
import { generateTokenKey } from "../src/domain/tokens/keyring.js";
import { quantile } from "./lib/h2load.js";

const { values: args } = parseArgs({ options: { samples: { type: "string", default: "40" } } });
const SAMPLES = Number(args.samples);
const API_KEY = "bench-api-key-0123456789";

const dir = mkdtempSync(join(tmpdir(), "roomgate-bench-"));
const config = loadConfig({
  PORT: "0",
  HOST: "127.0.0.1",
  ROOMGATE_DATA_DIR: dir,
  ROOMGATE_API_KEY: API_KEY,
  ROOMGATE_RATE_LIMIT_PER_SECOND: "0",
  ROOMGATE_LOGIN_FAILURES_PER_MINUTE: "0",
});
const app = await createApp(config, pino({ level: "silent" }), {
  tokenKeys: [{ ...generateTokenKey(Date.now()), state: "active" }],
});
const server = await serve(app);
const baseUrl = `http://127.0.0.1:${server.port}`;
try {
  const auth = { headers: { authorization: `Bearer ${API_KEY}` } };
  await createClient(UsersPrivate, createGrpcTransport({ baseUrl })).createUser(
    { email: "ann@example.com", username: "ann", password: "password-1", phone: "" },
    auth,
  );
  const users = createClient(Users, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
  const tenantId = app.bootstrap.tenantId!;
  const time = async (username: string): Promise<number> => {
    const t0 = performance.now();
    await users.login({ tenantId, username, password: "wrong-password" }).catch(() => undefined);
    return performance.now() - t0;
  };
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    known.push(await time("ann"));
    unknown.push(await time(`nobody-${i}`));
  }
  const median = (xs: number[]) =>
    quantile(
      [...xs].sort((a, b) => a - b),
      0.5,
    );
  const k = median(known);
  const u = median(unknown);
  console.log(`login, wrong password (known user): median ${k.toFixed(1)} ms`);
  console.log(
    `login, unknown user:                median ${u.toFixed(1)} ms (${((u / k) * 100).toFixed(0)}% of known)`,
  );
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
