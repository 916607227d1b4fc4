import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postWebhook } from "../../src/app/webhook-http.js";
import { addressAllowed, checkUrlForm } from "../../src/domain/webhooks/address-policy.js";
import { afterFailure } from "../../src/domain/webhooks/retry-policy.js";
import { generateWebhookSecret, SecretBox, SecretUnreadableError } from "../../src/domain/webhooks/secret-box.js";
import { Keyring, generateTokenKey } from "../../src/domain/tokens/keyring.js";

const STRICT = { allowPrivateNetworks: false };

describe("webhook address policy", () => {
  it.each([
    "127.0.0.1",
    "10.0.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.251",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:192.168.1.1",
    "2002:7f00:1::1",
    "64:ff9b::a00:1",
    "2001:db8::1",
    "not-an-ip",
  ])("refuses %s", (a) => {
    expect(addressAllowed(a, STRICT)).toBe(false);
    expect(addressAllowed(a, { allowPrivateNetworks: true })).toBe(true);
  });

  it.each(["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])(
    "allows the public address %s",
    (a) => {
      expect(addressAllowed(a, STRICT)).toBe(true);
    },
  );

  it("takes https only unless private networks are allowed", () => {
    expect(() => checkUrlForm("http://example.com/", STRICT)).toThrow("url: must be https");
    expect(checkUrlForm("http://example.com/", { allowPrivateNetworks: true }).href).toBe("http://example.com/");
    expect(() => checkUrlForm("https://example.com/#x", STRICT)).toThrow(/fragment/);
  });
});

describe("webhook retry policy", () => {
  const policy = { baseMs: 1_000, capMs: 60_000, retryMs: 3_600_000 };
  it("waits a uniformly drawn time below base·2^(attempt−1), capped", () => {
    expect(afterFailure(policy, 1, 0, 10, () => 0.999)).toEqual({ giveUp: false, nextAttemptAt: 10 + 999 });
    expect(afterFailure(policy, 3, 0, 10, () => 0.5)).toEqual({ giveUp: false, nextAttemptAt: 10 + 2_000 });
    expect(afterFailure(policy, 30, 0, 10, () => 0.999)).toEqual({ giveUp: false, nextAttemptAt: 10 + 59_940 });
    expect(afterFailure(policy, 2, 0, 10, () => 0)).toEqual({ giveUp: false, nextAttemptAt: 10 });
  });
  it("never waits past the retry period, and gives up at its end", () => {
    expect(afterFailure(policy, 20, 0, 3_599_000, () => 0.999)).toEqual({ giveUp: false, nextAttemptAt: 3_600_000 });
    expect(afterFailure(policy, 21, 0, 3_600_000)).toEqual({ giveUp: true });
  });
});

describe("webhook secret box", () => {
  const a = { ...generateTokenKey(1), id: 1, state: "active" as const };
  const b = { ...generateTokenKey(2), id: 2, state: "active" as const };
  it("seals a fresh whsec_ secret that opens for its endpoint only, under any key still in the keyring", () => {
    let ring = new Keyring([a]);
    const box = new SecretBox(() => ring);
    const secret = generateWebhookSecret();
    expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(32);
    const sealed = box.seal("whe_1", secret);
    expect(sealed).not.toContain(secret.slice(6, 20));
    expect(box.open("whe_1", sealed)).toBe(secret);
    expect(() => box.open("whe_2", sealed)).toThrow(SecretUnreadableError);
    ring = new Keyring([b, { ...a, state: "decrypt" }]);
    expect(box.needsReseal(sealed)).toBe(true);
    expect(box.open("whe_1", sealed)).toBe(secret);
    ring = new Keyring([b]);
    expect(() => box.open("whe_1", sealed)).toThrow(SecretUnreadableError);
    // The second-to-last character, always changed (the last may hold only padding bits).
    const tampered = sealed.slice(0, -2) + (sealed.at(-2) === "A" ? "B" : "A") + sealed.slice(-1);
    expect(tampered).not.toBe(sealed);
    ring = new Keyring([a]);
    expect(() => box.open("whe_1", tampered)).toThrow(SecretUnreadableError);
  });
});

describe("postWebhook", () => {
  let port = 0;
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on("end", () => res.writeHead(200).end("x".repeat(100_000)));
  });
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  const opts = (allowPrivateNetworks: boolean, to: string) => ({
    policy: { allowPrivateNetworks },
    resolve: async () => [{ address: to, family: 4 }],
    timeoutMs: 2_000,
    signal: new AbortController().signal,
  });

  it("connects to the address it checked, keeping the URL's host name", async () => {
    const r = await postWebhook(
      `http://hooks.example.test:${port}/in`,
      { "webhook-id": "msg_1" },
      "{}",
      opts(true, "127.0.0.1"),
    );
    expect(r).toEqual({ ok: true, statusCode: 200, error: "" });
    expect(seen.at(-1)).toMatchObject({
      host: `hooks.example.test:${port}`,
      "webhook-id": "msg_1",
      "content-type": "application/json",
    });
  });

  it("refuses at delivery a host that now resolves to a private address, sending nothing", async () => {
    const before = seen.length;
    const r = await postWebhook(`https://hooks.example.test:${port}/in`, {}, "{}", opts(false, "127.0.0.1"));
    expect(r).toMatchObject({
      ok: false,
      statusCode: 0,
      error: expect.stringMatching(/^refused: host "hooks.example.test" resolves to 127.0.0.1/),
    });
    expect(seen.length).toBe(before);
  });
});
