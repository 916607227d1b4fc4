import { execFile, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoomgateClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../support/server.js";

// The client package as a backend gets it: `npm pack` of a clean checkout (no
// dist/ beforehand: prepack must build it), the tarball installed elsewhere
// with install scripts off and optional dependencies left out (so no
// better-sqlite3 at all), a strict TypeScript program type-checked against the
// installed types, then run against a live server. One pack and one install
// serve every assertion: they are the slow part.

const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const repoModules = realpathSync(join(repo, "node_modules"));
const tsc = join(repoModules, ".bin", "tsc");

/** Runs the repo's tsc in `cwd`; a failure carries tsc's own report. */
async function typeCheck(cwd: string, project: string): Promise<void> {
  try {
    await run(tsc, ["-p", project], { cwd });
  } catch (err) {
    throw new Error(`tsc -p ${project} failed:\n${(err as { stdout?: string }).stdout ?? String(err)}`);
  }
}

/** Errors that mean npm could not reach the registry (not a broken package). */
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|ENETUNREACH|network/i;

interface Packed {
  readonly tarball: string;
  readonly files: readonly string[];
}

let work: string;
let packed: Packed;
/** The consumer project with the tarball installed; undefined when npm was offline. */
let consumer: string | undefined;
let server: TestServer;

/** Copies the working tree's files as git sees them (tracked plus new, not ignored): a clean checkout. */
async function cleanCheckout(to: string): Promise<void> {
  const { stdout } = await run("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: repo,
    maxBuffer: 16 << 20,
  });
  for (const file of stdout.split("\0")) {
    // The worktree's node_modules is a symlink git does not ignore as a folder.
    if (!file || file === "node_modules" || file.startsWith("dist/")) continue;
    if (!existsSync(join(repo, file))) continue; // deleted but not yet committed
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(repo, file), join(to, file));
  }
  symlinkSync(repoModules, join(to, "node_modules"), "dir");
}

async function pack(): Promise<Packed> {
  const checkout = join(work, "checkout");
  const out = join(work, "pack");
  mkdirSync(checkout);
  mkdirSync(out);
  await cleanCheckout(checkout);
  expect(existsSync(join(checkout, "dist"))).toBe(false);
  await run("npm", ["pack", "--pack-destination", out, "--no-audit", "--no-fund"], {
    cwd: checkout,
    maxBuffer: 16 << 20,
  });
  const tgz = readdirSync(out).filter((f) => f.endsWith(".tgz"));
  expect(tgz).toHaveLength(1);
  const tarball = join(out, tgz[0]!);
  const { stdout } = await run("tar", ["-tzf", tarball], { maxBuffer: 16 << 20 });
  return { tarball, files: stdout.split("\n").filter(Boolean) };
}

/** Installs the tarball in a fresh project; undefined (with a notice) when the registry is unreachable. */
async function install(tarball: string): Promise<string | undefined> {
  const dir = join(work, "consumer");
  mkdirSync(dir);
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }),
  );
  try {
    await run(
      "npm",
      [
        "install",
        tarball,
        "--ignore-scripts",
        "--omit=optional",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--no-package-lock",
      ],
      { cwd: dir, maxBuffer: 16 << 20, timeout: 240_000 },
    );
    return dir;
  } catch (err) {
    const text = String((err as { stderr?: string }).stderr ?? err);
    if (!OFFLINE.test(text)) throw err;
    console.warn(
      `\n*** client-package: npm could not reach the registry; the install, type-check and live-call tests are SKIPPED ***\n${text.slice(0, 500)}\n`,
    );
    return undefined;
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "roomgate-client-package-"));
  [packed, server] = await Promise.all([pack(), startTestServer()]);
  consumer = await install(packed.tarball);
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm pack of a clean checkout", () => {
  it("holds the built client with its types, the server and its migrations, and no sources or tests", () => {
    const files = new Set(packed.files);
    for (const f of [
      "package/package.json",
      "package/dist/src/client/index.js",
      "package/dist/src/client/index.d.ts",
      "package/dist/src/client/roomgate-client.d.ts",
      "package/dist/gen/room/tokens/private/v1/service_pb.js",
      "package/dist/gen/room/tokens/private/v1/service_pb.d.ts",
      "package/dist/src/cli.js",
      "package/migrations/meta/_journal.json",
      "package/migrations-pg/meta/_journal.json",
    ]) {
      expect(files, f).toContain(f);
    }
    expect(
      packed.files.filter((f) => f.startsWith("package/test/") || f.startsWith("package/src/") || f.endsWith(".map")),
    ).toEqual([]);
    expect(packed.files.filter((f) => f.startsWith("package/node_modules/"))).toEqual([]);
  });
});

