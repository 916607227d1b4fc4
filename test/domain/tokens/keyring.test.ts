import { describe, expect, it } from "vitest";
import {
  Keyring,
  KeyringError,
  activateKey,
  addKey,
  generateTokenKey,
  retireKey,
} from "../../../src/domain/tokens/keyring.js";
import type { TokenKey } from "../../../src/domain/tokens/keyring.js";

const key = (id: number, state: TokenKey["state"], fill = id & 0xff): TokenKey => ({
  id,
  secret: new Uint8Array(32).fill(fill),
  state,
  createdAt: 1_700_000_000_000 + id,
});
const states = (keys: readonly TokenKey[]) => keys.map((k) => `${k.id}:${k.state}`);

describe("Keyring", () => {
  it("accepts one active key plus decrypt-only keys", () => {
    const ring = new Keyring([key(1, "decrypt"), key(2, "active"), key(3, "decrypt")]);
    expect(ring.active.id).toBe(2);
    expect(ring.list().map((k) => k.id)).toEqual([1, 2, 3]);
  });

  it.each([
    ["no keys", [], /no active/],
    ["no active key", [key(1, "decrypt")], /no active/],
    ["two active keys", [key(1, "active"), key(2, "active")], /more than one active.*\(1, 2\)/],
    ["duplicate ids", [key(1, "active"), key(1, "decrypt", 9)], /duplicate token key id 1/],
    ["a 31-byte secret", [{ ...key(1, "active"), secret: new Uint8Array(31) }], /secret must be 32 bytes/],
    ["id 0", [key(0, "active")], /id must be an integer/],
    ["id 2^32", [key(2 ** 32, "active")], /id must be an integer/],
    ["a fractional id", [key(1.5, "active")], /id must be an integer/],
    ["an unknown state", [{ ...key(1, "active"), state: "retired" as "active" }], /state must be/],
  ])("refuses %s", (_name, keys, message) => {
    expect(() => new Keyring(keys)).toThrow(KeyringError);
    expect(() => new Keyring(keys)).toThrow(message);
  });

  it("builds each cipher once and finds it by id", () => {
    const ring = new Keyring([key(7, "active"), key(8, "decrypt")]);
    expect(ring.get(7)).toBe(ring.get(7));
    expect(ring.activeCipher()).toBe(ring.get(7));
    expect(ring.get(8)).not.toBe(ring.get(7));
    expect(ring.get(9)).toBeUndefined();
  });

  it("is not affected by later changes to the keys it was given", () => {
    const input = [key(1, "active")];
    const ring = new Keyring(input);
    input[0].secret.fill(0xaa);
    input[0].state = "decrypt";
    expect(ring.active.secret[0]).toBe(1);
    expect(ring.list()[0].state).toBe("active");
    expect(Object.isFrozen(ring.list()[0])).toBe(true);
  });
});

describe("rotation helpers", () => {
  const base = [key(1, "active"), key(2, "decrypt")];

  it("generates random, distinct, decrypt-only keys", () => {
    const a = generateTokenKey(1234);
    const b = generateTokenKey(1234);
    expect(a.secret.length).toBe(32);
    expect(Number.isInteger(a.id) && a.id >= 1 && a.id <= 0xffffffff).toBe(true);
    expect(a.state).toBe("decrypt");
    expect(a.createdAt).toBe(1234);
    expect(Buffer.from(a.secret).equals(b.secret)).toBe(false);
  });

  it("adds a decrypt-only key, whatever state the key says", () => {
    expect(states(addKey(base, key(3, "active"), false))).toEqual(["1:active", "2:decrypt", "3:decrypt"]);
  });

  it("adds and activates a key, demoting the previous active key", () => {
    const next = addKey(base, key(3, "decrypt"), true);
    expect(states(next)).toEqual(["1:decrypt", "2:decrypt", "3:active"]);
    expect(new Keyring(next).active.id).toBe(3);
    expect(states(base)).toEqual(["1:active", "2:decrypt"]); // input untouched
  });

  it("bootstraps an empty list", () => {
    expect(states(addKey([], key(5, "decrypt"), true))).toEqual(["5:active"]);
  });

  it("refuses to add a duplicate id or a malformed key", () => {
    expect(() => addKey(base, key(2, "decrypt", 9), false)).toThrow(/duplicate token key id 2/);
    expect(() => addKey(base, { ...key(3, "decrypt"), secret: new Uint8Array(16) }, false)).toThrow(KeyringError);
  });

  it("activates a known key and demotes the rest", () => {
    expect(states(activateKey(base, 2))).toEqual(["1:decrypt", "2:active"]);
    expect(states(activateKey(base, 1))).toEqual(["1:active", "2:decrypt"]);
    expect(() => activateKey(base, 3)).toThrow(new KeyringError("unknown token key id 3"));
  });

  it("retires a decrypt-only key but never the active key", () => {
    expect(states(retireKey(base, 2))).toEqual(["1:active"]);
    expect(() => retireKey(base, 1)).toThrow(KeyringError);
    expect(() => retireKey(base, 1)).toThrow(/token key 1 is active/);
    expect(() => retireKey(base, 3)).toThrow(/unknown token key id 3/);
    expect(states(base)).toEqual(["1:active", "2:decrypt"]);
  });
});
