import type { Logger } from "pino";

/** How long after the shutdown grace a start-up step may still run once a stop was asked for. */
const START_UP_STOP_MARGIN_MS = 5_000;

const STOPS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
const WATCHED: readonly NodeJS.Signals[] = [...STOPS, "SIGHUP"];

/**
 * Signals that arrive while a process is still starting. Without a handler,
 * SIGTERM or SIGINT during start-up kills the process mid-step — no log line,
 * possibly half-way through creating the key file, migrating or bootstrapping
 * the first tenant (whose API key would then be printed nowhere). Instead the
 * signal is recorded, the current step finishes, and the process ends at the
 * next safe point with a log line and exit code 0 ({@link exitIfRequested}).
 * SIGHUP (reload the key file) means nothing yet: the keys are read as the
 * process starts. Once the serving code takes over, {@link handOver} removes
 * these handlers in the same tick as it installs its own.
 */
export class StartupStop {
  private requested: NodeJS.Signals | undefined;
  /** The first signal of any kind, re-raised by {@link release}. */
  private first: NodeJS.Signals | undefined;
  private log: Logger | undefined;
  private boundMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.first ??= signal;
    if (!STOPS.includes(signal) || this.requested !== undefined) return;
    this.requested = signal;
    this.arm();
  };

  /** Starts recording; called once, as early as the process can. */
  install(): void {
    for (const s of WATCHED) process.on(s, this.onSignal);
  }

  /** The stop signal received so far, if any. */
  get signal(): NodeJS.Signals | undefined {
    return this.requested;
  }

  /**
   * From here on stops are logged with `log`, and a start-up step that has not
   * reached a safe point within `graceMs` (ROOMGATE_SHUTDOWN_GRACE_MS) plus a
   * margin after the signal ends the process with exit code 1.
   */
  attach(log: Logger, graceMs: number): void {
    this.log = log;
    this.boundMs = graceMs + START_UP_STOP_MARGIN_MS;
    if (this.requested !== undefined) this.arm();
  }

  private arm(): void {
    const log = this.log;
    if (log === undefined || this.boundMs === undefined || this.timer !== undefined) return;
    log.info({ signal: this.requested }, "stop requested during start-up: stopping once the current step is done");
    this.timer = setTimeout(() => {
      log.error({ signal: this.requested, waitedMs: this.boundMs }, "start-up step did not finish in time after the stop signal; exiting");
      process.exit(1);
    }, this.boundMs);
    this.timer.unref();
  }

  /**
   * Returns at once when no stop was asked for. Otherwise runs `cleanup`
   * (close what the finished steps opened), logs and exits 0.
   */
  async exitIfRequested(cleanup?: () => Promise<void>): Promise<void> {
    if (this.requested === undefined) return;
    await cleanup?.();
    this.log?.info({ signal: this.requested }, "stopped during start-up");
    process.exit(0);
  }

  /** Removes the handlers for the serving code's own; returns the stop signal received meanwhile (the caller acts on it). */
  handOver(): NodeJS.Signals | undefined {
    for (const s of WATCHED) process.off(s, this.onSignal);
    clearTimeout(this.timer);
    return this.requested;
  }

  /**
   * For the commands other than `serve`: their signals behave as Node's
   * defaults again, and a signal that already arrived ends the process now,
   * as it would have without these handlers.
   */
  release(): void {
    this.handOver();
    if (this.first !== undefined) process.kill(process.pid, this.first);
  }
}

/**
 * The process's one recorder, installed when this module is evaluated: the
 * CLI imports it before anything else, so the window in which a signal still
 * kills the process unannounced is only Node's own bootstrap.
 */
export const startupStop = new StartupStop();
startupStop.install();
