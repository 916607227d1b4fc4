import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProgram, tsc, typeCheck, writeProgram } from "../support/client-consumer.js";
import {
  cleanCheckout,
  freshProject,
  importedSpecifiers,
  installedPackages,
  npmInstall,
  type Packed,
  pack,
  repoModules,
  repoVersion,
  run,
  servePacked,
} from "../support/packages.js";
import { startTestServer, type TestServer } from "../support/server.js";

// The two packages as users get them, from one clean checkout (no dist/
// beforehand: prepack must build each): @roomgate/client (`npm pack -w`)
// installed in a fresh project with a plain `npm install <tarball>`, a strict
// TypeScript program type-checked against its types and run against a live
// server, its `web` entry bundled for the browser; and the server package
// (`roomgate`, the root) installed without its optional better-sqlite3, then
// serving. One pack and one install of each serve every assertion: they are
// the slow part.

const CLIENT_DEPENDENCIES = ["@bufbuild/protobuf", "@connectrpc/connect"];

let work: string;
let client: Packed;
let serverPack: Packed;
/** The project with the client installed; undefined when npm was offline. */
let consumer: string | undefined;
/** The packages a plain install of the client brought, before anything else was added. */
let plainInstall: ReturnType<typeof installedPackages> = [];
/** The project with the server package installed; undefined when npm was offline. */
let serverConsumer: string | undefined;
let server: TestServer;

async function installClient(tarball: string): Promise<string | undefined> {
  const dir = freshProject(join(work, "consumer"));
  if (!(await npmInstall(dir, [tarball]))) return undefined;
  plainInstall = installedPackages(join(dir, "node_modules"));
  // What a Node backend adds (the optional peer), and a browser (connect-web),
  // at the versions the repository tests with.
  const transports = ["connect-node", "connect-web"].map((p) => `@connectrpc/${p}@${repoVersion(`@connectrpc/${p}`)}`);
  if (!(await npmInstall(dir, transports))) return undefined;
  writeProgram(dir);
  return dir;
}

async function installServer(tarball: string): Promise<string | undefined> {
  const dir = freshProject(join(work, "server-consumer"));
  const args = [tarball, "--ignore-scripts", "--omit=optional", "--prefer-offline", "--no-package-lock"];
  return (await npmInstall(dir, args)) ? dir : undefined;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "roomgate-client-package-"));
  const checkout = join(work, "checkout");
  mkdirSync(checkout);
  await cleanCheckout(checkout);
  expect(existsSync(join(checkout, "dist"))).toBe(false);
  expect(existsSync(join(checkout, "packages", "client", "dist"))).toBe(false);
  [client, serverPack, server] = await Promise.all([
    pack(checkout, join(work, "pack-client"), ["-w", "@roomgate/client"]),
    pack(checkout, join(work, "pack-server"), []),
    startTestServer(),
  ]);
  [consumer, serverConsumer] = await Promise.all([installClient(client.tarball), installServer(serverPack.tarball)]);
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm pack -w @roomgate/client", () => {
  it("holds the built client with its types and the generated code, and nothing of the server", () => {
    const files = new Set(client.files);
    for (const f of [
      "package/package.json",
      "package/dist/src/index.js",
      "package/dist/src/index.d.ts",
      "package/dist/src/roomgate-client.d.ts",
      "package/dist/src/web.js",
      "package/dist/src/web.d.ts",
      "package/dist/gen/room/tokens/private/v1/service_pb.js",
      "package/dist/gen/room/tokens/private/v1/service_pb.d.ts",
    ]) {
      expect(files, f).toContain(f);
    }
    const outside = client.files.filter((f) => !f.startsWith("package/dist/") && !/^package\/[^/]+$/.test(f));
    expect(outside).toEqual([]);
    expect(client.files.filter((f) => f.endsWith(".map") || f.includes("/cli.js") || f.includes("/store/"))).toEqual(
      [],
    );
  });

  it("is publishable and depends only on connect and protobuf (connect-node an optional peer)", async () => {
    const { stdout } = await run("tar", ["-xzOf", client.tarball, "package/package.json"]);
    const manifest = JSON.parse(stdout) as Record<string, unknown> & {
      dependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
      scripts?: Record<string, string>;
    };
    expect(manifest.name).toBe("@roomgate/client");
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual(CLIENT_DEPENDENCIES);
    expect(manifest.optionalDependencies).toBeUndefined();
    expect(manifest.peerDependenciesMeta?.["@connectrpc/connect-node"]?.optional).toBe(true);
    for (const s of ["preinstall", "install", "postinstall"]) expect(manifest.scripts?.[s], s).toBeUndefined();
  });
});

describe("npm pack of the server package (the root)", () => {
  it("holds the built server and its migrations, and no sources or tests", () => {
    const files = new Set(serverPack.files);
    for (const f of [
      "package/package.json",
      "package/dist/src/main.js",
      "package/dist/src/cli.js",
      "package/dist/src/seal-worker.js",
      "package/migrations/meta/_journal.json",
      "package/migrations-pg/meta/_journal.json",
    ]) {
      expect(files, f).toContain(f);
    }
    expect(
      serverPack.files.filter(
        (f) => f.startsWith("package/test/") || f.startsWith("package/src/") || f.endsWith(".map"),
      ),
    ).toEqual([]);
    expect(serverPack.files.filter((f) => f.startsWith("package/node_modules/"))).toEqual([]);
  });
});

