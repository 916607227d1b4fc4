import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Service as Audit } from "../../gen/room/audit/private/v1/service_pb.js";
import { Service as Consumer } from "../../gen/room/consumer/private/v1/service_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Service as Webhooks } from "../../gen/room/webhooks/private/v1/service_pb.js";
import { bearer, connectTransport } from "../support/clients.js";
import { PermissionStream } from "../support/permission-watch.js";
import { startReplicas, type ReplicaSet } from "../support/replicas.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { as, spacesPrivateClient } from "../support/spaces-clients.js";
import { createTestUser } from "../support/users.js";
import { WebhookReceiver } from "../support/webhook-receiver.js";

// Issue 19 §2 with the real clock: the lapse timer expires the role by
// itself; the Watch and a webhook hear of it; across two replicas the
// expiry is written once. The waits are on real state (vi.waitFor), never
// on a duration; the expiry is a few seconds ahead so that the streams are
// open before it falls due, whatever the machine's load.

const AHEAD_MS = 3_000;

describe("with the real clock, a role expires by itself", () => {
  let srv: TestServer;
  const receiver = new WebhookReceiver();
  beforeAll(async () => {
    srv = await startTestServer({
      env: { ROOMGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true", ROOMGATE_RATE_LIMIT_PER_SECOND: "0" },
    });
    await receiver.start();
  });
  afterAll(async () => {
    await srv?.close();
    await receiver.close();
  });

  it("the permission Watch is updated and the webhook subscribed to ROLE_EXPIRED is delivered, once", async () => {
    const key = bearer(srv.apiKey);
    const hooks = createClient(Webhooks, connectTransport(srv.baseUrl));
    const made = await hooks.createEndpoint({ url: receiver.url, eventTypes: ["EVENT_TYPE_ROLE_EXPIRED"] }, key);
    receiver.secret = made.secret;
    const api = spacesPrivateClient(srv);
    const { id: spaceId } = await api.createSpace({ name: "S", isPublic: false, ownerUserId: "" }, key);
    const { id: roomId } = await api.createRoom({ spaceId, name: "R", isPublic: false }, key);
    const u = await createTestUser(srv);

    const stream = PermissionStream.open(srv, roomId, { authorization: `Bearer ${u.token}` });
    expect((await stream.next()).roomPermissions!.granted).toEqual([]);
    const expiresAt = Date.now() + AHEAD_MS;
    await api.grantRole(
      { spaceId, roomId, targetUserId: u.userId, role: "role_room_user", expiresAt: timestampFromMs(expiresAt) },
      key,
    );
    expect((await stream.next()).roomPermissions!.granted.length).toBeGreaterThan(0);
    // Then the timer expires the role: the stream answers again, without it.
    expect((await stream.next(AHEAD_MS + 10_000)).roomPermissions!.granted).toEqual([]);
    stream.close();

    await vi.waitFor(() => expect(receiver.acknowledged).toHaveLength(1), { timeout: 15_000, interval: 20 });
    const body = receiver.acknowledged[0]!.body as { type: string; data: Record<string, unknown> };
    expect(body.type).toBe("EVENT_TYPE_ROLE_EXPIRED");
    expect(body.data).toMatchObject({ roomId, userId: u.userId, actor: "system", role: "role_room_user" });
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
  });
});

describe("across two replicas", () => {
  let set: ReplicaSet;
  beforeAll(async () => {
    set = await startReplicas(2);
  });
  afterAll(async () => {
    await set?.close();
  });

  it("the expiry is written exactly once, and neither replica counts the role afterwards", async () => {
    const [a, b] = set.replicas as [(typeof set.replicas)[0], (typeof set.replicas)[0]];
    const key = bearer(set.apiKey);
    const consumerA = createClient(Consumer, connectTransport(a.baseUrl));
    const auditB = createClient(Audit, connectTransport(b.baseUrl));
    const spacesB = createClient(SpacesPrivate, connectTransport(b.baseUrl));
    const expirations = async (userId: string) =>
      (await auditB.list({ userId, action: "role.expire" }, key)).entries.length;

    // A seed 003 moderator of one room, for a few seconds, made through replica A.
    const roomId = `room-${Date.now()}`;
    const mod = await consumerA.createUser(
      { username: "temp", isModerator: true, chatRoom: roomId, expiresAt: timestampFromMs(Date.now() + AHEAD_MS) },
      key,
    );
    for (const r of [a, b]) {
      const perms = createClient(Permissions, connectTransport(r.baseUrl));
      const got = await perms.getRoomPermissions({ roomId }, as(mod.accessToken));
      expect(got.roomPermissions!.granted.length).toBeGreaterThan(0);
    }
    await vi.waitFor(async () => expect(await expirations(mod.userId)).toBe(1), { timeout: 20_000, interval: 50 });

    // A second role expiring later: once it is written, both replicas' timers
    // have run past the first expiry; it is still written once.
    const other = await consumerA.createUser(
      { username: "later", isModerator: true, chatRoom: roomId, expiresAt: timestampFromMs(Date.now() + 1_000) },
      key,
    );
    await vi.waitFor(async () => expect(await expirations(other.userId)).toBe(1), { timeout: 20_000, interval: 50 });
    expect(await expirations(mod.userId)).toBe(1);
    for (const r of [a, b]) {
      const perms = createClient(Permissions, connectTransport(r.baseUrl));
      const got = await perms.getRoomPermissions({ roomId }, as(mod.accessToken));
      expect(got.roomPermissions!.granted).toEqual([]);
    }
    expect((await spacesB.listMembers({ spaceId: "", roomId }, key)).members).toEqual([]);
  });
});
