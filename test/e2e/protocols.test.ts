import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import {
  bearer,
  connectTransport,
  grpcAuth,
  grpcErrorOf,
  grpcTokensClient,
  type GrpcTokensClient,
  grpcUnary,
  postRaw,
  SEED_ARGUMENT,
  SEED_JSON_BODY,
  tokensClient,
  TRANSPORTS,
} from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

describe("every protocol on the one port", () => {
  it.each(TRANSPORTS.map((t) => [t.name, t] as const))(
    "%s: Create then Verify round-trips the claims",
    async (_name, t) => {
      const client = tokensClient(t.make(srv.baseUrl));
      const before = await srv.h.grants.countGrants();
      const arg = {
        ...SEED_ARGUMENT,
        userId: `user ${t.name}`,
        metadata: { note: "temporary moderator", via: t.name, n: 2 },
      };
      const { tokens } = await client.create({ arguments: [arg] }, bearer(srv.apiKey));
      expect(tokens).toHaveLength(1);
      expect(tokens[0]).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(await srv.h.grants.countGrants()).toBe(before + 1);

      const v = await client.verify({ token: tokens[0]! }, bearer(srv.apiKey));
      expect(v.userId).toBe(arg.userId);
      expect(v.roomId).toBe(SEED_ARGUMENT.roomId);
      expect(v.permissions).toEqual([Permission.PermissionRoomKick]);
      expect(v.metadata).toEqual({ note: "temporary moderator", via: t.name, n: 2 });
    },
  );

  it("Verify (NO_SIDE_EFFECTS) also works as a Connect GET request", async () => {
    const post = tokensClient(connectTransport(srv.baseUrl));
    const get = tokensClient(createConnectTransport({ baseUrl: srv.baseUrl, httpVersion: "1.1", useHttpGet: true }));
    const { tokens } = await post.create({ arguments: [SEED_ARGUMENT] }, bearer(srv.apiKey));
    const v = await get.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    expect(v.userId).toBe(SEED_ARGUMENT.userId);
    expect(v.metadata).toEqual({ note: "temporary moderator" });
  });

  it("a token issued over one protocol verifies over another", async () => {
    const grpcClient = tokensClient(TRANSPORTS.find((t) => t.name === "gRPC over HTTP/2")!.make(srv.baseUrl));
    const webClient = tokensClient(TRANSPORTS.find((t) => t.name === "gRPC-Web over HTTP/1.1")!.make(srv.baseUrl));
    const { tokens } = await grpcClient.create(
      { arguments: [{ userId: "x", roomId: "y", permissions: [Permission.PermissionRoom] }] },
      bearer(srv.apiKey),
    );
    const v = await webClient.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    expect(v.permissions).toEqual([200, 201, 202, 203]);
  });
});

describe("the seed's request, exactly as written", () => {
  it("plain fetch over HTTP/1.1: 200 JSON {tokens:[one token]}, and Verify returns what was sent", async () => {
    const before = await srv.h.grants.countGrants();
    const opts = {
      method: "POST",
      headers: {
        "content-type": "application/json",
        Authorization: `Bearer ${srv.apiKey}`,
      },
      body: JSON.stringify({
        arguments: [
          {
            user_id: "8ae5a0b9-9206-44ca-950b-5a0b51f82d4e",
            room_id: "c2ed3890-716d-4380-a597-d860ecacada0",
            metadata: {
              note: "temporary moderator",
            },
            permissions: ["PermissionRoomKick"],
          },
        ],
      }),
    };
    expect(opts.body).toBe(SEED_JSON_BODY);
    const res = await fetch(`${srv.baseUrl}/room.tokens.private.v1.Service/Create`, opts);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["tokens"]);
    const tokens = body["tokens"] as unknown[];
    expect(tokens).toHaveLength(1);
    expect(typeof tokens[0]).toBe("string");
    expect(tokens[0]).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await srv.h.grants.countGrants()).toBe(before + 1);

    const verify = await postRaw(srv.baseUrl, "Verify", JSON.stringify({ token: tokens[0] }), {
      "content-type": "application/json",
      Authorization: `Bearer ${srv.apiKey}`,
    });
    expect(verify.status).toBe(200);
    const claims = JSON.parse(verify.text) as Record<string, unknown>;
    expect(claims["userId"]).toBe("8ae5a0b9-9206-44ca-950b-5a0b51f82d4e");
    expect(claims["roomId"]).toBe("c2ed3890-716d-4380-a597-d860ecacada0");
    expect(claims["permissions"]).toEqual(["PermissionRoomKick"]);
    expect(claims["metadata"]).toEqual({ note: "temporary moderator" });
    expect(claims["tokenId"]).toMatch(/^[0-9a-f]{32}$/);
    const issued = Date.parse(claims["issuedAt"] as string);
    const expires = Date.parse(claims["expiresAt"] as string);
    expect(expires - issued).toBe(86_400_000);
  });

  it("HTTP/2 prior knowledge (curl --http2-prior-knowledge) with the seed's JSON works too", async () => {
    const client = tokensClient(
      createConnectTransport({ baseUrl: srv.baseUrl, httpVersion: "2", useBinaryFormat: false }),
    );
    const { tokens } = await client.create({ arguments: [SEED_ARGUMENT] }, bearer(srv.apiKey));
    expect(tokens).toHaveLength(1);
    const v = await client.verify({ token: tokens[0]! }, bearer(srv.apiKey));
    expect(v.userId).toBe(SEED_ARGUMENT.userId);
    expect(v.permissions).toEqual([Permission.PermissionRoomKick]);
  });
});