describe("the installed client", () => {
  it("a plain npm install brings only the client, connect and protobuf, and builds nothing", (ctx) => {
    if (!consumer) return ctx.skip();
    expect(plainInstall.map((p) => p.name).sort()).toEqual(["@roomgate/client", ...CLIENT_DEPENDENCIES].sort());
    for (const { name, dir, manifest } of plainInstall) {
      const scripts = ["preinstall", "install", "postinstall"].filter((s) => manifest.scripts?.[s] !== undefined);
      expect(scripts, name).toEqual([]);
      expect(manifest.gypfile ?? existsSync(join(dir, "binding.gyp")), name).toBe(false);
      expect(existsSync(join(dir, "build")), name).toBe(false);
    }
  });

  it("imports only its own files, the generated code and Connect (nothing of the server)", (ctx) => {
    if (!consumer) return ctx.skip();
    const dist = join(consumer, "node_modules", "@roomgate", "client", "dist");
    const specifiers = importedSpecifiers(join(dist, "src"));
    expect(specifiers.size).toBeGreaterThan(0);
    const foreign = [...specifiers].filter(
      (s) =>
        !/^\.\/[\w-]+\.js$/.test(s) &&
        !s.startsWith("../gen/") &&
        !s.startsWith("@connectrpc/connect") &&
        !s.startsWith("@bufbuild/"),
    );
    expect(foreign).toEqual([]);
    const genForeign = [...importedSpecifiers(join(dist, "gen"))].filter(
      (s) => !s.startsWith("../") && !s.startsWith("./") && !s.startsWith("@bufbuild/"),
    );
    expect(genForeign).toEqual([]);
  });

  it("the web entry bundles for the browser with connect-web, without connect-node or Node built-ins", async (ctx) => {
    if (!consumer) return ctx.skip();
    const bundled = await build({
      entryPoints: [join(consumer, "web.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    expect(inputs.some((f) => f.includes("@roomgate/client/dist/src/web.js"))).toBe(true);
    expect(inputs.some((f) => f.includes("@connectrpc/connect-web/"))).toBe(true);
    expect(inputs.filter((f) => f.includes("connect-node"))).toEqual([]);
  });

  it("a strict TypeScript program type-checks against the installed types; a wrong one does not", async (ctx) => {
    if (!consumer) return ctx.skip();
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
      const wrongKey = "rgk_wrong_0123456789abcdef";
      const env = { ...transport, url: server.baseUrl, apiKey: server.apiKey, wrongKey };
      const { stdout, stderr } = await runProgram(consumer, "main.js", env);
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

  it("the web entry over connect-web's fetch transport creates and verifies a token on a live server", async (ctx) => {
    if (!consumer) return ctx.skip();
    const env = { protocol: "connect", httpVersion: "1.1", url: server.baseUrl, apiKey: server.apiKey, wrongKey: "" };
    const { stdout } = await runProgram(consumer, "web.js", env);
    expect(JSON.parse(stdout)).toEqual({ userId: "u-web", roomId: "r-web", missingTokenCode: "InvalidArgument" });
  });
});

describe("the installed server package", () => {
  it("installs without better-sqlite3 and keeps the roomgate command", (ctx) => {
    if (!serverConsumer) return ctx.skip();
    expect(existsSync(join(serverConsumer, "node_modules", "better-sqlite3"))).toBe(false);
    expect(existsSync(join(serverConsumer, "node_modules", ".bin", "roomgate"))).toBe(true);
    const manifestPath = join(serverConsumer, "node_modules", "roomgate", "package.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
      optionalDependencies?: Record<string, string>;
      dependencies?: Record<string, string>;
    };
    expect(manifest.optionalDependencies?.["better-sqlite3"]).toBeDefined();
    expect(manifest.dependencies?.["better-sqlite3"]).toBeUndefined();
  });

  it("serves from the tarball (migrations included) once better-sqlite3 is there, and the packed client talks to it", async (ctx) => {
    if (!serverConsumer || !consumer) return ctx.skip();
    // The server's optional native dependency, as an install with optional
    // dependencies on would bring it (the repo's build, to skip a compile).
    symlinkSync(join(repoModules, "better-sqlite3"), join(serverConsumer, "node_modules", "better-sqlite3"), "dir");
    const apiKey = "packed-server-api-key-0123456789";
    const served = await servePacked(serverConsumer, join(work, "packed-server-data"), apiKey);
    try {
      const env = { protocol: "grpc", httpVersion: "2", url: served.url, apiKey, wrongKey: "rgk_wrong_x" };
      const { stdout } = await runProgram(consumer, "main.js", env);
      expect(JSON.parse(stdout)).toMatchObject({
        tokens: 1,
        sameDescriptorAndTokenId: true,
        wrongKeyCode: "Unauthenticated",
      });
    } finally {
      await served.stop();
    }
  }, 60_000);
});
