import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as UsersPrivate } from "../../gen/room/users/private/v1/service_pb.js";
import { Service as Users } from "../../gen/room/users/v1/service_pb.js";
import { bearer, connectTransport, expectCode, grpcTransport } from "../support/clients.js";
import { startReplicas, type Replica, type ReplicaSet } from "../support/replicas.js";
import { as } from "../support/spaces-clients.js";

// Issue 19: ending a session is a removing write — once it returns, every
// replica refuses the session's tokens, without a consistency token.

let set: ReplicaSet;
let a: Replica;
let b: Replica;
let tenantId: string;
beforeAll(async () => {
  set = await startReplicas(2);
  [a, b] = set.replicas as [Replica, Replica];
  tenantId = /"tenantId":"([^"]+)"[^\n]*bootstrap tenant/.exec(a.output())![1]!;
}, 120_000);
afterAll(async () => {
  await set?.close();
});

const key = () => bearer(set.apiKey);
const admin = (r: Replica) => createClient(UsersPrivate, grpcTransport(r.baseUrl));
const account = (r: Replica) => createClient(Users, connectTransport(r.baseUrl));

let n = 0;
async function loggedIn(on: Replica) {
  const username = `rep-${process.pid}-${++n}-${Date.now()}`;
  await admin(on).createUser({ email: `${username}@example.test`, username, password: "correct-horse" }, key());
  return await account(on).login({ tenantId, username, password: "correct-horse" });
}
const refusedOn = (r: Replica, token: string) =>
  expectCode(admin(r).verifyAccessToken({ token }, key()), Code.Unauthenticated, "token revoked");

describe("sessions end on every replica at acknowledgement", () => {
  it("Logout on A: B refuses the access token and the refresh token at once", async () => {
    const s = await loggedIn(a);
    expect((await admin(b).verifyAccessToken({ token: s.accessToken }, key())).tokenId).toBe(s.sessionId);
    await account(a).logout({}, as(s.accessToken));
    await refusedOn(b, s.accessToken);
    await expectCode(account(b).refresh({ refreshToken: s.refreshToken }), Code.Unauthenticated);
  });

  it("RevokeSession on B (API key and the user's own): A refuses at once", async () => {
    const s = await loggedIn(a);
    await admin(b).revokeSession({ sessionId: s.sessionId }, key());
    await refusedOn(a, s.accessToken);
    const t = await loggedIn(a);
    await account(b).revokeSession({ sessionId: t.sessionId }, as(t.accessToken));
    await refusedOn(a, t.accessToken);
  });

  it("ChangePassword on A ends the other session on B at once; RevokeUser on A: B refuses the refresh", async () => {
    const s = await loggedIn(a);
    const username = (await admin(a).getUser({ userId: s.userId }, key())).user!.username;
    const other = await account(b).login({ tenantId, username, password: "correct-horse" });
    await account(a).changePassword({ oldPassword: "correct-horse", newPassword: "battery-staple" }, as(s.accessToken));
    await refusedOn(b, other.accessToken);
    await createClient(TokensPrivate, grpcTransport(a.baseUrl)).revokeUser({ userId: s.userId }, key());
    await expectCode(account(b).refresh({ refreshToken: s.refreshToken }), Code.Unauthenticated);
    await refusedOn(b, s.accessToken);
  });

  it("reuse detected on B ends the family on A at once", async () => {
    const s = await loggedIn(a);
    const next = await account(a).refresh({ refreshToken: s.refreshToken });
    await expectCode(account(b).refresh({ refreshToken: s.refreshToken }), Code.Unauthenticated);
    await refusedOn(a, next.accessToken);
  });

  it("two refreshes of one token at once on two replicas: exactly one wins and the family ends", async () => {
    const s = await loggedIn(a);
    const results = await Promise.allSettled([
      account(a).refresh({ refreshToken: s.refreshToken }),
      account(b).refresh({ refreshToken: s.refreshToken }),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    const winner = (won[0] as PromiseFulfilledResult<{ accessToken: string }>).value;
    await refusedOn(a, winner.accessToken);
    await refusedOn(b, winner.accessToken);
  });
});
