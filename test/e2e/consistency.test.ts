import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { userWithRoomRole, userToken } from "../support/permissions-fixtures.js";
import { startTestServer, type TestServer } from "../support/server.js";

// Issue 8: reads take an optional consistency token (min_event_id, the
// event id a write answered with). A replica that has applied it answers at
// once; one that has not waits up to ROOMGATE_CONSISTENCY_WAIT_MS, then
// answers unavailable rather than serve older state.

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ env: { ROOMGATE_CONSISTENCY_WAIT_MS: "150" } });
});
afterAll(async () => {
  await srv?.close();
});

describe.each([
  ["Connect JSON", () => connectTransport(srv.baseUrl)],
  ["gRPC", () => grpcTransport(srv.baseUrl)],
] as const)("min_event_id over %s", (_name, transport) => {
  it("Verify: a token revoked at event E is refused with min_event_id E; an id not yet written is unavailable; a bad one invalid_argument", async () => {
    const tokens = createClient(TokensPrivate, transport());
    const {
      tokens: [t],
    } = await tokens.create(
      { arguments: [{ userId: "c-user", roomId: "c-room", permissions: [P.PermissionMessaging] }] },
      bearer(srv.apiKey),
    );
    expect((await tokens.verify({ token: t!, minEventId: 0n }, bearer(srv.apiKey))).userId).toBe("c-user");
    const { eventId } = await tokens.revokeUser({ userId: "c-user" }, bearer(srv.apiKey));
    expect(srv.h.feed.appliedId).toBeGreaterThanOrEqual(Number(eventId));
    await expectCode(
      tokens.verify({ token: t!, minEventId: eventId }, bearer(srv.apiKey)),
      Code.Unauthenticated,
      "token revoked",
    );
    await expectCode(
      tokens.verify({ token: t!, minEventId: eventId + 1_000_000n }, bearer(srv.apiKey)),
      Code.Unavailable,
      /has not applied event/,
    );
    await expectCode(
      tokens.verify({ token: t!, minEventId: 2n ** 60n }, bearer(srv.apiKey)),
      Code.InvalidArgument,
      "min_event_id: no such event id",
    );
  });

  it("GetRoomPermissions and VerifyAccessToken take it too", async () => {
    const { userId, roomId } = await userWithRoomRole(srv, "role_room_user");
    const token = userToken(srv, userId);
    const far = BigInt(srv.h.feed.appliedId + 1_000_000);
    const perms = createClient(Permissions, transport());
    expect(
      (await perms.getRoomPermissions({ roomId, minEventId: BigInt(srv.h.feed.appliedId) }, bearer(token)))
        .roomPermissions!.granted,
    ).toContain(P.PermissionCanSendMessagesInMainThread);
    await expectCode(perms.getRoomPermissions({ roomId, minEventId: far }, bearer(token)), Code.Unavailable);
    const users = createClient(UsersPrivate, transport());
    expect((await users.verifyAccessToken({ token, minEventId: 1n }, bearer(srv.apiKey))).userId).toBe(userId);
    await expectCode(users.verifyAccessToken({ token, minEventId: far }, bearer(srv.apiKey)), Code.Unavailable);
  });
});
