import { Code, createClient, type Transport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as AuditPrivate } from "../../gen/room/audit/private/v1/service_pb.js";
import { Service as EventsPrivate } from "../../gen/room/events/private/v1/service_pb.js";
import { Service as ConsumerPrivate } from "../../gen/room/consumer/private/v1/service_pb.js";
import { Permission } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Service as Spaces } from "../../gen/room/spaces/v1/service_pb.js";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import * as schema from "../../src/store/schema.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { rowCount } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";

// Issue 7, point 9: one id rule everywhere. The three ids, each
// refused by token Create, the spaces calls and seed 003's chat_room, with
// the same code and message and nothing written.

const BAD_IDS = [
  ["U+202E (right-to-left override)", "room\u202Eevil", /: must not contain control characters$/],
  ["U+0085 (next line, a C1 control)", "room\u0085x", /: must not contain control characters$/],
  ["400 UTF-8 bytes in 200 characters", "é".repeat(200), /: longer than 256 bytes$/],
] as const;

const WIRES = [
  {
    name: "Connect JSON",
    make: (baseUrl: string): Transport => connectTransport(baseUrl),
  },
  { name: "gRPC", make: (baseUrl: string): Transport => grpcTransport(baseUrl) },
] as const;

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv?.close());

/** Every table's row count: the proof that a refused call wrote nothing. */
async function rowCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, table] of Object.entries(schema)) out[name] = await rowCount(srv, table);
  return out;
}

async function refusedWithNothingWritten(call: () => Promise<unknown>, message: RegExp): Promise<void> {
  const before = await rowCounts();
  await expectCode(call(), Code.InvalidArgument, message);
  expect(await rowCounts()).toEqual(before);
}

describe.each(WIRES)("one id rule over $name", (wire) => {
  describe.each(BAD_IDS)("%s", (_name, id, message) => {
    it("token Create refuses it as user_id and as room_id", async () => {
      const tokens = createClient(TokensPrivate, wire.make(srv.baseUrl));
      const arg = { userId: "u-1", roomId: "r-1", permissions: [Permission.PermissionRoomKick] };
      await refusedWithNothingWritten(
        () => tokens.create({ arguments: [{ ...arg, userId: id }] }, bearer(srv.apiKey)),
        /^arguments\[0\]\.user_id: /,
      );
      await refusedWithNothingWritten(
        () => tokens.create({ arguments: [arg, { ...arg, roomId: id }] }, bearer(srv.apiKey)),
        message,
      );
    });

    it("spaces refuse it (backend GrantRole, end-user CreateRoom and JoinRoom)", async () => {
      const backend = createClient(SpacesPrivate, wire.make(srv.baseUrl));
      const user = await createTestUser(srv);
      await refusedWithNothingWritten(
        () => backend.grantRole({ roomId: id, targetUserId: user.userId, role: "role_room_user" }, bearer(srv.apiKey)),
        message,
      );
      await refusedWithNothingWritten(
        () => backend.grantRole({ roomId: "r-1", targetUserId: id, role: "role_room_user" }, bearer(srv.apiKey)),
        /^target_user_id: /,
      );
      const spaces = createClient(Spaces, wire.make(srv.baseUrl));
      const as = bearer(user.token);
      await refusedWithNothingWritten(() => spaces.createRoom({ spaceId: id, name: "room" }, as), /^space_id: /);
      await refusedWithNothingWritten(() => spaces.joinRoom({ spaceId: "s-1", roomId: id }, as), message);
    });

    it("reads filter by the same rule: Watch room_id and audit List room_id/user_id", async () => {
      const events = createClient(EventsPrivate, wire.make(srv.baseUrl));
      await expectCode(
        (async () => {
          for await (const _ of events.watch({ roomId: id }, bearer(srv.apiKey))) break;
        })(),
        Code.InvalidArgument,
        /^room_id: /,
      );
      const audit = createClient(AuditPrivate, wire.make(srv.baseUrl));
      await expectCode(audit.list({ roomId: id }, bearer(srv.apiKey)), Code.InvalidArgument, /^room_id: /);
      await expectCode(audit.list({ userId: id }, bearer(srv.apiKey)), Code.InvalidArgument, /^user_id: /);
    });

    it("seed 003 CreateUser refuses it as chatRoom", async () => {
      const consumer = createClient(ConsumerPrivate, wire.make(srv.baseUrl));
      await refusedWithNothingWritten(
        () => consumer.createUser({ chatRoom: id, username: "jon", isModerator: true }, bearer(srv.apiKey)),
        message,
      );
      await refusedWithNothingWritten(
        () => consumer.createUser({ uniqueUserIdentifier: id, username: "jon" }, bearer(srv.apiKey)),
        /^unique_user_identifier: /,
      );
    });
  });
});

it("seed 003's REST route refuses the same ids the same way", async () => {
  for (const [, id] of BAD_IDS) {
    const before = await rowCounts();
    const res = await fetch(`${srv.baseUrl}/consumer/api/v1/user?auth=${encodeURIComponent(srv.apiKey)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ chatRoom: id, username: "jon", isModerator: true }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; message: string };
    // The route speaks the seed's field names.
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toMatch(/^chatRoom: (must not contain control characters|longer than 256 bytes)$/);
    expect(await rowCounts()).toEqual(before);
  }
});

it("an id at the limit (256 bytes) is accepted by all three", async () => {
  const id = "é".repeat(128);
  const tokens = createClient(TokensPrivate, WIRES[1].make(srv.baseUrl));
  expect(
    (
      await tokens.create(
        { arguments: [{ userId: id, roomId: id, permissions: [Permission.PermissionRoomKick] }] },
        bearer(srv.apiKey),
      )
    ).tokens,
  ).toHaveLength(1);
  const user = await createTestUser(srv);
  await createClient(SpacesPrivate, WIRES[1].make(srv.baseUrl)).grantRole(
    { roomId: id, targetUserId: user.userId, role: "role_room_user" },
    bearer(srv.apiKey),
  );
  const r = await createClient(ConsumerPrivate, WIRES[1].make(srv.baseUrl)).createUser(
    { chatRoom: id, username: "jon" },
    bearer(srv.apiKey),
  );
  expect(r.userId).not.toBe("");
});
