import { afterAll, beforeAll, expect, it } from "vitest";
import { EventType } from "../../gen/room/events/private/v1/service_pb.js";
import { addKey, generateTokenKey } from "../../src/domain/tokens/keyring.js";
import { loadOrCreateKeys, writeKeyFile } from "../../src/store/key-file.js";
import { bearer, connectTransport, tokensClient } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

// Issue 8: a keyring change made by `roomgate token-keys` reaches every
// replica through the change feed (a tenant-less event with the
// keyringChanged effect), not only through each machine's file watcher.

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ tokenKeys: "file" });
});
afterAll(async () => {
  await srv?.close();
});

it("a keyringChanged event makes the replica re-read its key file as soon as the feed applies it", async () => {
  const file = srv.app.config.keyFile;
  const { keys } = loadOrCreateKeys(file, Date.now());
  const fresh = { ...generateTokenKey(Date.now()), state: "active" as const };
  writeKeyFile(file, addKey(keys, fresh, true));
  const before = srv.h.codec.generation;
  await srv.h.record({
    audit: [],
    events: [
      {
        tenantId: "",
        type: EventType.UNSPECIFIED,
        actor: "system",
        at: Date.now(),
        effects: { keyringChanged: true },
      },
    ],
  });
  await srv.h.feed.catchUp();
  expect(srv.h.codec.generation).toBeGreaterThan(before);
  // New tokens are sealed with the new active key: its id is in the token header (bytes 1..4).
  const {
    tokens: [t],
  } = await tokensClient(connectTransport(srv.baseUrl)).create(
    { arguments: [{ userId: "u", roomId: "r" }] },
    bearer(srv.apiKey),
  );
  expect(Buffer.from(t!, "base64url").readUInt32BE(1)).toBe(fresh.id);
});
