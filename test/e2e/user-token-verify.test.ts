import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { bearer, expectCode, grpcTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { accessClient, as, spacesClient } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";

let now = 1_900_000_000_000;
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ clock: () => now });
});
afterAll(() => srv.close());

const users = () => createClient(UsersPrivate, grpcTransport(srv.baseUrl));

describe("VerifyAccessToken: user access tokens verify like room member tokens", () => {
  it("returns the subject of a valid token of the caller's tenant", async () => {
    const u = await createTestUser(srv);
    const v = await users().verifyAccessToken({ token: u.token }, bearer(srv.apiKey));
    expect(v.userId).toBe(u.userId);
    expect(v.roomId).toBe("");
    expect(v.tokenId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("refuses another tenant's key, a room member token, garbage and an empty token", async () => {
    const u = await createTestUser(srv);
    await expectCode(
      users().verifyAccessToken({ token: u.token }, bearer(srv.otherKey)),
      Code.Unauthenticated,
      "invalid token",
    );
    const [member] = (
      await tokensClient(grpcTransport(srv.baseUrl)).create(
        { arguments: [{ userId: "m", roomId: "r", permissions: [203] }] },
        bearer(srv.apiKey),
      )
    ).tokens;
    await expectCode(
      users().verifyAccessToken({ token: member! }, bearer(srv.apiKey)),
      Code.Unauthenticated,
      "invalid token",
    );
    await expectCode(
      users().verifyAccessToken({ token: "garbage" }, bearer(srv.apiKey)),
      Code.Unauthenticated,
      "invalid token",
    );
    await expectCode(
      users().verifyAccessToken({ token: "" }, bearer(srv.apiKey)),
      Code.InvalidArgument,
      "token: must not be empty",
    );
  });

  it("honours RevokeUser: the user's earlier access tokens stop, later ones work", async () => {
    const u = await createTestUser(srv);
    const tokens = tokensClient(grpcTransport(srv.baseUrl));
    await tokens.revokeUser({ userId: u.userId }, bearer(srv.apiKey));
    await expectCode(
      users().verifyAccessToken({ token: u.token }, bearer(srv.apiKey)),
      Code.Unauthenticated,
      "token revoked",
    );
    now += 1;
    const fresh = srv.h.userTokens.issue({ tenantId: srv.tenantId, userId: u.userId, ttlSeconds: 60 }).token;
    expect((await users().verifyAccessToken({ token: fresh }, bearer(srv.apiKey))).userId).toBe(u.userId);
  });

  it("refuses an expired token", async () => {
    const u = await createTestUser(srv);
    now += 3_600_000 + 1;
    await expectCode(
      users().verifyAccessToken({ token: u.token }, bearer(srv.apiKey)),
      Code.Unauthenticated,
      "token expired",
    );
  });
});

describe("a kick reaches access-link guests too", () => {
  it("revokes the guest's room-scoped user access token", async () => {
    const owner = await createTestUser(srv);
    const { id: spaceId } = await spacesClient(srv).createSpace({ name: "s" }, as(owner.token));
    const { id: roomId } = await spacesClient(srv).createRoom({ spaceId, name: "r" }, as(owner.token));
    const link = await spacesClient(srv).generateAccess(
      { spaceId, roomId, username: "guest", role: "user" },
      as(owner.token),
    );
    const guest = await accessClient(srv).redeem({ accessToken: link.accessToken });
    expect((await users().verifyAccessToken({ token: guest.accessToken }, bearer(srv.apiKey))).roomId).toBe(roomId);
    const moderation = createClient(ModerationPrivate, grpcTransport(srv.baseUrl));
    await moderation.act({ action: Action.ROOM_KICK, roomId, targetUserId: guest.userId }, bearer(srv.apiKey));
    await expectCode(
      users().verifyAccessToken({ token: guest.accessToken }, bearer(srv.apiKey)),
      Code.Unauthenticated,
      "token revoked",
    );
  });
});
