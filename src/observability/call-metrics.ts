import type { Registry } from "prom-client";

/** One line of the exposition: a series name, its labels and its value (prom-client's shape). */
interface Sample {
  readonly metricName?: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/** The call latency buckets (seconds). */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Calls of one procedure and protocol that ended with one code. */
interface CodeCount {
  readonly labels: { readonly procedure: string; readonly protocol: string; readonly code: string };
  n: number;
}

/** One procedure and protocol: its calls by code, its latency histogram. */
interface Series {
  readonly procedure: string;
  readonly protocol: string;
  readonly codes: Map<string, CodeCount>;
  /** Per bucket, not cumulative (folded at render). */
  readonly buckets: Float64Array;
  count: number;
  sum: number;
}

/**
 * `roomgate_calls_total` and `roomgate_call_duration_seconds`, counted in
 * plain numbers per procedure and protocol, and rendered as prom-client
 * renders a labelled counter and histogram (same names, labels, order and
 * aggregation across cluster workers). Written by hand because every call
 * goes through here: prom-client hashes the label object of every
 * `inc()`/`observe()`, children included, which issue 21's profile of
 * Verify put at about 10 µs a call; here a call costs two map lookups.
 */
export class CallMetrics {
  private readonly series = new Map<string, Map<string, Series>>();
  /** Every series and every code count, in the order they first appeared: prom-client renders in that order. */
  private readonly seriesInOrder: Series[] = [];
  private readonly countsInOrder: CodeCount[] = [];

  constructor(registry: Registry) {
    // Metrics prom-client renders and aggregates as it does its own (name, help, get()).
    registry.registerMetric({
      name: "roomgate_calls_total",
      help: "Calls answered, by procedure, protocol and code",
      reset() {},
      get: async () => ({
        name: "roomgate_calls_total",
        help: "Calls answered, by procedure, protocol and code",
        type: "counter",
        values: this.counterValues(),
        aggregator: "sum",
      }),
    } as never);
    registry.registerMetric({
      name: "roomgate_call_duration_seconds",
      help: "Call latency (streams: until the stream ends), by procedure and protocol",
      reset() {},
      get: async () => ({
        name: "roomgate_call_duration_seconds",
        help: "Call latency (streams: until the stream ends), by procedure and protocol",
        type: "histogram",
        values: this.histogramValues(),
        aggregator: "sum",
      }),
    } as never);
  }

  /** Counts one answered call and its latency. */
  observe(procedure: string, protocol: string, code: string, seconds: number): void {
    const s = this.seriesOf(procedure, protocol);
    let c = s.codes.get(code);
    if (c === undefined) {
      c = { labels: { procedure, protocol, code }, n: 0 };
      s.codes.set(code, c);
      this.countsInOrder.push(c);
    }
    c.n++;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    if (i < BUCKETS.length) s.buckets[i]!++;
    s.count++;
    s.sum += seconds;
  }

  private seriesOf(procedure: string, protocol: string): Series {
    let byProtocol = this.series.get(procedure);
    if (byProtocol === undefined) {
      byProtocol = new Map();
      this.series.set(procedure, byProtocol);
    }
    let s = byProtocol.get(protocol);
    if (s === undefined) {
      s = { procedure, protocol, codes: new Map(), buckets: new Float64Array(BUCKETS.length), count: 0, sum: 0 };
      byProtocol.set(protocol, s);
      this.seriesInOrder.push(s);
    }
    return s;
  }

  private counterValues(): Sample[] {
    // No metricName: as prom-client's counters (OpenMetrics output appends `_total` to the name).
    return this.countsInOrder.map((c) => ({ labels: c.labels, value: c.n }));
  }

  private histogramValues(): Sample[] {
    const values: Sample[] = [];
    const name = "roomgate_call_duration_seconds";
    for (const s of this.seriesInOrder) {
      const labels = { procedure: s.procedure, protocol: s.protocol };
      let acc = 0;
      BUCKETS.forEach((le, i) => {
        acc += s.buckets[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { le, ...labels }, value: acc });
      });
      values.push(
        { metricName: `${name}_bucket`, labels: { le: "+Inf", ...labels }, value: s.count },
        { metricName: `${name}_sum`, labels, value: s.sum },
        { metricName: `${name}_count`, labels, value: s.count },
      );
    }
    return values;
  }
}