describe("@grpc/grpc-js with the .proto files", () => {
  let client: GrpcTokensClient;
  beforeAll(() => {
    client = grpcTokensClient(`127.0.0.1:${srv.port}`);
  });
  afterAll(() => client?.close());

  it("Create and Verify succeed with enum names on the wire", async () => {
    const res = await grpcUnary(
      client,
      "Create",
      {
        arguments: [
          {
            user_id: SEED_ARGUMENT.userId,
            room_id: SEED_ARGUMENT.roomId,
            metadata: { fields: { note: { stringValue: "temporary moderator" } } },
            permissions: ["PermissionRoomKick", "PermissionChat"],
            ttl_seconds: 120,
          },
        ],
      },
      grpcAuth(srv.apiKey),
    );
    expect(res.tokens).toHaveLength(1);
    expect(res.tokens[0]).toMatch(/^[A-Za-z0-9_-]+$/);

    const v = await grpcUnary(client, "Verify", { token: res.tokens[0] }, grpcAuth(srv.apiKey));
    expect(v.user_id).toBe(SEED_ARGUMENT.userId);
    expect(v.room_id).toBe(SEED_ARGUMENT.roomId);
    expect(v.permissions).toEqual([
      "PermissionChat",
      "PermissionChatBlock",
      "PermissionChatUnblock",
      "PermissionChatMute",
      "PermissionChatUnmute",
      "PermissionChatMessageDelete",
      "PermissionChatKick",
      "permissionChatSlowmodeBypass",
      "PermissionRoomKick",
    ]);
    expect(v.metadata.fields.note.stringValue).toBe("temporary moderator");
    expect(BigInt(v.expires_at.seconds) - BigInt(v.issued_at.seconds)).toBe(120n);
  });

  it("a wrong API key is UNAUTHENTICATED (16)", async () => {
    const err = await grpcErrorOf(
      grpcUnary(client, "Create", { arguments: [{ user_id: "u", room_id: "r" }] }, grpcAuth("not-the-key")),
    );
    expect(err.code).toBe(16);
    expect(err.details).toBe("invalid API key");
  });

  it("an unknown permission number is INVALID_ARGUMENT (3) and writes nothing", async () => {
    const before = await srv.h.grants.countGrants();
    const err = await grpcErrorOf(
      grpcUnary(
        client,
        "Create",
        { arguments: [{ user_id: "u", room_id: "r", permissions: [999] }] },
        grpcAuth(srv.apiKey),
      ),
    );
    expect(err.code).toBe(3);
    // connect-node percent-encodes grpc-message with encodeURIComponent, while
    // grpc-js decodes it with decodeURI, which leaves reserved characters such
    // as ":" as "%3A"; decode the rest here.
    expect(decodeURIComponent(err.details)).toBe("arguments[0].permissions[0]: unknown permission 999");
    expect(await srv.h.grants.countGrants()).toBe(before);
  });
});
