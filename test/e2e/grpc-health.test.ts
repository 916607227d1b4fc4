import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";

let srv: TestServer;
type HealthClient = grpc.Client & {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
};
let client: HealthClient;

beforeAll(async () => {
  srv = await startTestServer();
  const def = protoLoader.loadSync("grpc/health/v1/health.proto", {
    includeDirs: [fileURLToPath(new URL("../../proto", import.meta.url))],
    enums: String,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  client = new pkg.grpc.health.v1.Health(
    `127.0.0.1:${srv.port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as HealthClient;
});
afterAll(async () => {
  client?.close();
  await srv.close();
});

const check = (service: string) =>
  new Promise<{ status: string }>((resolve, reject) =>
    client.check({ service }, (err, res) => (err ? reject(err) : resolve(res!))),
  );

describe("grpc.health.v1.Health over grpc-js", () => {
  it("is SERVING for the server and each roomgate service, NOT_FOUND for an unknown one", async () => {
    expect((await check("")).status).toBe("SERVING");
    expect((await check("room.tokens.private.v1.Service")).status).toBe("SERVING");
    await expect(check("nope.v1.Service")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("is NOT_SERVING once the store is closed", async () => {
    await srv.h.faults.closeStore();
    expect((await check("")).status).toBe("NOT_SERVING");
  });
});
