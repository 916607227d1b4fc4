import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { Registry } from "prom-client";

/** One line of the exposition: a series name, its labels and its value. */
interface Sample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/** How often the monitor's timer fires (ms): Node's default. */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** Upper bounds (seconds) of the event-loop delay buckets. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * `roomgate_event_loop_delay_seconds`: how late the event loop ran a timer
 * due every {@link EVENT_LOOP_RESOLUTION_MS} — how long any call of the
 * process can have waited for a synchronous stretch of work (a COMMIT's
 * fsync on the loop, a long computation) — as a cumulative Prometheus
 * histogram, summed across cluster workers like every histogram.
 *
 * The samples come from perf_hooks.monitorEventLoopDelay, which records
 * each interval between timer runs (so an idle loop reads the resolution
 * itself; the delay is the interval less the resolution). It keeps an HDR
 * histogram, not the samples: at each scrape its counts are read into the
 * buckets (how many intervals lay within each bound, found from its
 * percentiles, which are exact to about three significant digits), then it
 * starts afresh. prom-client's default `nodejs_eventloop_lag_*` gauges read
 * another such monitor, but only as quantiles of the last scrape interval,
 * which cannot be summed across workers or over time.
 */
export class EventLoopDelayMetric {
  readonly name = "roomgate_event_loop_delay_seconds";
  readonly help = "Event-loop delay: how late a timer due every 10 ms ran (perf_hooks.monitorEventLoopDelay)";
  private readonly monitor: IntervalHistogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  private readonly counts = BUCKETS.map(() => 0);
  private count = 0;
  private sum = 0;

  constructor(registry: Registry) {
    this.monitor.enable();
    // A metric prom-client renders and aggregates as it does its own (name, help, get()).
    registry.registerMetric(this as never);
  }

  /** Registry.resetMetrics() calls this on every metric: a cumulative histogram keeps its counts. */
  reset(): void {}

  /** Stops sampling (the buckets keep what they hold). */
  stop(): void {
    this.monitor.disable();
  }

  /** What prom-client renders: the buckets, the sum and the count so far. */
  async get(): Promise<{ name: string; help: string; type: "histogram"; aggregator: "sum"; values: Sample[] }> {
    this.fold();
    const values: Sample[] = BUCKETS.map((le, i) => ({
      metricName: `${this.name}_bucket`,
      labels: { le },
      value: this.counts[i]!,
    }));
    values.push(
      { metricName: `${this.name}_bucket`, labels: { le: "+Inf" }, value: this.count },
      { metricName: `${this.name}_sum`, labels: {}, value: this.sum },
      { metricName: `${this.name}_count`, labels: {}, value: this.count },
    );
    return { name: this.name, help: this.help, type: "histogram", values, aggregator: "sum" };
  }

  /** Adds the monitor's samples since the last scrape to the buckets, and resets it. */
  private fold(): void {
    const m = this.monitor;
    const n = m.count;
    if (n === 0) return;
    const resolutionNs = EVENT_LOOP_RESOLUTION_MS * 1e6;
    for (let i = 0; i < BUCKETS.length; i++)
      this.counts[i]! += Math.round(n * shareAtMost(m, BUCKETS[i]! * 1e9 + resolutionNs));
    this.count += n;
    this.sum += (Math.max(0, m.mean - resolutionNs) * n) / 1e9;
    m.reset();
  }
}

/** The share of `m`'s samples at most `ns`: the largest percentile whose value is within it (bisection). */
function shareAtMost(m: IntervalHistogram, ns: number): number {
  if (m.max <= ns) return 1;
  if (m.min > ns) return 0;
  let lo = 0;
  let hi = 100;
  for (let i = 0; i < 24; i++) {
    const mid = (lo + hi) / 2;
    if (m.percentile(mid) <= ns) lo = mid;
    else hi = mid;
  }
  return lo / 100;
}
