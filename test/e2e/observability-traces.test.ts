import { createClient } from "@connectrpc/connect";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import {
  bearer,
  connectTransport,
  grpcTransport,
  toArgument,
  tokensClient,
  validArgument,
} from "../support/clients.js";
import { startTestServer } from "../support/server.js";
import { startObservedServer, type ObservedServer } from "./observability-support.js";

const exporter = new InMemorySpanExporter();
let srv: ObservedServer;
beforeAll(async () => {
  srv = await startObservedServer({ spanExporter: exporter });
});
afterAll(() => srv?.close());

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";

describe("traces", () => {
  it("a call with traceparent gets a server span in that trace, under that parent, with a child span for its write transaction", async () => {
    exporter.reset();
    const admin = createClient(UsersPrivate, grpcTransport(srv.baseUrl));
    await admin.createUser(
      { email: "trace@example.com", username: "trace-user", password: "trace-password-1", phone: "" },
      { headers: { authorization: `Bearer ${srv.apiKey}`, traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } },
    );
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.name === "room.users.private.v1.Service/CreateUser")!;
    expect(server).toBeDefined();
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.spanContext().traceId).toBe(TRACE_ID);
    expect(server.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(server.attributes).toMatchObject({
      "rpc.service": "room.users.private.v1.Service",
      "rpc.method": "CreateUser",
      "rpc.code": "ok",
      "roomgate.protocol": "grpc",
      "roomgate.tenant_id": srv.tenantId,
    });
    const tx = spans.filter(
      (s) => s.name === "db.transaction" && s.parentSpanContext?.spanId === server.spanContext().spanId,
    );
    expect(tx.length).toBeGreaterThanOrEqual(1);
    expect(tx.every((s) => s.spanContext().traceId === TRACE_ID)).toBe(true);
  });

  it("a call without traceparent starts its own trace; an error is recorded with its code", async () => {
    exporter.reset();
    const tokens = tokensClient(connectTransport(srv.baseUrl));
    await tokens.create({ arguments: [toArgument(validArgument(1))] }, bearer("not-a-key")).catch(() => undefined);
    const [span] = exporter.getFinishedSpans().filter((s) => s.name === "room.tokens.private.v1.Service/Create");
    expect(span).toBeDefined();
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.attributes["rpc.code"]).toBe("unauthenticated");
    expect(span!.attributes["roomgate.tenant_id"]).toBeUndefined();
  });

  it("is off without OTEL_EXPORTER_OTLP_ENDPOINT or an exporter", async () => {
    const plain = await startTestServer();
    try {
      expect(plain.h.tracing).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
