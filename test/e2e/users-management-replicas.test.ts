import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Permission as P } from "../../gen/room/permissions/v1/permission_pb.js";
import { Service as Permissions } from "../../gen/room/permissions/v1/service_pb.js";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { startReplicas, type Replica, type ReplicaSet } from "../support/replicas.js";

// Issue 9: a user deleted on one replica loses access on every other one —
// at once for reads that carry DeleteUser's event id, and within the
// feed's delay for reads that do not.

let set: ReplicaSet;
beforeAll(async () => {
  set = await startReplicas(2);
}, 120_000);
afterAll(async () => {
  await set?.close();
});

const key = () => bearer(set.apiKey);
const json = (r: Replica) => connectTransport(r.baseUrl);
const grpc = (r: Replica) => grpcTransport(r.baseUrl);

/** Retries `probe` until it holds; the feed's polling delay bounds it (generously here). */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  await vi.waitFor(async () => expect(await probe(), `until ${what}`).toBe(true), { timeout: 20_000, interval: 25 });
}

describe("DeleteUser across replicas", () => {
  it("deleted on B: A refuses its user access token and room member token with the event id, and soon without", async () => {
    const [a, b] = set.replicas as [Replica, Replica];
    const m = /"tenantId":"([^"]+)"[^\n]*bootstrap tenant/.exec(a.output());
    const tenantId = m![1]!;
    const usersA = createClient(UsersPrivate, grpc(a));
    await usersA.createUser({ email: "gone@example.com", username: "gone", password: "correct-horse" }, key());
    const login = await createClient(Users, json(a)).login({ tenantId, username: "gone", password: "correct-horse" });
    const second = await createClient(Users, json(a)).login({ tenantId, username: "gone", password: "correct-horse" });
    const tokensA = createClient(TokensPrivate, grpc(a));
    const {
      tokens: [member],
    } = await tokensA.create(
      { arguments: [{ userId: login.userId, roomId: "replica-room", permissions: [P.PermissionMessaging] }] },
      key(),
    );
    await usersA.verifyAccessToken({ token: login.accessToken }, key());
    await tokensA.verify({ token: member! }, key());

    const { eventId } = await createClient(UsersPrivate, json(b)).deleteUser({ userId: login.userId }, key());

    // With the consistency token: refused on A on the first call.
    await expectCode(
      usersA.verifyAccessToken({ token: login.accessToken, minEventId: eventId }, key()),
      Code.Unauthenticated,
      "token revoked",
    );
    await expectCode(
      tokensA.verify({ token: member!, minEventId: eventId }, key()),
      Code.Unauthenticated,
      "token revoked",
    );
    await expectCode(
      createClient(Permissions, json(a)).getRoomPermissions(
        { roomId: "replica-room", minEventId: eventId },
        bearer(member!),
      ),
      Code.Unauthenticated,
    );
    // Without it: within the feed's delay.
    await eventually("A refuses the other session", async () => {
      try {
        await usersA.verifyAccessToken({ token: second.accessToken }, key());
        return false;
      } catch {
        return true;
      }
    });
    await expectCode(
      createClient(Users, json(a)).login({ tenantId, username: "gone", password: "correct-horse" }),
      Code.Unauthenticated,
    );
    await expectCode(usersA.getUser({ userId: login.userId }, key()), Code.NotFound);
    expect((await usersA.listUsers({}, key())).users.map((u) => u.id)).not.toContain(login.userId);
  });
});
