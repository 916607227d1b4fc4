/**
 * Parent side of bench/lib/rpc-server.ts: forks a target server under tsx,
 * waits for it to listen, and stops it cleanly (or kills it if it hangs).
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Ready, ServerKind } from "./bench-app.js";

const SERVER_FILE = fileURLToPath(new URL("./rpc-server.ts", import.meta.url));

/** A forked, listening target. */
export interface ServerHandle extends Ready {
  readonly child: ChildProcess;
  /** Starts the child's CPU profiler (node:inspector), sampling every `intervalUs`. */
  startProfile(intervalUs?: number): Promise<void>;
  /** Stops it and writes the .cpuprofile to `path`. */
  stopProfile(path: string): Promise<void>;
  /**
   * Server time and process CPU time (ms) of every HTTP/1.1 Create since the
   * last call, then forgets them.
   */
  serverTimes(): Promise<{ times: number[]; cpu: number[] }>;
  /** Asks the child to close and waits for it to exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

/**
 * On SIGINT/SIGTERM, lets every child close and delete its data dir (SIGTERM,
 * up to 5 s) before this process exits; on any exit, SIGKILLs whatever is
 * somehow still running.
 */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const c of live) c.kill("SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      const children = [...live];
      const exited = children.map((c) => new Promise<void>((resolve) => c.once("exit", () => resolve())));
      for (const c of children) c.kill("SIGTERM");
      const timer = setTimeout(() => process.exit(130), 5_000);
      void Promise.all(exited).then(() => {
        clearTimeout(timer);
        process.exit(130);
      });
    });
  }
}

/** Resolves on the child's next message of `type`. */
function reply(child: ChildProcess, type: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string }): void => {
      if (m.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve();
    };
    const onExit = (): void => reject(new Error(`server exited while waiting for ${type}`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/**
 * Forks `rpc-server.ts kind ...args`; `execArgv` is appended after tsx's
 * loader (e.g. ["--cpu-prof", "--cpu-prof-dir=..."]).
 */
export function startServer(
  kind: ServerKind,
  execArgv: readonly string[] = [],
  args: readonly string[] = [],
): Promise<ServerHandle> {
  hookExit();
  const child = fork(SERVER_FILE, [kind, ...args], {
    execArgv: ["--import", "tsx", ...execArgv],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      live.delete(child);
      resolve();
    });
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void =>
      reject(new Error(`${kind} server exited (${code}) before it was ready`));
    child.once("exit", onExit);
    child.once("error", reject);
    child.on("message", (m: { type?: string } & Ready) => {
      if (m.type !== "ready") return;
      child.off("exit", onExit);
      let stopping: Promise<void> | undefined;
      resolve({
        kind: m.kind,
        port: m.port,
        h2Port: m.h2Port,
        apiKey: m.apiKey,
        token: m.token,
        userToken: m.userToken,
        pid: m.pid,
        child,
        startProfile(intervalUs) {
          const done = reply(child, "profile-started");
          child.send({ type: "profile-start", intervalUs });
          return done;
        },
        stopProfile(path) {
          const done = reply(child, "profile-saved");
          child.send({ type: "profile-stop", path });
          return done;
        },
        serverTimes() {
          return new Promise((resolveTimes, rejectTimes) => {
            const onMessage = (msg: { type?: string; times?: number[]; cpu?: number[] }): void => {
              if (msg.type !== "server-times") return;
              child.off("message", onMessage);
              resolveTimes({ times: msg.times ?? [], cpu: msg.cpu ?? [] });
            };
            child.on("message", onMessage);
            child.once("exit", () => rejectTimes(new Error("server exited while asked for its server times")));
            child.send({ type: "server-times" });
          });
        },
        stop() {
          stopping ??= (async () => {
            if (child.exitCode === null && child.signalCode === null) {
              if (child.connected) child.send("stop");
              else child.kill("SIGTERM");
              const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
              await exited;
              clearTimeout(timer);
            }
          })();
          return stopping;
        },
      });
    });
  });
}
