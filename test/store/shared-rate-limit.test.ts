import { describe, expect, it } from "vitest";
import { SqlSharedRateLimiter } from "../../src/store/login-bucket-store.js";
import { DATABASES } from "./databases.js";

// Issue 8: failed logins per account must hold across replicas, so that
// bucket lives in the store and is charged in one write transaction.

describe.each(DATABASES)("SqlSharedRateLimiter on %s", (_name, open) => {
  it("20 concurrent takes of a burst of 5: exactly 5 succeed; a refund gives exactly one back", async () => {
    const db = await open();
    const t = 1_000_000;
    const limiter = new SqlSharedRateLimiter(db, "test", 5 / 60, 5, () => t);
    const waits = await Promise.all(Array.from({ length: 20 }, () => limiter.take("acct")));
    expect(waits.filter((w) => w === 0)).toHaveLength(5);
    expect(waits.filter((w) => w > 0).every((w) => w > 0 && w <= 12_000)).toBe(true);
    await limiter.refund("acct");
    expect(await limiter.take("acct")).toBe(0);
    expect(await limiter.take("acct")).toBeGreaterThan(0);
    // Another key has its own bucket; another limiter name too.
    expect(await limiter.take("other")).toBe(0);
    expect(await new SqlSharedRateLimiter(db, "elsewhere", 5 / 60, 5, () => t).take("acct")).toBe(0);
  });

  it("refills with time, never above the burst; rate 0 is off", async () => {
    const db = await open();
    let t = 0;
    const limiter = new SqlSharedRateLimiter(db, "test", 1, 2, () => t);
    expect([await limiter.take("k"), await limiter.take("k")]).toEqual([0, 0]);
    expect(await limiter.take("k")).toBe(1000);
    t += 500;
    expect(await limiter.take("k")).toBe(500);
    t += 10_000;
    expect([await limiter.take("k"), await limiter.take("k"), (await limiter.take("k")) > 0]).toEqual([0, 0, true]);
    const off = new SqlSharedRateLimiter(db, "off", 0, 0, () => t);
    for (let i = 0; i < 10; i++) expect(await off.take("k")).toBe(0);
  });
});
