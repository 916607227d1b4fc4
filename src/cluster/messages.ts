/**
 * What a worker tells the primary over the cluster's IPC channel: that it
 * listens (and on which port), or why it could not start.
 */
export type WorkerMessage =
  | { readonly roomgate: "listening"; readonly port: number }
  | { readonly roomgate: "failed"; readonly message: string };

/** True for a message a roomgate worker sent (node:cluster shares the channel with its own). */
export function isWorkerMessage(m: unknown): m is WorkerMessage {
  if (typeof m !== "object" || m === null) return false;
  const r = m as Record<string, unknown>;
  if (r["roomgate"] === "listening") return typeof r["port"] === "number";
  if (r["roomgate"] === "failed") return typeof r["message"] === "string";
  return false;
}

/**
 * Sends `msg` to the primary. Resolves once it is handed to the channel, so
 * a worker may exit right after without losing it; without a channel (not
 * a worker) it resolves at once.
 */
export function tellPrimary(msg: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    // A closed channel means the primary is gone; nobody is left to tell.
    process.send(msg, undefined, {}, () => resolve());
  });
}
