import { equals } from "@bufbuild/protobuf";
import { TimestampSchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { timestampOf } from "../../src/services/wire-values.js";

describe("timestampOf", () => {
  it("is the message timestampFromMs makes, for any millisecond before or after the epoch", () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }), (ms) => {
        const ours = timestampOf(ms);
        const theirs = timestampFromMs(ms);
        expect(equals(TimestampSchema, ours, theirs)).toBe(true);
        expect({ ...ours }).toEqual({ ...theirs });
      }),
      { numRuns: 2000 },
    );
  });
});
