import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RoomgateError } from "../../src/domain/errors.js";
import { checkId, checkOptionalId, MAX_ID_BYTES } from "../../src/domain/ids.js";
import { checkId as spacesCheckId } from "../../src/domain/spaces/rules.js";
import { validateOptionalId } from "../../src/domain/users/validation.js";

/**
 * The rule written out code point by code point, independently of the
 * regex: what checkId must agree with.
 */
function referenceAccepts(id: string): boolean {
  if (id.length === 0) return false;
  let bytes = 0;
  for (let i = 0; i < id.length; i++) {
    const u = id.charCodeAt(i);
    if (u >= 0xd800 && u <= 0xdbff) {
      const next = id.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false; // lone high surrogate
      bytes += 4;
      i++;
      continue;
    }
    if (u >= 0xdc00 && u <= 0xdfff) return false; // lone low surrogate
    const forbidden =
      u <= 0x1f ||
      (u >= 0x7f && u <= 0x9f) ||
      u === 0x061c ||
      u === 0x200e ||
      u === 0x200f ||
      (u >= 0x202a && u <= 0x202e) ||
      (u >= 0x2066 && u <= 0x2069) ||
      u === 0x2028 ||
      u === 0x2029 ||
      u === 0xfeff;
    if (forbidden) return false;
    bytes += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
  }
  return bytes <= MAX_ID_BYTES;
}

function accepts(id: string): boolean {
  try {
    checkId("id", id);
    return true;
  } catch (e) {
    expect(e).toBeInstanceOf(RoomgateError);
    expect((e as RoomgateError).kind).toBe("invalid_argument");
    return false;
  }
}

/** Code units that sit on the rule's edges, mixed into random strings. */
const EDGES = [
  0x0, 0x1f, 0x20, 0x7e, 0x7f, 0x85, 0x9f, 0xa0, 0x61c, 0x7ff, 0x800, 0x200d, 0x200e, 0x200f, 0x2027, 0x2028, 0x2029,
  0x202a, 0x202e, 0x202f, 0x2065, 0x2066, 0x2069, 0x206a, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfefe,
  0xfeff, 0xffff,
];
const unit = fc.oneof(
  fc.constantFrom(...EDGES).map((u) => String.fromCharCode(u)),
  fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  fc.constantFrom("é", "€", "😀", "a"),
);
const ids = fc.oneof(
  fc.array(unit, { maxLength: 40 }).map((xs) => xs.join("")),
  // Around the byte limit: 1-, 2-, 3- and 4-byte characters.
  fc
    .tuple(fc.constantFrom("a", "é", "€", "😀"), fc.integer({ min: 60, max: 260 }), fc.array(unit, { maxLength: 3 }))
    .map(([c, n, tail]) => c.repeat(n) + tail.join("")),
);

describe("the one id rule (src/domain/ids.ts)", () => {
  it("agrees with the reference definition (property)", () => {
    fc.assert(
      fc.property(ids, (id) => {
        expect(accepts(id), JSON.stringify(id)).toBe(referenceAccepts(id));
      }),
      { numRuns: 3000 },
    );
  });

  it("the issue's reproductions are refused, and nearby ids accepted", () => {
    expect(accepts("abc\u202Edef")).toBe(false);
    expect(accepts("abc\u0085def")).toBe(false);
    expect(accepts("é".repeat(200))).toBe(false); // 400 bytes, 200 characters
    expect(accepts("é".repeat(128))).toBe(true); // 256 bytes
    expect(accepts("😀".repeat(64))).toBe(true); // 256 bytes, 128 UTF-16 units
    expect(accepts(`${"😀".repeat(64)}a`)).toBe(false);
    expect(accepts("8ae5a0b9-9206-44ca-950b-5a0b51f82d4e")).toBe(true);
    expect(accepts("Zoë room Ω")).toBe(true);
  });

  it("names the field and says what is wrong", () => {
    expect(() => checkId("room_id", "")).toThrow("room_id: must not be empty");
    expect(() => checkId("room_id", "r".repeat(257))).toThrow("room_id: longer than 256 bytes");
    expect(() => checkId("room_id", "a\u2066b")).toThrow("room_id: must not contain control characters");
    expect(() => checkId("room_id", "a\ud800b")).toThrow("room_id: must be valid Unicode (no lone surrogates)");
  });

  it("every validator that checks ids is this one", () => {
    const samples = [
      "",
      "ok",
      "a\u202Eb",
      "a\u0085b",
      "é".repeat(200),
      "a\udc00",
      "x".repeat(256),
      "x\u2028y",
      "\ufeffx",
    ];
    for (const id of samples) {
      const expected = accepts(id);
      const spaces = (() => {
        try {
          spacesCheckId("space_id", id);
          return true;
        } catch {
          return false;
        }
      })();
      expect(spaces, JSON.stringify(id)).toBe(expected);
      if (id !== "") {
        const consumer = (() => {
          try {
            return validateOptionalId(id, "chat_room") === id;
          } catch {
            return false;
          }
        })();
        expect(consumer, JSON.stringify(id)).toBe(expected);
      }
    }
    expect(checkOptionalId("chat_room", "")).toBeUndefined();
    expect(validateOptionalId("", "chat_room")).toBeUndefined();
  });
});
