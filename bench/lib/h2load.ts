/**
 * A tiny closed-loop gRPC load generator on node:http2 (no h2load needed):
 * `concurrency` streams kept in flight over `sessions` h2c connections, each
 * sending the same pre-framed unary request. Counts only calls that end with
 * HTTP 200 and grpc-status 0; everything else is an error.
 */
import http2 from "node:http2";
import { performance } from "node:perf_hooks";

export interface H2LoadOptions {
  readonly port: number;
  readonly path: string;
  /** Extra request headers (authorization ...). */
  readonly headers: Readonly<Record<string, string>>;
  /** The full gRPC request body: 5-byte prefix + message. */
  readonly body: Uint8Array;
  readonly sessions: number;
  /** Streams in flight in total. */
  readonly concurrency: number;
  readonly durationMs: number;
}

export interface H2LoadResult {
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  readonly reqPerSec: number;
  /** Latency percentiles in milliseconds. */
  readonly p50: number;
  readonly p99: number;
}

/** Value at quantile q of an ascending-sorted array (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

export async function h2load(opts: H2LoadOptions): Promise<H2LoadResult> {
  const sessions = await Promise.all(Array.from({ length: opts.sessions }, () => connect(opts.port)));
  for (const s of sessions) s.on("error", () => {});
  const headers = {
    ":method": "POST",
    ":path": opts.path,
    "content-type": "application/grpc+proto",
    te: "trailers",
    ...opts.headers,
  };
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + opts.durationMs;

  const one = (session: http2.ClientHttp2Session): Promise<boolean> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = session.request(headers);
      let status = 0;
      let grpcStatus: string | undefined;
      req.on("response", (h) => {
        status = Number(h[":status"]);
        const g = h["grpc-status"]; // trailers-only responses
        if (g !== undefined) grpcStatus = String(g);
      });
      req.on("trailers", (t) => {
        if (t["grpc-status"] !== undefined) grpcStatus = String(t["grpc-status"]);
      });
      req.on("data", () => {});
      req.once("error", () => resolve(false));
      req.once("close", () => {
        const good = status === 200 && grpcStatus === "0";
        if (good) latencies.push(performance.now() - t0);
        resolve(good);
      });
      req.end(opts.body);
    });

  const worker = async (session: http2.ClientHttp2Session): Promise<void> => {
    while (performance.now() < deadline) {
      if (await one(session)) ok++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => worker(sessions[i % sessions.length]!)));
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(sessions.map((s) => new Promise<void>((r) => s.close(() => r()))));
  latencies.sort((a, b) => a - b);
  return {
    ok,
    errors,
    seconds,
    reqPerSec: ok / seconds,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
  };
}
