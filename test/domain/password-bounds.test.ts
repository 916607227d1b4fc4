import { randomBytes, scrypt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SCRYPT_PARAMS, verifyPassword } from "../../src/domain/users/passwords.js";

/** A stored hash of `password` made with the given parameters, by node:crypto directly. */
function storedHash(password: string, N: number, r: number, p: number): Promise<string> {
  const salt = randomBytes(16);
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, { N, r, p, maxmem: 128 * N * r * p + (1 << 20) }, (err, key) =>
      err ? reject(err) : resolve(`scrypt$${N}$${r}$${p}$${salt.toString("base64url")}$${key.toString("base64url")}`),
    ),
  );
}

// passwords.ts promises: a stored row can make one check cost at most 4× a
// normal login (N·r·p ≤ 4 × 2^14·8·1 = 2^19, hence ≤ 64 MiB). Each case is a
// genuine hash of the right password, so only the bound can make it false.
describe("scrypt parameter bounds on stored hashes (issue 7 point 7)", () => {
  const ours = SCRYPT_PARAMS.N * SCRYPT_PARAMS.r * SCRYPT_PARAMS.p;

  it.each([
    ["ours", 16_384, 8, 1],
    ["4× the work through p", 16_384, 8, 4],
    ["4× the work through N (64 MiB)", 65_536, 8, 1],
    ["a cheap legacy hash with a large r", 1_024, 64, 1],
  ])("accepts %s", async (_name, N, r, p) => {
    expect(N * r * p).toBeLessThanOrEqual(4 * ours);
    expect(await verifyPassword("right password", await storedHash("right password", N, r, p))).toBe(true);
  });

  it.each([
    ["5× the work through p (old bound: p ≤ 16)", 16_384, 8, 5],
    ["8× the work through r (old bound: r ≤ 32)", 16_384, 64, 1],
  ])("refuses %s: not even the right password matches", async (_name, N, r, p) => {
    expect(await verifyPassword("right password", await storedHash("right password", N, r, p))).toBe(false);
  });

  it("refuses parameters that would need gigabytes without trying", async () => {
    // N = 2^20, r = 32, p = 16 passed the old bounds: 4 GiB and 2^13× the work.
    const huge = `scrypt$1048576$32$16$${randomBytes(16).toString("base64url")}$${randomBytes(32).toString("base64url")}`;
    expect(await verifyPassword("anything", huge)).toBe(false);
  });
});
