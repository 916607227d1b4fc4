import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import {
  bearer,
  grpcAuth,
  grpcTokensClient,
  grpcUnary,
  SEED_ARGUMENT,
  SEED_JSON_BODY,
  tokensClient,
  TRANSPORTS,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

// Self-signed for localhost and 127.0.0.1, valid until 2126 (checked in; see test/fixtures/tls).
const certPath = fileURLToPath(new URL("../fixtures/tls/cert.pem", import.meta.url));
const keyPath = fileURLToPath(new URL("../fixtures/tls/key.pem", import.meta.url));
const cert = readFileSync(certPath);

let srv: TestServer;
let httpsUrl: string;
beforeAll(async () => {
  srv = await startTestServer({ env: { ROOMGATE_TLS_CERT: certPath, ROOMGATE_TLS_KEY: keyPath } });
  httpsUrl = `https://localhost:${srv.port}`;
});
afterAll(async () => {
  await srv?.close();
});

const CREATE = "/room.tokens.private.v1.Service/Create";

describe("TLS and cleartext on the same port", () => {
  it.each(TRANSPORTS.map((t) => [t.name, t] as const))("%s over TLS: Create then Verify", async (_name, t) => {
    const client = tokensClient(t.make(httpsUrl, { ca: cert }));
    const { tokens } = await client.create({ arguments: [SEED_ARGUMENT] }, bearer(srv.apiKey));
    expect(tokens).toHaveLength(1);
    const v = await client.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    expect(v.userId).toBe(SEED_ARGUMENT.userId);
    expect(v.permissions).toEqual([Permission.PermissionRoomKick]);
    expect(v.metadata).toEqual({ note: "temporary moderator" });
  });

  it("ALPN picks HTTP/1.1 for an HTTPS/1.1 client (the seed's request)", async () => {
    const res = await new Promise<{ status: number; version: string; body: string }>((resolve, reject) => {
      const req = https.request(
        `${httpsUrl}${CREATE}`,
        {
          method: "POST",
          ca: cert,
          headers: { "content-type": "application/json", authorization: `Bearer ${srv.apiKey}` },
        },
        (r) => {
          let body = "";
          r.setEncoding("utf8");
          r.on("data", (c: string) => (body += c));
          r.on("end", () => resolve({ status: r.statusCode!, version: r.httpVersion, body }));
        },
      );
      req.on("error", reject);
      req.end(SEED_JSON_BODY);
    });
    expect(res.version).toBe("1.1");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).tokens).toHaveLength(1);
  });

  it("ALPN picks h2 for an HTTP/2 client", async () => {
    const session = http2.connect(httpsUrl, { ca: cert });
    try {
      const res = await new Promise<{ status: number; body: string; alpn: string | undefined }>((resolve, reject) => {
        session.on("error", reject);
        const stream = session.request({
          ":method": "POST",
          ":path": CREATE,
          "content-type": "application/json",
          authorization: `Bearer ${srv.apiKey}`,
        });
        let status = 0;
        let body = "";
        stream.on("response", (h) => (status = Number(h[":status"])));
        stream.setEncoding("utf8");
        stream.on("data", (c: string) => (body += c));
        stream.on("end", () => resolve({ status, body, alpn: session.alpnProtocol }));
        stream.on("error", reject);
        stream.end(SEED_JSON_BODY);
      });
      expect(res.alpn).toBe("h2");
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).tokens).toHaveLength(1);
    } finally {
      session.close();
    }
  });

  it("refuses a client that does not trust the certificate", async () => {
    const client = tokensClient(TRANSPORTS[0]!.make(httpsUrl));
    await expect(client.create({ arguments: [SEED_ARGUMENT] }, bearer(srv.apiKey))).rejects.toThrow(
      /self[- ]signed|certificate/i,
    );
  });

  it("gRPC over TLS with @grpc/grpc-js and the CA certificate", async () => {
    // The certificate names localhost; SNI must not carry an IP address.
    const client = grpcTokensClient(`127.0.0.1:${srv.port}`, grpc.credentials.createSsl(cert), {
      "grpc.ssl_target_name_override": "localhost",
      "grpc.default_authority": "localhost",
    });
    try {
      const res = await grpcUnary(
        client,
        "Create",
        { arguments: [{ user_id: "tls-user", room_id: "tls-room", permissions: ["PermissionRoom"] }] },
        grpcAuth(srv.apiKey),
      );
      expect(res.tokens).toHaveLength(1);
      const v = await grpcUnary(client, "Verify", { token: res.tokens[0] }, grpcAuth(srv.apiKey));
      expect(v.user_id).toBe("tls-user");
      expect(v.permissions).toEqual([
        "PermissionRoom",
        "PermissionRoomBlock",
        "PermissionRoomUnblock",
        "PermissionRoomKick",
      ]);
    } finally {
      client.close();
    }
  });

  it.each(["Connect JSON over HTTP/1.1", "Connect JSON over HTTP/2", "gRPC over HTTP/2"])(
    "cleartext %s still works on the TLS port",
    async (name) => {
      const client = tokensClient(TRANSPORTS.find((t) => t.name === name)!.make(`http://127.0.0.1:${srv.port}`));
      const { tokens } = await client.create({ arguments: [SEED_ARGUMENT] }, bearer(srv.apiKey));
      const v = await client.verify({ token: tokens[0]! }, bearer(srv.apiKey));
      expect(v.roomId).toBe(SEED_ARGUMENT.roomId);
    },
  );
});
