import { describe, expect, it } from "vitest";
import { createRoomgateClient } from "../../packages/client/src/index.js";

// @roomgate/client refuses bad options before any call, and never lets the API
// key into an error message or onto the objects it returns. (The package as
// installed from its tarball: test/e2e/client-package.test.ts.)

describe("createRoomgateClient options", () => {
  const secret = "rgk_pub_SECRET0123456789";
  const cases: Array<[string, () => unknown, RegExp]> = [
    ["no key", () => createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: "" }), /apiKey is required/],
    [
      "a key with a trailing newline",
      () => createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: `${secret}\n` }),
      /whitespace/,
    ],
    ["a bare host", () => createRoomgateClient({ baseUrl: "127.0.0.1:8080", apiKey: secret }), /baseUrl must/],
    ["another scheme", () => createRoomgateClient({ baseUrl: "ftp://127.0.0.1", apiKey: secret }), /http or https/],
    [
      "credentials in the URL",
      () => createRoomgateClient({ baseUrl: `http://u:${secret}@127.0.0.1`, apiKey: secret }),
      /credentials/,
    ],
    [
      "gRPC over HTTP/1.1",
      () =>
        createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: secret, protocol: "grpc", httpVersion: "1.1" }),
      /HTTP\/2 only/,
    ],
  ];
  for (const [name, make, message] of cases) {
    it(`refuses ${name} with a TypeError that never quotes the key`, () => {
      let caught: unknown;
      try {
        make();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TypeError);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).not.toContain("SECRET");
    });
  }

  it("keeps the key off the returned clients and transport", () => {
    const rg = createRoomgateClient({ baseUrl: "http://127.0.0.1:1", apiKey: secret, protocol: "grpc" });
    const seen = new WeakSet<object>();
    const dump = JSON.stringify(rg, (_k, v: unknown) => {
      if (typeof v === "object" && v !== null) {
        if (seen.has(v)) return undefined;
        seen.add(v);
      }
      return typeof v === "function" ? String(v) : v;
    });
    expect(dump).not.toContain("SECRET");
  });
});
