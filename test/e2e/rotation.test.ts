import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Service } from "../../gen/room/tokens/private/v1/service_pb.js";
import { addKey, generateTokenKey, Keyring, retireKey, type TokenKey } from "../../src/domain/tokens/keyring.js";
import { bearer } from "../support/clients.js";
import { startTestServer, type TestServer } from "../support/server.js";

const first: TokenKey = { ...generateTokenKey(Date.now()), state: "active" };
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ tokenKeys: [first] });
});
afterAll(() => srv.close());

describe("key rotation under load", () => {
  it("not one Verify fails while a new key is added and activated, and old tokens stop only at retirement", async () => {
    const client = createClient(Service, createConnectTransport({ baseUrl: srv.baseUrl, httpVersion: "2" }));
    const auth = bearer(srv.apiKey);
    const issue = async () =>
      (await client.create({ arguments: [{ userId: "u", roomId: "r", permissions: [203] }] }, auth)).tokens[0]!;
    const oldToken = await issue();
    const tokens = [oldToken];
    let failures = 0;
    let verified = 0;
    let stop = false;
    // Eight callers verify every known token in a loop while the keyring changes.
    const callers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        for (const t of [...tokens]) {
          try {
            await client.verify({ token: t }, auth);
            verified++;
          } catch {
            failures++;
          }
        }
      }
    });
    const second: TokenKey = { ...generateTokenKey(Date.now()), state: "decrypt" };
    let keys = addKey([first], second, false);
    srv.h.codec.setKeyring(new Keyring(keys));
    tokens.push(await issue());
    keys = addKey([first], second, true);
    srv.h.codec.setKeyring(new Keyring(keys));
    const newToken = await issue();
    tokens.push(newToken);
    // Every caller goes through the whole list, the new token included, under the new keyring.
    const mark = verified + failures;
    await vi.waitFor(() => expect(verified + failures).toBeGreaterThan(Math.max(50, mark + 8 * tokens.length)), {
      timeout: 20_000,
      interval: 5,
    });
    stop = true;
    await Promise.all(callers);
    expect(failures).toBe(0);
    expect(verified).toBeGreaterThan(50);
    expect(Buffer.from(newToken, "base64url").readUInt32BE(1)).toBe(second.id);

    srv.h.codec.setKeyring(new Keyring(retireKey(keys, first.id)));
    await expect(client.verify({ token: oldToken }, auth)).rejects.toThrow(/invalid token/);
    expect((await client.verify({ token: newToken }, auth)).userId).toBe("u");
  });
});
