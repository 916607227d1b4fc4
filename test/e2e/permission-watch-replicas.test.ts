import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { bearer, connectTransport, grpcTransport } from "../support/clients.js";
import { canSend, PermissionStream } from "../support/permission-watch.js";
import { startReplicas, type ReplicaSet } from "../support/replicas.js";

let set: ReplicaSet;
beforeAll(async () => {
  set = await startReplicas(2);
}, 60_000);
afterAll(async () => {
  await set?.close();
});

describe("Watch across replicas", () => {
  it("a stream on one replica follows a mute and an unmute made on another", async () => {
    const [a, b] = set.replicas as [(typeof set.replicas)[0], (typeof set.replicas)[0]];
    const grpc = grpcTransport(a.baseUrl);
    const key = bearer(set.apiKey);
    const password = "pw-replica-secret-1";
    const { id: userId } = await createClient(UsersPrivate, grpc).createUser(
      { email: "w@example.test", username: "watcher", password },
      key,
    );
    const spaces = createClient(SpacesPrivate, grpc);
    const { id: spaceId } = await spaces.createSpace({ name: "s", isPublic: false, ownerUserId: "" }, key);
    const { id: roomId } = await spaces.createRoom({ spaceId, name: "r", isPublic: false }, key);
    await spaces.grantRole({ spaceId, roomId, targetUserId: userId, role: "role_room_user" }, key);
    // The user signs in on replica b and watches there.
    const onB = connectTransport(b.baseUrl);
    const login = await createClient(Users, onB).login({ tenantId: tenantIdOf(), username: "watcher", password });
    const s = new PermissionStream(createClient(Permissions, onB), roomId, {
      authorization: `Bearer ${login.accessToken}`,
    });
    try {
      expect(canSend(await s.next())).toBe(true);
      const moderation = createClient(ModerationPrivate, grpc);
      await moderation.act({ action: Action.CHAT_MUTE, roomId, targetUserId: userId, reason: "replicas" }, key);
      expect(canSend(await s.next(10_000))).toBe(false);
      await moderation.act({ action: Action.CHAT_UNMUTE, roomId, targetUserId: userId, reason: "replicas" }, key);
      expect(canSend(await s.next(10_000))).toBe(true);
    } finally {
      s.close();
    }
  });
});

/** The bootstrap tenant's id, read from the first replica's start-up log. */
function tenantIdOf(): string {
  const m = /"tenantId":"([^"]+)"[^\n]*bootstrap tenant/.exec(set.replicas[0]!.output());
  if (!m) throw new Error(`no bootstrap tenant in the log: ${set.replicas[0]!.output()}`);
  return m[1]!;
}
