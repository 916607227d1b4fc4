import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderRoomId, ROOM_PERMISSIONS_PATH } from "../../src/server/compat/room-permissions-route.js";

const PREFIX = "/api/v1/room-permissions/";

function decodes(s: string): boolean {
  try {
    decodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}

/** A percent-encoded byte, either case. */
const pctByte = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([b, lower]) => {
  const hex = `%${b.toString(16).padStart(2, "0")}`;
  return lower ? hex : hex.toUpperCase();
});
const hex = (b: number) => `%${b.toString(16).padStart(2, "0").toUpperCase()}`;
/** A lead byte with 0–3 continuation bytes: near-UTF-8, so the edge cases (overlongs, surrogates, > U+10FFFF) come up often. */
const nearUtf8 = fc
  .tuple(fc.integer({ min: 0xc0, max: 0xf7 }), fc.array(fc.integer({ min: 0x80, max: 0xbf }), { maxLength: 3 }))
  .map(([lead, rest]) => [lead, ...rest].map(hex).join(""));
const segmentPiece = fc.oneof(pctByte, nearUtf8, nearUtf8, fc.constantFrom("%", "%4", "/", "a", "é", "3", "-"));

describe("seed 002 route path", () => {
  it("matches exactly the segments the dispatcher can decode (no '/', well-formed percent-encoding)", () => {
    fc.assert(
      fc.property(fc.array(segmentPiece, { maxLength: 12 }), (pieces) => {
        const seg = pieces.join("");
        const m = ROOM_PERMISSIONS_PATH.exec(PREFIX + seg);
        expect(m !== null, seg).toBe(!seg.includes("/") && decodes(seg));
        if (m) expect(m[1]).toBe(seg);
      }),
      { numRuns: 5000 },
    );
  });

  it("every id a client encodes with encodeURIComponent matches and decodes back", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 20 }), (id) => {
        const m = ROOM_PERMISSIONS_PATH.exec(PREFIX + encodeURIComponent(id));
        expect(m).not.toBeNull();
        expect(decodeURIComponent(m![1]!)).toBe(id);
      }),
    );
  });

  it("refuses the classic malformed encodings and other paths", () => {
    for (const bad of ["%E0%A4%A", "%", "%C0%80", "%ED%A0%80", "%F4%90%80%80", "%FF", "a/b"]) {
      expect(ROOM_PERMISSIONS_PATH.test(PREFIX + bad), bad).toBe(false);
    }
    expect(ROOM_PERMISSIONS_PATH.test("/api/v1/room-permissions")).toBe(false);
    expect(ROOM_PERMISSIONS_PATH.test(PREFIX)).toBe(true);
  });
});

describe("renderRoomId", () => {
  it("writes canonical safe integers as numbers and everything else as the string", () => {
    expect(renderRoomId("3")).toBe(3);
    expect(renderRoomId("0")).toBe(0);
    expect(renderRoomId(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    for (const s of ["007", "-3", "3.0", "1e3", " 3", "9007199254740993", "c2ed3890-716d-4380-a597-d860ecacada0", ""]) {
      expect(renderRoomId(s), s).toBe(s);
    }
  });

  it("property: the rendered id always round-trips to the same string", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.nat().map(String), fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String)),
        (s) => {
          expect(String(renderRoomId(s))).toBe(s);
        },
      ),
    );
  });
});
