import type { Worker } from "node:cluster";
import { AggregatorRegistry } from "prom-client";
import type { Metrics } from "../observability/metrics.js";

/**
 * One `/metrics` for `serve --workers N`. A scrape lands on whichever worker
 * the kernel gives the connection to, and each worker counts only its own
 * calls; so a worker asks the primary, which collects every worker's
 * registry with prom-client's AggregatorRegistry (counters and histograms
 * summed; gauges as each declares) and answers. prom-client does the
 * collecting and merging; only the worker's question is ours, because
 * prom-client has no way for a worker to ask.
 */

interface MetricsRequest {
  readonly roomgate: "metrics-request";
  readonly id: number;
}

interface MetricsReply {
  readonly roomgate: "metrics-reply";
  readonly id: number;
  readonly body?: string;
  readonly contentType?: string;
  readonly error?: string;
}

/** How long a worker waits for the primary (prom-client itself gives up on workers after 5 s). */
const ASK_TIMEOUT_MS = 8_000;

/**
 * In a worker: reports `metrics`' registry when the primary collects, and
 * makes `metrics.render()` answer with the whole cluster's numbers.
 */
export function shareMetricsWithCluster(metrics: Metrics): void {
  // Constructing one installs prom-client's worker-side responder.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
  let nextId = 0;
  const pending = new Map<number, (reply: MetricsReply) => void>();
  process.on("message", (m: unknown) => {
    if (!isReply(m)) return;
    pending.get(m.id)?.(m);
  });
  metrics.renderWith(
    () =>
      new Promise((resolve, reject) => {
        if (!process.send || !process.connected)
          return reject(new Error("no primary to collect the cluster's metrics"));
        const id = nextId++;
        const timer = setTimeout(
          () => settle({ roomgate: "metrics-reply", id, error: "the primary did not answer" }),
          ASK_TIMEOUT_MS,
        );
        const settle = (reply: MetricsReply) => {
          clearTimeout(timer);
          pending.delete(id);
          if (reply.body !== undefined && reply.contentType !== undefined)
            resolve({ body: reply.body, contentType: reply.contentType });
          else reject(new Error(reply.error ?? "no metrics"));
        };
        pending.set(id, settle);
        process.send({ roomgate: "metrics-request", id } satisfies MetricsRequest);
      }),
  );
}

/**
 * In the primary: returns a message handler that answers workers' metrics
 * requests (true when the message was one).
 */
export function metricsResponder(): (worker: Worker, message: unknown) => boolean {
  const aggregator = new AggregatorRegistry();
  return (worker, message) => {
    if (!isRequest(message)) return false;
    const reply = (r: Omit<MetricsReply, "roomgate" | "id">) => {
      if (worker.isConnected()) worker.send({ roomgate: "metrics-reply", id: message.id, ...r } satisfies MetricsReply);
    };
    aggregator.clusterMetrics().then(
      (body) => reply({ body, contentType: aggregator.contentType }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
    return true;
  };
}

function isRequest(m: unknown): m is MetricsRequest {
  return (
    typeof m === "object" &&
    m !== null &&
    (m as MetricsRequest).roomgate === "metrics-request" &&
    typeof (m as MetricsRequest).id === "number"
  );
}

function isReply(m: unknown): m is MetricsReply {
  return (
    typeof m === "object" &&
    m !== null &&
    (m as MetricsReply).roomgate === "metrics-reply" &&
    typeof (m as MetricsReply).id === "number"
  );
}
