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
 * process starts. Once the serving code has installed its own handlers,
 * {@link handOver} removes these.
 */
export class StartupStop {
  private requested: NodeJS.Signals | undefined;
  /** The first signal of any kind, re-raised by {@link release}. */
  private first: NodeJS.Signals | undefined;
  private log: Logger | undefined;
  private boundMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** After {@link release}: a signal ends the process as Node's default would. */
  private passThrough = false;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.passThrough) {
      this.reRaise(signal);
      return;
    }
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
      log.error(
        { signal: this.requested, waitedMs: this.boundMs },
        "start-up step did not finish in time after the stop signal; exiting",
      );
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

  /**
   * Removes these handlers; returns the stop signal received so far (the
   * caller acts on it). Call it only after installing the serving code's own
   * handlers: Node drops a signal that was caught but not yet dispatched when
   * its last listener goes, and start-up may not have let the event loop
   * dispatch one yet (synchronous store work); with the new listener already
   * there, such a signal reaches it.
   */
  handOver(): NodeJS.Signals | undefined {
    for (const s of WATCHED) process.off(s, this.onSignal);
    clearTimeout(this.timer);
    return this.requested;
  }

  /**
   * For the commands other than `serve`: a signal ends the process as it
   * would without these handlers — now, if one already arrived. The handlers
   * stay (re-raising) rather than go, so that a signal not yet dispatched is
   * not dropped.
   */
  release(): void {
    this.passThrough = true;
    clearTimeout(this.timer);
    if (this.first !== undefined) this.reRaise(this.first);
  }

  private reRaise(signal: NodeJS.Signals): void {
    for (const s of WATCHED) process.off(s, this.onSignal);
    process.kill(process.pid, signal);
  }
}

/**
 * The process's one recorder, installed when this module is evaluated: the
 * CLI imports it before anything else, so the window in which a signal still
 * kills the process unannounced is only Node's own bootstrap.
 */
export const startupStop = new StartupStop();
startupStop.install();
