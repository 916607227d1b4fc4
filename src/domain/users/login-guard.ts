import { RoomgateError } from "../errors.js";
import { RateLimiter, type SharedRateLimiter } from "../rate-limit.js";

/** The login limits (config: ROOMGATE_LOGIN_*); a rate of 0 switches that limit off. */
export interface LoginLimits {
  /** Failed logins per account and client address, per minute (also the burst). */
  readonly failuresPerMinute: number;
  /** Failed logins per account from all addresses together, per minute (also the burst). */
  readonly accountFailuresPerMinute: number;
  /** Login calls per client address, per minute (also the burst). */
  readonly attemptsPerMinutePerAddress: number;
  /** Login calls per tenant, per second (burst twice that). */
  readonly attemptsPerSecondPerTenant: number;
  /** Days a successful login keeps its (account, address) pair known; 0: never. */
  readonly knownAddressDays: number;
}

/** What one Login attempt is charged to. */
export interface LoginAttempt {
  /** The tenant's bucket: its id, or "" shared by every unknown tenant id. */
  readonly tenant: string;
  /** The account: tenant and case-insensitive username key. */
  readonly account: string;
  /** The client address as {@link addressLimitKey} gives it ("" when unknown). */
  readonly address: string;
}

/** An admitted attempt; call `succeeded` when the password matched. */
export interface LoginTicket {
  succeeded(): Promise<void>;
}

const DAY_MS = 86_400_000;
const MAX_KNOWN = 100_000;

/**
 * Bounds password guessing and password-hash work at Login. Every check is
 * synchronous and charges before the caller starts hashing, so N concurrent
 * attempts are counted before any of them runs scrypt: they get at most
 * `limit` hashes, the rest resource_exhausted without one.
 *
 * 1. Login calls per client address (IPv6 by /64): one address cannot flood.
 * 2. Login calls per tenant (unknown tenant ids share one bucket, so random
 *    ids do not mint fresh buckets): many addresses together cannot use more
 *    than a tenant's share of the hashing threads.
 * 3. Failed logins per (account, address): the guessing limit.
 * 4. Failed logins per account from all addresses: bounds guessing spread
 *    over many addresses.
 * A failure slot (3, 4) is reserved up front and refunded on success.
 *
 * Lockout is not a way to keep a user out: limits 2 and 4 are shared, so an
 * attacker can exhaust them, but an (account, address) pair that logged in
 * successfully within `knownAddressDays` skips them. The attacker cannot
 * touch that pair's own buckets (1 and 3 are per address), so the user keeps
 * getting in from where they logged in before; only a new address is refused
 * while an account or tenant is under attack. Behind a reverse proxy every
 * client has the proxy's address, so these limits are per proxy.
 *
 * Limits 1–3 are in memory, per replica. Limit 4, the one guessing spread
 * over many addresses (and many replicas) would get around, is kept in the
 * shared store when a {@link SharedRateLimiter} is given, so it holds
 * across all replicas together; it is charged before hashing all the same.
 */
export class LoginGuard {
  private readonly perAddress: RateLimiter;
  private readonly perTenant: RateLimiter;
  private readonly perAccountAddress: RateLimiter;
  private readonly perAccount: RateLimiter;
  /** "account\0address" → when it stops being known (ms); oldest first. */
  private readonly known = new Map<string, number>();

  constructor(
    private readonly limits: LoginLimits,
    private readonly clock: () => number = Date.now,
    /** The account-wide failure limit shared by every replica (limit 4); in memory when absent. */
    private readonly sharedPerAccount?: SharedRateLimiter,
  ) {
    const perMinute = (n: number) => new RateLimiter(n / 60, n, clock);
    this.perAddress = perMinute(limits.attemptsPerMinutePerAddress);
    this.perTenant = new RateLimiter(limits.attemptsPerSecondPerTenant, limits.attemptsPerSecondPerTenant * 2, clock);
    this.perAccountAddress = perMinute(limits.failuresPerMinute);
    this.perAccount = perMinute(limits.accountFailuresPerMinute);
  }

  /**
   * Admits one attempt or throws resource_exhausted (see the class comment
   * for the order). The in-memory limits are taken synchronously, before
   * this yields; the shared one in one write transaction; both before the
   * caller hashes anything.
   */
  async admit(a: LoginAttempt): Promise<LoginTicket> {
    refuse(this.perAddress.take(a.address), "too many login attempts from this address");
    const pair = `${a.account}\u0000${a.address}`;
    const known = this.isKnown(pair);
    if (!known) refuse(this.perTenant.take(a.tenant), "too many login attempts for this tenant");
    refuse(this.perAccountAddress.take(pair), "too many failed logins");
    const shared = this.sharedPerAccount;
    if (!known) {
      const wait = shared ? await shared.take(a.account) : this.perAccount.take(a.account);
      if (wait > 0) this.perAccountAddress.refund(pair);
      refuse(wait, "too many failed logins");
    }
    return {
      succeeded: async () => {
        this.perAccountAddress.refund(pair);
        if (!known) {
          if (shared) await shared.refund(a.account);
          else this.perAccount.refund(a.account);
        }
        this.remember(pair);
      },
    };
  }

  private isKnown(pair: string): boolean {
    const until = this.known.get(pair);
    if (until === undefined) return false;
    if (until > this.clock()) return true;
    this.known.delete(pair);
    return false;
  }

  private remember(pair: string): void {
    if (this.limits.knownAddressDays <= 0) return;
    // Re-inserting moves the pair to the end, so the first entry is the
    // stalest and is the one dropped when the map is full.
    this.known.delete(pair);
    this.known.set(pair, this.clock() + this.limits.knownAddressDays * DAY_MS);
    if (this.known.size > MAX_KNOWN) this.known.delete(this.known.keys().next().value!);
  }
}

function refuse(waitMs: number, what: string): void {
  if (waitMs > 0) throw new RoomgateError("resource_exhausted", `${what}; retry in ${Math.ceil(waitMs / 1000)} s`);
}

/**
 * The key a client address is limited by: IPv4 as is (also when mapped into
 * IPv6), IPv6 by its /64 prefix, since one host usually holds a whole /64
 * and could otherwise take a fresh address per attempt. "" when unknown.
 */
export function addressLimitKey(remote: string | undefined): string {
  if (remote === undefined || remote === "") return "";
  const addr = remote.replace(/%.*$/, "").toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (mapped) return mapped[1]!;
  if (!addr.includes(":")) return addr;
  const [head, tail] = addr.split("::", 2) as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const h = groups(head);
  let full = h;
  if (tail !== undefined) {
    const t = groups(tail);
    // An embedded IPv4 tail is two groups' worth.
    const width = (g: string[]) => g.reduce((n, x) => n + (x.includes(".") ? 2 : 1), 0);
    full = [...h, ...Array<string>(Math.max(0, 8 - width(h) - width(t))).fill("0"), ...t];
  }
  return `${full
    .slice(0, 4)
    .map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16).toString(16) : g))
    .join(":")}::/64`;
}