describe("the installed package", () => {
  it("installs without better-sqlite3 and keeps the roomgate command", (ctx) => {
    if (!consumer) return ctx.skip();
    expect(existsSync(join(consumer, "node_modules", "better-sqlite3"))).toBe(false);
    expect(existsSync(join(consumer, "node_modules", ".bin", "roomgate"))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(consumer, "node_modules", "roomgate", "package.json"), "utf8")) as {
      optionalDependencies?: Record<string, string>;
      dependencies?: Record<string, string>;
    };
    expect(manifest.optionalDependencies?.["better-sqlite3"]).toBeDefined();
    expect(manifest.dependencies?.["better-sqlite3"]).toBeUndefined();
  });

  it("client entry imports only the generated code and Connect (nothing of the server)", (ctx) => {
    if (!consumer) return ctx.skip();
    const dir = join(consumer, "node_modules", "roomgate", "dist", "src", "client");
    const specifiers = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".js") || f.endsWith(".d.ts"))) {
      const text = readFileSync(join(dir, file), "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) specifiers.add(m[1]!);
    }
    expect(specifiers.size).toBeGreaterThan(0);
    const foreign = [...specifiers].filter(
      (s) =>
        !/^\.\/[\w-]+\.js$/.test(s) &&
        !s.startsWith("../../gen/") &&
        !s.startsWith("@connectrpc/") &&
        !s.startsWith("@bufbuild/"),
    );
    expect(foreign).toEqual([]);
  });

  it("a strict TypeScript program type-checks against the installed types; a wrong one does not", async (ctx) => {
    if (!consumer) return ctx.skip();
    writeProgram(consumer);
    await typeCheck(consumer, "tsconfig.json");
    const bad = await run(tsc, ["-p", "tsconfig.bad.json"], { cwd: consumer }).then(
      () => undefined,
      (err: { stdout?: string }) => err.stdout ?? "",
    );
    expect(bad, "the wrong program must fail to type-check").toBeDefined();
    // Proves the types are real (not `any`): each wrong line is refused.
    expect(bad).toMatch(/bad\.ts\(4,\d+\): error TS2322/); // protocol "http3"
    expect(bad).toMatch(/bad\.ts\(5,\d+\): error TS2322/); // userId: number
    expect(bad).toMatch(/bad\.ts\(6,\d+\): error TS2353/); // unknown field
    expect(bad).toMatch(/bad\.ts\(7,\d+\): error TS2339/); // no such method
    expect(bad).not.toMatch(/main\.ts/);
  });

  for (const transport of [
    { protocol: "grpc", httpVersion: "2" },
    { protocol: "connect", httpVersion: "1.1" },
    { protocol: "connect", httpVersion: "2" },
  ] as const) {
    it(`creates and verifies a token on a live server over ${transport.protocol} HTTP/${transport.httpVersion}; refuses a wrong key; never prints a key`, async (ctx) => {
      if (!consumer) return ctx.skip();
      if (!existsSync(join(consumer, "out", "main.js"))) {
        writeProgram(consumer);
        await typeCheck(consumer, "tsconfig.emit.json");
      }
      const wrongKey = "rgk_wrong_0123456789abcdef";
      const { stdout, stderr } = await run(process.execPath, ["out/main.js"], {
        cwd: consumer,
        env: {
          ...process.env,
          ROOMGATE_URL: server.baseUrl,
          ROOMGATE_API_KEY: server.apiKey,
          WRONG_KEY: wrongKey,
          PROTOCOL: transport.protocol,
          HTTP_VERSION: transport.httpVersion,
        },
        timeout: 30_000,
      });
      const result = JSON.parse(stdout) as Record<string, unknown>;
      expect(result).toEqual({
        tokens: 1,
        userId: "8ae5a0b9-9206-44ca-950b-5a0b51f82d4e",
        roomId: "c2ed3890-716d-4380-a597-d860ecacada0",
        permissions: [expect.any(Number)],
        metadata: { note: "from the client package" },
        sameDescriptorAndTokenId: true,
        wrongKeyCode: "Unauthenticated",
        wrongKeyMessageHasKey: false,
      });
      for (const secret of [server.apiKey, wrongKey]) {
        expect(stdout).not.toContain(secret);
        expect(stderr).not.toContain(secret);
      }
    });
  }
});

