import fc from "fast-check";
import { AggregatorRegistry, Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { CallMetrics } from "../../src/observability/call-metrics.js";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The two metrics as prom-client made them before CallMetrics (src/observability/metrics.ts at 26d65b5). */
function promClientPair(registry: Registry) {
  const calls = new Counter({
    name: "roomgate_calls_total",
    help: "Calls answered, by procedure, protocol and code",
    labelNames: ["procedure", "protocol", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "roomgate_call_duration_seconds",
    help: "Call latency (streams: until the stream ends), by procedure and protocol",
    labelNames: ["procedure", "protocol"],
    buckets: BUCKETS,
    registers: [registry],
  });
  return (procedure: string, protocol: string, code: string, seconds: number) => {
    calls.inc({ procedure, protocol, code });
    duration.observe({ procedure, protocol }, seconds);
  };
}

const call = fc.record({
  procedure: fc.constantFrom("room.tokens.private.v1.Service/Verify", "room.users.v1.Service/Login", "a/b"),
  protocol: fc.constantFrom("connect", "grpc", "grpc-web", "rest"),
  code: fc.constantFrom("ok", "unauthenticated", "resource_exhausted"),
  // Bucket bounds themselves, values between them and above the last.
  seconds: fc.oneof(fc.constantFrom(...BUCKETS, 0, 11), fc.double({ min: 0, max: 12, noNaN: true })),
});

describe("CallMetrics renders as prom-client's counter and histogram did", () => {
  it("the same exposition text, and the same sums across cluster workers, after any calls", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(call, { maxLength: 30 }), { minLength: 1, maxLength: 3 }), async (workers) => {
        const ours: Registry[] = [];
        const theirs: Registry[] = [];
        for (const calls of workers) {
          const a = new Registry();
          const b = new Registry();
          const m = new CallMetrics(a);
          const observe = promClientPair(b);
          for (const c of calls) {
            m.observe(c.procedure, c.protocol, c.code, c.seconds);
            observe(c.procedure, c.protocol, c.code, c.seconds);
          }
          ours.push(a);
          theirs.push(b);
        }
        expect(await ours[0]!.metrics()).toBe(await theirs[0]!.metrics());
        const sum = async (rs: Registry[]) =>
          (await AggregatorRegistry.aggregate(await Promise.all(rs.map((r) => r.getMetricsAsJSON())))).metrics();
        expect(await sum(ours)).toBe(await sum(theirs));
      }),
      { numRuns: 200 },
    );
  });
});
