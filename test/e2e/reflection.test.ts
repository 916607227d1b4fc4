import {
  create,
  createFileRegistry,
  fromBinary,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { SERVED_SERVICES } from "../../src/server/routes.js";
import { auditLog, events, grants, rooms } from "../../src/store/schema.js";
import { grpcTransport, SEED_JSON_BODY } from "../support/clients.js";
import { rowCount } from "../support/spaces-clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

const exec = promisify(execFile);
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const EVERY_SERVICE = SERVED_SERVICES.map((s) => s.typeName).sort();

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv.close();
});

/** Rows a Create could write: grants, rooms, events, audit entries. */
const written = async () => Promise.all([grants, rooms, events, auditLog].map((t) => rowCount(srv, t)));

/** Runs `buf curl` against the test server with no local schema (reflection only). */
async function bufCurl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("buf curl with no local schema", () => {
  it("--list-services lists every service the router serves, health and reflection included", async () => {
    const r = await bufCurl(["--list-services", srv.baseUrl]);
    expect(r.code, r.stderr).toBe(0);
    const listed = r.stdout.split("\n").filter(Boolean).sort();
    expect(listed).toEqual(EVERY_SERVICE);
    expect(listed).toEqual(
      expect.arrayContaining([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "room.tokens.private.v1.Service",
      ]),
    );
  });

  it("calls Create with the seed's JSON body and an API key, and gets a token back", async () => {
    const r = await bufCurl([
      "-H",
      `Authorization: Bearer ${srv.apiKey}`,
      "-d",
      SEED_JSON_BODY,
      `${srv.baseUrl}/room.tokens.private.v1.Service/Create`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const body = JSON.parse(r.stdout) as { tokens: string[] };
    expect(body.tokens).toHaveLength(1);
    expect(body.tokens[0]).toMatch(/\S{20,}/);
    // The token is real: Verify (also through reflection) accepts it.
    const v = await bufCurl([
      "-H",
      `Authorization: Bearer ${srv.apiKey}`,
      "-d",
      JSON.stringify({ token: body.tokens[0] }),
      `${srv.baseUrl}/room.tokens.private.v1.Service/Verify`,
    ]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain("c2ed3890-716d-4380-a597-d860ecacada0");
  });

  it("reflection opens the schema, not the calls: Create with a wrong key is still unauthenticated and writes nothing", async () => {
    const before = await written();
    const r = await bufCurl([
      "-H",
      "Authorization: Bearer not-the-key",
      "-d",
      SEED_JSON_BODY,
      `${srv.baseUrl}/room.tokens.private.v1.Service/Create`,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain("unauthenticated");
    expect(await written()).toEqual(before);
  });
});

/** Both protocol versions, driven through the same steps. */
const VERSIONS = [
  { name: "grpc.reflection.v1", service: v1.ServerReflection, request: v1.ServerReflectionRequestSchema },
  {
    name: "grpc.reflection.v1alpha",
    service: v1alpha.ServerReflection,
    request: v1alpha.ServerReflectionRequestSchema,
  },
] as const;

type Version = (typeof VERSIONS)[number];
type Response = v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse;

/** Sends `questions` on one bidi stream (gRPC over HTTP/2, no credentials) and collects the answers. */
async function ask<V extends Version>(
  v: V,
  questions: MessageInitShape<V["request"]>[],
  headers?: Record<string, string>,
): Promise<Response[]> {
  const client = createClient(v.service as typeof v1.ServerReflection, grpcTransport(srv.baseUrl));
  async function* requests() {
    for (const q of questions)
      yield create(v.request as DescMessage, q as never) as MessageShape<typeof v1.ServerReflectionRequestSchema>;
  }
  const out: Response[] = [];
  for await (const res of client.serverReflectionInfo(requests(), { headers })) out.push(res);
  return out;
}

function filesOf(res: Response): FileDescriptorProto[] {
  if (res.messageResponse.case !== "fileDescriptorResponse")
    throw new Error(`expected files, got ${res.messageResponse.case}`);
  return res.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
}

describe.each(VERSIONS)("$name over a connect gRPC client", (v) => {
  it("lists every service, with no credentials", async () => {
    const [res] = await ask(v, [{ messageRequest: { case: "listServices", value: "" } }]);
    expect(res!.messageResponse.case).toBe("listServicesResponse");
    const names =
      res!.messageResponse.case === "listServicesResponse" ? res!.messageResponse.value.service.map((s) => s.name) : [];
    expect(names.sort()).toEqual(EVERY_SERVICE);
  });

  it("ignores an end-user or API-key credential it does not need", async () => {
    const [res] = await ask(v, [{ messageRequest: { case: "listServices", value: "" } }], {
      authorization: "Bearer garbage",
    });
    expect(res!.messageResponse.case).toBe("listServicesResponse");
  });

  it("file_containing_symbol for room.tokens.private.v1.Service: the file first, then every file it imports", async () => {
    const [res] = await ask(v, [
      { messageRequest: { case: "fileContainingSymbol", value: "room.tokens.private.v1.Service" } },
    ]);
    expect(res!.originalRequest?.messageRequest).toEqual({
      case: "fileContainingSymbol",
      value: "room.tokens.private.v1.Service",
    });
    const files = filesOf(res!);
    const [first] = files;
    expect(first!.name).toBe("room/tokens/private/v1/service.proto");
    expect(first!.package).toBe("room.tokens.private.v1");
    expect(first!.service.map((s) => s.name)).toEqual(["Service"]);
    expect(first!.service[0]!.method.map((m) => m.name)).toContain("Create");
    expect(first!.dependency).toEqual(
      expect.arrayContaining([
        "google/protobuf/struct.proto",
        "google/protobuf/timestamp.proto",
        "room/permissions/v1/permission.proto",
      ]),
    );
    const names = files.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    // Complete: every import of every file is in the answer, so a client can
    // build the whole schema from it (createFileRegistry throws otherwise).
    for (const f of files) for (const d of f.dependency) expect(names).toContain(d);
    const byName = new Map(files.map((f) => [f.name, f]));
    const registry = createFileRegistry(first!, (name) => byName.get(name));
    expect(registry.getService("room.tokens.private.v1.Service")?.method["create"]?.input.typeName).toBe(
      "room.tokens.private.v1.CreateRequest",
    );
  });

  it("answers several questions on one stream: methods, nested types, enum values, file names; unknowns are NOT_FOUND and the stream goes on", async () => {
    const answers = await ask(v, [
      { messageRequest: { case: "fileContainingSymbol", value: "room.tokens.private.v1.Service.Create" } },
      { messageRequest: { case: "fileContainingSymbol", value: "room.tokens.private.v1.CreateArgument" } },
      { messageRequest: { case: "fileContainingSymbol", value: "nope.v1.Nothing" } },
      { messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } },
      { messageRequest: { case: "fileByFilename", value: "grpc/health/v1/health.proto" } },
      { messageRequest: { case: "fileByFilename", value: "nope.proto" } },
      { messageRequest: { case: "fileContainingSymbol", value: `${v.name}.ServerReflection` } },
      {
        messageRequest: {
          case: "fileContainingExtension",
          value: { containingType: "room.tokens.private.v1.CreateArgument", extensionNumber: 100 },
        },
      },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "room.tokens.private.v1.CreateArgument" } },
      { messageRequest: { case: "listServices", value: "" } },
    ]);
    expect(answers).toHaveLength(10);
    expect(filesOf(answers[0]!)[0]!.name).toBe("room/tokens/private/v1/service.proto");
    expect(filesOf(answers[1]!)[0]!.name).toBe("room/tokens/private/v1/service.proto");
    expect(answers[2]!.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
    expect(filesOf(answers[3]!).map((f) => f.name)).toEqual(["google/protobuf/timestamp.proto"]);
    expect(filesOf(answers[4]!)[0]!.package).toBe("grpc.health.v1");
    expect(answers[5]!.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
    expect(filesOf(answers[6]!)[0]!.package).toBe(v.name);
    expect(answers[7]!.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
    expect(answers[8]!.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { extensionNumber: [] },
    });
    expect(answers[9]!.messageResponse.case).toBe("listServicesResponse");
  });

  it("an empty request is an error answer (INVALID_ARGUMENT), not a broken stream", async () => {
    const answers = await ask(v, [{}, { messageRequest: { case: "listServices", value: "" } }]);
    expect(answers[0]!.messageResponse).toMatchObject({
      case: "errorResponse",
      value: { errorCode: Code.InvalidArgument },
    });
    expect(answers[1]!.messageResponse.case).toBe("listServicesResponse");
  });
});

describe("health knows the reflection services", () => {
  it("Check for grpc.reflection.v1(alpha).ServerReflection is SERVING", async () => {
    const health = createClient(Health, grpcTransport(srv.baseUrl));
    for (const service of ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]) {
      expect((await health.check({ service })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
  });
});
