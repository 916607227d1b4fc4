import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeBase64Url } from "../../src/domain/tokens/base64url.js";
import type { TokenKey } from "../../src/domain/tokens/keyring.js";
import { loadOrCreateKeys, parseKeysConfig, readKeyFile, writeKeyFile } from "../../src/store/key-file.js";

const mode = (p: string) => fs.statSync(p).mode & 0o777;
const key = (id: number, state: TokenKey["state"], fill: number): TokenKey => ({
  id,
  secret: new Uint8Array(32).fill(fill),
  state,
  createdAt: 1_700_000_000_000,
});
const KEYS = [key(1, "decrypt", 0x11), key(4_000_000_000, "active", 0x22)];
const SECRET_1 = encodeBase64Url(new Uint8Array(32).fill(0x11)); // "ERER..."
const SECRET_2 = encodeBase64Url(new Uint8Array(32).fill(0x22));

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "roomgate-keys-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes a key file by hand, with the given content and mode. */
function plant(content: unknown, fileMode = 0o600): string {
  const p = path.join(dir, "keys.json");
  fs.writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content), { mode: fileMode });
  fs.chmodSync(p, fileMode);
  return p;
}

describe("key file", () => {
  it("writes mode 0600 into a new 0700 directory, and reads back the same keys", () => {
    const p = path.join(dir, "data", "nested", "token-keys.json");
    writeKeyFile(p, KEYS);
    expect(mode(p)).toBe(0o600);
    expect(mode(path.dirname(p))).toBe(0o700);
    expect(readKeyFile(p)).toEqual(KEYS);
    expect(fs.readdirSync(path.dirname(p))).toEqual(["token-keys.json"]); // no temp files left
  });

  it("uses the documented JSON format", () => {
    const p = path.join(dir, "keys.json");
    writeKeyFile(p, KEYS);
    expect(JSON.parse(fs.readFileSync(p, "utf8"))).toEqual({
      version: 1,
      keys: [
        { id: 1, secret: SECRET_1, state: "decrypt", createdAt: 1_700_000_000_000 },
        { id: 4_000_000_000, secret: SECRET_2, state: "active", createdAt: 1_700_000_000_000 },
      ],
    });
  });

  it("replaces an existing file atomically and keeps it 0600", () => {
    const p = path.join(dir, "keys.json");
    writeKeyFile(p, KEYS);
    const rotated = [key(1, "active", 0x11)];
    writeKeyFile(p, rotated);
    expect(mode(p)).toBe(0o600);
    expect(readKeyFile(p)).toEqual(rotated);
    expect(fs.readdirSync(dir)).toEqual(["keys.json"]);
  });

  it("refuses to write an invalid keyring", () => {
    const p = path.join(dir, "keys.json");
    expect(() => writeKeyFile(p, [key(1, "decrypt", 1)])).toThrow(/refusing to write.*no active/);
    expect(fs.existsSync(p)).toBe(false);
  });

  it("reads a missing file as undefined", () => {
    expect(readKeyFile(path.join(dir, "absent.json"))).toBeUndefined();
  });

  it.each(["0640", "0604", "0660", "0620"])("refuses a file with mode %s", (modeText) => {
    const fileMode = parseInt(modeText, 8);
    const p = path.join(dir, "keys.json");
    writeKeyFile(p, KEYS);
    fs.chmodSync(p, fileMode);
    expect(() => readKeyFile(p)).toThrow(`has mode ${modeText}; it must not be accessible by group or others`);
  });

  it.each([
    ["invalid JSON", `{"version":1,"keys":[{"id":1,"secret":"${SECRET_1}"`, /is not valid JSON/],
    ["a wrong version", { version: 2, keys: [] }, /must be \{"version": 1/],
    ["no keys array", { version: 1 }, /must be \{"version": 1/],
    ["no active key", { version: 1, keys: [{ id: 1, secret: SECRET_1, state: "decrypt", createdAt: 0 }] }, /no active/],
    [
      "a short secret",
      { version: 1, keys: [{ id: 1, secret: "AAAA", state: "active", createdAt: 0 }] },
      /keys\[0\] \(key 1\): secret must be 32 bytes/,
    ],
    [
      "a padded secret",
      { version: 1, keys: [{ id: 1, secret: `${SECRET_1}=`, state: "active", createdAt: 0 }] },
      /secret must be 32 bytes/,
    ],
    [
      "a string id",
      { version: 1, keys: [{ id: "1", secret: SECRET_1, state: "active", createdAt: 0 }] },
      /id must be an integer/,
    ],
    ["a bad state", { version: 1, keys: [{ id: 1, secret: SECRET_1, state: "on", createdAt: 0 }] }, /state must be/],
    ["a missing field", { version: 1, keys: [{ id: 1, secret: SECRET_1, state: "active" }] }, /exactly the fields/],
    [
      "an extra field",
      { version: 1, keys: [{ id: 1, secret: SECRET_1, state: "active", createdAt: 0, x: 1 }] },
      /exactly the fields/,
    ],
    [
      "duplicate ids",
      {
        version: 1,
        keys: [
          { id: 1, secret: SECRET_1, state: "active", createdAt: 0 },
          { id: 1, secret: SECRET_2, state: "decrypt", createdAt: 0 },
        ],
      },
      /duplicate token key id 1/,
    ],
  ])("refuses %s, without echoing secrets", (_name, content, message) => {
    const p = plant(content);
    let err: unknown;
    try {
      readKeyFile(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain(SECRET_1.slice(0, 8));
    expect((err as Error).message).not.toContain(SECRET_2.slice(0, 8));
  });

  it("creates one active key on first load, then loads the same keys", () => {
    const p = path.join(dir, "data", "keys.json");
    const first = loadOrCreateKeys(p, 1_234);
    expect(first.created).toBe(true);
    expect(first.keys).toHaveLength(1);
    expect(first.keys[0].state).toBe("active");
    expect(first.keys[0].createdAt).toBe(1_234);
    expect(first.keys[0].secret).toHaveLength(32);
    expect(mode(p)).toBe(0o600);
    expect(fs.readdirSync(path.dirname(p))).toEqual(["keys.json"]);

    const second = loadOrCreateKeys(p, 9_999);
    expect(second.created).toBe(false);
    expect(second.keys).toEqual(first.keys);
  });

  it("does not overwrite a key file that is unreadable for safety reasons", () => {
    const p = plant({ version: 1, keys: [{ id: 1, secret: SECRET_1, state: "active", createdAt: 0 }] }, 0o644);
    expect(() => loadOrCreateKeys(p, 0)).toThrow(/has mode 0644/);
    expect(JSON.parse(fs.readFileSync(p, "utf8")).keys[0].secret).toBe(SECRET_1);
  });
});

describe("parseKeysConfig", () => {
  it("parses entries, first active, the rest decrypt-only", () => {
    const keys = parseKeysConfig(`7:${SECRET_1}, 4294967295:${SECRET_2}`);
    expect(keys).toEqual([
      { id: 7, secret: new Uint8Array(32).fill(0x11), state: "active", createdAt: 0 },
      { id: 4294967295, secret: new Uint8Array(32).fill(0x22), state: "decrypt", createdAt: 0 },
    ]);
  });

  it("parses a single entry", () => {
    expect(parseKeysConfig(`1:${SECRET_2}`).map((k) => [k.id, k.state])).toEqual([[1, "active"]]);
  });

  it.each([
    ["an empty value", "", /entry 1 is empty/],
    ["a trailing comma", `1:${SECRET_1},`, /entry 2 is empty/],
    ["no colon", SECRET_1, /entry 1 must be "id:secret"/],
    ["swapped id and secret", `${SECRET_1}:1`, /entry 1: id must be a decimal integer/],
    ["id 0", `0:${SECRET_1}`, /id must be a decimal integer/],
    ["id 2^32", `4294967296:${SECRET_1}`, /id must be a decimal integer/],
    ["a hex id", `0x10:${SECRET_1}`, /id must be a decimal integer/],
    ["a negative id", `-1:${SECRET_1}`, /id must be a decimal integer/],
    ["a short secret", `1:${SECRET_1.slice(0, 40)}`, /entry 1 \(key 1\): secret must be 32 bytes/],
    ["a padded secret", `1:${SECRET_1}=`, /secret must be 32 bytes/],
    ["a standard-base64 secret", `1:${Buffer.alloc(32, 0xfb).toString("base64")}`, /secret must be 32 bytes/],
    ["duplicate ids", `1:${SECRET_1},1:${SECRET_2}`, /duplicate token key id 1/],
  ])("refuses %s, without echoing the secret", (_name, value, message) => {
    let err: unknown;
    try {
      parseKeysConfig(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain(SECRET_1.slice(0, 8));
    expect((err as Error).message).not.toContain(SECRET_2.slice(0, 8));
  });
});
