import { AsyncLocalStorage } from "node:async_hooks";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type TextMapGetter,
  type Tracer,
} from "@opentelemetry/api";
import { parseKeyPairsIntoRecord, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import type { Config } from "../config/config.js";

type ExporterOptions = NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>;

/** The settings tracing reads (README "Settings", the OTEL_* rows). */
export type TracingConfig = Pick<
  Config,
  "otelEndpoint" | "otelTracesEndpoint" | "otelHeaders" | "otelTimeoutMs" | "otelCompression" | "otelServiceName"
>;

/** Reads request headers from a fetch-style `Headers`. */
const headerGetter: TextMapGetter<Headers> = {
  get: (h, key) => h.get(key) ?? undefined,
  keys: (h) => [...h.keys()],
};

/**
 * OpenTelemetry tracing for one app: a provider of its own (nothing is
 * registered globally, so several apps in one process stay apart), W3C
 * `traceparent` extraction, and the current call's span carried in an
 * AsyncLocalStorage so database transactions become its children. Only
 * built when tracing is on; otherwise no span object is ever created.
 */
export class Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly current = new AsyncLocalStorage<Span>();

  constructor(exporter: SpanExporter, batch: boolean, serviceName: string) {
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": serviceName }),
      spanProcessors: [batch ? new BatchSpanProcessor(exporter) : new SimpleSpanProcessor(exporter)],
    });
    this.tracer = this.provider.getTracer("roomgate");
  }

  /** A server span for a call, child of the caller's `traceparent` when it sent a valid one. */
  startCall(procedure: string, protocol: string, headers: Headers): Span {
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    const [service, method] = procedure.split("/", 2);
    return this.tracer.startSpan(
      procedure,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": protocol === "rest" ? "http" : "connect_rpc",
          "rpc.service": service,
          "rpc.method": method,
          "roomgate.protocol": protocol,
        },
      },
      parent,
    );
  }

  /** Runs `fn` with `span` as the current call span (for {@link transaction}). */
  within<T>(span: Span, fn: () => T): T {
    return this.current.run(span, fn);
  }

  /** Ends a call span with its code and tenant. */
  endCall(span: Span, code: string, tenantId: string | undefined): void {
    span.setAttribute("rpc.code", code);
    if (tenantId !== undefined) span.setAttribute("roomgate.tenant_id", tenantId);
    if (code !== "ok") span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    span.end();
  }

  /** Runs a database transaction as a child span of the current call (if any). */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    const parent = this.current.getStore();
    if (parent === undefined) return fn();
    const span = this.tracer.startSpan(
      "db.transaction",
      { kind: SpanKind.INTERNAL },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    return fn().then(
      (v) => {
        span.end();
        return v;
      },
      (err: unknown) => {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw err;
      },
    );
  }

  /** Flushes and stops the exporter. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

/**
 * Tracing when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (OTLP over HTTP, with the
 * exporter settings of `config`), or with a given exporter (tests);
 * undefined otherwise — tracing off.
 */
export function createTracing(config: TracingConfig, exporter?: SpanExporter): Tracing | undefined {
  if (exporter) return new Tracing(exporter, false, config.otelServiceName);
  if (config.otelEndpoint === undefined) return undefined;
  const otlp = new OTLPTraceExporter({
    // The standard's rule: the signal path is appended to the general endpoint, never to the traces one.
    url: config.otelTracesEndpoint ?? `${config.otelEndpoint.replace(/\/+$/, "")}/v1/traces`,
    headers: config.otelHeaders === undefined ? undefined : parseKeyPairsIntoRecord(config.otelHeaders),
    timeoutMillis: config.otelTimeoutMs,
    // The exporter's CompressionAlgorithm enum has exactly these two values, "none" and "gzip".
    compression: config.otelCompression as ExporterOptions["compression"],
  });
  return new Tracing(otlp, true, config.otelServiceName);
}
