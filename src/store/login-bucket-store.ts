import { sql } from "drizzle-orm";
import { createHash } from "node:crypto";
import type { SharedRateLimiter } from "../domain/rate-limit.js";
import { num, type Database } from "./database-port.js";

const MILLI = 1000;

/**
 * {@link SharedRateLimiter} on the `login_buckets` table: the same token
 * bucket as the in-memory RateLimiter, but one for all replicas. Each take
 * or refund is one short write transaction (read, refill, charge, upsert).
 */
export class SqlSharedRateLimiter implements SharedRateLimiter {
  constructor(
    private readonly db: Database,
    /** Prefix that keeps this limiter's keys apart from others in the table. */
    private readonly name: string,
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clock: () => number = Date.now,
  ) {}

  get disabled(): boolean {
    return this.ratePerSecond <= 0;
  }

  take(key: string): Promise<number> {
    if (this.disabled) return Promise.resolve(0);
    return this.db.write(async () => {
      const { tokens, now } = await this.refill(key);
      if (tokens < MILLI) return Math.ceil(((MILLI - tokens) / MILLI / this.ratePerSecond) * 1000);
      await this.save(key, tokens - MILLI, now);
      return 0;
    });
  }

  async refund(key: string): Promise<void> {
    if (this.disabled) return;
    await this.db.write(async () => {
      const { tokens, now } = await this.refill(key);
      await this.save(key, Math.min(this.burst * MILLI, tokens + MILLI), now);
    });
  }

  /** The bucket's tokens (thousandths) refilled up to now. */
  private async refill(key: string): Promise<{ tokens: number; now: number }> {
    const now = this.clock();
    const row = await this.db.get(
      sql`select tokens_milli as "tokens", at as "at" from login_buckets where key = ${this.key(key)}`,
    );
    if (row === undefined) return { tokens: this.burst * MILLI, now };
    const elapsed = Math.max(0, now - num(row.at));
    return { tokens: Math.min(this.burst * MILLI, num(row.tokens) + Math.floor(elapsed * this.ratePerSecond)), now };
  }

  private async save(key: string, tokens: number, now: number): Promise<void> {
    await this.db.run(
      sql`insert into login_buckets (key, tokens_milli, at) values (${this.key(key)}, ${tokens}, ${now})
          on conflict (key) do update set tokens_milli = excluded.tokens_milli, at = excluded.at`,
    );
  }

  /**
   * The stored key: a SHA-256 of the limiter name and the key. Keys hold
   * user input and NUL separators, which PostgreSQL text refuses; a digest
   * is fixed-length, safe in both stores and keeps usernames out of the table.
   */
  private key(key: string): string {
    return createHash("sha256").update(this.name).update("\u0000").update(key).digest("hex");
  }
}
