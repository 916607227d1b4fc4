import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/domain/rate-limit.js";

describe("RateLimiter", () => {
  it("allows a burst, then one per interval, per key", () => {
    let now = 0;
    const rl = new RateLimiter(2, 3, () => now);
    expect([rl.take("a"), rl.take("a"), rl.take("a")]).toEqual([0, 0, 0]);
    expect(rl.take("a")).toBe(500);
    expect(rl.take("b")).toBe(0);
    now = 499;
    expect(rl.take("a")).toBeGreaterThan(0);
    now = 500;
    expect(rl.take("a")).toBe(0);
    expect(rl.take("a")).toBe(500);
  });

  it("never admits more than burst + rate × elapsed (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 200 }), (gaps) => {
        let now = 0;
        const rl = new RateLimiter(5, 4, () => now);
        let admitted = 0;
        for (const g of gaps) {
          now += g;
          if (rl.take("k") === 0) admitted++;
        }
        expect(admitted).toBeLessThanOrEqual(4 + Math.floor((now / 1000) * 5));
      }),
    );
  });

  it("is off at rate 0 and bounds its memory", () => {
    const off = new RateLimiter(0, 0, () => 0);
    for (let i = 0; i < 10; i++) expect(off.take("k")).toBe(0);
    let now = 0;
    const small = new RateLimiter(1, 1, () => now, 3);
    for (const k of ["a", "b", "c", "d", "e"]) small.take(k);
    now = 10_000;
    expect(small.take("a")).toBe(0);
  });
});