describe("the packed roomgate command", () => {
  it("serves from the tarball (migrations included) once better-sqlite3 is there, and the packed client talks to it", async (ctx) => {
    if (!consumer) return ctx.skip();
    if (!existsSync(join(consumer, "out", "main.js"))) {
      writeProgram(consumer);
      await typeCheck(consumer, "tsconfig.emit.json");
    }
    // The server's optional native dependency, as an install with optional
    // dependencies on would bring it (the repo's build, to skip a compile).
    symlinkSync(join(repoModules, "better-sqlite3"), join(consumer, "node_modules", "better-sqlite3"), "dir");
    const dataDir = join(work, "packed-server-data");
    const apiKey = "packed-server-api-key-0123456789";
    const child = spawn(
      process.execPath,
      [join(consumer, "node_modules", "roomgate", "dist", "src", "cli.js"), "serve", "--workers", "1"],
      {
        cwd: consumer,
        env: {
          ...process.env,
          ROOMGATE_DATA_DIR: dataDir,
          ROOMGATE_API_KEY: apiKey,
          PORT: "0",
          HOST: "127.0.0.1",
          LOG_LEVEL: "info",
          ROOMGATE_DATABASE_URL: "",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    try {
      const port = await new Promise<number>((found, fail) => {
        let seen = "";
        const timer = setTimeout(() => fail(new Error(`no "roomgate listening" line in 20 s:\n${seen}`)), 20_000);
        const read = (chunk: Buffer): void => {
          seen += chunk.toString();
          const m = /"port":(\d+)[^\n]*roomgate listening|roomgate listening[^\n]*"port":(\d+)/.exec(seen);
          if (m) {
            clearTimeout(timer);
            found(Number(m[1] ?? m[2]));
          }
        };
        child.stdout.on("data", read);
        child.stderr.on("data", read);
        void exited.then((code) => fail(new Error(`roomgate exited (${code}) before listening:\n${seen}`)));
      });
      const { stdout } = await run(process.execPath, ["out/main.js"], {
        cwd: consumer,
        env: {
          ...process.env,
          ROOMGATE_URL: `http://127.0.0.1:${port}`,
          ROOMGATE_API_KEY: apiKey,
          WRONG_KEY: "rgk_wrong_x",
          PROTOCOL: "grpc",
          HTTP_VERSION: "2",
        },
        timeout: 30_000,
      });
      expect(JSON.parse(stdout)).toMatchObject({
        tokens: 1,
        sameDescriptorAndTokenId: true,
        wrongKeyCode: "Unauthenticated",
      });
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  }, 60_000);
});

describe("createRoomgateClient options", () => {
  const secret = "rgk_pub_SECRET0123456789";
  const cases: Array<[string, () => unknown, RegExp]> = [
    ["no key", () => createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: "" }), /apiKey is required/],
    [
      "a key with a trailing newline",
      () => createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: `${secret}\n` }),
      /whitespace/,
    ],
    ["a bare host", () => createRoomgateClient({ baseUrl: "127.0.0.1:8080", apiKey: secret }), /baseUrl must/],
    ["another scheme", () => createRoomgateClient({ baseUrl: "ftp://127.0.0.1", apiKey: secret }), /http or https/],
    [
      "credentials in the URL",
      () => createRoomgateClient({ baseUrl: `http://u:${secret}@127.0.0.1`, apiKey: secret }),
      /credentials/,
    ],
    [
      "gRPC over HTTP/1.1",
      () =>
        createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: secret, protocol: "grpc", httpVersion: "1.1" }),
      /HTTP\/2 only/,
    ],
  ];
  for (const [name, make, message] of cases) {
    it(`refuses ${name} with a TypeError that never quotes the key`, () => {
      let caught: unknown;
      try {
        make();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TypeError);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).not.toContain("SECRET");
    });
  }

  it("keeps the key off the returned clients and transport", () => {
    const rg = createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: secret, protocol: "grpc" });
    const seen = new WeakSet<object>();
    const dump = JSON.stringify(rg, (_k, v: unknown) => {
      if (typeof v === "object" && v !== null) {
        if (seen.has(v)) return undefined;
        seen.add(v);
      }
      return typeof v === "function" ? String(v) : v;
    });
    expect(dump).not.toContain("SECRET");
  });
});

/** The consumer's program, a deliberately wrong one, and their tsconfigs. */
function writeProgram(dir: string): void {
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
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ ...base, files: ["main.ts"] }));
  writeFileSync(join(dir, "tsconfig.bad.json"), JSON.stringify({ ...base, files: ["bad.ts"] }));
  writeFileSync(
    join(dir, "tsconfig.emit.json"),
    JSON.stringify({
      extends: "./tsconfig.json",
      compilerOptions: { noEmit: false, outDir: "out" },
      files: ["main.ts"],
    }),
  );
  writeFileSync(join(dir, "main.ts"), MAIN);
  writeFileSync(join(dir, "bad.ts"), BAD);
}

const MAIN = `
import { Code, ConnectError, createRoomgateClient, permissionsV1, tokensPrivateV1, type RoomgateClient } from "roomgate/client";
import { Service } from "roomgate/gen/room/tokens/private/v1/service_pb";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error("missing " + name);
  return value;
}

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

const BAD = `import { createRoomgateClient } from "roomgate/client";

const rg = createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", protocol: "grpc" });
createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k", protocol: "http3" });
await rg.tokens.create({ arguments: [{ userId: 42, roomId: "r" }] });
await rg.tokens.create({ arguments: [{ userId: "u", roomId: "r", colour: "red" }] });
await rg.tokens.mint({});
`;
