import net from "node:net";

/** The port is taken (or not ours to bind): nothing was written. */
export class PortUnavailableError extends Error {}

/**
 * Binds and releases `host:port` before `serve` touches the store, so a port
 * clash fails before the bootstrap tenant (and its printed key) is written.
 * Port 0 always succeeds. A process that grabs the port in the moment
 * between this check and the real listen still makes serve fail after
 * bootstrapping; that window is milliseconds, not the whole start-up.
 */
export async function ensurePortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "is already in use" : `cannot be bound (${err.code ?? err.message})`;
      reject(
        new PortUnavailableError(
          `port ${port} on ${host} ${why}; set PORT (or stop the other process); nothing was written`,
        ),
      );
    });
    probe.listen({ port, host, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}
