import { execFile, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// Packing the repository's packages and installing them in fresh projects, as
// a user gets them: for test/e2e/client-package.test.ts.

export const run = promisify(execFile);
export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const repoModules = realpathSync(join(repo, "node_modules"));

/** Errors that mean npm could not reach the registry (not a broken package). */
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|ENETUNREACH|network/i;

/**
 * Copies one file git tracks; a symlink stays the same link (packages/client/gen
 * is the relative link to the checkout's gen/): Node 24's cpSync refuses a link
 * to a folder without `recursive`, Node 20's copied the link.
 */
export function copyEntry(from: string, to: string): void {
  if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), to);
  else cpSync(from, to);
}

/** Copies the working tree's files as git sees them (tracked plus new, not ignored): a clean checkout. */
export async function cleanCheckout(to: string): Promise<void> {
  const { stdout } = await run("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: repo,
    maxBuffer: 16 << 20,
  });
  for (const file of stdout.split("\0")) {
    // A worktree's node_modules may be a symlink, which git does not ignore as a folder.
    if (!file || file === "node_modules" || /(^|\/)dist\//.test(file)) continue;
    if (!existsSync(join(repo, file))) continue; // deleted but not yet committed
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyEntry(join(repo, file), join(to, file));
  }
  symlinkSync(repoModules, join(to, "node_modules"), "dir");
}

/** A packed tarball and the paths it holds. */
export interface Packed {
  readonly tarball: string;
  readonly files: readonly string[];
}

/** `npm pack` in `checkout` (with `args`, e.g. `-w <workspace>`) into a fresh folder `out`. */
export async function pack(checkout: string, out: string, args: readonly string[]): Promise<Packed> {
  mkdirSync(out);
  await run("npm", ["pack", ...args, "--pack-destination", out, "--no-audit", "--no-fund"], {
    cwd: checkout,
    maxBuffer: 16 << 20,
  });
  const tgz = readdirSync(out).filter((f) => f.endsWith(".tgz"));
  if (tgz.length !== 1) throw new Error(`expected one tarball in ${out}, found ${tgz.join(", ")}`);
  const tarball = join(out, tgz[0]!);
  const { stdout } = await run("tar", ["-tzf", tarball], { maxBuffer: 16 << 20 });
  return { tarball, files: stdout.split("\n").filter(Boolean) };
}

/** A fresh ES module project in `dir`. */
export function freshProject(dir: string): string {
  mkdirSync(dir);
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }),
  );
  return dir;
}

/** `npm install <args>` in `dir`; false (with a notice) when the registry is unreachable. */
export async function npmInstall(dir: string, args: readonly string[]): Promise<boolean> {
  try {
    await run("npm", ["install", ...args, "--no-audit", "--no-fund"], {
      cwd: dir,
      maxBuffer: 16 << 20,
      timeout: 240_000,
    });
    return true;
  } catch (err) {
    const text = String((err as { stderr?: string }).stderr ?? err);
    if (!OFFLINE.test(text)) throw err;
    console.warn(
      `\n*** client-package: npm could not reach the registry; the install, type-check and live-call tests are SKIPPED ***\n${text.slice(0, 500)}\n`,
    );
    return false;
  }
}

/** An installed package: its name, folder and manifest. */
export interface Installed {
  readonly name: string;
  readonly dir: string;
  readonly manifest: { scripts?: Record<string, string>; gypfile?: boolean };
}

/** Every package under `modules` (a node_modules folder), nested ones included. */
export function installedPackages(modules: string): Installed[] {
  if (!existsSync(modules)) return [];
  const dirs: string[] = [];
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@")) dirs.push(...readdirSync(join(modules, entry)).map((s) => join(modules, entry, s)));
    else dirs.push(join(modules, entry));
  }
  return dirs.flatMap((dir) => {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Installed["manifest"] & {
      name: string;
    };
    return [{ name: manifest.name, dir, manifest }, ...installedPackages(join(dir, "node_modules"))];
  });
}

/** The version of a package the repository has installed (its lock file's choice). */
export function repoVersion(name: string): string {
  return (JSON.parse(readFileSync(join(repoModules, name, "package.json"), "utf8")) as { version: string }).version;
}

/** Module specifiers imported or re-exported by the .js and .d.ts files under `dir`. */
export function importedSpecifiers(dir: string): Set<string> {
  const specifiers = new Set<string>();
  for (const file of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    if (!file.endsWith(".js") && !file.endsWith(".d.ts")) continue;
    const text = readFileSync(join(dir, file), "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) specifiers.add(m[1]!);
  }
  return specifiers;
}

/** Starts the packed `roomgate serve` in `dir` and waits for its "listening" line. */
export async function servePacked(
  dir: string,
  dataDir: string,
  apiKey: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [join(dir, "node_modules", "roomgate", "dist", "src", "cli.js"), "serve", "--workers", "1"],
    {
      cwd: dir,
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
  const stop = async (): Promise<void> => {
    child.kill("SIGTERM");
    await exited;
  };
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
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { url: `http://127.0.0.1:${port}`, stop };
}
