import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RoomgateError } from "../../src/domain/errors.js";
import { RateLimiter } from "../../src/domain/rate-limit.js";
import { addressLimitKey, LoginGuard, type LoginLimits } from "../../src/domain/users/login-guard.js";

const LIMITS: LoginLimits = {
  failuresPerMinute: 3,
  accountFailuresPerMinute: 6,
  attemptsPerMinutePerAddress: 1000,
  attemptsPerSecondPerTenant: 1000,
  knownAddressDays: 30,
};

/** "ok" when admitted, else the refusal's message up to ";". */
async function tryAdmit(g: LoginGuard, address: string, account = "t\u0000ann", tenant = "t"): Promise<string> {
  try {
    await g.admit({ tenant, account, address });
    return "ok";
  } catch (e) {
    expect((e as RoomgateError).kind).toBe("resource_exhausted");
    return (e as RoomgateError).message.split(";")[0]!;
  }
}

describe("RateLimiter.refund", () => {
  it("gives a token back, never above the burst", () => {
    const rl = new RateLimiter(1, 2, () => 0);
    expect([rl.take("k"), rl.take("k"), rl.take("k")]).toEqual([0, 0, 1000]);
    rl.refund("k");
    expect(rl.take("k")).toBe(0);
    rl.refund("k");
    rl.refund("k");
    rl.refund("k");
    expect([rl.take("k"), rl.take("k"), rl.take("k")]).toEqual([0, 0, 1000]);
  });
});

describe("LoginGuard", () => {
  it("reserves a failure slot per attempt, refunds it on success", async () => {
    const g = new LoginGuard(LIMITS, () => 0);
    const tickets = await Promise.all(
      [0, 1, 2].map(() => g.admit({ tenant: "t", account: "t\u0000ann", address: "a" })),
    );
    expect(await tryAdmit(g, "a")).toBe("too many failed logins");
    await tickets[0]!.succeeded();
    expect(await tryAdmit(g, "a")).toBe("ok");
  });

  it("a refusal by the account-wide cap gives the address's own slot back", async () => {
    const g = new LoginGuard({ ...LIMITS, failuresPerMinute: 3, accountFailuresPerMinute: 4 }, () => 0);
    const first = await g.admit({ tenant: "t", account: "t\u0000ann", address: "y" });
    for (const x of ["x0", "x1", "x2"]) expect(await tryAdmit(g, x)).toBe("ok");
    for (let i = 0; i < 5; i++) expect(await tryAdmit(g, "y")).toBe("too many failed logins");
    // The success makes "y" known (it skips the account cap from now on) and
    // refunds its slot: all 3 of its own slots are there again.
    await first.succeeded();
    const after: string[] = [];
    for (let i = 0; i < 4; i++) after.push(await tryAdmit(g, "y"));
    expect(after).toEqual(["ok", "ok", "ok", "too many failed logins"]);
  });

  it("a known address skips the account-wide and tenant-wide caps until it expires", async () => {
    let now = 0;
    const g = new LoginGuard({ ...LIMITS, attemptsPerSecondPerTenant: 1, knownAddressDays: 1 }, () => now);
    await (await g.admit({ tenant: "t", account: "t\u0000ann", address: "home" })).succeeded();
    // Strangers use up the tenant bucket (burst 2; one went to "home").
    expect([await tryAdmit(g, "s1", "t\u0000bob"), await tryAdmit(g, "s2", "t\u0000bob")]).toEqual([
      "ok",
      "too many login attempts for this tenant",
    ]);
    expect(await tryAdmit(g, "home")).toBe("ok");
    // A day later the pair is forgotten: once strangers drain the (refilled)
    // tenant bucket again, "home" waits like anyone else.
    now += 86_400_001;
    expect([
      await tryAdmit(g, "s3", "t\u0000bob"),
      await tryAdmit(g, "s4", "t\u0000bob"),
      await tryAdmit(g, "s5", "t\u0000bob"),
    ]).toEqual(["ok", "ok", "too many login attempts for this tenant"]);
    expect(await tryAdmit(g, "home")).toBe("too many login attempts for this tenant");
  });

  it("with knownAddressDays 0 nothing is remembered", async () => {
    const g = new LoginGuard({ ...LIMITS, attemptsPerSecondPerTenant: 1, knownAddressDays: 0 }, () => 0);
    await (await g.admit({ tenant: "t", account: "t\u0000ann", address: "home" })).succeeded();
    await g.admit({ tenant: "t", account: "t\u0000bob", address: "s" });
    expect(await tryAdmit(g, "home")).toBe("too many login attempts for this tenant");
  });

  it("all limits off at rate 0", async () => {
    const g = new LoginGuard(
      {
        failuresPerMinute: 0,
        accountFailuresPerMinute: 0,
        attemptsPerMinutePerAddress: 0,
        attemptsPerSecondPerTenant: 0,
        knownAddressDays: 0,
      },
      () => 0,
    );
    for (let i = 0; i < 100; i++) expect(await tryAdmit(g, "a")).toBe("ok");
  });

  it("never admits more than the per-(account, address) burst without successes (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 60 }), async (addresses) => {
        const g = new LoginGuard({ ...LIMITS, failuresPerMinute: 3, accountFailuresPerMinute: 5 }, () => 0);
        const admitted = new Map<string, number>();
        let total = 0;
        for (const a of addresses) {
          if ((await tryAdmit(g, a)) === "ok") {
            admitted.set(a, (admitted.get(a) ?? 0) + 1);
            total++;
          }
        }
        for (const n of admitted.values()) expect(n).toBeLessThanOrEqual(3);
        expect(total).toBeLessThanOrEqual(5);
      }),
    );
  });
});

describe("addressLimitKey", () => {
  it("keys IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64", () => {
    expect(addressLimitKey(undefined)).toBe("");
    expect(addressLimitKey("")).toBe("");
    expect(addressLimitKey("203.0.113.7")).toBe("203.0.113.7");
    expect(addressLimitKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(addressLimitKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(addressLimitKey("2001:DB8:1:2:bbbb:cccc:dddd:eeee")).toBe("2001:db8:1:2::/64");
    expect(addressLimitKey("2001:0db8:0001:0002::")).toBe("2001:db8:1:2::/64");
    expect(addressLimitKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressLimitKey("::1")).toBe("0:0:0:0::/64");
    expect(addressLimitKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });
});
