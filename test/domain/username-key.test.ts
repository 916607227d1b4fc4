import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { usernameKey } from "../../src/domain/users/validation.js";

describe("usernameKey (issue 7 point 16)", () => {
  it("is its own key, and a name's upper- and lower-case forms share it (property)", () => {
    const names = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 12 }),
      fc.string({ unit: "binary", maxLength: 12 }),
    );
    fc.assert(
      fc.property(names, (s) => {
        const k = usernameKey(s);
        expect(usernameKey(k)).toBe(k);
        expect(usernameKey(s.toUpperCase())).toBe(k);
        expect(usernameKey(s.toLowerCase())).toBe(k);
        expect(usernameKey(s.normalize("NFD"))).toBe(k);
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ["Ann", "ann"],
    ["ÄRGER", "ärger"],
    ["A\u0308rger", "ärger"],
    ["STRASSE", "strasse"],
    ["straße", "strasse"],
    ["STRAẞE", "strasse"],
    // Final sigma: lower-casing picks ς at the end of a word, whichever sigma was typed.
    ["ΟΔΟΣ", "οδος"],
    ["οδοσ", "οδος"],
  ])("%s → %s", (name, key) => {
    expect(usernameKey(name)).toBe(key);
  });

  it("does not merge other scripts' look-alikes", () => {
    expect(usernameKey("anna")).not.toBe(usernameKey("\u0430nna"));
  });
});
