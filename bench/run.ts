/**
 * `npm run bench`: runs every benchmark in sequence, each in its own Node
 * process (under tsx) so each starts clean, and passes its output through.
 * Never run in CI: the figures are ratios against baselines of the same run
 * and still depend on the machine.
 *
 * Run: npm run bench [-- codec rpc http create-batch revocations replicas consistency rolling-restart watch-and-shutdown login-timing access]   (names select a subset)
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ALL = [
  "codec",
  "rpc",
  "http",
  "create-batch",
  "revocations",
  "replicas",
  "consistency",
  "rolling-restart",
  "watch-and-shutdown",
  "login-timing",
  "access",
] as const;
let interrupted = false;

function runOne(name: string): Promise<number> {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], { stdio: "inherit" });
    const forward = (sig: NodeJS.Signals) => () => {
      interrupted = true;
      child.kill(sig);
    };
    const onInt = forward("SIGINT");
    const onTerm = forward("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const names = requested.length > 0 ? requested : [...ALL];
  const failed: string[] = [];
  for (const name of names) {
    const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
    if (!existsSync(file)) {
      console.log(`\n=== bench/${name}.ts: not present, skipped`);
      continue;
    }
    console.log(`\n=== bench/${name}.ts ${"=".repeat(Math.max(0, 60 - name.length))}`);
    const t0 = Date.now();
    const code = await runOne(name);
    console.log(
      `=== bench/${name}.ts: ${code === 0 ? "done" : `FAILED (exit ${code})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    if (code !== 0) failed.push(name);
    if (interrupted) {
      console.error("\ninterrupted: remaining benchmarks skipped");
      process.exitCode = 130;
      return;
    }
  }
  if (failed.length > 0) {
    console.error(`\nfailed: ${failed.join(", ")}`);
    process.exitCode = 1;
  }
}

await main();
