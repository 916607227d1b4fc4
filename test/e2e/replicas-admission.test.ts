import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, it } from "vitest";
import { Action, Service as ModerationPrivate } from "../../gen/room/moderation/private/v1/service_pb.js";
import { Service as SpacesPrivate } from "../../gen/room/spaces/private/v1/service_pb.js";
import { Service as Spaces } from "../../gen/room/spaces/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { bearer, connectTransport, expectCode } from "../support/clients.js";
import { startReplicas, type Replica, type ReplicaSet } from "../support/replicas.js";
import { testStore } from "../support/server.js";

// A replica admits a member into a room (JoinRoom) only after applying
// every block already committed by any replica: its in-memory state may be
// behind, so it catches up with the store first. The feed's own polling is
// set to a minute here, so on SQLite nothing but that catch-up can tell
// the second replica about the block.

let set: ReplicaSet;
beforeAll(async () => {
  set = await startReplicas(2, { ROOMGATE_FEED_POLL_MS: "60000" });
}, 120_000);
afterAll(async () => {
  await set?.close();
});

const json = (r: Replica) => connectTransport(r.baseUrl);
const key = () => bearer(set.apiKey);

describe(`admission after a block on another replica (${testStore()})`, () => {
  it("JoinRoom on one replica is refused right after a room block made on the other, and let through after an unblock", async () => {
    const [a, b] = set.replicas as [Replica, Replica];
    const username = `joiner${Date.now()}`;
    const { id: userId } = await createClient(UsersPrivate, json(a)).createUser(
      { username, email: `${username}@example.com`, password: "correct horse battery" },
      key(),
    );
    const spaces = createClient(SpacesPrivate, json(a));
    const { id: spaceId } = await spaces.createSpace({ name: "open", isPublic: true }, key());
    const { id: roomId } = await spaces.createRoom({ spaceId, name: "lobby", isPublic: true }, key());
    const m = /"tenantId":"([^"]+)"[^\n]*bootstrap tenant/.exec(a.output());
    const login = await createClient(Users, json(b)).login({
      tenantId: m![1]!,
      username,
      password: "correct horse battery",
    });
    const asUser = bearer(login.accessToken);

    // A member first (only members can be blocked), then blocked on a.
    await createClient(Spaces, json(a)).joinRoom({ spaceId, roomId }, asUser);
    await createClient(ModerationPrivate, json(a)).act(
      { action: Action.ROOM_BLOCK, roomId, targetUserId: userId },
      key(),
    );
    await expectCode(
      createClient(Spaces, json(b)).joinRoom({ spaceId, roomId }, asUser),
      Code.PermissionDenied,
      /blocked/,
    );

    await createClient(ModerationPrivate, json(b)).act(
      { action: Action.ROOM_UNBLOCK, roomId, targetUserId: userId },
      key(),
    );
    await createClient(Spaces, json(a)).joinRoom({ spaceId, roomId }, asUser);
  });
});
