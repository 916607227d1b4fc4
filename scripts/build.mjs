#!/usr/bin/env node
/**
 * Builds dist/ once, atomically, and only when it is out of date — safe to
 * run from several `npm start` (prestart) or `npm run roomgate` at once in
 * one checkout.
 *
 * - Current? A stamp (dist/.build-stamp) holds a SHA-256 over the inputs:
 *   every file under src/ and gen/, tsconfig.json, package.json,
 *   package-lock.json (the compiler's version) and this script. Content, not
 *   mtime+size: git sets mtimes at checkout, so switching branches back and
 *   forth (or copying a checkout) would rebuild for nothing, and an edit
 *   within one mtime tick of the same size would go unnoticed. Hashing the
 *   ~2 MB of inputs takes a few tens of milliseconds.
 * - Lock: an O_EXCL lock file (.dist.lock, holding the builder's pid) so
 *   one process compiles while the others wait and then find dist/ current.
 *   A lock whose pid is no longer alive (a killed build), or older than
 *   STALE_MS (a pid since reused), is removed.
 * - Atomic: the bundler (scripts/bundle.mjs) writes into a fresh .dist-build-<pid>-<rand>/ beside dist/,
 *   the stamp is written last, and the folder is renamed into place. No
 *   reader ever sees a half-written dist/. Correctness does not depend on the
 *   lock: two builders (a broken lock) each swap in a whole build.
 *
 * Nothing goes to stdout (`npm run -s roomgate -- … | jq` pipes the CLI's
 * output); progress and compile errors go to stderr. `--force` builds even when
 * dist/ is current. Plain Node and esbuild (scripts/bundle.mjs says why a bundle).
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { hostname } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleServer } from "./bundle.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
const STAMP = join(DIST, ".build-stamp");
const LOCK = join(ROOT, ".dist.lock");
const TMP_PREFIX = ".dist-build-";
const OLD_PREFIX = ".dist-old-";
const INPUT_DIRS = ["src", "gen"];
const INPUT_FILES = ["tsconfig.json", "package.json", "package-lock.json", "scripts/build.mjs", "scripts/bundle.mjs"];
/** A lock older than this is stale whatever its pid says (the pid may have been reused). */
const STALE_MS = 10 * 60_000;
const POLL_MS = 100;

const say = (line) => process.stderr.write(`roomgate build: ${line}\n`);

/** Every file under `dir`, recursively, as paths relative to the repo. */
function filesUnder(dir) {
  const out = [];
  for (const entry of fs.readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** The inputs' hash: names and contents, in a fixed order. */
function inputsHash() {
  const files = [...INPUT_DIRS.flatMap(filesUnder), ...INPUT_FILES.filter((f) => fs.existsSync(join(ROOT, f)))].sort();
  const h = createHash("sha256");
  for (const f of files) {
    const body = fs.readFileSync(join(ROOT, f));
    h.update(`${f}\0${body.length}\0`).update(body);
  }
  return h.digest("hex");
}

function readStamp() {
  try {
    return fs.readFileSync(STAMP, "utf8").trim();
  } catch {
    return undefined;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM"; // exists, owned by someone else
  }
}

/** Takes the lock, or returns the holder's description when another live process has it. */
function tryLock() {
  try {
    const fd = fs.openSync(LOCK, "wx", 0o644);
    fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() }));
    fs.closeSync(fd);
    return undefined;
  } catch (err) {
    if (err.code !== "EEXIST") throw err;
  }
  let holder;
  try {
    holder = JSON.parse(fs.readFileSync(LOCK, "utf8"));
  } catch {
    // Gone meanwhile, or created and not yet written: look again — unless
    // its creator died between the two (empty for seconds), then it is stale.
    holder = { pid: undefined, host: hostname(), at: lockMtime() ?? Date.now() };
    if (Date.now() - holder.at < 5_000) return { pid: undefined };
  }
  const sameHost = holder.host === hostname();
  const dead = holder.pid === undefined || !alive(holder.pid);
  const stale = (sameHost && dead) || Date.now() - holder.at > STALE_MS;
  if (stale) {
    say(`removing a stale lock of pid ${holder.pid}`);
    fs.rmSync(LOCK, { force: true });
    return { pid: undefined };
  }
  return holder;
}

async function lock() {
  let told = false;
  for (;;) {
    const holder = tryLock();
    if (holder === undefined) return;
    if (holder.pid !== undefined && !told) {
      say(`waiting for the build of pid ${holder.pid}`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function lockMtime() {
  try {
    return fs.statSync(LOCK).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Removes the lock if it is still ours (a stale-lock rule may have handed it on). */
function unlock() {
  try {
    if (JSON.parse(fs.readFileSync(LOCK, "utf8")).pid !== process.pid) return;
  } catch {
    return;
  }
  fs.rmSync(LOCK, { force: true });
}

/** Removes what a killed build left beside dist/ (temp and old folders of dead pids). */
function sweep() {
  for (const name of fs.readdirSync(ROOT)) {
    const m = /^\.dist-(?:build|old)-(\d+)-/.exec(name);
    if (m && !alive(Number(m[1]))) fs.rmSync(join(ROOT, name), { recursive: true, force: true });
  }
}

/** Renames `tmp` to dist/, moving whatever dist/ is aside first. */
function swapIn(tmp) {
  for (;;) {
    try {
      fs.renameSync(tmp, DIST);
      return;
    } catch (err) {
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    }
    const old = join(ROOT, `${OLD_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
      fs.renameSync(DIST, old);
    } catch (err) {
      if (err.code !== "ENOENT") throw err; // someone else moved it: try again
    }
    fs.rmSync(old, { recursive: true, force: true });
  }
}

/** The temp folder of the build under way, for a signal to clean up. */
const current = { tmp: undefined };

async function compile(hash) {
  const tmp = join(ROOT, `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}`);
  current.tmp = tmp;
  const started = Date.now();
  say(`bundling into ${relative(ROOT, tmp)}/`);
  try {
    await bundleServer(ROOT, tmp);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    say(`esbuild failed (${err.message}); dist/ left as it was`);
    return false;
  }
  fs.writeFileSync(join(tmp, ".build-stamp"), `${hash}\n`);
  swapIn(tmp);
  say(`dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

/** A signal mid-build: drop the half-written temp folder, release the lock; dist/ is untouched. */
function abandon(signal) {
  if (current.tmp) fs.rmSync(current.tmp, { recursive: true, force: true });
  unlock();
  say(`stopped by ${signal}; dist/ left as it was`);
  process.exit(1);
}

async function main() {
  const force = process.argv.includes("--force");
  if (!force && readStamp() === inputsHash()) return 0;
  await lock();
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.once(sig, abandon);
  try {
    sweep();
    // Hashed again under the lock: the build we waited for may be this one.
    const hash = inputsHash();
    if (!force && readStamp() === hash) return 0;
    return (await compile(hash)) ? 0 : 1;
  } finally {
    unlock();
  }
}

process.exitCode = await main();
