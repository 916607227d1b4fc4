import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Service as TokensPrivate } from "../../gen/room/tokens/private/v1/service_pb.js";
import { Service as Webhooks } from "../../gen/room/webhooks/private/v1/service_pb.js";
import { bearer, connectTransport, grpcTransport } from "../support/clients.js";
import { deliveriesSettled } from "../support/probes.js";
import { startReplicas, type Replica, type ReplicaSet } from "../support/replicas.js";
import { WebhookReceiver } from "../support/webhook-receiver.js";

// Two real `roomgate serve` processes over one store, both running the
// delivery worker: each event goes out once (claimed, not raced), in order;
// a delivery whose replica is killed mid-request is sent again by another
// once its lease expires, with the same webhook-id.

let set: ReplicaSet;
const receivers: WebhookReceiver[] = [];
beforeAll(async () => {
  set = await startReplicas(2, {
    ROOMGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: "true",
    ROOMGATE_WEBHOOK_RETRY_BASE_MS: "50",
    ROOMGATE_WEBHOOK_TIMEOUT_MS: "2000",
  });
}, 120_000);
afterAll(async () => {
  await set?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

const hooks = (r: Replica) => createClient(Webhooks, connectTransport(r.baseUrl));
const tokens = (r: Replica) => createClient(TokensPrivate, grpcTransport(r.baseUrl));

async function receiver(): Promise<WebhookReceiver> {
  const r = await new WebhookReceiver().start();
  receivers.push(r);
  return r;
}

type Body = { data: { id: string; roomId: string } };

describe("webhooks with two replicas", () => {
  it("sends each event once, in event order, whichever replica wrote it", async () => {
    const [a, b] = set.replicas as [Replica, Replica];
    const r = await receiver();
    const made = await hooks(a).createEndpoint(
      { url: r.url, eventTypes: ["EVENT_TYPE_TOKEN_REVOKED"] },
      bearer(set.apiKey),
    );
    r.secret = made.secret;
    // Writes on both replicas at once.
    await Promise.all(
      [a, b].map(async (rep, k) => {
        for (let i = 0; i < 10; i++) await tokens(rep).revokeRoom({ roomId: `rep-${k}-${i}` }, bearer(set.apiKey));
      }),
    );
    await r.until(() => r.acknowledged.length >= 20, 30_000, "20 events");
    // Nothing left to send: a duplicate would need a delivery still pending or claimed.
    await deliveriesSettled(hooks(a), made.endpoint!.id, 20, bearer(set.apiKey));
    expect(r.requests).toHaveLength(20);
    expect(new Set(r.requests.map((q) => q.id)).size).toBe(20);
    expect(r.requests.every((q) => q.verified && q.status === 204)).toBe(true);
    const ids = r.acknowledged.map((x) => Number((x.body as Body).data.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    for (const k of [0, 1]) {
      const rooms = r.acknowledged
        .map((x) => (x.body as Body).data.roomId)
        .filter((room) => room.startsWith(`rep-${k}-`));
      expect(rooms).toEqual(Array.from({ length: 10 }, (_, i) => `rep-${k}-${i}`));
    }
    await hooks(b).deleteEndpoint({ id: made.endpoint!.id }, bearer(set.apiKey));
  });

  it("sends again, with the same webhook-id, a delivery whose replica was killed mid-request", async () => {
    const [a, b] = set.replicas as [Replica, Replica];
    const r = await receiver();
    r.mode = "hang";
    const made = await hooks(a).createEndpoint(
      { url: r.url, eventTypes: ["EVENT_TYPE_TOKEN_REVOKED"], roomId: "killed" },
      bearer(set.apiKey),
    );
    r.secret = made.secret;
    await tokens(b).revokeRoom({ roomId: "killed" }, bearer(set.apiKey));
    await r.until(() => r.requests.length >= 1, 20_000, "the request in flight");
    // Whichever replica holds it dies without a word; so does the other.
    a.proc.kill("SIGKILL");
    b.proc.kill("SIGKILL");
    const hungId = r.requests[0]!.id;
    r.mode = "ok";
    await set.add();
    await r.until(() => r.acknowledged.length === 1, 30_000, "the delivery after the lease expired");
    expect(r.acknowledged[0]!.id).toBe(hungId);
    expect((r.acknowledged[0]!.body as Body).data.roomId).toBe("killed");
    expect(r.requests.every((q) => q.verified)).toBe(true);
  });
});
