import type { Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { Metrics, Protocol } from "./metrics.js";
import type { Tracing } from "./tracing.js";

/** One call being observed: when it started, and its span when tracing is on. */
export interface CallStart {
  readonly procedure: string;
  readonly protocol: Protocol;
  readonly requestId: string;
  readonly start: number;
  readonly span: Span | undefined;
}

/**
 * What every call ends with, RPC and REST alike: the counter and the
 * latency histogram, the span's end, and one request log line — at info
 * for an error, at debug for success. The line holds only the fields
 * below: never a header, a message body, a token, a key or a password.
 */
export class CallObserver {
  constructor(
    readonly metrics: Metrics,
    private readonly log: Logger,
    readonly tracing: Tracing | undefined,
  ) {}

  /** Starts observing a call (a span only when tracing is on). */
  begin(procedure: string, protocol: Protocol, requestId: string, headers: () => Headers): CallStart {
    const span = this.tracing?.startCall(procedure, protocol, headers());
    return { procedure, protocol, requestId, start: performance.now(), span };
  }

  /** Ends a call with its code (`ok`, or a Connect code name) and tenant. */
  end(call: CallStart, code: string, tenantId: string | undefined): void {
    const ms = performance.now() - call.start;
    this.metrics.observeCall(call.procedure, call.protocol, code, ms / 1000);
    if (call.span) this.tracing!.endCall(call.span, code, tenantId);
    const level = code === "ok" ? "debug" : "info";
    if (!this.log.isLevelEnabled(level)) return;
    this.log[level](
      {
        procedure: call.procedure,
        protocol: call.protocol,
        code,
        durationMs: Math.round(ms * 1000) / 1000,
        tenantId,
        requestId: call.requestId,
      },
      "call",
    );
  }
}
