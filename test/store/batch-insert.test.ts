import { describe, expect, it } from "vitest";
import { insertChunks, MAX_PARAMS_PER_STATEMENT } from "../../src/store/batch-insert.js";

describe("insertChunks", () => {
  it("keeps every row once, in order, each chunk a power of two under the parameter limit", () => {
    for (const columns of [1, 3, 9, 40, 100]) {
      const sizes = new Set<number>();
      for (let n = 0; n <= 1_100; n++) {
        const rows = Array.from({ length: n }, (_, i) => i);
        const chunks = insertChunks(rows, columns);
        expect(chunks.flat()).toEqual(rows);
        for (const c of chunks) {
          expect(c.length & (c.length - 1)).toBe(0);
          expect(c.length * columns).toBeLessThanOrEqual(MAX_PARAMS_PER_STATEMENT);
          expect(c.length).toBeLessThanOrEqual(512);
          sizes.add(c.length);
        }
        // Falling sizes: at most one chunk of each size below the largest.
        expect(chunks.length).toBeLessThanOrEqual(Math.ceil(n / 512) + 10);
      }
      // Any batch size uses one of a handful of statement texts.
      expect(sizes.size).toBeLessThanOrEqual(10);
    }
  });

  it("a 1,000-row batch of 9 columns takes six statements", () => {
    expect(insertChunks(Array.from({ length: 1_000 }), 9).map((c) => c.length)).toEqual([512, 256, 128, 64, 32, 8]);
    expect(() => insertChunks([1], 0)).toThrow(RangeError);
  });
});
