import { collectorUrl, keyValueList, oneOf, text, wholeNumber, type Setting } from "./env-types.js";

/** The levels pino accepts; anything else would fail deep inside pino without naming LOG_LEVEL. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * Logs and traces. The OTEL_* settings are the standard OpenTelemetry ones
 * roomgate reads and hands to the OTLP/HTTP exporter itself, so they are
 * checked at start like the rest; the exporter and the tracing SDK read a few
 * more on their own (see the note under the README's settings table).
 */
export const TELEMETRY_SETTINGS = {
  logLevel: {
    env: "LOG_LEVEL",
    type: oneOf(LOG_LEVELS).prefault("info"),
    doc: "pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent` (anything else is refused at start, naming `LOG_LEVEL`)",
  },
  otelEndpoint: {
    env: "OTEL_EXPORTER_OTLP_ENDPOINT",
    type: collectorUrl().optional(),
    doc: "OpenTelemetry collector (OTLP over HTTP, JSON); when set, every call is traced (W3C `traceparent` honoured, database transactions as child spans) and spans are sent to `<url>/v1/traces` in batches. Unset: tracing is off and costs nothing",
  },
  otelTracesEndpoint: {
    env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    type: collectorUrl().optional(),
    doc: "full URL spans are sent to instead of `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces` (tracing still needs `OTEL_EXPORTER_OTLP_ENDPOINT`)",
  },
  otelHeaders: {
    env: "OTEL_EXPORTER_OTLP_HEADERS",
    type: keyValueList().optional(),
    doc: "headers sent with every export, `key=value` pairs separated by commas (values URL-encoded), e.g. the collector's API key; never logged",
  },
  otelTimeoutMs: {
    env: "OTEL_EXPORTER_OTLP_TIMEOUT",
    type: wholeNumber(1, 600_000).prefault("10000"),
    doc: "upper bound on one export request, in milliseconds",
  },
  otelCompression: {
    env: "OTEL_EXPORTER_OTLP_COMPRESSION",
    type: oneOf(["none", "gzip"]).prefault("none"),
    doc: "`gzip` compresses exported spans",
  },
  otelServiceName: {
    env: "OTEL_SERVICE_NAME",
    type: text().prefault("roomgate"),
    doc: "the `service.name` resource attribute of every span",
  },
} satisfies Record<string, Setting>;
