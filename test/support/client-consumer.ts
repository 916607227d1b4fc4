import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoModules, run } from "./packages.js";

// The programs of a fresh project that installed @roomgate/client: the Node
// backend's (main.ts), a deliberately wrong one (bad.ts), and a browser's
// (web.ts: the `web` entry over connect-web's fetch transport), with their
// tsconfigs, compiled and run by the repo's tsc and node. For
// test/e2e/client-package.test.ts.

/** The repo's tsc. */
export const tsc = join(repoModules, ".bin", "tsc");

/** Runs the repo's tsc in `cwd`; a failure carries tsc's own report. */
export async function typeCheck(cwd: string, project: string): Promise<void> {
  try {
    await run(tsc, ["-p", project], { cwd });
  } catch (err) {
    throw new Error(`tsc -p ${project} failed:\n${(err as { stdout?: string }).stdout ?? String(err)}`);
  }
}

/** What a consumer program reads from its environment. */
export interface ProgramEnv {
  readonly protocol: string;
  readonly httpVersion: string;
  readonly url: string;
  readonly apiKey: string;
  readonly wrongKey: string;
}

/** Runs one of the consumer's compiled programs (compiling them first, once). */
export async function runProgram(
  dir: string,
  file: string,
  env: ProgramEnv,
): Promise<{ stdout: string; stderr: string }> {
  if (!existsSync(join(dir, "out", file))) await typeCheck(dir, "tsconfig.emit.json");
  return run(process.execPath, [join("out", file)], {
    cwd: dir,
    env: {
      ...process.env,
      ROOMGATE_URL: env.url,
      ROOMGATE_API_KEY: env.apiKey,
      WRONG_KEY: env.wrongKey,
      PROTOCOL: env.protocol,
      HTTP_VERSION: env.httpVersion,
    },
    timeout: 30_000,
  });
}

/** Writes the programs and their tsconfigs into `dir`. */
export function writeProgram(dir: string): void {
  const base = {
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      // Connect's own types name DOM's HeadersInit (as its docs say); with
      // skipLibCheck off every installed .d.ts, ours included, is checked.
      lib: ["ES2023", "DOM"],
      types: ["node"],
      // @types/node from the repo: the program and connect-node's types need it,
      // and installing it here would be one more registry fetch.
      typeRoots: [join(repoModules, "@types")],
      skipLibCheck: false,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
    },
  };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ ...base, files: ["main.ts", "web.ts"] }));
  writeFileSync(join(dir, "tsconfig.bad.json"), JSON.stringify({ ...base, files: ["bad.ts"] }));
  writeFileSync(
    join(dir, "tsconfig.emit.json"),
    JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { noEmit: false, outDir: "out" } }),
  );
  writeFileSync(join(dir, "main.ts"), MAIN);
  writeFileSync(join(dir, "web.ts"), WEB);
  writeFileSync(join(dir, "bad.ts"), BAD);
}

const ENV = `
function env(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error("missing " + name);
  return value;
}
`;

const MAIN = `
import { Code, ConnectError, createRoomgateClient, permissionsV1, tokensPrivateV1, type RoomgateClient } from "@roomgate/client";
import { Service } from "@roomgate/client/gen/room/tokens/private/v1/service_pb";
${ENV}
const protocol = env("PROTOCOL") === "grpc" ? "grpc" : "connect";
const httpVersion = env("HTTP_VERSION") === "2" ? "2" : "1.1";
const rg: RoomgateClient = createRoomgateClient({ baseUrl: env("ROOMGATE_URL"), apiKey: env("ROOMGATE_API_KEY"), protocol, httpVersion });

const permissions: permissionsV1.Permission[] = [permissionsV1.Permission.PermissionRoomKick];
const created: tokensPrivateV1.CreateResponse = await rg.tokens.create({
  arguments: [{
    userId: "8ae5a0b9-9206-44ca-950b-5a0b51f82d4e",
    roomId: "c2ed3890-716d-4380-a597-d860ecacada0",
    permissions,
    metadata: { note: "from the client package" },
  }],
});
const token = created.tokens[0];
if (token === undefined) throw new Error("no token");
const verified: tokensPrivateV1.VerifyResponse = await rg.tokens.verify({ token });

// The subpath export is the same descriptor the namespace re-exports.
const sameDescriptor: boolean = Service === tokensPrivateV1.Service;

let wrongKeyCode = "none";
let wrongKeyMessageHasKey = true;
const wrongKey = env("WRONG_KEY");
try {
  await createRoomgateClient({ baseUrl: env("ROOMGATE_URL"), apiKey: wrongKey, protocol, httpVersion }).tokens.verify({ token });
} catch (err) {
  if (err instanceof ConnectError) {
    wrongKeyCode = Code[err.code];
    wrongKeyMessageHasKey = err.message.includes(wrongKey) || err.rawMessage.includes(wrongKey);
  }
}

console.log(JSON.stringify({
  tokens: created.tokens.length,
  userId: verified.userId,
  roomId: verified.roomId,
  permissions: verified.permissions,
  metadata: verified.metadata,
  sameDescriptorAndTokenId: sameDescriptor && verified.tokenId.length > 0,
  wrongKeyCode,
  wrongKeyMessageHasKey,
}));
`;

// Runs under Node here (its fetch stands in for a browser's); the test also
// bundles it for the browser.
const WEB = `
import { createConnectTransport } from "@connectrpc/connect-web";
import { apiKeyInterceptor, Code, ConnectError, createClient, tokensPrivateV1 } from "@roomgate/client/web";
${ENV}
const transport = createConnectTransport({
  baseUrl: env("ROOMGATE_URL"),
  interceptors: [apiKeyInterceptor(env("ROOMGATE_API_KEY"))],
});
const tokens = createClient(tokensPrivateV1.Service, transport);
const created = await tokens.create({ arguments: [{ userId: "u-web", roomId: "r-web" }] });
const verified = await tokens.verify({ token: created.tokens[0] ?? "" });
let missingTokenCode = "none";
try {
  await tokens.verify({ token: "" });
} catch (err) {
  if (err instanceof ConnectError) missingTokenCode = Code[err.code];
}
console.log(JSON.stringify({ userId: verified.userId, roomId: verified.roomId, missingTokenCode }));
`;

const BAD = `import { createRoomgateClient } from "@roomgate/client";

const rg = createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", protocol: "grpc" });
createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", protocol: "http3" });
await rg.tokens.create({ arguments: [{ userId: 42, roomId: "r" }] });
await rg.tokens.create({ arguments: [{ userId: "u", roomId: "r", colour: "red" }] });
await rg.tokens.mint({});
`;
